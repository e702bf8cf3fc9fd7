package supervisor

import (
	"fmt"
	"os"

	"github.com/berth/container/internal/ctrlog"
	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// A container's terminal is the pty master runc hands over. The supervisor
// keeps the console for resizes and reads and writes a non-blocking
// duplicate through Go's poller, so that its reader can be stopped by a
// read deadline (a hibernation hands the pty over) without closing it.

// pollableTerminal returns a non-blocking duplicate of con's pty master.
func pollableTerminal(con console.Console) (*os.File, error) {
	fd, err := unix.FcntlInt(con.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("terminal: %w", err)
	}
	return os.NewFile(uintptr(fd), "pty"), nil
}

// terminalFromFd rebuilds the console and its pollable duplicate from a
// pty master fd handed over by a hibernation (non-blocking already).
func terminalFromFd(fd int) (console.Console, *os.File, error) {
	cfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("terminal: %w", err)
	}
	con, err := console.ConsoleFromFile(os.NewFile(uintptr(cfd), "console"))
	if err != nil {
		unix.Close(cfd)
		return nil, nil, fmt.Errorf("terminal: %w", err)
	}
	_ = unix.SetNonblock(fd, true)
	return con, os.NewFile(uintptr(fd), "pty"), nil
}

// copyTerminal copies the terminal's output into the log as stdout;
// outputDone is closed when it ends, unless it was stopped for a
// hibernation.
func (s *supervisor) copyTerminal(logw *ctrlog.Writer, pty *os.File) {
	g := s.newCopies(1)
	go func() { defer g.wg.Done(); s.copyOut(logw, ctrlog.Stdout, pty) }()
	go g.closeWhenDone(s.outputDone)
}
