package supervisor

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// A unix socket's path must fit in sun_path (108 bytes), but
// <state>/containers/<id>/supervisor.sock can be longer (a deep state root,
// a 64-hex id). Such a socket is bound and dialed through the short alias
// /proc/self/fd/<fd of its directory>/<name>, so it lives exactly where the
// on-disk layout says.

// maxSunPath is the longest path used as is.
const maxSunPath = 107

// listenUnix listens on the unix socket at path. The listener does not
// unlink the socket when closed: the caller removes it by its real path.
func listenUnix(path string) (net.Listener, error) {
	var l net.Listener
	err := viaShortPath(path, func(p string) error {
		var err error
		l, err = net.Listen("unix", p)
		return err
	})
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	return l, nil
}

// dialUnix connects to the unix socket at path.
func dialUnix(path string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := viaShortPath(path, func(p string) error {
		var err error
		c, err = net.DialTimeout("unix", p, timeout)
		return err
	})
	return c, err
}

// viaShortPath calls fn with path, or with a short alias of path when path
// is too long for sun_path. The alias is valid only during fn.
func viaShortPath(path string, fn func(string) error) error {
	if len(path) <= maxSunPath {
		return fn(path)
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Dir(path), Err: err}
	}
	defer unix.Close(fd)
	return fn("/proc/self/fd/" + strconv.Itoa(fd) + "/" + filepath.Base(path))
}
