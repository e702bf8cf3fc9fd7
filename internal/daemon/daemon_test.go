package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/container/errdefs"
)

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestLockState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apiserver.lock")
	l, err := lockState(path)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	data, _ := os.ReadFile(path)
	if got := strings.TrimSpace(string(data)); got != fmt.Sprint(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid", got)
	}
	// flock locks belong to the open file description, so a second open
	// in the same process conflicts like another process would.
	_, err = lockState(path)
	if !errors.Is(err, errdefs.ErrAlreadyExists) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second lock: %v, want ErrAlreadyExists naming our pid", err)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}
	l2, err := lockState(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.release()
}

func TestListenSocket(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := shortDir(t)

	t.Run("fresh", func(t *testing.T) {
		path := filepath.Join(dir, "fresh.sock")
		l, err := listenSocket(path, -1, log)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode().Type() != fs.ModeSocket {
			t.Errorf("socket %v, %v; want a 0660 socket", fi.Mode(), err)
		}
		l.Close()
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket left after Close: %v", err)
		}
	})
	t.Run("stale", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		old, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		old.(*net.UnixListener).SetUnlinkOnClose(false)
		old.Close()
		l, err := listenSocket(path, -1, log)
		if err != nil {
			t.Fatalf("over a stale socket: %v", err)
		}
		l.Close()
	})
	t.Run("live", func(t *testing.T) {
		path := filepath.Join(dir, "live.sock")
		live, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		if _, err := listenSocket(path, -1, log); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Fatalf("over a live socket: %v, want ErrAlreadyExists", err)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		path := filepath.Join(dir, "file.sock")
		if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := listenSocket(path, -1, log); !errors.Is(err, errdefs.ErrFailedPrecondition) {
			t.Fatalf("over a regular file: %v, want ErrFailedPrecondition", err)
		}
		if data, _ := os.ReadFile(path); string(data) != "keep me" {
			t.Error("regular file changed")
		}
	})
}

func TestConfigComplete(t *testing.T) {
	c := Config{Root: "r", State: "/s"}
	if err := c.complete(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(c.Root) || c.Socket != "/s/apiserver.sock" || c.LogRoot != filepath.Join(c.Root, "logs") {
		t.Errorf("complete() = %+v", c)
	}
	long := Config{Root: "/r", State: "/" + strings.Repeat("x", 120)}
	if err := long.complete(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("long socket path: %v, want ErrInvalidArgument", err)
	}
	if err := (&Config{}).complete(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("empty roots: %v, want ErrInvalidArgument", err)
	}
}

func TestDefaultsFromEnv(t *testing.T) {
	t.Setenv("CONTAINER_APP_ROOT", "/a")
	t.Setenv("CONTAINER_STATE_ROOT", "/s")
	t.Setenv("CONTAINER_LOG_ROOT", "/l")
	t.Setenv("CONTAINER_INSTALL_ROOT", "/i")
	c := Defaults()
	if c.Root != "/a" || c.State != "/s" || c.LogRoot != "/l" || c.InstallRoot != "/i" {
		t.Errorf("Defaults() = %+v", c)
	}
	t.Setenv("CONTAINER_APP_ROOT", "")
	t.Setenv("CONTAINER_STATE_ROOT", "")
	t.Setenv("CONTAINER_INSTALL_ROOT", "")
	c = Defaults()
	if c.Root != "/var/lib/container" || c.State != "/run/container" || c.InstallRoot == "" {
		t.Errorf("Defaults() without env = %+v", c)
	}
}

func TestMainUsage(t *testing.T) {
	var out, errb strings.Builder
	if code := Main(t.Context(), []string{"bogus"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Errorf("Main(bogus) = %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := Main(t.Context(), []string{"start", "--log-level", "loud"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "loud") {
		t.Errorf("Main(start --log-level loud) = %d, %q", code, errb.String())
	}
}
