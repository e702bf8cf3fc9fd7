package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/ctrlog"
	"github.com/berth/container/internal/runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Hibernation. A Go process serving gRPC costs ≈ 4 MiB of PSS, most of
// it private; a running container needs almost none of that. With
// --hibernate-after D, a supervisor whose container runs, that has served
// no call but Wait and read no output for D (a container writing steadily
// is served by the supervisor's own copiers, without a handover in the
// middle of its output) hands its state to MonitorBinary by
// execve(2) in the same process — pid, session, the child-subreaper flag,
// the container's init (its child) and the fds handed over survive — and
// the monitor (internal/monitor) copies the output into the log until a
// client connects to the socket or the init exits, then execs this binary
// back as `serve --resume ...`, which rebuilds the supervisor from
// <state>/hibernate.json and serves the waiting connection. Pending Waits
// end with UNAVAILABLE and runtimev1.HibernatingTrailer (the init's pid).
// Containers with exec'd processes still running do not hibernate; a
// terminal is handed over as its pty master (terminal.go).

// MonitorBinary is the hibernated supervisor's program, installed next to
// container-runtime-linux. Without it a supervisor never hibernates.
const MonitorBinary = "container-runtime-monitor"

const hibernateFile = "hibernate.json"

// errHibernating ends calls (pending Waits, calls racing the handover)
// when the supervisor hibernates.
var errHibernating = fmt.Errorf("supervisor hibernating: %w", errdefs.ErrUnavailable)

// handover is what a resumed supervisor needs besides its command line.
// The fds are open in the process (not close-on-exec).
type handover struct {
	Pid         int       `json:"pid"`
	CreatedAt   time.Time `json:"created_at"`
	StartedAt   time.Time `json:"started_at"`
	Mounted     bool      `json:"mounted"`
	Volatile    bool      `json:"volatile,omitempty"`
	ExitAfter   bool      `json:"exit_after,omitempty"`
	Execs       int       `json:"execs"`
	LogMaxSize  int64     `json:"log_max_size"`
	LogMaxFiles int       `json:"log_max_files"`
	Listen      int       `json:"listen_fd"`
	Pidfd       int       `json:"pidfd"`
	Stdout      int       `json:"stdout_fd"`
	Stderr      int       `json:"stderr_fd"`
	Stdin       int       `json:"stdin_fd"` // -1 without
	// Terminal: Stdout is the pty master (output and stdin).
	Terminal bool `json:"terminal,omitempty"`
}

// hibernation counts the calls in flight, so the supervisor knows when it
// is quiet, and ends pending Waits when it hibernates.
type hibernation struct {
	after time.Duration // 0: never

	mu     sync.Mutex
	active int       // calls in flight other than Wait
	last   time.Time // when the last call ended
	on     bool      // hibernating: new calls are refused
	waits  map[*context.CancelCauseFunc]struct{}
}

func newHibernation(after time.Duration) *hibernation {
	return &hibernation{after: after, last: time.Now(), waits: map[*context.CancelCauseFunc]struct{}{}}
}

// enter counts a call; false when the supervisor is hibernating.
func (hb *hibernation) enter() bool {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.on {
		return false
	}
	hb.active++
	return true
}

func (hb *hibernation) exit() {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.active--
	hb.last = time.Now()
}

// wait registers a Wait call: ctx ends with errHibernating when the
// supervisor hibernates.
func (hb *hibernation) wait(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.on {
		cancel(errHibernating)
		return ctx, func() {}
	}
	key := &cancel
	hb.waits[key] = struct{}{}
	return ctx, func() {
		hb.mu.Lock()
		delete(hb.waits, key)
		hb.mu.Unlock()
		cancel(nil)
	}
}

// quiet reports whether no call but Wait ran for hb.after.
func (hb *hibernation) quiet() bool {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	return hb.quietLocked()
}

// quietLocked is quiet with hb.mu held.
func (hb *hibernation) quietLocked() bool {
	return hb.after > 0 && !hb.on && hb.active == 0 && time.Since(hb.last) >= hb.after
}

// begin switches to hibernating when no call but Wait ran for hb.after,
// and ends the pending Waits.
func (hb *hibernation) begin() bool {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if !hb.quietLocked() {
		return false
	}
	hb.on = true
	for c := range hb.waits {
		(*c)(errHibernating)
	}
	return true
}

// abort goes back to serving after a failed handover.
func (hb *hibernation) abort() {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.on, hb.last = false, time.Now()
}

