package plugins

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/container/errdefs"
)

// instance is one supervised process of a plugin, restarted until stopped.
type instance struct {
	plugin, id string
	bin, dir   string
	args, env  []string
	logPath    string
	pidFile    string // records the process group id while running

	stopOnce sync.Once
	stop     chan struct{} // closed to ask the supervisor to stop
	done     chan struct{} // closed when the supervisor has returned
	first    chan error    // result of the first start (buffered)

	// Guarded by Manager.mu.
	state     InstanceState
	pid       int
	restarts  uint32
	startedAt time.Time
	lastErr   string
}

func (in *instance) requestStop() { in.stopOnce.Do(func() { close(in.stop) }) }

func (in *instance) snapshotLocked() Instance {
	return Instance{
		ID:        in.id,
		State:     in.state,
		PID:       in.pid,
		Restarts:  in.restarts,
		StartedAt: in.startedAt,
		LastError: in.lastErr,
		LogPath:   in.logPath,
	}
}

// logPath is where the instance id of plugin name writes stdout and stderr.
func (m *Manager) logPath(name, id string) string {
	if id == "" {
		return filepath.Join(m.logRoot, name+".log")
	}
	return filepath.Join(m.logRoot, name+"-"+id+".log")
}

// start registers a new instance of p and waits for its first start. An
// instance id that exists and is still supervised is ErrAlreadyExists; one
// that has stopped or failed is replaced. With forgetOnFail, an instance
// whose first start fails is removed again; otherwise it stays listed as
// failed.
func (m *Manager) start(p Plugin, id string, opts InstanceOpts, forgetOnFail bool) error {
	var defaultArgs []string
	if sc := p.Config.ServicesConfig; sc != nil {
		defaultArgs = sc.DefaultArguments
	}
	in := &instance{
		plugin:  p.Name,
		id:      id,
		bin:     p.Binary,
		dir:     p.Path,
		args:    append(slices.Clone(defaultArgs), opts.Args...),
		logPath: m.logPath(p.Name, id),
		pidFile: m.pidFile(p.Name, id),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		first:   make(chan error, 1),
		state:   StateStopped,
	}
	in.env = append([]string{
		"CONTAINER_PLUGIN_NAME=" + p.Name,
		"CONTAINER_PLUGIN_INSTANCE=" + id,
		"CONTAINER_INSTALL_ROOT=" + m.installRoot,
		"CONTAINER_STATE_ROOT=" + m.stateRoot,
		"CONTAINER_LOG_ROOT=" + m.logRoot,
	}, opts.Env...)

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("plugin %q: manager is shutting down: %w", p.Name, errdefs.ErrUnavailable)
	}
	if old := m.instances[p.Name][id]; old != nil {
		select {
		case <-old.done:
		default:
			m.mu.Unlock()
			return fmt.Errorf("plugin %q instance %q: %w", p.Name, id, errdefs.ErrAlreadyExists)
		}
	}
	if m.instances[p.Name] == nil {
		m.instances[p.Name] = map[string]*instance{}
	}
	m.instances[p.Name][id] = in
	m.wg.Add(1)
	m.mu.Unlock()

	go m.supervise(in)
	err := <-in.first
	if err != nil && forgetOnFail {
		m.mu.Lock()
		if m.instances[p.Name][id] == in {
			delete(m.instances[p.Name], id)
		}
		m.mu.Unlock()
	}
	return err
}

