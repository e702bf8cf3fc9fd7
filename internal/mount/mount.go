// Package mount mounts and unmounts a container's root filesystem: the
// snapshotter's mounts (overlay or bind) given as type, source and fstab
// options.
//
// Unmount detaches (MNT_DETACH) when a plain unmount reports the target
// busy, so a container's rootfs never stays mounted after Delete.
package mount

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/berth/container/errdefs"
	"golang.org/x/sys/unix"
)

// Mount is one mount: type ("overlay", "bind", "tmpfs", ...), source and
// fstab-style options ("ro", "rbind", "lowerdir=...").
type Mount struct {
	Type    string
	Source  string
	Options []string
}

var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// parse splits options into mount flags and the data string.
func parse(options []string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range options {
		if f, ok := flagOptions[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		data = append(data, o)
	}
	return flags, strings.Join(data, ",")
}

// Mount mounts m at target. A read-only bind is mounted and then remounted
// read-only, as the kernel requires. An overlay with the "volatile" option
// is mounted as mountVolatile says.
func (m Mount) Mount(target string) error {
	if m.Type == "overlay" && slices.Contains(m.Options, volatileOption) {
		return m.mountVolatile(target)
	}
	return m.mount(target)
}

func (m Mount) mount(target string) error {
	flags, data := parse(m.Options)
	if len(data) >= os.Getpagesize() {
		return fmt.Errorf("mount %s at %q: options longer than a page: %w", m.Type, target, errdefs.ErrInvalidArgument)
	}
	typ, first := m.Type, flags
	if flags&unix.MS_BIND != 0 {
		// A bind ignores MS_RDONLY; it takes a remount.
		typ, first = "", flags&^unix.MS_RDONLY
	}
	if err := unix.Mount(m.Source, target, typ, first, data); err != nil {
		return fmt.Errorf("mount %s %q at %q: %w", m.Type, m.Source, target, withKind(err))
	}
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount %q read-only: %w", target, withKind(err))
		}
	}
	return nil
}

// All mounts ms in order at target (each on top of the previous one). On
// failure it unmounts what it mounted.
func All(ms []Mount, target string) (retErr error) {
	done := 0
	defer func() {
		if retErr != nil {
			for range done {
				_ = Unmount(target)
			}
		}
	}()
	for _, m := range ms {
		if err := m.Mount(target); err != nil {
			return err
		}
		done++
	}
	return nil
}

// Unmount unmounts target once, retrying briefly on EBUSY and falling back
// to a lazy detach. A target that is not mounted is not an error.
func Unmount(target string) error {
	for i := 0; ; i++ {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // not a mount point (any more)
		case errors.Is(err, unix.EBUSY) && i < 10:
			time.Sleep(10 * time.Millisecond)
			continue
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %q: %w", target, withKind(err))
			}
			return nil
		default:
			return fmt.Errorf("unmount %q: %w", target, withKind(err))
		}
	}
}

// UnmountAll unmounts every mount stacked at target.
func UnmountAll(target string) error {
	for range 64 {
		mounted, err := Mounted(target)
		if err != nil || !mounted {
			return err
		}
		if err := Unmount(target); err != nil {
			return err
		}
	}
	return fmt.Errorf("unmount %q: still mounted: %w", target, errdefs.ErrFailedPrecondition)
}

// Mounted reports whether path is a mount point, from /proc/self/mountinfo.
func Mounted(path string) (bool, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mountinfo: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescape(f[4]) == path {
			return true, nil
		}
	}
	return false, nil
}

// unescape decodes mountinfo's octal escapes (\040 for space, ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '7' {
			return false
		}
	}
	return s[0] <= '3'
}
