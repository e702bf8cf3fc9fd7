package supervisor

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/ctrlog"
	"github.com/berth/container/internal/mount"
	"github.com/berth/container/internal/oci"
	"github.com/berth/container/internal/runc"
	"github.com/containerd/console"
	gorunc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type supervisorOpt struct {
	ID         string
	Bundle     bundle.Bundle
	State      string
	Runc       *runc.Runc
	Reaper     *runc.Reaper
	InitBinary string
	Log        *slog.Logger
}

// supervisor owns one container's lifecycle. Methods are safe for
// concurrent use; lifecycle operations are serialized by opMu.
type supervisor struct {
	id         string
	bundle     bundle.Bundle
	state      string
	runc       *runc.Runc
	reaper     *runc.Reaper
	initBinary string
	log        *slog.Logger

	opMu sync.Mutex // serializes Create, Start, Delete, Shutdown

	mu        sync.Mutex
	status    runtimev1.Status
	pid       int
	createdAt time.Time
	startedAt time.Time
	exit      *bundle.ExitStatus
	exited    chan struct{} // closed once exit is known (in memory)
	// recorded is closed once exit.json is durably written (or failed);
	// nothing deletes the container or ends the process before.
	recorded chan struct{}
	// outputDone is closed when the container's output has ended.
	outputDone chan struct{}
	deleted    bool
	mounted    bool // we mounted the rootfs
	stdio      *runc.PipeIO
	console    console.Console // the pty master with a terminal
	pty        *os.File        // its pollable duplicate: output, stdin (terminal.go)
	stdin      io.Writer       // the container's stdin when kept open
	subs       map[chan chunk]struct{}
	logw       *ctrlog.Writer
	spec       *specs.Spec // config.json, for Exec
	execs      int         // exec processes started, for unique pid files
	running    int         // exec processes not yet ended (no hibernation meanwhile)
	// logMaxSize and logMaxFiles bound the log (handed over when hibernating).
	logMaxSize  int64
	logMaxFiles int
	// hibernating is set once the output copiers are stopped for a handover.
	hibernating atomic.Bool
	// lastOutput is when output was last read (UnixNano): a container
	// writing steadily keeps its supervisor awake.
	lastOutput atomic.Int64
	copies     *copyGen // the output copiers running now (mu)

	shutdownOnce sync.Once
	shutdown     chan struct{}
	warmed       chan struct{} // closed when warmEncoder is done

	// volatile: the rootfs is a volatile overlay (an ephemeral container,
	// thrown away after it runs), so exit.json is written without fsyncs.
	volatile bool
	// exitAfter: the supervisor ends by itself once the container has
	// exited and been cleaned up (CreateRequest.exit_after), sparing the
	// apiserver its Delete and Shutdown calls at a --rm container's exit.
	exitAfter bool
}

func newSupervisor(opt supervisorOpt) *supervisor {
	s := &supervisor{
		id: opt.ID, bundle: opt.Bundle, state: opt.State, runc: opt.Runc, reaper: opt.Reaper,
		initBinary: opt.InitBinary, log: opt.Log,
		status:     runtimev1.Status_STATUS_UNCREATED,
		exited:     make(chan struct{}),
		recorded:   make(chan struct{}),
		outputDone: make(chan struct{}),
		shutdown:   make(chan struct{}),
		subs:       map[chan chunk]struct{}{},
		warmed:     make(chan struct{}),
	}
	go func() { defer close(s.warmed); warmEncoder() }()
	return s
}

// warmEncoder builds encoding/json's encoders for the whole runtime-spec
// type tree (≈ 0.7 ms in a fresh process) while the supervisor waits for
// Create, instead of during Create's first json.Marshal.
func warmEncoder() {
	_, _ = json.Marshal(&specs.Spec{})
}

func (s *supervisor) shutdownRequested() <-chan struct{} { return s.shutdown }

// idle reports that no container process is alive.
func (s *supervisor) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle0()
}

