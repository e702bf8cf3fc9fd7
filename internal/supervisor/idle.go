package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"google.golang.org/grpc"
)

// An idle supervisor (`serve --idle --state-root <state>`) is spawned by
// the apiserver ahead of time, so that running a container does not wait
// for a fork, exec and Go start-up. It listens on
// <state>/supervisors/idle.<pid>.sock with its pid in idle.<pid>.pid and
// answers only Adopt, which turns it into the supervisor of one container
// (see api/runtime/v1 Adopt). It holds the read end of a pipe whose write
// end only the apiserver has (--lifeline-fd): when that reads EOF before
// an adoption, the apiserver is gone and the idle supervisor exits.
// Signals on parent death are no use here: Linux keeps them per thread.

// IdleDir is where idle supervisors keep their sockets and pid files.
func IdleDir(stateRoot string) string { return filepath.Join(stateRoot, "supervisors") }

// IdlePaths returns the socket and pid file of the idle supervisor with pid.
func IdlePaths(stateRoot string, pid int) (sock, pidFile string) {
	base := filepath.Join(IdleDir(stateRoot), "idle."+strconv.Itoa(pid))
	return base + ".sock", base + ".pid"
}

// adoption is what Adopt hands to the main loop.
type adoption struct {
	s             *supervisor
	sock, pidFile string
}

// idleState guards the adoption of an idle supervisor.
type idleState struct {
	mu      sync.Mutex
	adopted atomic.Bool // set once h.s is valid
	closed  bool        // the apiserver is gone: no adoption
	// sock and pidFile are the idle paths until adoption.
	sock, pidFile string
	// build makes the supervisor of an adopted container.
	build func(cfg Config) *supervisor
	done  chan adoption // buffered (1)
}

// gate rejects every call but Adopt until the supervisor is adopted. A
// supervisor started for a container has no idle state and passes all.
func (h *server) gate(method string) error {
	if h.idle == nil || h.idle.adopted.Load() || method == runtimev1.Runtime_Adopt_FullMethodName {
		return nil
	}
	return fmt.Errorf("idle supervisor has no container: %w", errdefs.ErrFailedPrecondition)
}

func (h *server) gateUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if c, ok := req.(*runtimev1.CreateRequest); ok && c.GetAdopt() != nil {
		return next(ctx, req) // adopts first (server.Create)
	}
	if err := h.gate(info.FullMethod); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (h *server) gateStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if err := h.gate(info.FullMethod); err != nil {
		return err
	}
	return next(srv, ss)
}

// Adopt makes this idle supervisor the supervisor of req's container.
func (h *server) Adopt(_ context.Context, req *runtimev1.AdoptRequest) (*runtimev1.AdoptResponse, error) {
	st := h.idle
	if st == nil {
		return nil, fmt.Errorf("supervisor already has a container: %w", errdefs.ErrFailedPrecondition)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.adopted.Load() {
		return nil, fmt.Errorf("supervisor already has a container: %w", errdefs.ErrFailedPrecondition)
	}
	if st.closed {
		return nil, fmt.Errorf("idle supervisor is stopping: %w", errdefs.ErrFailedPrecondition)
	}
	cfg := Config{ID: req.GetId(), Bundle: req.GetBundle(), State: req.GetState()}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	sock, pidFile, err := adopt(cfg, st.sock, st.pidFile)
	if err != nil {
		return nil, err
	}
	s := st.build(cfg)
	h.s = s
	st.adopted.Store(true)
	st.done <- adoption{s: s, sock: sock, pidFile: pidFile}
	return &runtimev1.AdoptResponse{}, nil
}

// warmIdle does, while the idle supervisor waits for Adopt, the one-time
// work a fresh Go process would otherwise do in its first Create:
// encoding/json's encoders for the runtime-spec types (warmEncoder; a
// supervisor spawned per container warms them once built) and the
// os package's pidfd probe, which its first exec of runc runs (≈ 0.6 ms
// measured under load) and os.FindProcess runs too.
//
// It also raises the GC percent to createGCPercent until Create is done
// (an idle process allocates next to nothing); call it before serving.
func warmIdle() {
	idleGCPercent = debug.SetGCPercent(createGCPercent)
	go func() {
		warmEncoder()
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Release()
		}
	}()
}

// idleGCPercent is the GC percent an idle supervisor ran with before
// warmIdle raised it; Create restores it. Written before serving, read
// by the one Create (opMu).
var idleGCPercent int

// orphaned reports whether the idle supervisor must exit now that its
// lifeline broke: true unless it was adopted, and no adoption follows.
func (st *idleState) orphaned() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = !st.adopted.Load()
	return st.closed
}

// watchLifeline closes the returned channel when fd reads EOF (or fails).
func watchLifeline(fd int) <-chan struct{} {
	ch := make(chan struct{})
	syscall.CloseOnExec(fd) // not for runc
	f := os.NewFile(uintptr(fd), "lifeline")
	go func() {
		defer close(ch)
		defer f.Close()
		buf := make([]byte, 1)
		for {
			if _, err := f.Read(buf); err != nil {
				return
			}
		}
	}()
	return ch
}

// adopt moves this process's socket, pid file and log into cfg.State.
// On error nothing has moved.
func adopt(cfg Config, idleSock, idlePid string) (sock, pidFile string, retErr error) {
	if err := os.MkdirAll(cfg.State, 0o711); err != nil {
		return "", "", fmt.Errorf("state dir: %w", err)
	}
	if err := os.MkdirAll(cfg.Bundle, 0o711); err != nil {
		return "", "", fmt.Errorf("bundle dir: %w", err)
	}
	sock = filepath.Join(cfg.State, SocketFile)
	pidFile = filepath.Join(cfg.State, PidFile)
	if c, err := dialUnix(sock, time.Second); err == nil {
		c.Close()
		return "", "", fmt.Errorf("supervisor for %q already listens on %s: %w", cfg.ID, sock, errdefs.ErrAlreadyExists)
	}
	_ = os.Remove(sock)
	logf, err := os.OpenFile(filepath.Join(cfg.State, LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return "", "", fmt.Errorf("supervisor log: %w", err)
	}
	defer logf.Close()
	// A listening socket keeps working after its path is renamed.
	if err := os.Rename(idleSock, sock); err != nil {
		return "", "", fmt.Errorf("move socket: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = os.Rename(sock, idleSock)
		}
	}()
	if err := writePid(pidFile); err != nil {
		return "", "", err
	}
	// The apiserver tells its supervisors apart by their working directory
	// (an adopted one's command line does not name its container).
	if err := os.Chdir(cfg.State); err != nil {
		_ = os.Remove(pidFile)
		return "", "", fmt.Errorf("enter state dir: %w", err)
	}
	// From here on nothing fails.
	_ = os.Remove(idlePid)
	_ = syscall.Dup3(int(logf.Fd()), 2, 0) // the logger writes to fd 2
	return sock, pidFile, nil
}
