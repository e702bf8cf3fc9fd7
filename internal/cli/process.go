package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/container/errdefs"
)

// systemdRunning reports whether systemd is the init system (what
// sd_booted(3) checks).
func systemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// readPidFile returns the pid stored in path, or 0 if there is none.
func readPidFile(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(bytes.SplitN(data, []byte("\n"), 2)[0])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// isApiserver reports whether pid is a live container-apiserver process,
// judged by its executable or, if that cannot be read, its argv[0].
func isApiserver(pid int) bool {
	if pid <= 0 || !alive(pid) {
		return false
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		return filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == apiserverBinary
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return filepath.Base(string(argv0)) == apiserverBinary
}

// alive reports whether pid exists and is not a zombie waiting for a
// parent that may never reap it.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	state := data[i+2]
	return state != 'Z' && state != 'X'
}

// waitGone waits until pid has exited or timeout passes.
func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return !alive(pid)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// signalProcess sends sig to pid; a process that is already gone is not
// an error.
func signalProcess(pid int, sig syscall.Signal) error {
	err := syscall.Kill(pid, sig)
	switch {
	case err == nil || errors.Is(err, syscall.ESRCH):
		return nil
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("signal %s to apiserver (pid %d): %w", unix.SignalName(sig), pid, errdefs.ErrPermissionDenied)
	}
	return fmt.Errorf("signal %s to apiserver (pid %d): %w", unix.SignalName(sig), pid, err)
}

// tailFile returns the last n lines of path from byte offset from on.
func tailFile(path string, from int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxRead = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	if fi.Size()-from > maxRead {
		from = fi.Size() - maxRead
	}
	if from < 0 || from > fi.Size() { // truncated since from was taken
		from = 0
	}
	buf := make([]byte, fi.Size()-from)
	got, _ := f.ReadAt(buf, from)
	buf = buf[:got]
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