// update changes the instance's reported state under the manager's lock.
func (m *Manager) update(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// supervise runs in.bin until asked to stop, restarting it with
// exponential backoff each time it exits.
func (m *Manager) supervise(in *instance) {
	defer m.wg.Done()
	defer close(in.done)
	defer removePID(in.pidFile)
	// The children get Pdeathsig, which Linux fires when the forking
	// *thread* exits. Lock this goroutine to its thread and never unlock:
	// the thread then lives exactly as long as this goroutine, which
	// returns only after the child has been reaped, and no other goroutine
	// (say one that locks a thread to enter a network namespace and lets
	// it die) can end the thread under our child.
	runtime.LockOSThread()

	log := m.log.With("plugin", in.plugin, "instance", in.id)
	delay := m.policy.minDelay
	for n := 0; ; n++ {
		cmd, exited, err := m.spawn(in)
		if err != nil {
			m.update(func() { in.state, in.pid, in.lastErr = StateFailed, 0, err.Error() })
			if n == 0 {
				in.first <- err
			}
			log.Warn("plugin failed to start", "err", err)
			return
		}
		started := time.Now()
		pid := cmd.Process.Pid
		m.recordPID(in.pidFile, pid)
		m.update(func() {
			in.state, in.pid, in.startedAt = StateRunning, pid, started
			if n > 0 {
				in.restarts++
			}
		})
		if n == 0 {
			in.first <- nil
		}
		log.Info("plugin started", "pid", pid)

		select {
		case werr := <-exited:
			if time.Since(started) >= m.policy.resetAfter {
				delay = m.policy.minDelay
			}
			reason := exitReason(werr)
			m.update(func() { in.state, in.pid, in.lastErr = StateBackoff, 0, reason })
			log.Warn("plugin exited", "pid", pid, "err", reason, "restart_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-in.stop:
				t.Stop()
				m.update(func() { in.state = StateStopped })
				return
			case <-t.C:
			}
			delay = min(delay*2, m.policy.maxDelay)
		case <-in.stop:
			werr := m.terminate(pid, exited)
			m.update(func() { in.state, in.pid = StateStopped, 0 })
			log.Info("plugin stopped", "pid", pid, "err", exitReason(werr))
			return
		}
	}
}

// spawn starts one process of in. The returned channel yields cmd.Wait's
// result once the process has exited and the rest of its process group has
// been killed.
func (m *Manager) spawn(in *instance) (*exec.Cmd, <-chan error, error) {
	if err := os.MkdirAll(m.logRoot, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create log root: %w", err)
	}
	m.rotateLog(in.logPath)
	logf, err := os.OpenFile(in.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open plugin log: %w", err)
	}
	defer logf.Close() // the child has its own copy

	cmd := exec.Command(in.bin, in.args...)
	cmd.Dir = in.dir
	cmd.Env = append(inheritedEnv(), in.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", in.bin, err)
	}
	exited := make(chan error, 1)
	pid := cmd.Process.Pid
	go func() {
		// Wait for the exit without reaping, so that the pid (and with it
		// the process group id) cannot be reused while we kill whatever the
		// plugin left behind in its group. Then reap.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		_ = unix.Kill(-pid, unix.SIGKILL)
		exited <- cmd.Wait()
	}()
	return cmd, exited, nil
}

// defaultLogMax is the size over which a plugin's log is rotated.
const defaultLogMax = 10 << 20

// rotateLog rotates a plugin log larger than m.logMax ahead of a start, so
// that a plugin restarted again and again, or one that logs much, keeps at
// most two logs of about that size per run.
func (m *Manager) rotateLog(path string) {
	if err := RotateLog(path, m.logMax); err != nil {
		m.log.Warn("rotate plugin log", "path", path, "err", err)
	}
}

// RotateLog renames the log a supervised process appends to, when it is
// larger than max, to <path>.1 (replacing the one before). The running
// process writes to its descriptor, so a log is rotated between runs only:
// the plugin manager before each start, `system start` before the
// detached apiserver's.
func RotateLog(path string, max int64) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= max {
		return nil
	}
	return os.Rename(path, path+".1")
}

// inheritedEnv is the apiserver's environment minus what systemd passed
// to the apiserver alone: a plugin must not notify or claim sockets in
// the apiserver's name.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// terminate stops the process group led by pid: SIGTERM, then SIGKILL when
// it has not exited within the stop timeout. It returns the exit result.
func (m *Manager) terminate(pid int, exited <-chan error) error {
	_ = unix.Kill(-pid, unix.SIGTERM)
	t := time.NewTimer(m.policy.stopTimeout)
	defer t.Stop()
	select {
	case err := <-exited:
		return err
	case <-t.C:
		m.log.Warn("plugin ignored SIGTERM, killing", "pid", pid)
		_ = unix.Kill(-pid, unix.SIGKILL)
		return <-exited
	}
}

// exitReason describes how a process ended: "exit status 3", "signal: killed".
func exitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