// disable turns hibernation off for good (it failed).
func (hb *hibernation) disable() {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.after = 0
}

// refused is the error of a call that raced the handover, with the
// trailer that tells the caller to retry.
func refused(ctx context.Context) error {
	_ = grpc.SetTrailer(ctx, metadata.Pairs(runtimev1.HibernatingTrailer, "0"))
	return errHibernating
}

func (h *server) hibernateUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if info.FullMethod == runtimev1.Runtime_Wait_FullMethodName {
		return next(ctx, req)
	}
	if !h.hib.enter() {
		return nil, refused(ctx)
	}
	defer h.hib.exit()
	return next(ctx, req)
}

func (h *server) hibernateStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if !h.hib.enter() {
		ss.SetTrailer(metadata.Pairs(runtimev1.HibernatingTrailer, "0"))
		return errHibernating
	}
	defer h.hib.exit()
	return next(srv, ss)
}

// acceptor accepts on the supervisor socket and hands the connections to
// gRPC through a connQueue, so that the socket can be handed over with no
// connection lost: stop ends accepting without closing the socket and
// reports a connection accepted meanwhile (then gRPC serves it and the
// supervisor does not hibernate). gRPC's own Serve would close, or drop,
// a connection accepted while it stops.
type acceptor struct {
	l        *net.UnixListener
	q        *connQueue
	stopping atomic.Bool
	late     atomic.Bool   // a connection was accepted while stopping
	done     chan struct{} // closed when the accept loop ends
}

// start starts accepting for a new gRPC listener, which it returns.
func (a *acceptor) start() net.Listener {
	a.q = &connQueue{ch: make(chan net.Conn), closed: make(chan struct{}), addr: a.l.Addr()}
	a.resume()
	return a.q
}

// resume starts accepting again for the current gRPC listener.
func (a *acceptor) resume() {
	a.stopping.Store(false)
	a.late.Store(false)
	_ = a.l.SetDeadline(time.Time{})
	a.done = make(chan struct{})
	go a.run(a.q, a.done)
}

func (a *acceptor) run(q *connQueue, done chan struct{}) {
	defer close(done)
	for {
		c, err := a.l.Accept()
		if err != nil {
			if a.stopping.Load() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				q.Close()
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like
			continue
		}
		if a.stopping.Load() {
			a.late.Store(true)
		}
		if !q.push(c) {
			c.Close() // gRPC stopped for good
		}
	}
}

// stop ends accepting; it reports false when a connection came in while
// it stopped (gRPC serves it; call resume).
func (a *acceptor) stop() bool {
	a.stopping.Store(true)
	_ = a.l.SetDeadline(time.Unix(1, 0))
	<-a.done
	return !a.late.Load()
}

// connQueue is the net.Listener gRPC serves: connections the acceptor
// pushes. Closing it leaves the socket alone.
type connQueue struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.closed:
		return false
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// dupFd returns a duplicate of c's fd that is not close-on-exec.
func dupFd(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd := -1
	cerr := rc.Control(func(fd uintptr) { nfd, err = unix.Dup(int(fd)) })
	if cerr != nil {
		return -1, cerr
	}
	return nfd, err
}

