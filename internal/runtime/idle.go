package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs/errgrpc"
)

// Idle supervisors take the supervisor's spawn (fork, exec, Go start-up,
// listen: ≈ 5 ms) off the path of creating a container. After a runtime
// plugin has been used, one idle supervisor of it (`serve --idle
// --state-root <state>`) is spawned in the background once the create's
// container has been removed, or refillDelay after the create (see
// there); the next create sends it Create with adopt set (adoption and
// create in one call; the Adopt RPC alone is left to the tests) instead of spawning
// (waiting for one on its way), and spawns as before when there is none
// or the adoption fails. An idle supervisor exits when the apiserver is gone
// (the write end of its --lifeline-fd pipe, held only here, closes) and
// is shut down by Close; New's caller removes the files of those a
// crashed apiserver left with CleanupIdle.

// idleSupervisor is a ready idle supervisor.
type idleSupervisor struct {
	pid  int
	done chan struct{} // closed once the process is reaped
	// lifeline is the write end of the idle supervisor's lifeline pipe,
	// closed once it is adopted or stopped.
	lifeline *os.File
	// path is the socket the connection dials; Adopt moves it.
	path atomic.Pointer[string]
	conn *grpc.ClientConn
	api  runtimev1.RuntimeClient
}

// idlePool holds at most one idle supervisor per plugin binary.
type idlePool struct {
	mu    sync.Mutex
	ready map[string]*idleSupervisor
	// spawning: closed when that plugin's idle spawn has ended.
	spawning map[string]chan struct{}
	// later: refills due after refillDelay (refillLater), started sooner
	// by refillPending or by a create that finds none ready.
	later  map[string]*time.Timer
	broken map[string]bool // plugins whose idle spawn failed: not retried
	closed bool
	wg     sync.WaitGroup
}

// refillDelay is how long after a create the next idle supervisor is
// spawned unless the container's removal comes first (refillPending).
// Spawned as the create returned, its Go start-up shared a 2-core machine
// with the exit and removal of a short container: under perf trace the
// exit → CLI-exit span of `run --rm true` was 22 ms with the spawn
// beside it, 12 ms without.
const refillDelay = 50 * time.Millisecond

func newIdlePool() idlePool {
	return idlePool{ready: map[string]*idleSupervisor{}, spawning: map[string]chan struct{}{},
		later: map[string]*time.Timer{}, broken: map[string]bool{}}
}

func (r *Runtime) idleDir() string { return filepath.Join(r.state, "supervisors") }

// adoptFailed ends an idle supervisor whose adoption for id failed.
func (r *Runtime) adoptFailed(ctx context.Context, is *idleSupervisor, id string, err error) {
	r.log.WarnContext(ctx, "adopt idle supervisor", "container", id, "pid", is.pid, "err", errgrpc.ToNative(err))
	r.stopIdle(is)
	// A half-done adoption leaves nothing behind for the spawn.
	_ = os.Remove(r.socket(id))
	_ = os.Remove(filepath.Join(r.StateDir(id), "supervisor.pid"))
}

// adopted caches the connection to is, now id's supervisor.
func (r *Runtime) adopted(is *idleSupervisor, id string) {
	sock := r.socket(id)
	is.path.Store(&sock)
	_ = is.lifeline.Close()
	r.mu.Lock()
	if old, ok := r.conns[id]; ok {
		_ = old.conn.Close()
	}
	r.conns[id] = &supervisor{conn: is.conn, api: is.api}
	r.mu.Unlock()
}

// takeIdle returns the ready idle supervisor of bin, or nil. When none is
// ready but one is being spawned or due (refillLater), it waits for that
// one (bounded by ctx) rather than have the caller spawn another.
func (r *Runtime) takeIdle(ctx context.Context, bin string) *idleSupervisor {
	p := &r.idle
	p.mu.Lock()
	is := p.ready[bin]
	delete(p.ready, bin)
	_, due := p.later[bin]
	p.mu.Unlock()
	if is != nil {
		return is
	}
	if due {
		r.refillNow(bin)
	}
	p.mu.Lock()
	wait := p.spawning[bin]
	p.mu.Unlock()
	if wait == nil {
		return nil
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	is = p.ready[bin]
	delete(p.ready, bin)
	return is
}

// refillLater spawns an idle supervisor of bin after refillDelay, unless
// one is ready, on its way or already due.
func (r *Runtime) refillLater(bin string) {
	p := &r.idle
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ready[bin] != nil || p.spawning[bin] != nil || p.broken[bin] || p.later[bin] != nil {
		return
	}
	p.later[bin] = time.AfterFunc(refillDelay, func() { r.refillNow(bin) })
}

// refillPending starts every refill that refillLater made wait: a
// container's removal is over, so its spawn no longer competes with it.
func (r *Runtime) refillPending() {
	p := &r.idle
	p.mu.Lock()
	bins := make([]string, 0, len(p.later))
	for bin := range p.later {
		bins = append(bins, bin)
	}
	p.mu.Unlock()
	for _, bin := range bins {
		r.refillNow(bin)
	}
}

// refillNow starts bin's due refill (if any) at once.
func (r *Runtime) refillNow(bin string) {
	p := &r.idle
	p.mu.Lock()
	t, ok := p.later[bin]
	delete(p.later, bin)
	p.mu.Unlock()
	if ok {
		t.Stop()
		r.refill(bin)
	}
}

// refill spawns an idle supervisor of bin in the background unless one is
// ready or on its way.
func (r *Runtime) refill(bin string) {
	p := &r.idle
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ready[bin] != nil || p.spawning[bin] != nil || p.broken[bin] {
		return
	}
	done := make(chan struct{})
	p.spawning[bin] = done
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(done)
		is, err := r.spawnIdle(bin)
		p.mu.Lock()
		delete(p.spawning, bin)
		if err != nil {
			p.broken[bin] = true
			p.mu.Unlock()
			r.log.Warn("spawn idle supervisor; supervisors are spawned per container", "err", err)
			return
		}
		if p.closed {
			p.mu.Unlock()
			r.stopIdle(is)
			return
		}
		p.ready[bin] = is
		p.mu.Unlock()
	}()
}

