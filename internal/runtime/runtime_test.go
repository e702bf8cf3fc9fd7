package runtime

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDialUnixLongPath(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 100))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	// Listen through a short relative path: sun_path cannot hold the long one.
	t.Chdir(long)
	l, err := net.Listen("unix", "s.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := dialUnix(t.Context(), filepath.Join(long, "s.sock"))
	if err != nil {
		t.Fatalf("dial %d-byte path: %v", len(filepath.Join(long, "s.sock")), err)
	}
	c.Close()
}

func TestSpawnStateDirShortensLongPaths(t *testing.T) {
	base, err := os.MkdirTemp("", "rt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	state := filepath.Join(base, "state")
	if err := os.MkdirAll(filepath.Join(state, "containers"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := New(Opt{Root: t.TempDir(), State: state})
	id := strings.Repeat("a", 64)
	got := r.spawnStateDir(id)
	if len(filepath.Join(r.StateDir(id), "supervisor.sock")) < 108 {
		t.Skipf("temp dir %s too short to need the symlink", base)
	}
	if len(filepath.Join(got, "supervisor.sock")) >= 108 {
		t.Fatalf("spawnStateDir = %q, still too long", got)
	}
	if err := os.MkdirAll(r.StateDir(id), 0o755); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(got); err != nil || !fi.IsDir() {
		t.Fatalf("%s does not reach the state dir: %v", got, err)
	}
	if short := r.spawnStateDir("web"); short != r.StateDir("web") {
		t.Fatalf("short path changed: %q", short)
	}
}
