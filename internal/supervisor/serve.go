package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/runc"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
)

// Config is the serve command line.
type Config struct {
	ID          string
	Bundle      string
	State       string
	Runtime     string
	RuntimeRoot string
	// Foreground skips daemonizing (the child runs with it set too).
	Foreground bool
	// Idle starts without a container, listening in
	// IdleDir(StateRoot) until Adopt names one (idle.go); ID, Bundle
	// and State are then unset.
	Idle      bool
	StateRoot string
	// LifelineFD (with Idle) is a pipe that reads EOF once the apiserver
	// is gone; 0 for none.
	LifelineFD int
	// HibernateAfter lets the supervisor of a running container hibernate
	// (hibernate.go) once it has served nothing but Wait for this long;
	// 0 never.
	HibernateAfter time.Duration
	// Resume starts a supervisor that hibernated: its state is in
	// <State>/hibernate.json and its socket is an inherited fd.
	Resume bool
}

// Files in the state directory.
const (
	SocketFile = "supervisor.sock"
	PidFile    = "supervisor.pid"
	LogFile    = "supervisor.log"
	initPid    = "init.pid"
	runcLog    = "runc.log"
)

// readyEnv marks the daemonized child; its value is the fd of the
// readiness pipe.
const readyEnv = "_CONTAINER_SUPERVISOR_READY_FD"

func (c *Config) validate() error {
	if c.Idle && c.Resume {
		return fmt.Errorf("--idle and --resume: %w", errdefs.ErrInvalidArgument)
	}
	if c.Idle {
		if c.ID != "" || !filepath.IsAbs(c.StateRoot) {
			return fmt.Errorf("--idle takes an absolute --state-root and no --id: %w", errdefs.ErrInvalidArgument)
		}
		return nil
	}
	if c.ID == "" || strings.ContainsAny(c.ID, "/\x00") || c.ID == "." || c.ID == ".." {
		return fmt.Errorf("--id %q: %w", c.ID, errdefs.ErrInvalidArgument)
	}
	if !filepath.IsAbs(c.Bundle) || !filepath.IsAbs(c.State) {
		return fmt.Errorf("--bundle and --state must be absolute paths: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// Serve daemonizes (unless cfg.Foreground or this is the child) and runs the
// supervisor.
func Serve(cfg Config, stderr io.Writer) int {
	if fdStr := os.Getenv(readyEnv); fdStr != "" {
		os.Unsetenv(readyEnv)
		fd, err := strconv.Atoi(fdStr)
		if err != nil {
			fmt.Fprintf(stderr, "Error: bad %s\n", readyEnv)
			return 1
		}
		return runChild(cfg, os.NewFile(uintptr(fd), "ready"))
	}
	if cfg.Foreground || cfg.Resume {
		return runChild(cfg, nil)
	}
	if err := daemonize(cfg); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// daemonize re-executes this binary in a new session with stdio on
// /dev/null and stderr on supervisor.log, and waits until the child
// reports it listens (or why it cannot).
func daemonize(cfg Config) error {
	dir := cfg.State
	if cfg.Idle {
		dir = IdleDir(cfg.StateRoot)
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("supervisor log: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start supervisor: %w", err)
	}
	w.Close()
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		done <- result{strings.TrimSpace(line), err}
	}()
	select {
	case res := <-done:
		if res.line == "ok" {
			_ = cmd.Process.Release()
			return nil
		}
		_ = cmd.Wait()
		if res.line != "" {
			return errors.New(res.line)
		}
		return fmt.Errorf("supervisor exited before it was ready (see %s)", filepath.Join(cfg.State, LogFile))
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("supervisor not ready after 30s: %w", errdefs.ErrUnavailable)
	}
}

// runChild is the supervisor proper. ready, when set, gets "ok\n" once the
// socket listens, or the error.
func runChild(cfg Config, ready *os.File) int {
	// Stay small: the supervisor's heap is tiny and mostly garbage.
	debug.SetGCPercent(20)
	debug.SetMemoryLimit(16 << 20)

	fail := func(err error) int {
		if ready != nil {
			fmt.Fprintf(ready, "%v\n", err)
			ready.Close()
		}
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		return 1
	}
	base := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	log := base
	if !cfg.Idle {
		log = base.With("container", cfg.ID)
	}

	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("become child subreaper: %w", err))
	}
	sock, pidFile := filepath.Join(cfg.State, SocketFile), filepath.Join(cfg.State, PidFile)
	var hv *handover // what a resumed supervisor was handed
	var ul *net.UnixListener
	if cfg.Resume {
		var err error
		if hv, err = readHandover(cfg.State); err != nil {
			return fail(err)
		}
		if ul, err = resumeListener(hv.Listen); err != nil {
			return fail(err)
		}
	} else if cfg.Idle {
		sock, pidFile = IdlePaths(cfg.StateRoot, os.Getpid())
		if err := os.MkdirAll(IdleDir(cfg.StateRoot), 0o711); err != nil {
			return fail(fmt.Errorf("idle dir: %w", err))
		}
	} else {
		if err := os.MkdirAll(cfg.State, 0o711); err != nil {
			return fail(fmt.Errorf("state dir: %w", err))
		}
		if err := os.MkdirAll(cfg.Bundle, 0o711); err != nil {
			return fail(fmt.Errorf("bundle dir: %w", err))
		}
		if c, err := dialUnix(sock, time.Second); err == nil {
			c.Close()
			return fail(fmt.Errorf("supervisor for %q already listens on %s: %w", cfg.ID, sock, errdefs.ErrAlreadyExists))
		}
	}
	if ul == nil {
		if err := os.Remove(sock); err == nil {
			log.Warn("removed stale socket")
		}
		l, err := listenUnix(sock)
		if err != nil {
			return fail(fmt.Errorf("listen: %w", err))
		}
		ul = l.(*net.UnixListener)
		if err := os.Chmod(sock, 0o600); err != nil {
			ul.Close()
			return fail(err)
		}
		if err := writePid(pidFile); err != nil {
			ul.Close()
			return fail(err)
		}
	}
	a := &acceptor{l: ul}

	signals := make(chan os.Signal, 32)
	signal.Notify(signals, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT)
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)

	reaper := runc.NewReaper()
	if cfg.Resume {
		reaper.Reap() // what exited while hibernated sent its SIGCHLD to the monitor
	}
	self, err := os.Executable()
	if err != nil {
		ul.Close()
		return fail(fmt.Errorf("find own binary: %w", err))
	}
	build := func(c Config) *supervisor {
		return newSupervisor(supervisorOpt{
			ID:     c.ID,
			Bundle: bundle.Bundle{Dir: c.Bundle},
			State:  c.State,
			Runc: runc.New(runc.Opt{
				Command: cfg.Runtime, Root: cfg.RuntimeRoot,
				Log: filepath.Join(c.State, runcLog), Reaper: reaper,
			}),
			Reaper:     reaper,
			InitBinary: self,
			Log:        base.With("container", c.ID),
		})
	}
	h := &server{hib: newHibernation(cfg.HibernateAfter)}
	var s *supervisor // nil while idle
	var shutdown <-chan struct{}
	var adopted chan adoption
	var lifeline <-chan struct{}
	if cfg.Idle {
		warmIdle()
		adopted = make(chan adoption, 1)
		h.idle = &idleState{sock: sock, pidFile: pidFile, build: build, done: adopted}
		if cfg.LifelineFD > 0 {
			lifeline = watchLifeline(cfg.LifelineFD)
		}
	} else {
		s = build(cfg)
		h.s, shutdown = s, s.shutdownRequested()
		if hv != nil {
			if err := s.resume(hv); err != nil {
				ul.Close()
				return fail(err)
			}
		}
	}
	adopt := func(a adoption) {
		s, shutdown, sock, pidFile = a.s, a.s.shutdownRequested(), a.sock, a.pidFile
		log = base.With("container", a.s.id)
		log.Info("supervisor adopted", "pid", os.Getpid())
	}

	newServer := func() *grpc.Server {
		srv := grpc.NewServer(
			grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				resp, err := h(ctx, req)
				return resp, errgrpc.ToGRPC(err)
			}, h.gateUnary, h.hibernateUnary),
			grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				return errgrpc.ToGRPC(h(srv, ss))
			}, h.gateStream, h.hibernateStream),
		)
		runtimev1.RegisterRuntimeServer(srv, h)
		return srv
	}
	srv := newServer()
	served := make(chan error, 1)
	l := a.start()
	go func() { served <- srv.Serve(l) }()

	// hibernateTick checks for a hibernation once a container is
	// supervised, when the monitor is installed (a ticker needs no Stop
	// to be collected).
	var hibernateTick <-chan time.Time
	startHibernateTick := func() bool {
		if !fileExists(filepath.Join(filepath.Dir(self), MonitorBinary)) {
			return false
		}
		hibernateTick = time.NewTicker(max(cfg.HibernateAfter/2, 10*time.Millisecond)).C
		return true
	}
	if cfg.HibernateAfter > 0 && !cfg.Idle && !startHibernateTick() {
		log.Warn("not hibernating: no " + MonitorBinary + " next to " + self)
	}
	if cfg.Resume {
		log.Info("supervisor resumed", "pid", os.Getpid())
	} else {
		log.Info("supervisor started", "pid", os.Getpid())
	}
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
	}

	code := 0
