// Package imagetest builds OCI images in memory for tests, from the host's
// static busybox (/bin/busybox, Debian's busybox-static).
//
// Every helper returns go-containerregistry values (v1.Image, v1.ImageIndex,
// v1.Layer) that tests push to an in-process registry (see registrytest) or
// write to a tarball. Nothing here touches the network. Helpers call
// t.Fatal on error, so callers need no error handling.
package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is the static busybox the fixtures are built from.
const BusyboxPath = "/bin/busybox"

// Passwd and Group are the /etc/passwd and /etc/group of every busybox image:
// root (0) and nobody (1000).
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:1000:1000:nobody:/home/nobody:/bin/sh\n"
	Group  = "root:x:0:\nnobody:x:1000:\n"
)

// Entry is one tar entry of a layer. Type defaults to a regular file
// (tar.TypeReg); Mode defaults to 0644 for files and 0755 for directories.
type Entry struct {
	Name     string
	Type     byte
	Mode     int64
	Body     []byte
	Linkname string
	UID, GID int
	Devmajor int64
	Devminor int64
}

// Dir, File and Symlink are shorthands for the common entry kinds.
func Dir(name string) Entry        { return Entry{Name: name, Type: tar.TypeDir} }
func File(name, body string) Entry { return Entry{Name: name, Body: []byte(body)} }
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Linkname: target}
}
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Linkname: target}
}
func Whiteout(dir, name string) Entry     { return File(path.Join(dir, ".wh."+name), "") }
func OpaqueDir(dir string) Entry          { return File(path.Join(dir, ".wh..wh..opq"), "") }
func Exec(name string, body []byte) Entry { return Entry{Name: name, Mode: 0o755, Body: body} }
func CharDevice(name string, major, minor int64) Entry {
	return Entry{Name: name, Type: tar.TypeChar, Mode: 0o666, Devmajor: major, Devminor: minor}
}

// fixedTime keeps layer digests reproducible.
var fixedTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Tar returns the uncompressed tar stream of entries, in order.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname,
			Uid: e.UID, Gid: e.GID, Devmajor: e.Devmajor, Devminor: e.Devminor,
			ModTime: fixedTime, Format: tar.FormatPAX,
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Body); err != nil {
				t.Fatalf("tar body %q: %v", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

// Layer returns a gzip-compressed layer holding entries.
func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	return LayerFromTar(t, Tar(t, entries...))
}

// LayerFromTar returns a gzip-compressed layer of the uncompressed tar b.
func LayerFromTar(t testing.TB, b []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	return l
}

var (
	busyboxOnce    sync.Once
	busyboxBody    []byte
	busyboxApplets []string
	busyboxErr     error
)

func readBusybox(t testing.TB) ([]byte, []string) {
	t.Helper()
	busyboxOnce.Do(func() {
		busyboxBody, busyboxErr = os.ReadFile(BusyboxPath)
		if busyboxErr != nil {
			return
		}
		var out []byte
		out, busyboxErr = exec.Command(BusyboxPath, "--list").Output()
		for _, a := range strings.Fields(string(out)) {
			if a != "busybox" && !strings.Contains(a, "/") {
				busyboxApplets = append(busyboxApplets, a)
			}
		}
	})
	if busyboxErr != nil {
		t.Fatalf("read busybox (install busybox-static): %v", busyboxErr)
	}
	return busyboxBody, busyboxApplets
}

// BusyboxEntries returns the entries of a minimal busybox root filesystem:
// /bin/busybox, one symlink in /bin per applet, /etc/passwd, /etc/group,
// /tmp, /root and /home/nobody.
func BusyboxEntries(t testing.TB) []Entry {
	t.Helper()
	body, applets := readBusybox(t)
	es := []Entry{
		Dir("bin"), Exec("bin/busybox", body),
	}
	for _, a := range applets {
		es = append(es, Symlink("bin/"+a, "busybox"))
	}
	es = append(es,
		Dir("etc"), File("etc/passwd", Passwd), File("etc/group", Group),
		Entry{Name: "tmp", Type: tar.TypeDir, Mode: 0o1777},
		Entry{Name: "root", Type: tar.TypeDir, Mode: 0o700},
		Dir("home"), Entry{Name: "home/nobody", Type: tar.TypeDir, UID: 1000, GID: 1000},
		Dir("dev"), Dir("proc"), Dir("sys"),
	)
	return es
}

// Config is the image config every fixture uses: PATH set, sh as the command.
func Config(arch string) v1.ConfigFile {
	return v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: fixedTime},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:        []string{"/bin/sh"},
			WorkingDir: "/",
		},
	}
}

// Image returns an OCI image for linux/<arch> with the given layers, in order.
func Image(t testing.TB, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	cfg := Config(arch)
	img, err := mutate.ConfigFile(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), &cfg)
	if err != nil {
		t.Fatalf("image config: %v", err)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatalf("append layers: %v", err)
	}
	return img
}

// Busybox returns a single-layer busybox image for the host's architecture.
func Busybox(t testing.TB) v1.Image {
	t.Helper()
	return Image(t, runtime.GOARCH, Layer(t, BusyboxEntries(t)...))
}

