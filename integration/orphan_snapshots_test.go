package integration

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth/container/internal/snapshots"
)

// TestOrphanSnapshotRemovedAtStart: a container snapshot no record names
// (a create without --name that the apiserver did not finish) is removed
// when the apiserver starts; real containers keep theirs and still run.
func TestOrphanSnapshotRemovedAtStart(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cli(t, d, 0, "create", "--name", "keep-created", img, "true")
	cli(t, d, 0, "run", "-d", "--name", "keep-running", img, "sleep", "300")
	t.Cleanup(func() {
		if d.Client != nil {
			for _, id := range []string{"keep-created", "keep-running"} {
				_, _ = d.Client.DeleteContainer(context.Background(), id, true)
			}
		}
	})
	d.Stop(t)

	const orphan = "container/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	listKeys := func() []string {
		t.Helper()
		sn, err := snapshots.New(t.Context(), filepath.Join(d.Root, "snapshots"), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		keys, err := sn.List(t.Context(), "container/")
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys
	}
	sn, err := snapshots.New(t.Context(), filepath.Join(d.Root, "snapshots"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(t.Context(), orphan, ""); err != nil {
		t.Fatal(err)
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(); len(keys) != 3 {
		t.Fatalf("snapshots before start: %v", keys)
	}

	d.Start(t)
	d.Stop(t) // the snapshotter's metadata is the daemon's while it runs
	if keys := listKeys(); len(keys) != 2 || slices.Contains(keys, orphan) {
		t.Fatalf("snapshots after start: %v, want the two containers' only", keys)
	}
	d.Start(t)
	if c, err := d.Client.GetContainer(t.Context(), "keep-running"); err != nil || c.State.Status != "running" {
		t.Fatalf("keep-running after restart: %+v, %v", c.State, err)
	}
	cli(t, d, 0, "start", "keep-created")
	cli(t, d, 0, "rm", "-f", "keep-created", "keep-running")
}
