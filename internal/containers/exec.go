package containers

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/berth/container/errdefs"
)

// ExecProcess is a process to run in a running container. Unset fields
// come from the container's own process; Env is added to its env.
type ExecProcess struct {
	Args    []string
	Env     []string
	Workdir string
	User    string
	Stdin   bool
	TTY     bool
	Detach  bool
	// Width and Height are the initial terminal size (TTY only), when non-zero.
	Width, Height uint32
}

// Input is one message to a process's stdio: stdin data, closing stdin,
// and/or a terminal size (when Width and Height are non-zero).
type Input struct {
	Stdin         []byte
	CloseStdin    bool
	Width, Height uint32
}

// Output is one message from a process: its pid (first message of an
// exec), a chunk of output, or (last message of an exec) its exit.
type Output struct {
	Pid    int
	Stdout []byte
	Stderr []byte
	Exit   *Exit
}

// IO is a live connection to a process's stdio through its supervisor.
// Send and Recv may be called from different goroutines, but each from
// one goroutine at a time.
type IO interface {
	Send(Input) error
	// Recv returns the next output, or io.EOF once the output has ended.
	Recv() (Output, error)
	// CloseSend tells the supervisor no more input comes (for an exec this
	// closes stdin).
	CloseSend() error
}

// Stats is a container's resource usage as its cgroup reports it.
type Stats struct {
	CPUUsage    time.Duration
	MemoryUsage uint64
	// MemoryLimit is 0 when unlimited.
	MemoryLimit uint64
	Pids        uint64
	ReadAt      time.Time
}

// Interactive is what a Runtime offers for exec, attach and stats
// (internal/runtime). A Runtime without it makes those calls fail with
// ErrNotImplemented. The streams live as long as ctx.
type Interactive interface {
	Exec(ctx context.Context, id string, p ExecProcess) (IO, error)
	Attach(ctx context.Context, id string) (IO, error)
	Stats(ctx context.Context, id string) (Stats, error)
}

func (s *Service) interactive() (Interactive, error) {
	rt, ok := s.runtime.(Interactive)
	if !ok {
		return nil, fmt.Errorf("exec, attach and stats with this runtime: %w", errdefs.ErrNotImplemented)
	}
	return rt, nil
}

// Validate checks p before it reaches a supervisor.
func (p ExecProcess) Validate() error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	if p.Workdir != "" && !path.IsAbs(p.Workdir) {
		return fmt.Errorf("exec: working directory %q is not absolute: %w", p.Workdir, errdefs.ErrInvalidArgument)
	}
	for _, e := range p.Env {
		if e == "" || e[0] == '=' {
			return fmt.Errorf("exec: environment entry %q: want KEY=value: %w", e, errdefs.ErrInvalidArgument)
		}
	}
	if p.TTY && (p.Width > 0xffff || p.Height > 0xffff) {
		return fmt.Errorf("exec: terminal size %dx%d: %w", p.Width, p.Height, errdefs.ErrInvalidArgument)
	}
	return nil
}

// running resolves ref and fails with ErrFailedPrecondition unless the
// container is running.
func (s *Service) running(ctx context.Context, ref, what string) (Container, error) {
	c, err := s.Resolve(ctx, ref)
	if err != nil {
		return Container{}, err
	}
	if c.State.Status != StatusRunning {
		return Container{}, fmt.Errorf("%s: container %q is %s, not running: %w", what, c.ID, c.State.Status, errdefs.ErrFailedPrecondition)
	}
	return c, nil
}

// Exec starts p in the running container named by ref. The first Output
// carries the pid; unless p.Detach, output chunks follow and the last
// Output carries the exit.
func (s *Service) Exec(ctx context.Context, ref string, p ExecProcess) (IO, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rt, err := s.interactive()
	if err != nil {
		return nil, err
	}
	c, err := s.running(ctx, ref, "exec")
	if err != nil {
		return nil, err
	}
	io, err := rt.Exec(ctx, c.ID, p)
	if err != nil {
		return nil, fmt.Errorf("exec in container %q: %w", c.ID, err)
	}
	return io, nil
}

// Attach connects to the stdio of the running container named by ref:
// output from now on, stdin when the container keeps it open.
func (s *Service) Attach(ctx context.Context, ref string) (IO, error) {
	rt, err := s.interactive()
	if err != nil {
		return nil, err
	}
	c, err := s.running(ctx, ref, "attach")
	if err != nil {
		return nil, err
	}
	io, err := rt.Attach(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("attach to container %q: %w", c.ID, err)
	}
	return io, nil
}

// StartAttached starts a created or stopped container the way Start does,
// but attaches to its stdio after creating it and before its program runs,
// so no output is missed. A running container is attached to as it is.
func (s *Service) StartAttached(ctx context.Context, ref string) (Container, IO, error) {
	rt, err := s.interactive()
	if err != nil {
		return Container{}, nil, err
	}
	c, unlock, err := s.resolveLocked(ctx, ref)
	if err != nil {
		return Container{}, nil, err
	}
	defer unlock()
	var io IO
	attach := func(ctx context.Context) error {
		var err error
		io, err = rt.Attach(ctx, c.ID)
		return err
	}
	if c.State.Status == StatusRunning {
		if err := attach(ctx); err != nil {
			return Container{}, nil, fmt.Errorf("attach to container %q: %w", c.ID, err)
		}
		return c, io, nil
	}
	c.State.RestartCount = 0
	c, err = s.startLockedAttached(ctx, c, attach)
	if err != nil {
		return Container{}, nil, err
	}
	return c, io, nil
}

// Stats reports the resource usage of the running container named by ref.
func (s *Service) Stats(ctx context.Context, ref string) (Stats, error) {
	rt, err := s.interactive()
	if err != nil {
		return Stats{}, err
	}
	c, err := s.running(ctx, ref, "stats")
	if err != nil {
		return Stats{}, err
	}
	st, err := rt.Stats(ctx, c.ID)
	if err != nil {
		return Stats{}, fmt.Errorf("stats of container %q: %w", c.ID, err)
	}
	return st, nil
}
