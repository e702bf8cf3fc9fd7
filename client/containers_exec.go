package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	containersv1 "github.com/berth/container/api/services/containers/v1"
	"github.com/berth/container/errdefs"
)

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width, Height uint16
}

// ExecOptions describe a process to run in a running container and wire
// its stdio to the caller.
type ExecOptions struct {
	Args []string
	// Env entries ("KEY=value") are added to the container's env.
	Env []string
	// Workdir is an absolute path in the container; empty: the container's.
	Workdir string
	// User is "name", "uid", "uid:gid" or "name:group"; empty: the container's.
	User string
	// TTY gives the process a pseudo-terminal; its output comes as stdout.
	TTY bool
	// Detach runs the process in the background: ExecContainer returns
	// once it has started, and its output goes to the container log.
	Detach bool
	// Stdin, when set, is copied to the process's stdin; its EOF closes
	// that stdin. A Read still blocked when the process ends is left to
	// finish on its own (an io.Reader cannot be interrupted).
	Stdin io.Reader
	// Stdout and Stderr receive the output; nil discards it.
	Stdout, Stderr io.Writer
	// Size is the terminal's initial size and Resize its later sizes (TTY).
	Size   TermSize
	Resize <-chan TermSize
}

// ExecResult is how an exec'd process ended.
type ExecResult struct {
	Pid int
	// ExitCode is 128+signal when a signal killed the process.
	ExitCode int
	Signal   int
}

// ExecContainer runs a process in the running container id and returns
// how it ended (with Detach, once it has started). A container that is not
// running gives an errdefs.ErrFailedPrecondition error.
func (c *Client) ExecContainer(ctx context.Context, id string, opts ExecOptions) (ExecResult, error) {
	if len(opts.Args) == 0 {
		return ExecResult{}, fmt.Errorf("exec: no command: %w", errdefs.ErrInvalidArgument)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.containers().Exec(ctx)
	if err != nil {
		return ExecResult{}, err
	}
	first := &containersv1.ExecRequest{
		Id: id,
		Process: &containersv1.ExecProcess{
			Args: opts.Args, Env: opts.Env, Workdir: opts.Workdir, User: opts.User,
			Stdin: opts.Stdin != nil && !opts.Detach, Tty: opts.TTY, Detach: opts.Detach,
		},
		Width: uint32(opts.Size.Width), Height: uint32(opts.Size.Height),
	}
	s := &lockedSender[containersv1.ExecRequest]{send: stream.Send}
	if err := s.Send(first); err != nil && !errors.Is(err, io.EOF) {
		return ExecResult{}, err
	}
	// io.EOF from Send: the server ended the stream; Recv says why.
	var res ExecResult
	m, err := stream.Recv()
	if err != nil {
		return res, unexpectedEOF(err)
	}
	res.Pid = int(m.GetPid())
	if opts.Detach {
		return res, nil
	}
	// The goroutines below end with ctx (the stdin copier once its Read
	// returns); nothing waits for a Read that may never return.
	switch {
	case opts.Stdin != nil:
		go func() {
			copyStdin(ctx, opts.Stdin, func(data []byte, eof bool) error {
				return s.Send(&containersv1.ExecRequest{Stdin: data, CloseStdin: eof})
			})
		}()
	case opts.Resize == nil:
		_ = stream.CloseSend()
	}
	if opts.TTY && opts.Resize != nil {
		go func() {
			forwardResizes(ctx, opts.Resize, func(sz TermSize) error {
				return s.Send(&containersv1.ExecRequest{Width: uint32(sz.Width), Height: uint32(sz.Height)})
			})
		}()
	}
	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	for {
		m, err := stream.Recv()
		if err != nil {
			return res, unexpectedEOF(err)
		}
		if err := writeOutput(stdout, stderr, m.GetStdout(), m.GetStderr()); err != nil {
			return res, err
		}
		if x := m.GetExit(); x != nil {
			res.ExitCode, res.Signal = int(x.GetCode()), int(x.GetSignal())
			return res, nil
		}
	}
}

// AttachOptions wire a container's stdio to the caller.
type AttachOptions struct {
	// Start starts a created or stopped container once attached, so no
	// output is missed; without it the container must be running.
	Start bool
	// Stdin, when set, is copied to the container's stdin (which must have
	// been kept open, ContainerSpec.Stdin); its EOF closes a piped stdin.
	Stdin io.Reader
	// Stdout and Stderr receive output from the moment of attaching; nil
	// discards it.
	Stdout, Stderr io.Writer
	// Size is the terminal's size now and Resize its later sizes (TTY).
	Size   TermSize
	Resize <-chan TermSize
	// Attached, when set, is called once the attachment is in place (and,
	// with Start, the container has started).
	Attached func()
}

// AttachContainer streams the container's output until it ends (the
// container stopped) or ctx ends; the exit status then comes from
// WaitContainer.
func (c *Client) AttachContainer(ctx context.Context, id string, opts AttachOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.containers().Attach(ctx)
	if err != nil {
		return err
	}
	s := &lockedSender[containersv1.AttachRequest]{send: stream.Send}
	first := &containersv1.AttachRequest{Id: id, Start: opts.Start,
		Width: uint32(opts.Size.Width), Height: uint32(opts.Size.Height)}
	if err := s.Send(first); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	m, err := stream.Recv()
	if err != nil {
		return unexpectedEOF(err)
	}
	if !m.GetAttached() {
		return fmt.Errorf("attach to container %q: no acknowledgement from the apiserver", id)
	}
	if opts.Attached != nil {
		opts.Attached()
	}
	// The goroutines below end with ctx (the stdin copier once its Read
	// returns); nothing waits for a Read that may never return.
	if opts.Stdin != nil {
		go func() {
			copyStdin(ctx, opts.Stdin, func(data []byte, eof bool) error {
				return s.Send(&containersv1.AttachRequest{Stdin: data, CloseStdin: eof})
			})
		}()
	}
	if opts.Resize != nil {
		go func() {
			forwardResizes(ctx, opts.Resize, func(sz TermSize) error {
				return s.Send(&containersv1.AttachRequest{Width: uint32(sz.Width), Height: uint32(sz.Height)})
			})
		}()
	}
	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := writeOutput(stdout, stderr, m.GetStdout(), m.GetStderr()); err != nil {
			return err
		}
	}
}

