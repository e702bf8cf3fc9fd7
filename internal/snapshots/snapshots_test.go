package snapshots

import (
	"context"
	"errors"
	ctdsnapshots "github.com/containerd/containerd/v2/core/snapshots"
	"golang.org/x/sys/unix"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/testutil/imagetest"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func newTest(t *testing.T) (*Snapshotter, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for overlay")
	}
	dir, err := os.MkdirTemp("", "snap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := New(t.Context(), filepath.Join(dir, "snapshots"), slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func layersOf(t *testing.T, img v1.Image) []Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []Layer
	for _, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Layer{DiffID: digest.Digest(d.String()), Open: l.Compressed})
	}
	return out
}

// mountView mounts a read-only view of chainID and returns its path.
func mountView(t *testing.T, s *Snapshotter, dir string, chainID digest.Digest) string {
	t.Helper()
	key := "view-" + t.Name()
	ms, err := s.View(t.Context(), key, chainID)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "mnt")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MountAll(ms, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mount.UnmountAll(target, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
		if err := s.Remove(t.Context(), key); err != nil {
			t.Errorf("remove view: %v", err)
		}
	})
	return target
}

func TestUnpackWhiteouts(t *testing.T) {
	s, dir := newTest(t)
	layers := layersOf(t, imagetest.WhiteoutImage(t))
	chainID, err := s.Unpack(t.Context(), layers)
	if err != nil {
		t.Fatal(err)
	}
	// A second unpack finds every layer present.
	if again, err := s.Unpack(t.Context(), layers); err != nil || again != chainID {
		t.Fatalf("second unpack = %v, %v", again, err)
	}
	root := mountView(t, s, dir, chainID)
	for p, want := range imagetest.WhiteoutPresent {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if want != "" && string(b) != want {
			t.Errorf("%s = %q, want %q", p, b, want)
		}
	}
	for _, p := range imagetest.WhiteoutAbsent {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists in the merged view (err %v)", p, err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(root, "opq"))
	if err != nil || len(ents) != 1 || ents[0].Name() != "new1" {
		t.Errorf("opaque dir holds %v (%v), want only new1", ents, err)
	}
}

func TestUnpackDiffIDMismatch(t *testing.T) {
	s, _ := newTest(t)
	layers := layersOf(t, imagetest.Busybox(t))
	layers[0].DiffID = digest.FromString("not this")
	if _, err := s.Unpack(t.Context(), layers); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("unpack with wrong diff ID: %v, want ErrInvalidArgument", err)
	}
	n := 0
	_ = s.sn.Walk(t.Context(), func(_ context.Context, _ ctdsnapshots.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d snapshots left after a failed unpack", n)
	}
}

func TestUnpackHostile(t *testing.T) {
	for _, kind := range imagetest.HostileKinds {
		t.Run(string(kind), func(t *testing.T) {
			s, dir := newTest(t)
			outside := filepath.Join(dir, "outside")
			if err := os.MkdirAll(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(outside, "victim")
			if kind == imagetest.HostileHardlink {
				if err := os.WriteFile(target, []byte("original"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			base := layersOf(t, imagetest.Busybox(t))
			hl := imagetest.HostileLayer(t, kind, target)
			d, _ := hl.DiffID()
			layers := append(base, Layer{DiffID: digest.Digest(d.String()), Open: hl.Compressed})
			chainID, err := s.Unpack(t.Context(), layers)
			t.Logf("unpack: %v", err)
			if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("refused hostile layer with %v, want ErrInvalidArgument", err)
			}
			// Refused or neutralised: either way nothing may change outside.
			ents, _ := os.ReadDir(outside)
			if kind == imagetest.HostileHardlink {
				b, _ := os.ReadFile(target)
				if string(b) != "original" || len(ents) != 1 {
					t.Fatalf("victim changed: %q, dir %v", b, ents)
				}
				var st unix.Stat_t
				_ = unix.Stat(target, &st)
				if st.Nlink != 1 {
					t.Fatalf("victim has %d links", st.Nlink)
				}
			} else if len(ents) != 0 {
				t.Fatalf("files written outside the snapshot: %v", ents)
			}
			if err != nil {
				return
			}
			root := mountView(t, s, dir, chainID)
			if kind == imagetest.HostileDevice {
				for _, p := range []string{"dev/mem", "dev/kmsg", "dev/sda"} {
					if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("device node %s was created (%v)", p, err)
					}
				}
				if b, err := os.ReadFile(filepath.Join(root, "ok")); err != nil || string(b) != "ok" {
					t.Errorf("regular file next to devices: %q, %v", b, err)
				}
			}
			_ = io.Discard
		})
	}
}

func TestGCNewStore(t *testing.T) {
	s, _ := newTest(t)
	if n, err := s.GC(t.Context(), nil); err != nil || n != 0 {
		t.Fatalf("gc of a new store = %d, %v; want 0, nil", n, err)
	}
}

func TestPrepareAndGC(t *testing.T) {
	s, _ := newTest(t)
	if keys, err := s.List(t.Context(), "container/"); err != nil || len(keys) != 0 {
		t.Fatalf("list of a new store = %q, %v", keys, err)
	}
	chainID, err := s.Unpack(t.Context(), layersOf(t, imagetest.WhiteoutImage(t)))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Prepare(t.Context(), "container/abc", chainID)
	if err != nil || len(ms) != 1 || ms[0].Type != "overlay" {
		t.Fatalf("prepare = %+v, %v", ms, err)
	}
	if _, err := s.Prepare(t.Context(), "container/abc", chainID); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second prepare: %v, want ErrAlreadyExists", err)
	}
	if got, err := s.Mounts(t.Context(), "container/abc"); err != nil || len(got) != 1 {
		t.Fatalf("mounts = %+v, %v", got, err)
	}
	if _, err := s.Prepare(t.Context(), "other/abc", ""); err != nil {
		t.Fatal(err)
	}
	// List names writable snapshots by prefix, never the committed layers.
	if keys, err := s.List(t.Context(), "container/"); err != nil || strings.Join(keys, ",") != "container/abc" {
		t.Fatalf("list container/ = %q, %v", keys, err)
	}
	if err := s.Remove(t.Context(), "other/abc"); err != nil {
		t.Fatal(err)
	}
	// The container pins the chain: GC removes nothing.
	if n, err := s.GC(t.Context(), nil); err != nil || n != 0 {
		t.Fatalf("gc with a container = %d, %v", n, err)
	}
	if err := s.Remove(t.Context(), "container/abc"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(t.Context(), "container/abc"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if n, err := s.GC(t.Context(), nil); err != nil || n != 3 {
		t.Fatalf("gc = %d, %v; want 3", n, err)
	}
	if s.Exists(t.Context(), chainID) {
		t.Fatal("snapshot survived gc")
	}
}
