package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/container/errdefs"
)

// TestErrorKinds: mount errors carry the errdefs kind of their errno and
// the errno itself.
func TestErrorKinds(t *testing.T) {
	for errno, kind := range map[unix.Errno]error{
		unix.EINVAL: errdefs.ErrInvalidArgument, unix.ENOENT: errdefs.ErrNotFound,
		unix.EPERM: errdefs.ErrPermissionDenied, unix.EBUSY: errdefs.ErrFailedPrecondition,
	} {
		err := fmt.Errorf("mount: %w", withKind(errno))
		if !errors.Is(err, kind) || !errors.Is(err, errno) || err.Error() != "mount: "+errno.Error() {
			t.Errorf("%v: %v does not carry %v", errno, err, kind)
		}
	}
	if err := withKind(unix.EIO); !errors.Is(err, unix.EIO) || hasKind(err) {
		t.Errorf("EIO got a kind: %v", err)
	}

	if os.Getuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir, err := os.MkdirTemp("", "mnt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	err = Mount{Type: "bind", Source: filepath.Join(dir, "missing"), Options: []string{"rbind"}}.Mount(dir)
	if !errdefs.IsNotFound(err) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("bind of a missing source = %v, want NotFound", err)
	}
	err = Mount{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + dir, "nosuchoption=1"}}.Mount(dir)
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("overlay with a bad option = %v, want InvalidArgument", err)
	}
	if mounted, _ := Mounted(dir); mounted {
		_ = UnmountAll(dir)
		t.Fatal("a failed mount left a mount")
	}
}

func hasKind(err error) bool {
	for _, k := range []error{errdefs.ErrInvalidArgument, errdefs.ErrNotFound, errdefs.ErrPermissionDenied, errdefs.ErrFailedPrecondition} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}