// spawnIdle starts `<bin> serve --idle ...` and returns once it listens.
func (r *Runtime) spawnIdle(bin string) (*idleSupervisor, error) {
	if err := os.MkdirAll(r.idleDir(), 0o711); err != nil {
		return nil, fmt.Errorf("idle supervisor dir: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(r.idleDir(), "idle.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("idle supervisor log: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	lr, lw, err := os.Pipe()
	if err != nil {
		pw.Close()
		return nil, err
	}
	defer lr.Close()
	cmd := exec.Command(bin, "serve", "--idle", "--state-root", r.state, "--lifeline-fd", "4",
		"--runtime", r.oci, "--runtime-root", r.runcRoot())
	cmd.Env = append(os.Environ(), "CONTAINER_STATE_ROOT="+r.state, "CONTAINER_APP_ROOT="+r.root, readyEnv+"=3", r.hibernateEnv())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, logf
	cmd.ExtraFiles = []*os.File{pw, lr}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	err = cmd.Start()
	pw.Close()
	if err != nil {
		lw.Close()
		return nil, fmt.Errorf("spawn idle supervisor: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // reaps it, idle or adopted
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	var l string
	select {
	case l = <-line:
	case <-time.After(30 * time.Second):
		l = "not ready after 30s"
	}
	if l != "ok" {
		_ = cmd.Process.Kill()
		<-done
		lw.Close()
		if l == "" {
			l = "exited before it was ready"
		}
		return nil, fmt.Errorf("idle supervisor %s: %s", bin, l)
	}
	is := &idleSupervisor{pid: cmd.Process.Pid, done: done, lifeline: lw}
	sock, _ := idlePaths(r.state, is.pid)
	is.path.Store(&sock)
	conn, err := grpc.NewClient("passthrough:///supervisor",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return dialUnix(ctx, *is.path.Load()) }),
	)
	if err != nil {
		_ = cmd.Process.Kill()
		<-done
		lw.Close()
		return nil, fmt.Errorf("idle supervisor %s: %w", bin, err)
	}
	conn.Connect() // dial now, not on the hot path
	is.conn, is.api = conn, runtimev1.NewRuntimeClient(conn)
	return is, nil
}

// idlePaths mirrors supervisor.IdlePaths (this package does not import
// the supervisor's).
func idlePaths(state string, pid int) (sock, pidFile string) {
	base := filepath.Join(state, "supervisors", "idle."+strconv.Itoa(pid))
	return base + ".sock", base + ".pid"
}

// stopIdle ends an idle supervisor: SIGTERM, then SIGKILL if it lingers.
func (r *Runtime) stopIdle(is *idleSupervisor) {
	_ = is.conn.Close()
	_ = is.lifeline.Close()
	_ = syscall.Kill(is.pid, syscall.SIGTERM)
	select {
	case <-is.done:
	case <-time.After(supervisorExitTimeout):
		_ = syscall.Kill(is.pid, syscall.SIGKILL)
		<-is.done
	}
	sock, pidFile := idlePaths(r.state, is.pid)
	_ = os.Remove(sock)
	_ = os.Remove(pidFile)
}

// Close shuts the idle supervisors down and spawns no more. Containers
// and their supervisors keep running.
func (r *Runtime) Close() error {
	p := &r.idle
	p.mu.Lock()
	p.closed = true
	for bin, t := range p.later {
		t.Stop()
		delete(p.later, bin)
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	ready := p.ready
	p.ready = map[string]*idleSupervisor{}
	p.mu.Unlock()
	for _, is := range ready {
		r.stopIdle(is)
	}
	_ = os.Remove(filepath.Join(r.idleDir(), "idle.log"))
	return nil
}

// CleanupIdle kills the idle supervisors a previous apiserver left (by
// their pid files in <state>/supervisors) and removes their files. Call it
// before the first create.
func (r *Runtime) CleanupIdle() {
	pidFiles, _ := filepath.Glob(filepath.Join(r.idleDir(), "idle.*.pid"))
	for _, f := range pidFiles {
		data, err := os.ReadFile(f)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if err == nil && perr == nil && pid > 1 {
			r.killIdle(pid)
		}
		_ = os.Remove(f)
		_ = os.Remove(strings.TrimSuffix(f, ".pid") + ".sock")
	}
	socks, _ := filepath.Glob(filepath.Join(r.idleDir(), "idle.*.sock"))
	for _, s := range socks {
		_ = os.Remove(s)
	}
}

// killIdle SIGKILLs pid if it is an idle supervisor of this state dir.
func (r *Runtime) killIdle(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("\x00--idle\x00")) || !bytes.Contains(cmdline, []byte("\x00"+r.state+"\x00")) {
		return
	}
	p := &supervisorProcess{pid: pid, pidfd: fd}
	if err := p.stop(0); err != nil && !errors.Is(err, unix.ESRCH) {
		r.log.Warn("kill idle supervisor", "pid", pid, "err", err)
	} else {
		r.log.Warn("killed idle supervisor left by a previous apiserver", "pid", pid)
	}
}
