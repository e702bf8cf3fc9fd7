package mount

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/x\\`: `/x\\`, `/y\0`: `/y\0`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOverlayMountUnmount(t *testing.T) {
	if testing.Short() || os.Getuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "lower", "f"), []byte("x"), 0o644)
	target := filepath.Join(dir, "merged")
	ms := []Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + filepath.Join(dir, "lower"), "upperdir=" + filepath.Join(dir, "upper"), "workdir=" + filepath.Join(dir, "work")}}}
	if err := All(ms, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = UnmountAll(target) })
	if _, err := os.Stat(filepath.Join(target, "f")); err != nil {
		t.Fatalf("overlay content missing: %v", err)
	}
	// A read-only bind on top.
	if err := (Mount{Type: "bind", Source: filepath.Join(dir, "lower"), Options: []string{"rbind", "ro"}}).Mount(target); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644); err == nil {
		t.Fatal("write to read-only bind succeeded")
	}
	if err := UnmountAll(target); err != nil {
		t.Fatal(err)
	}
	if m, _ := Mounted(target); m {
		t.Fatal("still mounted after UnmountAll")
	}
}
