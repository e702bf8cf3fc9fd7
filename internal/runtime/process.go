package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// supervisorExitTimeout bounds how long Delete waits for a supervisor that
// was told to shut down before it kills it.
const supervisorExitTimeout = 2 * time.Second

// supervisorSelfExitTimeout bounds how long Delete waits for a supervisor
// that ends by itself after the container's exit (its clean-up waits up to
// 2 s for the container's output to close, then runc and the mounts).
const supervisorSelfExitTimeout = 15 * time.Second

// supervisorProcess is a handle on a running supervisor process, held
// through a pidfd so a reused pid is never waited on or signalled.
type supervisorProcess struct {
	pid   int
	pidfd int
}

// openSupervisor returns a handle on id's supervisor process from
// <state>/containers/<id>/supervisor.pid, or nil when there is none (no pid
// file, process gone, or the pid now belongs to another program).
func (r *Runtime) openSupervisor(id string) *supervisorProcess {
	data, err := os.ReadFile(filepath.Join(r.StateDir(id), "supervisor.pid"))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // gone (ESRCH), or no pidfd support: nothing to wait on
	}
	// The pidfd pins the process; check it is id's supervisor only now:
	// its command line names id, or it is an adopted idle supervisor,
	// which works in id's state dir.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err == nil && !bytes.Contains(cmdline, []byte(id)) {
		cwd, cerr := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if real, rerr := filepath.EvalSymlinks(r.StateDir(id)); cerr != nil || (cwd != r.StateDir(id) && (rerr != nil || cwd != real)) {
			err = errors.New("not id's supervisor")
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil
	}
	return &supervisorProcess{pid: pid, pidfd: fd}
}

// wait reports whether the process exited within d.
func (p *supervisorProcess) wait(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms < 0 {
			ms = 0
		}
		fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == nil {
			return n > 0
		}
		if !errors.Is(err, unix.EINTR) || time.Now().After(deadline) {
			return false
		}
	}
}

// kill sends SIGKILL to the process.
func (p *supervisorProcess) kill() error {
	err := unix.PidfdSendSignal(p.pidfd, unix.SIGKILL, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// stop waits up to timeout for the process to exit, then kills it and
// waits for that. It reports an error only when the process survives.
func (p *supervisorProcess) stop(timeout time.Duration) error {
	if p.wait(timeout) {
		return nil
	}
	if err := p.kill(); err != nil {
		return fmt.Errorf("kill supervisor %d: %w", p.pid, err)
	}
	if !p.wait(time.Second) {
		return fmt.Errorf("supervisor %d still running after SIGKILL", p.pid)
	}
	return nil
}

func (p *supervisorProcess) close() { unix.Close(p.pidfd) }
