package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/opencontainers/go-digest"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/snapshots"
	"github.com/berth/container/internal/testutil/imagetest"
	"github.com/berth/container/internal/testutil/registrytest"
)

// blobCount returns the number of blobs in the daemon's content store.
func blobCount(t *testing.T, d *Daemon) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(d.Root, "content", "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestImagePullListInspectTagPush(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	reg := registrytest.New(t)
	dg := reg.Push(t, "bb:1", imagetest.Busybox(t))
	reg.PushIndex(t, "multi:1", imagetest.MultiPlatform(t))

	out := cli(t, d, 0, "image", "pull", "--max-concurrent-downloads", "1", reg.Ref("bb:1"))
	if !strings.Contains(out, "done") || !strings.Contains(out, dg.String()) {
		t.Errorf("pull output lacks progress or digest:\n%s", out)
	}
	if out := cli(t, d, 0, "image", "pull", "--progress", "none", reg.Ref("bb@"+dg.String())); out != "" {
		t.Errorf("--progress none printed %q", out)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	cli(t, d, 0, "image", "pull", "--progress", "plain", "--platform", "linux/"+other, reg.Ref("multi:1"))

	list := cli(t, d, 0, "image", "list")
	for _, want := range []string{"NAME", reg.Host + "/bb", reg.Host + "/multi", dg.Hex[:12]} {
		if !strings.Contains(list, want) {
			t.Errorf("image list lacks %q:\n%s", want, list)
		}
	}
	verbose := cli(t, d, 0, "image", "ls", "-v")
	if !strings.Contains(verbose, "linux/"+other) || !strings.Contains(verbose, "linux/"+runtime.GOARCH) {
		t.Errorf("image ls -v lacks the platforms:\n%s", verbose)
	}
	var inspected []client.Image
	if err := json.Unmarshal([]byte(cli(t, d, 0, "image", "inspect", reg.Ref("multi:1"))), &inspected); err != nil {
		t.Fatal(err)
	}
	if len(inspected) != 1 || len(inspected[0].Platforms) != 2 {
		t.Fatalf("inspect = %+v", inspected)
	}
	for _, p := range inspected[0].Platforms {
		if p.Present != (p.Architecture == other) || (p.Present && len(p.Config) == 0) {
			t.Errorf("platform %+v", p)
		}
	}

	// Tag, push to another repository, pull it back: same digest.
	cli(t, d, 0, "image", "tag", reg.Ref("bb:1"), reg.Ref("copy:2"))
	out = cli(t, d, 0, "image", "push", reg.Ref("copy:2"))
	if !strings.Contains(out, dg.String()) {
		t.Errorf("push output lacks digest %s:\n%s", dg, out)
	}
	cli(t, d, 0, "image", "rm", reg.Ref("copy:2"))
	img, err := d.Client.PullImage(t.Context(), reg.Ref("copy:2"), client.PullOptions{})
	if err != nil || img.Digest != dg.String() {
		t.Fatalf("pull pushed copy = %+v, %v; want %s", img, err, dg)
	}

	// Errors come back with their kind.
	if _, err := d.Client.GetImage(t.Context(), "nosuch:1"); !errdefs.IsNotFound(err) {
		t.Errorf("get missing image: %v, want ErrNotFound", err)
	}
	if _, errOut, code := d.CLI(t, "image", "pull", reg.Ref("nosuch:1")); code == 0 || !strings.Contains(errOut, "Error:") {
		t.Errorf("pull missing image: exit %d, stderr %q", code, errOut)
	}
}

func TestImageSaveDeleteLoad(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	reg := registrytest.New(t)
	dg := reg.Push(t, "w:1", imagetest.WhiteoutImage(t))
	cli(t, d, 0, "image", "pull", reg.Ref("w:1"))
	archive := filepath.Join(ShortTempDir(t), "w.tar")
	cli(t, d, 0, "image", "save", "-o", archive, reg.Ref("w:1"))
	cli(t, d, 0, "image", "delete", reg.Ref("w:1"))
	if n := blobCount(t, d); n != 0 {
		t.Fatalf("%d blobs left after delete", n)
	}
	out := cli(t, d, 0, "image", "load", "-i", archive)
	if !strings.Contains(out, reg.Ref("w:1")) {
		t.Fatalf("load output %q", out)
	}
	img, err := d.Client.GetImage(t.Context(), reg.Ref("w:1"))
	if err != nil || img.Digest != dg.String() {
		t.Fatalf("loaded image %+v, %v; want %s", img, err, dg)
	}
	// A damaged archive is refused with a clear error and loads nothing.
	bad := filepath.Join(filepath.Dir(archive), "bad.tar")
	data, _ := os.ReadFile(archive)
	if err := os.WriteFile(bad, data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	cli(t, d, 0, "image", "rm", "-a")
	_, errOut, code := d.CLI(t, "image", "load", "-i", bad)
	if code == 0 || !strings.Contains(errOut, "Error:") {
		t.Fatalf("load of a truncated archive: exit %d, stderr %q", code, errOut)
	}
	if out := cli(t, d, 0, "image", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("images after a failed load: %q", out)
	}
	// import: a rootfs tar becomes a one-layer image.
	rootfs := filepath.Join(filepath.Dir(archive), "rootfs.tar")
	if err := os.WriteFile(rootfs, imagetest.Tar(t, imagetest.BusyboxEntries(t)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, d, 0, "image", "import", rootfs, "imported:1"); !strings.Contains(out, "docker.io/library/imported:1") {
		t.Fatalf("import output %q", out)
	}
	if out := cli(t, d, 0, "image", "prune", "-a"); !strings.Contains(out, "imported:1") {
		t.Fatalf("prune -a output %q", out)
	}
}

// TestImageWhiteoutMergedView checks the overlay view of a whiteout image:
// deleted files gone, the opaque directory replaced.
func TestImageWhiteoutMergedView(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	reg := registrytest.New(t)
	reg.Push(t, "w:1", imagetest.WhiteoutImage(t))
	if _, err := d.Client.PullImage(t.Context(), reg.Ref("w:1"), client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := imagetest.WhiteoutImage(t).ConfigFile()
	var diffIDs []digest.Digest
	for _, h := range cfg.RootFS.DiffIDs {
		diffIDs = append(diffIDs, digest.Digest(h.String()))
	}
	d.Stop(t) // the snapshotter's metadata is locked while the daemon runs
	sn, err := snapshots.New(t.Context(), filepath.Join(d.Root, "snapshots"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	ms, err := sn.View(t.Context(), "test-view", snapshots.ChainID(diffIDs))
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Remove(context.WithoutCancel(t.Context()), "test-view")
	target := filepath.Join(d.Dir, "merged")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := snapshots.MountAll(ms, target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := mount.UnmountAll(target, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}()
	for p, want := range imagetest.WhiteoutPresent {
		b, err := os.ReadFile(filepath.Join(target, p))
		if err != nil || (want != "" && string(b) != want) {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	for _, p := range imagetest.WhiteoutAbsent {
		if _, err := os.Lstat(filepath.Join(target, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s visible in the merged view (%v)", p, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(target, "opq"))
	if len(ents) != 1 || ents[0].Name() != "new1" {
		t.Errorf("opaque dir holds %v, want only new1", ents)
	}
}

func TestImageHostileLayers(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	reg := registrytest.New(t)
	outside := ShortTempDir(t)
	for _, kind := range imagetest.HostileKinds {
		t.Run(string(kind), func(t *testing.T) {
			dir := filepath.Join(outside, string(kind))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(dir, "victim")
			if kind == imagetest.HostileHardlink {
				if err := os.WriteFile(victim, []byte("original"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			base, _ := imagetest.Busybox(t).Layers()
			img := imagetest.Image(t, runtime.GOARCH, base[0], imagetest.HostileLayer(t, kind, victim))
			reg.Push(t, "hostile-"+string(kind)+":1", img)
			_, err := d.Client.PullImage(t.Context(), reg.Ref("hostile-"+string(kind)+":1"), client.PullOptions{})
			t.Logf("pull: %v", err)
			ents, _ := os.ReadDir(dir)
			if kind == imagetest.HostileHardlink {
				b, _ := os.ReadFile(victim)
				var st syscall.Stat_t
				_ = syscall.Stat(victim, &st)
				if string(b) != "original" || len(ents) != 1 || st.Nlink != 1 {
					t.Fatalf("victim touched: %q, %d links, dir %v", b, st.Nlink, ents)
				}
			} else if len(ents) != 0 {
				t.Fatalf("written outside the root: %v", ents)
			}
		})
	}
	// No device node other than overlay whiteouts (0/0) exists in any snapshot.
	_ = filepath.WalkDir(filepath.Join(d.Root, "snapshots"), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.Type()&fs.ModeDevice == 0 {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) == nil && st.Rdev != 0 {
			t.Errorf("device node %s (rdev %d) in a snapshot", p, st.Rdev)
		}
		return nil
	})
}

func TestImagePullKilledMidway(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	reg := registrytest.New(t, registrytest.WithSlowBlobs(20*time.Millisecond))
	reg.Push(t, "big:1", imagetest.Big(t, 2, 2<<20, 1))
	cmd := d.CLICommand(t, "image", "pull", "--progress", "none", reg.Ref("big:1"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ingest := filepath.Join(d.Root, "content", "ingest")
	deadline := time.Now().Add(30 * time.Second)
	for {
		ents, _ := os.ReadDir(ingest)
		partial := false
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Size() > 64<<10 {
				partial = true
			}
		}
		if partial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no partial download appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Kill(t)
	_ = cmd.Wait()
	// Whatever is in blobs/ is complete and verified.
	checkBlobs := func() {
		t.Helper()
		ents, _ := os.ReadDir(filepath.Join(d.Root, "content", "blobs", "sha256"))
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(d.Root, "content", "blobs", "sha256", e.Name()))
			if err != nil || digest.FromBytes(b).Encoded() != e.Name() {
				t.Errorf("blob %s is damaged (%v)", e.Name(), err)
			}
		}
	}
	checkBlobs()
	d.Restart(t)
	if ents, _ := os.ReadDir(ingest); len(ents) != 0 {
		t.Errorf("partial downloads survived a restart: %v", ents)
	}
	if n := blobCount(t, d); n != 0 {
		t.Errorf("%d unreferenced blobs survived a restart", n)
	}
	if _, err := d.Client.PullImage(t.Context(), reg.Ref("big:1"), client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	checkBlobs()
}

func TestImageConcurrentPulls(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	reg := registrytest.New(t, registrytest.WithSlowBlobs(time.Millisecond))
	reg.Push(t, "w:1", imagetest.WhiteoutImage(t))
	var wg sync.WaitGroup
	codes := make([]int, 3)
	errs := make([]string, 3)
	for i := range codes {
		wg.Go(func() {
			cmd := d.CLICommand(t, "image", "pull", "--progress", "none", reg.Ref("w:1"))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				codes[i] = ee.ExitCode()
			} else if err != nil {
				codes[i] = -1
			}
			errs[i] = stderr.String()
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("pull %d: exit %d: %s", i, c, errs[i])
		}
	}
	if n := blobCount(t, d); n != 5 {
		t.Errorf("%d blobs, want 5 (3 layers, config, manifest)", n)
	}
}

func TestRegistryLogin(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	reg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	reg.Push(t, "private:1", imagetest.Busybox(t))
	dockerConfig := ShortTempDir(t)
	run := func(stdin string, args ...string) (string, string, int) {
		cmd := d.CLICommand(t, args...)
		cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+dockerConfig)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		code := runExit(t, cmd)
		return out.String(), errb.String(), code
	}
	_, errOut, code := run("wrong\n", "registry", "login", "-u", "alice", "--password-stdin", reg.Host)
	if code == 0 || !strings.Contains(errOut, "wrong username or password") {
		t.Fatalf("login with a wrong password: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dockerConfig, "config.json")); err == nil {
		t.Fatal("a failed login stored credentials")
	}
	if _, errOut, code := run("", "image", "pull", reg.Ref("private:1")); code == 0 {
		t.Fatalf("anonymous pull from the auth registry succeeded: %s", errOut)
	}
	out, errOut, code := run("s3cret\n", "registry", "login", "-u", "alice", "--password-stdin", reg.Host)
	if code != 0 || !strings.Contains(out, "Login succeeded") {
		t.Fatalf("login: exit %d, %q %q", code, out, errOut)
	}
	fi, err := os.Stat(filepath.Join(dockerConfig, "config.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.json: %v, mode %v", err, fi.Mode())
	}
	if out, _, _ := run("", "registry", "list"); !strings.Contains(out, reg.Host) || !strings.Contains(out, "alice") {
		t.Fatalf("registry list: %q", out)
	}
	if _, errOut, code := run("", "image", "pull", reg.Ref("private:1")); code != 0 {
		t.Fatalf("pull with stored credentials: %s", errOut)
	}
	if _, errOut, code := run("", "registry", "logout", reg.Host); code != 0 {
		t.Fatalf("logout: %s", errOut)
	}
	if out, _, _ := run("", "registry", "list", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("registry list after logout: %q", out)
	}
}
