package images_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/images"
	"github.com/berth/container/internal/metadata"
	"github.com/berth/container/internal/snapshots"
	"github.com/berth/container/internal/testutil/imagetest"
	"github.com/berth/container/internal/testutil/registrytest"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

type fakeUsage map[digest.Digest]bool

func (f fakeUsage) InUse(_ context.Context, d digest.Digest) (bool, error) { return f[d], nil }

type env struct {
	svc     *images.Service
	content *images.Content
	root    string
	used    fakeUsage
}

func newEnv(t *testing.T, opts ...func(*images.Config)) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for overlay snapshots")
	}
	root, err := os.MkdirTemp("", "img")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	db, err := metadata.Open(filepath.Join(root, "metadata.db"), metadata.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	content, err := images.NewContent(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := snapshots.New(t.Context(), filepath.Join(root, "snapshots"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	used := fakeUsage{}
	cfg := images.Config{Content: content, Store: metadata.NewImages(db), Snapshots: sn, Containers: used, Log: log}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := images.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, content: content, root: root, used: used}
}

func (e *env) blobs(t *testing.T) int {
	t.Helper()
	bs, err := e.content.Walk()
	if err != nil {
		t.Fatal(err)
	}
	return len(bs)
}

func TestPullByTagAndDigest(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	d := reg.Push(t, "bb:1", imagetest.Busybox(t))
	var events []images.Progress
	img, err := e.svc.Pull(t.Context(), reg.Ref("bb:1"), images.PullOptions{Progress: func(p images.Progress) { events = append(events, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest.String() != d.String() || img.Platform.Architecture != runtime.GOARCH || img.ChainID == "" {
		t.Fatalf("pulled %+v, want digest %s", img, d)
	}
	if len(events) == 0 || events[len(events)-1].Status != images.StatusDone {
		t.Fatalf("progress events %+v", events)
	}
	byDigest, err := e.svc.Pull(t.Context(), reg.Ref("bb@"+d.String()), images.PullOptions{})
	if err != nil || byDigest.Manifest != img.Manifest {
		t.Fatalf("pull by digest = %+v, %v", byDigest, err)
	}
	if e.blobs(t) != 3 {
		t.Fatalf("%d blobs, want 3 (manifest, config, layer)", e.blobs(t))
	}
	got, err := e.svc.Get(t.Context(), reg.Ref("bb:1"))
	if err != nil || got.ChainID != img.ChainID || len(got.Config.Cmd) == 0 {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := e.svc.Pull(t.Context(), reg.Ref("nosuch:1"), images.PullOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("pull missing: %v, want ErrNotFound", err)
	}
	if _, err := e.svc.Pull(t.Context(), "UPPER/case", images.PullOptions{}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("pull bad ref: %v, want ErrInvalidArgument", err)
	}
}

func TestPullPlatform(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	reg.PushIndex(t, "multi:1", imagetest.MultiPlatform(t))
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	img, err := e.svc.Pull(t.Context(), reg.Ref("multi:1"), images.PullOptions{Platform: &ocispec.Platform{OS: "linux", Architecture: other}})
	if err != nil {
		t.Fatal(err)
	}
	if img.Platform.Architecture != other {
		t.Fatalf("pulled %s, want %s", img.Platform.Architecture, other)
	}
	d, err := e.svc.Inspect(t.Context(), reg.Ref("multi:1"))
	if err != nil || len(d.Platforms) != 2 {
		t.Fatalf("inspect = %+v, %v", d, err)
	}
	for _, p := range d.Platforms {
		if p.Present != (p.Platform.Architecture == other) {
			t.Errorf("platform %s present=%v", p.Platform.Architecture, p.Present)
		}
	}
	host, err := e.svc.Pull(t.Context(), reg.Ref("multi:1"), images.PullOptions{})
	if err != nil || host.Platform.Architecture != runtime.GOARCH {
		t.Fatalf("pull host platform = %+v, %v", host.Platform, err)
	}
	if _, err := e.svc.Pull(t.Context(), reg.Ref("multi:1"), images.PullOptions{Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x"}}); !errdefs.IsNotFound(err) {
		t.Fatalf("pull missing platform: %v, want ErrNotFound", err)
	}
}

func TestConcurrentPulls(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	reg.Push(t, "w:1", imagetest.WhiteoutImage(t))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.svc.Pull(t.Context(), reg.Ref("w:1"), images.PullOptions{}) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.blobs(t); n != 5 {
		t.Fatalf("%d blobs, want 5", n)
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "content", "ingest"))
	if len(ents) != 0 {
		t.Fatalf("ingest not empty: %v", ents)
	}
	snaps, _ := os.ReadDir(filepath.Join(e.root, "snapshots", "snapshots"))
	if len(snaps) != 3 {
		t.Fatalf("%d snapshot dirs, want 3 (one per layer)", len(snaps))
	}
}

func TestPushSaveLoadDelete(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	d := reg.Push(t, "src:1", imagetest.WhiteoutImage(t))
	if _, err := e.svc.Pull(t.Context(), reg.Ref("src:1"), images.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Tag(t.Context(), reg.Ref("src:1"), reg.Ref("dst:2")); err != nil {
		t.Fatal(err)
	}
	pushed, err := e.svc.Push(t.Context(), reg.Ref("dst:2"), images.PushOptions{})
	if err != nil || pushed.String() != d.String() {
		t.Fatalf("push = %s, %v; want %s", pushed, err, d)
	}
	// Save, delete everything, load again.
	var buf bytes.Buffer
	if err := e.svc.Save(t.Context(), []string{reg.Ref("src:1")}, &buf); err != nil {
		t.Fatal(err)
	}
	e.used[digest.Digest(d.String())] = true
	if _, err := e.svc.Delete(t.Context(), reg.Ref("dst:2"), false); err != nil {
		t.Fatalf("delete one of two names of an image in use: %v", err)
	}
	if _, err := e.svc.Delete(t.Context(), reg.Ref("src:1"), false); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("delete image in use: %v, want ErrFailedPrecondition", err)
	}
	if _, err := e.svc.Delete(t.Context(), reg.Ref("src:1"), true); err != nil {
		t.Fatal(err)
	}
	if n := e.blobs(t); n != 0 {
		t.Fatalf("%d blobs left after delete", n)
	}
	names, err := e.svc.Load(t.Context(), bytes.NewReader(buf.Bytes()), false)
	if err != nil || len(names) != 1 || names[0] != reg.Ref("src:1") {
		t.Fatalf("load = %v, %v", names, err)
	}
	img, err := e.svc.Get(t.Context(), reg.Ref("src:1"))
	if err != nil || img.Digest.String() != d.String() {
		t.Fatalf("loaded image = %+v, %v", img, err)
	}
	// Malformed archives.
	if _, err := e.svc.Load(t.Context(), strings.NewReader("not a tar"), false); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("load garbage: %v, want ErrInvalidArgument", err)
	}
	trunc := buf.Bytes()[:buf.Len()/2]
	if _, err := e.svc.Load(t.Context(), bytes.NewReader(trunc), false); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("load truncated: %v, want ErrInvalidArgument", err)
	}
}

func TestImportAndPrune(t *testing.T) {
	e := newEnv(t)
	rootfs := imagetest.Tar(t, imagetest.BusyboxEntries(t)...)
	rec, err := e.svc.Import(t.Context(), bytes.NewReader(rootfs), "", nil)
	if err != nil || !strings.HasPrefix(rec.Name, "sha256:") {
		t.Fatalf("import = %+v, %v", rec, err)
	}
	named, err := e.svc.Import(t.Context(), bytes.NewReader(rootfs), "imported:1", nil)
	if err != nil || named.Name != "docker.io/library/imported:1" {
		t.Fatalf("import named = %+v, %v", named, err)
	}
	img, err := e.svc.Get(t.Context(), "imported:1")
	if err != nil || len(img.DiffIDs) != 1 || img.DiffIDs[0] != digest.FromBytes(rootfs) {
		t.Fatalf("imported image = %+v, %v", img, err)
	}
	if _, err := e.svc.Import(t.Context(), strings.NewReader("nope"), "x", nil); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("import garbage: %v", err)
	}
	deleted, err := e.svc.Prune(t.Context(), false)
	if err != nil || len(deleted) != 1 || deleted[0] != rec.Name {
		t.Fatalf("prune = %v, %v", deleted, err)
	}
	deleted, err = e.svc.Prune(t.Context(), true)
	if err != nil || len(deleted) != 1 {
		t.Fatalf("prune -a = %v, %v", deleted, err)
	}
	if n := e.blobs(t); n != 0 {
		t.Fatalf("%d blobs left after prune -a", n)
	}
}

func TestPullAuth(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	reg.Push(t, "private:1", imagetest.Busybox(t))
	_, err := e.svc.Pull(t.Context(), reg.Ref("private:1"), images.PullOptions{Auth: &images.Auth{Username: "alice", Password: "wrong"}})
	if !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Fatalf("pull with wrong password: %v, want ErrPermissionDenied", err)
	}
	if _, err := e.svc.Pull(t.Context(), reg.Ref("private:1"), images.PullOptions{Auth: &images.Auth{Username: "alice", Password: "s3cret"}}); err != nil {
		t.Fatal(err)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	err := e.svc.Login(t.Context(), reg.Host, "", &images.Auth{Username: "alice", Password: "nope"})
	if !errdefs.IsPermissionDenied(err) {
		t.Fatalf("login with wrong password: %v, want ErrPermissionDenied", err)
	}
	if err := e.svc.Login(t.Context(), "http://"+reg.Host+"/v2/", "http", &images.Auth{Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDockerArchive(t *testing.T) {
	e := newEnv(t)
	tag, err := name.NewTag("example.com/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	img := imagetest.Busybox(t)
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	names, err := e.svc.Load(t.Context(), bytes.NewReader(buf.Bytes()), false)
	if err != nil || len(names) != 1 || names[0] != "example.com/app:v1" {
		t.Fatalf("load = %v, %v", names, err)
	}
	got, err := e.svc.Get(t.Context(), "example.com/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	cfgName, _ := img.ConfigName()
	if got.ConfigDigest.String() != cfgName.String() || got.ChainID == "" {
		t.Fatalf("loaded image %+v, want config %s", got, cfgName)
	}
}

func TestLoadForce(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	buf := e.savedAndDeleted(t, reg, "a:1")
	trunc := buf.Bytes()[:buf.Len()/2]
	if _, err := e.svc.Load(t.Context(), bytes.NewReader(trunc), false); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("load truncated: %v, want ErrInvalidArgument", err)
	}
	names, err := e.svc.Load(t.Context(), bytes.NewReader(trunc), true)
	if err != nil || len(names) != 0 {
		t.Fatalf("load truncated with force = %v, %v; want nothing loaded and no error", names, err)
	}
	if recs, _ := e.svc.List(t.Context()); len(recs) != 0 {
		t.Fatalf("records after loading an incomplete archive: %v", recs)
	}
}

func TestDefaultRegistry(t *testing.T) {
	reg := registrytest.New(t)
	reg.Push(t, "tools/bb:1", imagetest.Busybox(t))
	e := newEnv(t, func(c *images.Config) { c.DefaultRegistry = reg.Host })
	img, err := e.svc.Pull(t.Context(), "tools/bb:1", images.PullOptions{})
	if err != nil || img.Name != reg.Ref("tools/bb:1") {
		t.Fatalf("pull short name = %+v, %v", img, err)
	}
	if _, err := e.svc.Get(t.Context(), "tools/bb:1"); err != nil {
		t.Fatal(err)
	}
}

func TestLookupByDigestPrefix(t *testing.T) {
	e := newEnv(t)
	reg := registrytest.New(t)
	d := reg.Push(t, "bb:1", imagetest.Busybox(t))
	if _, err := e.svc.Pull(t.Context(), reg.Ref("bb:1"), images.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{d.String(), d.Hex[:12], "sha256:" + d.Hex[:16]} {
		if img, err := e.svc.Get(t.Context(), ref); err != nil || img.Digest.String() != d.String() {
			t.Errorf("Get(%q) = %v, %v", ref, img.Digest, err)
		}
	}
	if _, err := e.svc.Get(t.Context(), d.Hex[:8]); !errdefs.IsNotFound(err) {
		t.Errorf("Get(short prefix): %v, want ErrNotFound", err)
	}
}
