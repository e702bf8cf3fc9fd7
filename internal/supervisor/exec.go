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
	"syscall"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/ctrlog"
	"github.com/berth/container/internal/oci"
	"github.com/berth/container/internal/runc"
	"github.com/containerd/console"
	gorunc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execProcess is one process started by Exec: pipes, or a terminal.
type execProcess struct {
	pid   int
	stdio *runc.PipeIO
	con   console.Console
	exit  <-chan runc.Exit
}

func (e *execProcess) outputs() map[string]io.Reader {
	if e.con != nil {
		return map[string]io.Reader{ctrlog.Stdout: e.con}
	}
	return map[string]io.Reader{ctrlog.Stdout: e.stdio.StdoutReader(), ctrlog.Stderr: e.stdio.StderrReader()}
}

func (e *execProcess) stdin() io.WriteCloser {
	if e.con != nil {
		return nopCloser{e.con}
	}
	if w := e.stdio.StdinWriter(); w != nil {
		return w
	}
	return nil
}

func (e *execProcess) close() {
	if e.con != nil {
		e.con.Close()
	}
	if e.stdio != nil {
		e.stdio.Close()
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// eofReader reads a terminal's EIO (slave side closed) as EOF.
type eofReader struct{ r io.Reader }

func (r eofReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

// execStart starts p in the running container.
func (s *supervisor) execStart(ctx context.Context, p *runtimev1.ExecProcess, width, height uint32) (_ *execProcess, retErr error) {
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
	proc.Terminal = p.GetTty()
	proc.ConsoleSize = nil
	if p.GetTty() && width > 0 && height > 0 {
		proc.ConsoleSize = &specs.Box{Width: uint(width), Height: uint(height)}
	}
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

	e := &execProcess{}
	defer func() {
		if retErr != nil {
			e.close()
		}
	}()
	var sock *gorunc.Socket
	var pio gorunc.IO
	if p.GetTty() {
		var err error
		if sock, err = gorunc.NewTempConsoleSocket(); err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		defer sock.Close()
	} else {
		stdio, err := runc.NewPipeIO(int(proc.User.UID), int(proc.User.GID), p.GetStdin() && !p.GetDetach())
		if err != nil {
			return nil, err
		}
		e.stdio, pio = stdio, stdio
	}
	pidFile := filepath.Join(s.state, "exec-"+strconv.Itoa(n)+".pid")
	defer os.Remove(pidFile)
	if err := s.runc.Exec(ctx, s.id, proc, pidFile, pio, sock); err != nil {
		return nil, err
	}
	if sock != nil {
		con, err := sock.ReceiveMaster()
		if err != nil {
			return nil, fmt.Errorf("receive terminal: %w", err)
		}
		e.con = con
	}
	pid, err := readPid(pidFile)
	if err != nil {
		return nil, err
	}
	// Counted until it exits: the supervisor does not hibernate meanwhile.
	exited, exit := s.reaper.WaitPid(pid), make(chan runc.Exit, 1)
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	go func() {
		ex := <-exited
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
		exit <- ex
	}()
	e.pid, e.exit = pid, exit
	if p.GetDetach() && logw != nil {
		go func() {
			var wg sync.WaitGroup
			for stream, r := range e.outputs() {
				wg.Add(1)
				go func() { defer wg.Done(); s.copyOut(logw, stream, r) }()
			}
			<-e.exit
			wg.Wait()
			e.close()
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
	p, err := h.s.execStart(ctx, first.GetStart(), first.GetWidth(), first.GetHeight())
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
	defer p.close()

	// stdin and resizes: client messages until close_stdin or the end of
	// its stream.
	resize := func(m *runtimev1.ExecInput) {
		if p.con != nil && m.GetWidth() > 0 && m.GetHeight() > 0 && m.GetWidth() <= 0xffff && m.GetHeight() <= 0xffff {
			_ = p.con.Resize(console.WinSize{Width: uint16(m.GetWidth()), Height: uint16(m.GetHeight())})
		}
	}
	resize(first)
	go func() {
		w := p.stdin()
		if w != nil {
			defer w.Close()
		}
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			resize(m)
			if w != nil && len(m.GetStdin()) > 0 {
				if _, err := w.Write(m.GetStdin()); err != nil {
					w = nil
				}
			}
			if m.GetCloseStdin() && w != nil {
				w.Close()
				w = nil
			}
		}
	}()
	var wg sync.WaitGroup
	pump := func(r io.Reader, stdout bool) {
		defer wg.Done()
		r = eofReader{r}
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
	for stream, r := range p.outputs() {
		wg.Add(1)
		go pump(r, stream == ctrlog.Stdout)
	}

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
