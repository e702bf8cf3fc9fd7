package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/berth/container/errdefs"
)

// GroupName is the group whose members may use the apiserver socket.
const GroupName = "container"

// groupGID returns the gid of group name, or -1 if there is no such group.
func groupGID(name string) int {
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1
	}
	return gid
}

// activatedListener returns the unix listener passed by systemd socket
// activation (LISTEN_FDS), or nil when not socket-activated.
func activatedListener() (net.Listener, error) {
	ls, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("systemd socket activation: %w", err)
	}
	var found net.Listener
	for _, l := range ls {
		if l == nil {
			continue
		}
		if _, ok := l.(*net.UnixListener); ok && found == nil {
			found = l
			continue
		}
		_ = l.Close()
	}
	if len(ls) > 0 && found == nil {
		return nil, fmt.Errorf("systemd socket activation: no unix socket among %d passed fds: %w", len(ls), errdefs.ErrInvalidArgument)
	}
	return found, nil
}

// listenSocket removes a stale socket at path (the caller holds the state
// lock, so no live apiserver owns it), listens there, and sets the mode to
// 0660 with group gid when gid >= 0.
func listenSocket(path string, gid int, log *slog.Logger) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("socket path %s exists and is not a socket: %w", path, errdefs.ErrFailedPrecondition)
		}
		// The state lock proves no apiserver of this state dir is alive, but
		// --socket may point elsewhere: never take over a live socket.
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("socket %s is in use by another process: %w", path, errdefs.ErrAlreadyExists)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
		log.Warn("stale socket removed", "path", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("chgrp socket %s: %w", path, err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return l, nil
}