// hibernatable reports whether the supervisor may hand over now: a
// running container with pipes and no output for quiet, nothing exec'd
// still running, nobody attached, no lifecycle operation (the caller
// holds opMu).
func (s *supervisor) hibernatable(quiet time.Duration) bool {
	if time.Since(time.Unix(0, s.lastOutput.Load())) < quiet {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status == runtimev1.Status_STATUS_RUNNING && !s.deleted &&
		(s.stdio != nil || s.pty != nil) && s.logw != nil && s.running == 0 && len(s.subs) == 0
}

// prepareHandover duplicates the fds to hand over and writes
// hibernate.json. The caller holds opMu.
func (s *supervisor) prepareHandover(l *net.UnixListener) (_ *handover, retErr error) {
	s.mu.Lock()
	hv := &handover{
		Pid: s.pid, CreatedAt: s.createdAt, StartedAt: s.startedAt, Mounted: s.mounted, Volatile: s.volatile, ExitAfter: s.exitAfter, Execs: s.execs,
		LogMaxSize: s.logMaxSize, LogMaxFiles: s.logMaxFiles,
		Listen: -1, Pidfd: -1, Stdout: -1, Stderr: -1, Stdin: -1,
	}
	stdio, pty := s.stdio, s.pty
	s.mu.Unlock()
	defer func() {
		if retErr != nil {
			hv.close()
		}
	}()
	var err error
	if hv.Pidfd, err = unix.PidfdOpen(hv.Pid, 0); err != nil {
		return nil, fmt.Errorf("pidfd of init %d: %w", hv.Pid, err)
	}
	if _, err := unix.FcntlInt(uintptr(hv.Pidfd), unix.F_SETFD, 0); err != nil { // kept across exec
		return nil, fmt.Errorf("pidfd: %w", err)
	}
	if hv.Listen, err = dupFd(l); err != nil {
		return nil, fmt.Errorf("listener fd: %w", err)
	}
	if pty != nil {
		hv.Terminal = true
		if hv.Stdout, err = dupFd(pty); err != nil {
			return nil, fmt.Errorf("terminal fd: %w", err)
		}
	} else if hv.Stdout, err = dupFd(stdio.StdoutReader()); err != nil {
		return nil, fmt.Errorf("stdout fd: %w", err)
	} else if hv.Stderr, err = dupFd(stdio.StderrReader()); err != nil {
		return nil, fmt.Errorf("stderr fd: %w", err)
	}
	if pty == nil && stdio.StdinWriter() != nil {
		w := stdio.StdinWriter()
		s.mu.Lock()
		open := s.stdin != nil
		s.mu.Unlock()
		if open {
			if hv.Stdin, err = dupFd(w); err != nil {
				return nil, fmt.Errorf("stdin fd: %w", err)
			}
		}
	}
	data, err := json.Marshal(hv)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.state, hibernateFile)
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", hibernateFile, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return nil, fmt.Errorf("write %s: %w", hibernateFile, err)
	}
	return hv, nil
}