// create prepares the bundle and runs `runc create`, or `runc run
// --detach` when req asks to start at once.
func (s *supervisor) create(ctx context.Context, req *runtimev1.CreateRequest) (_ int, retErr error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	if s.status != runtimev1.Status_STATUS_UNCREATED || s.deleted {
		st := s.status
		s.mu.Unlock()
		return 0, fmt.Errorf("container %q is %s: %w", s.id, statusName(st), errdefs.ErrFailedPrecondition)
	}
	s.mu.Unlock()

	spec := req.GetSpec()
	if spec == nil {
		return 0, fmt.Errorf("create %q: no spec: %w", s.id, errdefs.ErrInvalidArgument)
	}
	// Collect no garbage while the container is created and just after
	// (an idle supervisor has not since its start, warmIdle): at the
	// supervisor's GC percent (20, serve.go) a cycle started in about
	// every Create (gctrace: ≈ 9 ms of concurrent mark, ≈ 3 ms of CPU,
	// beside runc on 2 cores), and restoring it at once started one right
	// where a short container exits. A high percent, not -1, which would
	// wait for a cycle under way; the memory limit still bounds the heap.
	prevGC := debug.SetGCPercent(createGCPercent)
	if idleGCPercent != 0 {
		prevGC, idleGCPercent = idleGCPercent, 0
	}
	defer time.AfterFunc(gcResumeAfter, func() { debug.SetGCPercent(prevGC) })
	var cleanups []func()
	defer func() {
		if retErr != nil {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		}
	}()

	rootfs := s.bundle.Rootfs()
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return 0, fmt.Errorf("create rootfs dir: %w", err)
	}
	if len(req.GetRootfs()) > 0 {
		ms := make([]mount.Mount, 0, len(req.GetRootfs()))
		for _, m := range req.GetRootfs() {
			ms = append(ms, mount.Mount{Type: m.GetType(), Source: m.GetSource(), Options: m.GetOptions()})
		}
		if err := mount.All(ms, rootfs); err != nil {
			return 0, fmt.Errorf("mount rootfs: %w", err)
		}
		cleanups = append(cleanups, func() { _ = mount.UnmountAll(rootfs) })
	}

	hostname := spec.GetHostname()
	if hostname == "" {
		hostname = s.id[:min(12, len(s.id))]
	}
	files := map[string][]byte{bundle.HostnameFile: []byte(hostname + "\n")}
	if len(spec.GetResolvConf()) > 0 {
		files[bundle.ResolvFile] = spec.GetResolvConf()
	}
	if len(spec.GetHosts()) > 0 {
		files[bundle.HostsFile] = spec.GetHosts()
	}
	for name, data := range files {
		if err := os.WriteFile(s.bundle.Path(name), data, 0o644); err != nil {
			return 0, fmt.Errorf("write %s: %w", name, err)
		}
	}

	if spec.GetInit() {
		if err := staticBinary(s.initBinary); err != nil {
			return 0, err
		}
	}
	cg2 := cgroup2()
	ociSpec, err := oci.Build(oci.Input{
		ID: s.id, Spec: spec, Rootfs: rootfs, Bundle: s.bundle.Dir, InitBinary: s.initBinary,
		Cgroup2: cg2, MemorySwap: swapAccounting(cg2),
	})
	if err != nil {
		return 0, err
	}
	data, err := json.Marshal(ociSpec)
	if err != nil {
		return 0, fmt.Errorf("encode config.json: %w", err)
	}
	// No fsync: config.json is read by runc right away and is worthless
	// after a host crash, which ends the container anyway.
	if err := os.WriteFile(s.bundle.Config(), data, 0o600); err != nil {
		return 0, fmt.Errorf("write config.json: %w", err)
	}
	if err := os.Remove(s.bundle.Exit()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("clear exit status: %w", err)
	}

	logw, err := ctrlog.NewWriter(s.bundle.Log(), spec.GetLog().GetMaxSize(), int(spec.GetLog().GetMaxFiles()))
	if err != nil {
		return 0, err
	}
	cleanups = append(cleanups, func() { _ = logw.Close() })
	var stdio *runc.PipeIO
	var consoleSock *gorunc.Socket
	if spec.GetTerminal() {
		if consoleSock, err = gorunc.NewTempConsoleSocket(); err != nil {
			return 0, fmt.Errorf("console socket: %w", err)
		}
		defer consoleSock.Close()
	} else {
		stdio, err = runc.NewPipeIO(int(ociSpec.Process.User.UID), int(ociSpec.Process.User.GID), spec.GetStdin())
		if err != nil {
			return 0, err
		}
		cleanups = append(cleanups, func() { _ = stdio.Close() })
	}

	pidFile := filepath.Join(s.state, initPid)
	_ = os.Remove(pidFile)
	var io gorunc.IO
	if stdio != nil {
		io = stdio
	}
	runtimeCreate := s.runc.Create
	if req.GetStart() {
		runtimeCreate = s.runc.Run // one exec instead of create + start
	}
	if err := runtimeCreate(ctx, s.id, s.bundle.Dir, pidFile, io, consoleSock); err != nil {
		_ = s.runc.Delete(context.WithoutCancel(ctx), s.id, true)
		return 0, err
	}
	cleanups = append(cleanups, func() { _ = s.runc.Delete(context.WithoutCancel(ctx), s.id, true) })
	var con console.Console
	var pty *os.File
	if consoleSock != nil {
		if con, err = consoleSock.ReceiveMaster(); err != nil {
			return 0, fmt.Errorf("receive terminal: %w", err)
		}
		cleanups = append(cleanups, func() { _ = con.Close() })
		if pty, err = pollableTerminal(con); err != nil {
			return 0, err
		}
		cleanups = append(cleanups, func() { _ = pty.Close() })
	}
	pid, err := readPid(pidFile)
	if err != nil {
		return 0, err
	}

	s.mu.Lock()
	s.status, s.pid, s.createdAt = runtimev1.Status_STATUS_CREATED, pid, time.Now()
	if req.GetStart() {
		s.status, s.startedAt = runtimev1.Status_STATUS_RUNNING, s.createdAt
	}
	s.mounted = len(req.GetRootfs()) > 0
	s.volatile = volatileRootfs(req.GetRootfs())
	s.exitAfter = req.GetExitAfter()
	s.stdio, s.console, s.pty, s.logw, s.spec = stdio, con, pty, logw, ociSpec
	s.logMaxSize, s.logMaxFiles = spec.GetLog().GetMaxSize(), int(spec.GetLog().GetMaxFiles())
	switch {
	case pty != nil:
		s.stdin = pty
	case stdio.StdinWriter() != nil:
		s.stdin = stdio.StdinWriter()
	}
	s.mu.Unlock()

	s.copyOutput(logw)
	go s.watch(pid)
	if req.GetStart() {
		s.log.Info("container started", "pid", pid)
	} else {
		s.log.Info("container created", "pid", pid)
	}
	return pid, nil
}

