package mount

import (
	"os"
	"path/filepath"
	"testing"
)

// A volatile overlay can be mounted again after it was unmounted (the
// kernel refuses while the marker of the previous mount exists) and keeps
// what was written to it.
func TestOverlayVolatileRemount(t *testing.T) {
	if testing.Short() || os.Getuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(dir, "merged")
	m := Mount{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(dir, "lower"), "upperdir=" + filepath.Join(dir, "upper"),
		"workdir=" + filepath.Join(dir, "work"), "volatile"}}
	for i := range 2 {
		if err := m.Mount(target); err != nil {
			t.Fatalf("mount %d: %v", i+1, err)
		}
		if i == 0 {
			if err := os.WriteFile(filepath.Join(target, "f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if data, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(data) != "x" {
			t.Errorf("after remount: %q, %v; want the file written before", data, err)
		}
		if err := UnmountAll(target); err != nil {
			t.Fatalf("unmount %d: %v", i+1, err)
		}
	}
}
