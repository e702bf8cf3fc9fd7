package images_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/images"
	"github.com/berth/container/internal/testutil/imagetest"
	"github.com/berth/container/internal/testutil/registrytest"
)

// snapshotDirs counts the snapshot directories the overlay snapshotter holds.
func (e *env) snapshotDirs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.root, "snapshots", "snapshots"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func (e *env) ingest(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(e.content.IngestDir())
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// savedAndDeleted pulls a whiteout image as name from reg, saves it, deletes
// it and returns the archive.
func (e *env) savedAndDeleted(t *testing.T, reg *registrytest.Registry, name string) *bytes.Buffer {
	t.Helper()
	reg.Push(t, name, imagetest.WhiteoutImage(t))
	if _, err := e.svc.Pull(t.Context(), reg.Ref(name), images.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.svc.Save(t.Context(), []string{reg.Ref(name)}, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Delete(t.Context(), reg.Ref(name), false); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// A load that fails part-way leaves no blobs, snapshots, records or
// temporary files behind, and does not keep a later pull of the same image
// from downloading what the archive lacked.
func TestFailedLoadLeavesNothing(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	buf := e.savedAndDeleted(t, reg, "a:1")
	// The archive holds the manifest and config first and its layers
	// last: drop the last layer, keeping a well-formed tar.
	short := withoutLastEntry(t, buf.Bytes())
	for _, force := range []bool{false, true} {
		if names, err := e.svc.Load(t.Context(), bytes.NewReader(short), force); force && (err != nil || len(names) != 0) {
			t.Fatalf("load with a layer missing, force: %v, %v; want nothing loaded", names, err)
		} else if !force && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("load with a layer missing: %v, want ErrInvalidArgument", err)
		}
	}
	if n := e.blobs(t); n != 0 {
		t.Errorf("%d blobs left by a failed load", n)
	}
	if n := e.ingest(t); n != 0 {
		t.Errorf("%d files left in ingest/ by a failed load", n)
	}
	if n := e.snapshotDirs(t); n != 0 {
		t.Errorf("%d snapshots left by a failed load", n)
	}
	if _, err := e.svc.Pull(t.Context(), reg.Ref("a:1"), images.PullOptions{}); err != nil {
		t.Fatalf("pull after a failed load: %v", err)
	}
}

// A manifest in the store whose layers are not (as a crash during a load
// can leave) does not make a pull skip downloading them.
func TestPullWithOrphanManifest(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	img := imagetest.Busybox(t)
	reg.Push(t, "bb:1", img)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.content.WriteBytes(t.Context(), raw); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Pull(t.Context(), reg.Ref("bb:1"), images.PullOptions{}); err != nil {
		t.Fatalf("pull with only the manifest stored: %v", err)
	}
	if _, err := e.svc.Get(t.Context(), reg.Ref("bb:1")); err != nil {
		t.Fatal(err)
	}
}

// An import whose layer cannot be unpacked records nothing and leaves no
// blobs or snapshots.
func TestFailedImportLeavesNothing(t *testing.T) {
	e := newEnv(t)
	bad := imagetest.Tar(t, imagetest.Hardlink("link", "nowhere"))
	if _, err := e.svc.Import(t.Context(), bytes.NewReader(bad), "bad:1", nil); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("import of a layer with a dangling hardlink: %v, want ErrInvalidArgument", err)
	}
	if recs, _ := e.svc.List(t.Context()); len(recs) != 0 {
		t.Errorf("records after a failed import: %v", recs)
	}
	if n := e.blobs(t); n != 0 {
		t.Errorf("%d blobs left by a failed import", n)
	}
	if n := e.ingest(t); n != 0 {
		t.Errorf("%d files left in ingest/ by a failed import", n)
	}
	if n := e.snapshotDirs(t); n != 0 {
		t.Errorf("%d snapshots left by a failed import", n)
	}
}

// withoutLastEntry returns the tar archive b without its last entry.
func withoutLastEntry(t *testing.T, b []byte) []byte {
	t.Helper()
	type entry struct {
		h    *tar.Header
		body []byte
	}
	var entries []entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry{h, body})
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, e := range entries[:len(entries)-1] {
		if err := tw.WriteHeader(e.h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// GC never deletes what it cannot prove unreferenced: an image whose
// config no longer parses keeps its blobs and layers.
func TestGCKeepsUnreadableImage(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	reg.Push(t, "a:1", imagetest.Busybox(t))
	reg.Push(t, "b:1", imagetest.WhiteoutImage(t))
	a, err := e.svc.Pull(t.Context(), reg.Ref("a:1"), images.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Pull(t.Context(), reg.Ref("b:1"), images.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	// Damage a's config on disk (a bad sector, a stray write).
	if err := os.WriteFile(e.content.Path(a.ConfigDigest), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Delete(t.Context(), reg.Ref("b:1"), false); err != nil {
		t.Fatal(err)
	}
	for _, l := range a.Layers {
		if !e.content.Has(l.Digest) {
			t.Errorf("layer %s of an image with a damaged config was garbage-collected", l.Digest)
		}
	}
	if e.snapshotDirs(t) < len(a.Layers) {
		t.Errorf("snapshots of an image with a damaged config were garbage-collected")
	}
}

func TestTagRefusesBadTargets(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	d := reg.Push(t, "a:1", imagetest.Busybox(t))
	if _, err := e.svc.Pull(t.Context(), reg.Ref("a:1"), images.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"", "UPPER:1", " b:1", "b@sha256:" + d.Hex, "other@" + d.String()} {
		if _, err := e.svc.Tag(t.Context(), reg.Ref("a:1"), target); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Tag(%q): %v, want ErrInvalidArgument", target, err)
		}
	}
	if _, err := e.svc.Tag(t.Context(), "nosuch:1", "b:1"); !errdefs.IsNotFound(err) {
		t.Errorf("Tag of a missing image: %v, want ErrNotFound", err)
	}
	if recs, _ := e.svc.List(t.Context()); len(recs) != 1 {
		t.Errorf("records after refused tags: %d, want 1", len(recs))
	}
}