// copyPipes copies the container's pipes into the log; outputDone is
// closed when both end, unless they were stopped for a hibernation.
func (s *supervisor) copyPipes(logw *ctrlog.Writer, stdio *runc.PipeIO) {
	g := s.newCopies(2)
	go func() { defer g.wg.Done(); s.copyOut(logw, ctrlog.Stdout, stdio.StdoutReader()) }()
	go func() { defer g.wg.Done(); s.copyOut(logw, ctrlog.Stderr, stdio.StderrReader()) }()
	go g.closeWhenDone(s.outputDone)
}

// copyGen is one generation of output copiers. A hibernation stops one; if
// its exec fails, the next generation starts, and whoever waited for the
// old one must neither see the new one's WaitGroup nor close outputDone.
type copyGen struct {
	wg      sync.WaitGroup
	stopped atomic.Bool // stopped for a hibernation: its end is not the output's
}

// closeWhenDone closes done once the generation's copiers end, unless they
// were stopped for a hibernation.
func (g *copyGen) closeWhenDone(done chan struct{}) {
	g.wg.Wait()
	if !g.stopped.Load() {
		close(done)
	}
}

// newCopies starts a generation of n copiers.
func (s *supervisor) newCopies(n int) *copyGen {
	g := &copyGen{}
	g.wg.Add(n)
	s.mu.Lock()
	s.copies = g
	s.mu.Unlock()
	return g
}

// waitCopies returns once the output copiers have ended, including those
// of a generation started while it waited (a failed hibernation).
func (s *supervisor) waitCopies() {
	for {
		s.mu.Lock()
		g := s.copies
		s.mu.Unlock()
		if g == nil {
			return
		}
		g.wg.Wait()
		s.mu.Lock()
		same := s.copies == g
		s.mu.Unlock()
		if same {
			return
		}
	}
}

func (s *supervisor) initPid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

// createGCPercent is the GC percent while Create runs and for
// gcResumeAfter after it (less than the delay after which a supervisor
// hibernates, runtime.DefaultHibernateAfter, and longer than a short
// container's run, exit and clean-up).
const (
	createGCPercent = 1000
	gcResumeAfter   = 100 * time.Millisecond
)

// volatileRootfs reports whether the rootfs is an overlay mounted
// "volatile", which the apiserver asks for an ephemeral (--rm) container.
func volatileRootfs(ms []*runtimev1.Mount) bool {
	for _, m := range ms {
		if m.GetType() == "overlay" && slices.Contains(m.GetOptions(), "volatile") {
			return true
		}
	}
	return false
}

