package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/ctrlog"
	"github.com/berth/container/internal/oci"
	"github.com/berth/container/internal/runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execProcess is one process started by Exec.
type execProcess struct {
	pid   int
	stdio *runc.PipeIO
	exit  <-chan runc.Exit
}

// execStart starts p in the running container.
func (s *supervisor) execStart(ctx context.Context, p *runtimev1.ExecProcess) (_ *execProcess, retErr error) {
	if p.GetTty() {
		return nil, fmt.Errorf("exec with a terminal: %w", errdefs.ErrNotImplemented)
	}
	if len(p.GetArgs()) == 0 {
		return nil, fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	if wd := p.GetWorkdir(); wd != "" && !path.IsAbs(wd) {
		return nil, fmt.Errorf("exec: working directory %q is not absolute: %w", wd, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	st, base, logw := s.status, s.spec, s.logw
	s.execs++
	n := s.execs
	s.mu.Unlock()
	if st != runtimev1.Status_STATUS_RUNNING || base == nil {
		return nil, fmt.Errorf("container %q is %s: %w", s.id, statusName(st), errdefs.ErrFailedPrecondition)
	}

	proc := *base.Process
	proc.Terminal = false
	proc.Args = slices.Clone(p.GetArgs())
	proc.Env = oci.MergeEnv(base.Process.Env, p.GetEnv())
	if p.GetWorkdir() != "" {
		proc.Cwd = path.Clean(p.GetWorkdir())
	}
	if p.GetUser() != "" {
		u, err := oci.ResolveUser(s.bundle.Rootfs(), p.GetUser())
		if err != nil {
			return nil, err
		}
		proc.User = specs.User{UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids}
	}

	stdio, err := runc.NewPipeIO(int(proc.User.UID), int(proc.User.GID), p.GetStdin() && !p.GetDetach())
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			stdio.Close()
		}
	}()
	pidFile := filepath.Join(s.state, "exec-"+strconv.Itoa(n)+".pid")
	defer os.Remove(pidFile)
	if err := s.runc.Exec(ctx, s.id, proc, pidFile, stdio); err != nil {
		return nil, err
	}
	pid, err := readPid(pidFile)
	if err != nil {
		return nil, err
	}
	e := &execProcess{pid: pid, stdio: stdio, exit: s.reaper.WaitPid(pid)}
	if p.GetDetach() && logw != nil {
		go func() {
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); s.copyOut(logw, ctrlog.Stdout, stdio.StdoutReader()) }()
			go func() { defer wg.Done(); s.copyOut(logw, ctrlog.Stderr, stdio.StderrReader()) }()
			<-e.exit
			wg.Wait()
			stdio.Close()
		}()
	}
	s.log.Info("exec started", "pid", pid)
	return e, nil
}

func (h *server) Exec(stream runtimev1.Runtime_ExecServer) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetStart() == nil {
		return fmt.Errorf("exec: first message carries no process: %w", errdefs.ErrInvalidArgument)
	}
	p, err := h.s.execStart(ctx, first.GetStart())
	if err != nil {
		return err
	}
	var sendMu sync.Mutex
	send := func(m *runtimev1.ExecOutput) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	if err := send(&runtimev1.ExecOutput{Pid: int32(p.pid)}); err != nil {
		return err
	}
	if first.GetStart().GetDetach() {
		return nil
	}
	defer p.stdio.Close()

	// stdin: client messages until close_stdin or the end of its stream.
	if w := p.stdio.StdinWriter(); w != nil {
		go func() {
			defer w.Close()
			for {
				m, err := stream.Recv()
				if err != nil {
					return
				}
				if len(m.GetStdin()) > 0 {
					if _, err := w.Write(m.GetStdin()); err != nil {
						return
					}
				}
				if m.GetCloseStdin() {
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	pump := func(r *os.File, stdout bool) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				m := &runtimev1.ExecOutput{}
				if stdout {
					m.Stdout = slices.Clone(buf[:n])
				} else {
					m.Stderr = slices.Clone(buf[:n])
				}
				_ = send(m) // a gone client: keep draining
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(p.stdio.StdoutReader(), true)
	go pump(p.stdio.StderrReader(), false)

	var e runc.Exit
	select {
	case e = <-p.exit:
	case <-ctx.Done():
		// The client went away; the process keeps running (as docker's).
		go func() { <-p.exit; wg.Wait() }()
		return context.Cause(ctx)
	}
	// Processes the exec'd one left behind may hold the pipes open.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	st := bundle.ExitStatus{Code: e.Status, Signal: e.Signal, ExitedAt: e.Time.UTC()}
	h.s.log.Info("exec exited", "pid", p.pid, "exit_code", st.Code)
	if err := send(&runtimev1.ExecOutput{Exit: exitProto(st)}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
