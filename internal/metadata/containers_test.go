package metadata

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/containers"
)

func TestContainersStore(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "metadata.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := NewContainers(db)
	ctx := t.Context()

	if _, err := s.Get(ctx, "web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get of missing = %v, want NotFound", err)
	}
	c := containers.Container{ID: "web", Name: "web", CreatedAt: time.Now().UTC().Round(0),
		Spec:  containers.Spec{Image: "busybox", Labels: map[string]string{"a": "b"}, StopTimeout: -1},
		State: containers.State{Status: containers.StatusCreated}}
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, c); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second Create = %v, want AlreadyExists", err)
	}
	c.State.Status = containers.StatusRunning
	c.State.Pid = 42
	if err := s.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "web")
	if err != nil || got.State.Pid != 42 || got.Spec.Labels["a"] != "b" || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if err := s.Update(ctx, containers.Container{ID: "nosuch"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Update of missing = %v, want NotFound", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if err := s.Delete(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "web"); err != nil {
		t.Fatalf("second Delete = %v", err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatalf("List after delete = %v", list)
	}
}

// TestContainersDamagedRecord: a record that does not decode is reported
// by Get and List (FailedPrecondition), never dropped, and does not hide
// the others.
func TestContainersDamagedRecord(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "metadata.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := NewContainers(db)
	ctx := t.Context()
	for _, id := range []string{"a", "c"} {
		if err := s.Create(ctx, containers.Container{ID: id, Name: id, Spec: containers.Spec{Image: "busybox"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Put([]byte("b"), []byte("{damaged"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "b"); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Get of a damaged record = %v, want FailedPrecondition", err)
	}
	list, err := s.List(ctx)
	if !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("List error = %v, want FailedPrecondition naming b", err)
	}
	if len(list) != 2 || list[0].ID != "a" || list[1].ID != "c" {
		t.Fatalf("List = %+v, want a and c", list)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketContainers).Get([]byte("b")) == nil {
			return errors.New("damaged record dropped")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestContainersInUse(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "metadata.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := NewContainers(db)
	ctx := t.Context()
	index, manifest, other := digest.FromString("index"), digest.FromString("manifest"), digest.FromString("other")
	if used, err := s.InUse(ctx, index); err != nil || used {
		t.Fatalf("InUse with no containers = %v, %v", used, err)
	}
	c := containers.Container{ID: "web", Name: "web",
		Image: containers.Image{Name: "busybox", Digest: index.String(), Manifest: manifest.String()}}
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d    digest.Digest
		want bool
	}{{index, true}, {manifest, true}, {other, false}} {
		if used, err := s.InUse(ctx, tc.d); err != nil || used != tc.want {
			t.Errorf("InUse(%s) = %v, %v; want %v", tc.d, used, err, tc.want)
		}
	}
	if err := s.Delete(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if used, err := s.InUse(ctx, index); err != nil || used {
		t.Fatalf("InUse after delete = %v, %v", used, err)
	}
}