loop:
	for {
		select {
		case sig := <-signals:
			switch sig {
			case unix.SIGCHLD:
				reaper.Reap()
			default:
				if s == nil {
					log.Info("idle supervisor stopping", "signal", sig.String())
					break loop
				}
				if s.idle() {
					log.Info("supervisor stopping", "signal", sig.String())
					if _, err := s.delete(context.Background(), false); err != nil {
						log.Error("delete on shutdown", "err", err)
					}
					break loop
				}
				log.Warn("signal ignored: container still running", "signal", sig.String())
			}
		case a := <-adopted:
			adopt(a)
			if cfg.HibernateAfter > 0 && hibernateTick == nil {
				startHibernateTick()
			}
		case <-hibernateTick:
			if s == nil {
				continue
			}
			c := cfg
			c.ID, c.Bundle, c.State = s.id, s.bundle.Dir, s.state
			srv = hibernate(s, h.hib, a, srv, c, self, log, served, newServer)
		case <-lifeline:
			lifeline = nil
			if h.idle.orphaned() {
				log.Info("idle supervisor stopping: the apiserver is gone")
				break loop
			}
		case <-shutdown:
			break loop
		case err := <-served:
			log.Error("serve", "err", err)
			code = 1
			break loop
		}
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
	}
	select {
	case a := <-adopted: // adopted while stopping
		adopt(a)
	default:
	}
	if s != nil {
		s.close()
	}
	_ = os.Remove(sock)
	_ = os.Remove(pidFile)
	log.Info("supervisor exited")
	return code
}

// writePid writes this process's pid through a rename, so readers never see
// a partial file. The state dir is on tmpfs: no fsync.
func writePid(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}
