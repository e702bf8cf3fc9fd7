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
