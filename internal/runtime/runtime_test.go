package runtime

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/bundle"
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

// TestStateOfDeadSupervisor: with no supervisor, State reports the exit
// recorded in the bundle, a damaged record as an error in the exit (not as
// a missing one), and NotFound when there is none.
func TestStateOfDeadSupervisor(t *testing.T) {
	dir := t.TempDir()
	r := New(Opt{Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state")})
	b := bundle.New(filepath.Join(dir, "root"), "c")
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.State(t.Context(), "c"); !errdefs.IsNotFound(err) {
		t.Fatalf("State with no exit record = %v, want NotFound", err)
	}
	if err := b.WriteExit(bundle.ExitStatus{Code: 3, ExitedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if st, err := r.State(t.Context(), "c"); err != nil || st.Exit == nil || st.Exit.Code != 3 || st.Exit.Error != "" {
		t.Fatalf("State with exit 3 recorded = %+v, %v", st.Exit, err)
	}
	if err := os.WriteFile(b.Exit(), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(t.Context(), "c")
	if err != nil || st.Exit == nil || st.Exit.Code != 255 || !strings.Contains(st.Exit.Error, "unreadable") {
		t.Fatalf("State with a damaged exit record = %+v, %v", st, err)
	}
}

// TestRemoveAfterCleanDelete: Remove after a Delete that left nothing
// removes the bundle and state dirs without a second Delete; a Delete
// that could not finish is done again by Remove.
func TestRemoveAfterCleanDelete(t *testing.T) {
	dir := t.TempDir()
	r := New(Opt{Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state")})
	for _, d := range []string{r.BundleDir("c"), r.StateDir("c")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Delete(t.Context(), "c"); err != nil {
		t.Fatalf("Delete with no supervisor: %v", err)
	}
	if !r.deleted["c"] {
		t.Fatal("a clean Delete was not remembered")
	}
	if err := r.Remove(t.Context(), "c"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if r.deleted["c"] {
		t.Fatal("Remove kept the memory of the Delete")
	}
	for _, d := range []string{r.BundleDir("c"), r.StateDir("c")} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s after Remove: %v", d, err)
		}
	}
}