// copyOut records r's output in the log and hands it to attached clients.
func (s *supervisor) copyOut(w *ctrlog.Writer, stream string, r io.Reader) {
	if err := w.Copy(stream, teeReader{r: r, s: s, stream: stream}); err != nil && !s.hibernating.Load() {
		s.log.Error("copy container output", "err", err)
	}
}

// teeReader broadcasts what it reads; a terminal's EIO (its slave side
// closed) reads as EOF.
type teeReader struct {
	r      io.Reader
	s      *supervisor
	stream string
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.s.lastOutput.Store(time.Now().UnixNano())
		t.s.broadcast(t.stream, p[:n])
	}
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

// watch waits for the init process to be reaped and records its exit.
func (s *supervisor) watch(pid int) {
	e := <-s.reaper.WaitPid(pid)
	// Every process of the container dies with its init (pid namespace),
	// so the pipes reach EOF; don't wait forever for a stray holder.
	done := make(chan struct{})
	go func() { s.waitCopies(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		s.log.Warn("container output still open after exit")
	}
	st := bundle.ExitStatus{Code: e.Status, Signal: e.Signal, ExitedAt: e.Time.UTC(), OOMKilled: oomKilled(s.id)}
	// Wait is answered as soon as the status is known: the apiserver's
	// commit is the durable record. exit.json (two fsyncs, ≈ 2.7 ms) is
	// for an apiserver that was down; delete and close wait for it.
	s.mu.Lock()
	s.status, s.exit = runtimev1.Status_STATUS_STOPPED, &st
	write := s.bundle.WriteExit
	if s.volatile {
		write = s.bundle.WriteExitVolatile // ≈ 1.3 ms less between exit and clean-up
	}
	s.mu.Unlock()
	close(s.exited)
	if err := write(st); err != nil {
		s.log.Error("record exit status", "err", err)
	}
	close(s.recorded)
	s.log.Info("container exited", "pid", pid, "exit_code", st.Code, "signal", st.Signal, "oom_killed", st.OOMKilled)
	// Clean up now (runc state, rootfs mount, cgroups), while the
	// apiserver records the exit: its Delete then finds it done (it waits
	// on opMu meanwhile). A failure here is retried by that Delete.
	if _, err := s.delete(context.Background(), false); err != nil {
		s.log.Warn("clean up after exit", "err", err)
	}
	s.mu.Lock()
	exitAfter := s.exitAfter
	s.mu.Unlock()
	if exitAfter {
		// Whatever the clean-up left, the apiserver finds and removes
		// once this process is gone (its Delete checks).
		s.shutdownOnce.Do(func() { close(s.shutdown) })
	}
}

func (s *supervisor) start(ctx context.Context) (int, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	st, pid := s.status, s.pid
	s.mu.Unlock()
	if st != runtimev1.Status_STATUS_CREATED {
		return 0, fmt.Errorf("container %q is %s: %w", s.id, statusName(st), errdefs.ErrFailedPrecondition)
	}
	if err := s.runc.Start(ctx, s.id); err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.startedAt = time.Now()
	if s.status == runtimev1.Status_STATUS_CREATED {
		s.status = runtimev1.Status_STATUS_RUNNING
	}
	s.mu.Unlock()
	s.log.Info("container started", "pid", pid)
	return pid, nil
}

func (s *supervisor) stateResponse() *runtimev1.StateResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &runtimev1.StateResponse{Status: s.status, SupervisorPid: int32(os.Getpid())}
	if s.status == runtimev1.Status_STATUS_CREATED || s.status == runtimev1.Status_STATUS_RUNNING {
		r.Pid = int32(s.pid)
	}
	r.CreatedAt = timestamp(s.createdAt)
	r.StartedAt = timestamp(s.startedAt)
	if s.exit != nil {
		r.Exit = exitProto(*s.exit)
	}
	return r
}