// ContainerStats is a container's resource usage at one moment.
type ContainerStats struct {
	// CPUUsage is the CPU time used so far.
	CPUUsage    time.Duration `json:"cpuUsage"`
	MemoryUsage uint64        `json:"memoryUsage"`
	// MemoryLimit is 0 when unlimited.
	MemoryLimit uint64    `json:"memoryLimit"`
	Pids        uint64    `json:"pids"`
	ReadAt      time.Time `json:"readAt"`
}

// ContainerStats reads the running container's resource usage.
func (c *Client) ContainerStats(ctx context.Context, id string) (ContainerStats, error) {
	resp, err := c.containers().Stats(ctx, &containersv1.StatsRequest{Id: id})
	if err != nil {
		return ContainerStats{}, err
	}
	return ContainerStats{
		CPUUsage: time.Duration(resp.GetCpuUsageNs()), MemoryUsage: resp.GetMemoryUsage(),
		MemoryLimit: resp.GetMemoryLimit(), Pids: resp.GetPids(), ReadAt: containerTime(resp.GetReadAt()),
	}, nil
}

// lockedSender serializes Sends on one stream from several goroutines.
type lockedSender[T any] struct {
	mu   sync.Mutex
	send func(*T) error
}

func (l *lockedSender[T]) Send(m *T) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.send(m)
}

// copyStdin reads r and hands each chunk to send, then (at r's EOF) an
// empty chunk with eof set. It stops when ctx ends or send fails.
func copyStdin(ctx context.Context, r io.Reader, send func(data []byte, eof bool) error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			if serr := send(append([]byte(nil), buf[:n]...), false); serr != nil {
				return
			}
		}
		if err != nil {
			_ = send(nil, true)
			return
		}
	}
}

func forwardResizes(ctx context.Context, ch <-chan TermSize, send func(TermSize) error) {
	for {
		select {
		case sz, ok := <-ch:
			if !ok {
				return
			}
			if sz.Width == 0 || sz.Height == 0 {
				continue
			}
			if err := send(sz); err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func writeOutput(stdout, stderr io.Writer, out, errOut []byte) error {
	if len(out) > 0 {
		if _, err := stdout.Write(out); err != nil {
			return err
		}
	}
	if len(errOut) > 0 {
		if _, err := stderr.Write(errOut); err != nil {
			return err
		}
	}
	return nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// unexpectedEOF turns a stream that ended without its last message into
// an error.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("stream ended early: %w", io.ErrUnexpectedEOF)
	}
	return err
}
