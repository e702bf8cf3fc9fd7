package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCIDFile checks --cidfile leaves nothing half-made: an existing file
// is refused before anything is created, a file that cannot be written
// takes the new container with it, and a failed run --rm removes it.
func TestCIDFile(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	noContainers := func(t *testing.T) {
		t.Helper()
		cs, err := d.Client.ListContainers(t.Context(), true)
		if err != nil || len(cs) != 0 {
			t.Fatalf("containers left: %+v, %v", cs, err)
		}
	}
	onlyFiles := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("files in %s: %v, want %v", dir, got, want)
		}
	}

	t.Run("exists", func(t *testing.T) {
		dir := ShortTempDir(t)
		cidfile := filepath.Join(dir, "cid")
		if err := os.WriteFile(cidfile, []byte("other"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"create", "run"} {
			if _, errOut, code := d.CLI(t, verb, "--cidfile", cidfile, img, "true"); code == 0 || !strings.Contains(errOut, "exists") {
				t.Fatalf("%s with an existing cidfile: exit %d, %q", verb, code, errOut)
			}
		}
		if data, _ := os.ReadFile(cidfile); string(data) != "other" {
			t.Fatalf("cidfile overwritten: %q", data)
		}
		onlyFiles(t, dir, "cid")
		noContainers(t)
	})
	t.Run("write fails", func(t *testing.T) {
		// A full tmpfs takes the empty temporary file but not the id.
		dir := ShortTempDir(t)
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4k"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
		if err := os.WriteFile(filepath.Join(dir, "fill"), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := d.CLI(t, "create", "--cidfile", filepath.Join(dir, "cid"), img, "true")
		if code == 0 || !strings.Contains(errOut, "cidfile") {
			t.Fatalf("create with an unwritable cidfile: exit %d, %q", code, errOut)
		}
		onlyFiles(t, dir, "fill")
		noContainers(t)
	})
	t.Run("failed run rm", func(t *testing.T) {
		dir := ShortTempDir(t)
		cidfile := filepath.Join(dir, "cid")
		cli(t, d, 127, "run", "--rm", "--cidfile", cidfile, img, "/no/such/program")
		onlyFiles(t, dir)
		noContainers(t)
		// A run without --rm keeps its container, so the file stays.
		cli(t, d, 127, "run", "--cidfile", cidfile, img, "/no/such/program")
		data, err := os.ReadFile(cidfile)
		if err != nil {
			t.Fatal(err)
		}
		cli(t, d, 0, "rm", "-f", string(data))
		noContainers(t)
	})
}