// The whiteout image: layer 1 is busybox, layer 2 adds /data, /opq and
// /gone-dir trees, layer 3 deletes some of them with .wh. files (/gone-dir
// whole), makes /opq opaque and adds files.
// After the layers are merged, every path in WhiteoutPresent exists with the
// content given, and no path in WhiteoutAbsent exists.
var (
	WhiteoutPresent = map[string]string{
		"/data/keep":      "keep",
		"/data/added":     "added",
		"/data/changed":   "new",
		"/opq/new1":       "new1",
		"/bin/busybox":    "",
		"/etc/passwd":     Passwd,
		"/gone-dir-sib/x": "x",
	}
	WhiteoutAbsent = []string{
		"/data/remove",
		"/opq/old1",
		"/opq/sub",
		"/opq/sub/old2",
		"/gone-dir",
		"/gone-dir/x",
		"/data/.wh.remove",
		"/opq/.wh..wh..opq",
	}
)

// WhiteoutImage returns the three-layer whiteout image described above.
func WhiteoutImage(t testing.TB) v1.Image {
	t.Helper()
	l1 := Layer(t, BusyboxEntries(t)...)
	l2 := Layer(t,
		Dir("data"), File("data/keep", "keep"), File("data/remove", "remove"), File("data/changed", "old"),
		Dir("opq"), File("opq/old1", "old1"), Dir("opq/sub"), File("opq/sub/old2", "old2"),
		Dir("gone-dir"), File("gone-dir/x", "x"),
		Dir("gone-dir-sib"), File("gone-dir-sib/x", "x"),
	)
	l3 := Layer(t,
		Dir("data"), Whiteout("data", "remove"), File("data/added", "added"), File("data/changed", "new"),
		Dir("opq"), OpaqueDir("opq"), File("opq/new1", "new1"),
		Whiteout("", "gone-dir"),
	)
	return Image(t, runtime.GOARCH, l1, l2, l3)
}

// PlatformFile is written into every variant of the multi-platform index;
// it holds "linux/<arch>".
const PlatformFile = "etc/platform"

// MultiPlatform returns an index with linux/amd64 and linux/arm64 images.
// The variant for the host's architecture is a full busybox image; the other
// carries only /etc/platform (it cannot run here anyway).
func MultiPlatform(t testing.TB) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		var img v1.Image
		marker := File(PlatformFile, "linux/"+arch)
		if arch == runtime.GOARCH {
			img = Image(t, arch, Layer(t, BusyboxEntries(t)...), Layer(t, Dir("etc"), marker))
		} else {
			img = Image(t, arch, Layer(t, Dir("etc"), marker))
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return mutate.AppendManifests(idx, adds...)
}

// Big returns an image of n layers of size bytes of random data each (plus
// busybox underneath), for benchmarks. seed makes the content reproducible;
// two calls with different seeds share only the busybox layer.
func Big(t testing.TB, n int, size int64, seed uint64) v1.Image {
	t.Helper()
	layers := []v1.Layer{Layer(t, BusyboxEntries(t)...)}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i := range n {
		body := make([]byte, size)
		for j := 0; j+8 <= len(body); j += 8 {
			v := r.Uint64()
			for k := range 8 {
				body[j+k] = byte(v >> (8 * k))
			}
		}
		layers = append(layers, Layer(t, Dir("big"), Entry{Name: "big/blob" + string(rune('a'+i%26)) + ".bin", Body: body}))
	}
	return Image(t, runtime.GOARCH, layers...)
}

// Hostile names the kinds of malicious layer HostileLayer builds.
type Hostile string

const (
	// HostileDotDot writes through "../" components.
	HostileDotDot Hostile = "dotdot"
	// HostileAbsolute writes to an absolute path.
	HostileAbsolute Hostile = "absolute"
	// HostileSymlink plants a symlink to the target's directory, then
	// writes a file through it.
	HostileSymlink Hostile = "symlink"
	// HostileHardlink hardlinks to the target (an existing host file), then
	// overwrites the link.
	HostileHardlink Hostile = "hardlink"
	// HostileDevice creates character and block device nodes (/dev/mem, a disk).
	HostileDevice Hostile = "device"
)

// HostileKinds lists every Hostile value.
var HostileKinds = []Hostile{HostileDotDot, HostileAbsolute, HostileSymlink, HostileHardlink, HostileDevice}

// HostileLayer returns a layer that tries to write to target, an absolute
// host path outside any unpack root. For HostileHardlink, target should be an
// existing file whose content the test checks afterwards; for the others it
// should not exist, and must still not exist after unpacking.
func HostileLayer(t testing.TB, kind Hostile, target string) v1.Layer {
	t.Helper()
	up := strings.Repeat("../", 32)
	rel := strings.TrimPrefix(target, "/")
	switch kind {
	case HostileDotDot:
		return Layer(t, File(up+rel, "pwned"), File("a/"+up+rel+".2", "pwned"))
	case HostileAbsolute:
		return Layer(t, File(target, "pwned"))
	case HostileSymlink:
		return Layer(t,
			Symlink("escape", path.Dir(target)), File("escape/"+path.Base(target), "pwned"),
			Symlink("escape-rel", up+strings.TrimPrefix(path.Dir(target), "/")), File("escape-rel/"+path.Base(target)+".2", "pwned"),
			Symlink("dangling", target),
		)
	case HostileHardlink:
		return Layer(t,
			Hardlink("hl", target), Hardlink("hl-rel", up+rel),
			File("hl", "pwned"),
		)
	case HostileDevice:
		return Layer(t, Dir("dev"), CharDevice("dev/mem", 1, 1), CharDevice("dev/kmsg", 1, 11),
			Entry{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o666, Devmajor: 8, Devminor: 0},
			File("ok", "ok"))
	}
	t.Fatalf("unknown hostile kind %q", kind)
	return nil
}