func (hv *handover) close() {
	for _, fd := range []int{hv.Listen, hv.Pidfd, hv.Stdout, hv.Stderr, hv.Stdin} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// stopOutput ends the output copiers (each records a partial line it
// holds) and closes the log; the pipes stay open.
func (s *supervisor) stopOutput() {
	s.mu.Lock()
	logw, g := s.logw, s.copies
	s.mu.Unlock()
	if g != nil {
		g.stopped.Store(true)
	}
	s.hibernating.Store(true)
	s.setOutputDeadline(time.Unix(1, 0))
	s.waitCopies()
	_ = logw.Close()
}

// setOutputDeadline sets the read deadline of the container's output.
func (s *supervisor) setOutputDeadline(t time.Time) {
	s.mu.Lock()
	stdio, pty := s.stdio, s.pty
	s.mu.Unlock()
	if pty != nil {
		_ = pty.SetReadDeadline(t)
		return
	}
	_ = stdio.StdoutReader().SetReadDeadline(t)
	_ = stdio.StderrReader().SetReadDeadline(t)
}

// copyOutput copies the container's output (terminal or pipes) into logw.
func (s *supervisor) copyOutput(logw *ctrlog.Writer) {
	s.mu.Lock()
	stdio, pty := s.stdio, s.pty
	s.mu.Unlock()
	if pty != nil {
		s.copyTerminal(logw, pty)
		return
	}
	s.copyPipes(logw, stdio)
}

// monitorArgs is the monitor's command line; it execs resume when it wakes.
func (s *supervisor) monitorArgs(monitor string, hv *handover, resume []string) []string {
	args := []string{monitor, "--id", s.id, "--log", s.bundle.Log(),
		"--log-max-size", strconv.FormatInt(hv.LogMaxSize, 10),
		"--log-max-files", strconv.Itoa(hv.LogMaxFiles),
		"--listen", strconv.Itoa(hv.Listen), "--pidfd", strconv.Itoa(hv.Pidfd), "--stdout", strconv.Itoa(hv.Stdout)}
	if hv.Stderr >= 0 {
		args = append(args, "--stderr", strconv.Itoa(hv.Stderr))
	}
	args = append(args, "--")
	return append(args, resume...)
}

// readHandover reads and removes <state>/hibernate.json.
func readHandover(state string) (*handover, error) {
	path := filepath.Join(state, hibernateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	_ = os.Remove(path)
	hv := &handover{}
	if err := json.Unmarshal(data, hv); err != nil {
		return nil, fmt.Errorf("resume: %s: %w", hibernateFile, errdefs.ErrInvalidArgument)
	}
	return hv, nil
}

// resume rebuilds a running container's supervisor from a handover.
func (s *supervisor) resume(hv *handover) error {
	if hv.Pidfd >= 0 {
		unix.Close(hv.Pidfd)
	}
	var spec specs.Spec
	data, err := os.ReadFile(s.bundle.Config())
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("resume: config.json: %w", err)
	}
	logw, err := ctrlog.NewWriter(s.bundle.Log(), hv.LogMaxSize, hv.LogMaxFiles)
	if err != nil {
		return err
	}
	if hv.Terminal {
		con, pty, err := terminalFromFd(hv.Stdout)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.console, s.pty, s.stdin = con, pty, pty
		s.mu.Unlock()
	}
	var stdio *runc.PipeIO
	if !hv.Terminal {
		var stdinW *os.File
		if hv.Stdin >= 0 {
			stdinW = os.NewFile(uintptr(hv.Stdin), "stdin")
		}
		stdio = runc.PipeIOFromFiles(stdinW, os.NewFile(uintptr(hv.Stdout), "stdout"), os.NewFile(uintptr(hv.Stderr), "stderr"))
		s.mu.Lock()
		s.stdio = stdio
		if stdinW != nil {
			s.stdin = stdinW
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.status, s.pid, s.createdAt, s.startedAt = runtimev1.Status_STATUS_RUNNING, hv.Pid, hv.CreatedAt, hv.StartedAt
	s.mounted, s.volatile, s.exitAfter, s.execs = hv.Mounted, hv.Volatile, hv.ExitAfter, hv.Execs
	s.logMaxSize, s.logMaxFiles = hv.LogMaxSize, hv.LogMaxFiles
	s.logw, s.spec = logw, &spec
	s.mu.Unlock()
	s.copyOutput(logw)
	go s.watch(hv.Pid)
	return nil
}

// resumeListener turns the handed-over fd back into the socket's listener.
func resumeListener(fd int) (*net.UnixListener, error) {
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("resume listener: %w", err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, errors.New("resume listener: not a unix socket")
	}
	ul.SetUnlinkOnClose(false)
	return ul, nil
}

// hibernate hands the supervisor over to the monitor by execve(2) when it
// is quiet and its container may hibernate. It returns only when it did
// not, with the gRPC server to use from then on.
func hibernate(s *supervisor, hb *hibernation, a *acceptor, srv *grpc.Server, cfg Config, self string,
	log *slog.Logger, served chan error, newServer func() *grpc.Server) *grpc.Server {
	if !hb.quiet() || !s.opMu.TryLock() {
		return srv
	}
	defer s.opMu.Unlock() // reached only when the supervisor did not hibernate
	if !s.hibernatable(hb.after) {
		return srv
	}
	hv, err := s.prepareHandover(a.l)
	if err != nil {
		log.Warn("hibernation disabled", "err", err)
		hb.disable()
		return srv
	}
	undo := func() {
		hv.close()
		_ = os.Remove(filepath.Join(s.state, hibernateFile))
	}
	// New connections wait in the socket's backlog from here on.
	if !a.stop() {
		a.resume()
		undo()
		return srv
	}
	if !hb.begin() {
		a.resume()
		undo()
		return srv
	}
	// Pending Waits end with errHibernating, clients get a GOAWAY.
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		srv.Stop()
	}
	<-served
	s.stopOutput()
	monitor := filepath.Join(filepath.Dir(self), MonitorBinary)
	resume := []string{self, "serve", "--resume", "--id", cfg.ID, "--bundle", cfg.Bundle, "--state", cfg.State,
		"--runtime", cfg.Runtime, "--runtime-root", cfg.RuntimeRoot, "--hibernate-after", cfg.HibernateAfter.String()}
	log.Info("supervisor hibernating")
	err = syscall.Exec(monitor, s.monitorArgs(monitor, hv, resume), append(os.Environ(), "GOMAXPROCS=1"))

	// Still here: serve again.
	log.Error("hibernate", "err", fmt.Errorf("exec %s: %w", monitor, err))
	undo()
	s.setOutputDeadline(time.Time{})
	s.hibernating.Store(false)
	if logw, err := ctrlog.NewWriter(s.bundle.Log(), s.logMaxSize, s.logMaxFiles); err == nil {
		s.mu.Lock()
		s.logw = logw
		s.mu.Unlock()
		s.copyOutput(logw)
	} else {
		log.Error("reopen container log", "err", err)
	}
	hb.abort()
	hb.disable() // logged once, not at every tick
	srv = newServer()
	l := a.start()
	go func() { served <- srv.Serve(l) }()
	return srv
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
