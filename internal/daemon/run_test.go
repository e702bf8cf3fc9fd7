package daemon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/container/errdefs"
)

// A daemon that cannot start leaves no socket or pid file behind and
// releases the state lock, so the next start is not blocked.
func TestRunFailureLeavesNothing(t *testing.T) {
	dir := shortDir(t)
	cfg := Config{
		Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"),
		Socket: filepath.Join(dir, "state", "apiserver.sock"), LogRoot: filepath.Join(dir, "logs"),
		InstallRoot: filepath.Join(dir, "install"), ConfigFile: filepath.Join(dir, "config.toml"),
		Log: slog.New(slog.DiscardHandler),
	}
	if err := os.WriteFile(cfg.ConfigFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	damaged := []byte("this is not a bbolt file, and it must stay as it is")
	db := filepath.Join(cfg.Root, "metadata.db")
	if err := os.WriteFile(db, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(t.Context(), cfg)
	if !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Run with a damaged metadata.db: %v, want ErrFailedPrecondition", err)
	}
	if b, _ := os.ReadFile(db); string(b) != string(damaged) {
		t.Errorf("damaged metadata.db was changed to %q", b)
	}
	for _, p := range []string{cfg.Socket, filepath.Join(cfg.State, "apiserver.pid")} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind by a failed start: %v", p, err)
		}
	}
	l, err := lockState(filepath.Join(cfg.State, "apiserver.lock"))
	if err != nil {
		t.Fatalf("state lock still held after a failed start: %v", err)
	}
	l.release()
}