func (s *supervisor) kill(ctx context.Context, sig int, all bool) error {
	if sig <= 0 || sig > 64 {
		return fmt.Errorf("signal %d: %w", sig, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	if st != runtimev1.Status_STATUS_CREATED && st != runtimev1.Status_STATUS_RUNNING {
		return fmt.Errorf("container %q is %s: %w", s.id, statusName(st), errdefs.ErrFailedPrecondition)
	}
	err := s.runc.Kill(ctx, s.id, sig, all)
	if err != nil && s.idle() {
		return fmt.Errorf("container %q is stopped: %w", s.id, errdefs.ErrFailedPrecondition)
	}
	return err
}

// wait returns the exit status once the container has exited, and
// whether the supervisor then ends by itself (exitAfter).
func (s *supervisor) wait(ctx context.Context) (*bundle.ExitStatus, bool, error) {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	if st == runtimev1.Status_STATUS_UNCREATED {
		return nil, false, fmt.Errorf("container %q is not created: %w", s.id, errdefs.ErrFailedPrecondition)
	}
	select {
	case <-s.exited:
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := *s.exit
	return &e, s.exitAfter, nil
}

// delete removes the container from runc, unmounts the rootfs and makes
// sure the cgroups are gone. It is idempotent.
func (s *supervisor) delete(ctx context.Context, force bool) (*bundle.ExitStatus, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	st, deleted := s.status, s.deleted
	s.mu.Unlock()
	if deleted {
		return s.exitCopy(), nil
	}
	if st == runtimev1.Status_STATUS_CREATED || st == runtimev1.Status_STATUS_RUNNING {
		if !force {
			return nil, fmt.Errorf("container %q is %s: %w", s.id, statusName(st), errdefs.ErrFailedPrecondition)
		}
		if err := s.runc.Kill(ctx, s.id, int(syscall.SIGKILL), true); err != nil && !s.idle() {
			s.log.Warn("kill before delete", "err", err)
		}
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("container %q did not exit after SIGKILL: %w", s.id, errdefs.ErrUnavailable)
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	var errs []error
	if st != runtimev1.Status_STATUS_UNCREATED {
		<-s.recorded // exit.json is written before anything is removed
		// A reaped init (pid namespace gone, no hooks) needs no `runc
		// delete`; its cgroups go below.
		done, err := false, error(nil)
		if s.idle() {
			done, err = s.runc.RemoveStopped(s.id)
		}
		if !done {
			err = s.runc.Delete(ctx, s.id, true)
		}
		if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
		s.waitCopies()
	}
	s.mu.Lock()
	logw, stdio, con, pty, mounted := s.logw, s.stdio, s.console, s.pty, s.mounted
	s.logw, s.stdio, s.console, s.pty, s.stdin = nil, nil, nil, nil, nil
	s.mu.Unlock()
	if con != nil {
		_ = con.Close()
	}
	if pty != nil {
		_ = pty.Close()
	}
	if logw != nil {
		_ = logw.Close()
	}
	if stdio != nil {
		_ = stdio.Close()
	}
	// The cgroups (one rmdir per v1 hierarchy) go beside the unmount.
	cgroups := make(chan error, 1)
	go func() { cgroups <- removeCgroups(s.id) }()
	if mounted {
		if err := mount.UnmountAll(s.bundle.Rootfs()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := <-cgroups; err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("delete container %q: %w", s.id, err)
	}
	s.mu.Lock()
	s.deleted, s.mounted = true, false
	s.mu.Unlock()
	if st != runtimev1.Status_STATUS_UNCREATED {
		s.log.Info("container deleted")
	}
	return s.exitCopy(), nil
}

func (s *supervisor) exitCopy() *bundle.ExitStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exit == nil {
		return nil
	}
	e := *s.exit
	return &e
}

func (s *supervisor) requestShutdown(ctx context.Context, force bool) error {
	if !s.idle() && !force {
		return fmt.Errorf("container %q is running: %w", s.id, errdefs.ErrFailedPrecondition)
	}
	if _, err := s.delete(ctx, true); err != nil {
		return err
	}
	s.shutdownOnce.Do(func() { close(s.shutdown) })
	return nil
}

// close releases what is left when the process ends.
func (s *supervisor) close() {
	<-s.warmed
	select {
	case <-s.exited:
		<-s.recorded // never end before exit.json is durable
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logw != nil && s.idle0() {
		_ = s.logw.Close()
	}
}

// idle0 is idle with s.mu held.
func (s *supervisor) idle0() bool {
	return s.status != runtimev1.Status_STATUS_CREATED && s.status != runtimev1.Status_STATUS_RUNNING
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read init pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("init pid %q: %w", data, errdefs.ErrInternal)
	}
	return pid, nil
}

func statusName(s runtimev1.Status) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "STATUS_"))
}

// staticBinary checks that the init binary can run in any rootfs: it must
// have no ELF interpreter (build with CGO_ENABLED=0, as `make build` does).
func staticBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("init binary %q: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("--init needs a statically linked %s (build it with CGO_ENABLED=0): %w", filepath.Base(path), errdefs.ErrFailedPrecondition)
		}
	}
	return nil
}
