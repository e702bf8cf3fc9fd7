package metadata

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/images"
)

func TestImages(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "metadata.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewImages(db)
	ctx := t.Context()
	if _, err := s.Get(ctx, "a"); !errdefs.IsNotFound(err) {
		t.Fatalf("get from empty store: %v", err)
	}
	if err := s.Delete(ctx, "a"); !errdefs.IsNotFound(err) {
		t.Fatalf("delete from empty store: %v", err)
	}
	if recs, err := s.List(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("list empty = %v, %v", recs, err)
	}
	if err := s.Put(ctx, images.Record{}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("put without name: %v", err)
	}
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := images.Record{Name: "docker.io/library/b:1", Created: first, Updated: first,
		Target: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("m"), Size: 1}}
	if err := s.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, images.Record{Name: "docker.io/library/a:1", Target: rec.Target}); err != nil {
		t.Fatal(err)
	}
	// Replacing keeps the creation time.
	rec2 := rec
	rec2.Created, rec2.Updated = time.Now().UTC(), time.Now().UTC()
	rec2.Target.Digest = digest.FromString("n")
	if err := s.Put(ctx, rec2); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, rec.Name)
	if err != nil || !got.Created.Equal(first) || got.Target.Digest != rec2.Target.Digest {
		t.Fatalf("get = %+v, %v", got, err)
	}
	recs, err := s.List(ctx)
	if err != nil || len(recs) != 2 || recs[0].Name != "docker.io/library/a:1" {
		t.Fatalf("list = %+v, %v", recs, err)
	}
	if err := s.Delete(ctx, rec.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, rec.Name); !errdefs.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
}

// A record that does not decode is reported with the JSON error and a
// kind, and is never removed or overwritten by reading it.
func TestImagesDamagedRecord(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "metadata.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	damaged := []byte(`{"Name": "docker.io/library/x:1", "Target": 42`)
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketImages)
		if err != nil {
			return err
		}
		return b.Put([]byte("docker.io/library/x:1"), damaged)
	}); err != nil {
		t.Fatal(err)
	}
	s := NewImages(db)
	if _, err := s.Get(t.Context(), "docker.io/library/x:1"); !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "unexpected end of JSON input") {
		t.Fatalf("Get of a damaged record: %v, want ErrFailedPrecondition with the JSON error", err)
	}
	if _, err := s.List(t.Context()); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("List with a damaged record: %v, want ErrFailedPrecondition", err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket(bucketImages).Get([]byte("docker.io/library/x:1")); string(got) != string(damaged) {
			t.Errorf("damaged record now %q", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestImagesPutAllOrNone: records put together are written in one
// transaction; a bad one keeps all of them out.
func TestImagesPutAllOrNone(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "metadata.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewImages(db)
	ctx := t.Context()
	target := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("m"), Size: 1}
	if err := s.Put(ctx, images.Record{Name: "x:1", Target: target}, images.Record{Target: target}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("put with a nameless record: %v, want InvalidArgument", err)
	}
	if _, err := s.Get(ctx, "x:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("x:1 after the failed put: %v, want NotFound", err)
	}
	if err := s.Put(ctx, images.Record{Name: "x:1", Target: target}, images.Record{Name: "x:2", Target: target}); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.List(ctx); err != nil || len(recs) != 2 {
		t.Fatalf("list = %v, %v; want both", recs, err)
	}
}
