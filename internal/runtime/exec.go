package runtime

import (
	"context"
	"errors"
	"io"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/containers"
)

// The containers service finds these by a type assertion: a signature
// that drifts must fail the build, not turn exec, attach and stats into
// ErrNotImplemented.
var _ containers.Interactive = (*Runtime)(nil)

// Exec starts p in the container through its supervisor's Exec stream and
// returns once the supervisor has answered with the pid (which the first
// Recv returns), so a process that cannot start fails here.
func (r *Runtime) Exec(ctx context.Context, id string, p containers.ExecProcess) (containers.IO, error) {
	for i := 0; ; i++ {
		io, raced, err := r.exec(ctx, id, p)
		if !raced || !raceBackoff(ctx, i) {
			return io, err
		}
	}
}

// exec is one attempt of Exec; raced reports a supervisor that refused it
// because it was hibernating at that moment.
func (r *Runtime) exec(ctx context.Context, id string, p containers.ExecProcess) (_ containers.IO, raced bool, _ error) {
	s, err := r.connectLive(id)
	if err != nil {
		return nil, false, err
	}
	stream, err := s.api.Exec(ctx)
	if err != nil {
		return nil, false, r.liveErr(ctx, id, err)
	}
	first := &runtimev1.ExecInput{
		Start: &runtimev1.ExecProcess{
			Args: p.Args, Env: p.Env, Workdir: p.Workdir, User: p.User,
			Stdin: p.Stdin, Tty: p.TTY, Detach: p.Detach,
		},
		Width: p.Width, Height: p.Height,
	}
	if err := stream.Send(first); err != nil {
		// The real reason comes with Recv.
		if _, rerr := stream.Recv(); rerr != nil {
			_, raced := hibernating(stream.Trailer())
			return nil, raced, r.liveErr(ctx, id, rerr)
		}
		return nil, false, r.liveErr(ctx, id, err)
	}
	m, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, false, errgrpc.ToNative(io.ErrUnexpectedEOF)
		}
		_, raced := hibernating(stream.Trailer())
		return nil, raced, r.liveErr(ctx, id, err)
	}
	return &execIO{stream: stream, pending: &containers.Output{Pid: int(m.GetPid())}}, false, nil
}

type execIO struct {
	stream  runtimev1.Runtime_ExecClient
	pending *containers.Output
}

func (e *execIO) Send(in containers.Input) error {
	return errgrpc.ToNative(e.stream.Send(&runtimev1.ExecInput{
		Stdin: in.Stdin, CloseStdin: in.CloseStdin, Width: in.Width, Height: in.Height,
	}))
}

func (e *execIO) Recv() (containers.Output, error) {
	if p := e.pending; p != nil {
		e.pending = nil
		return *p, nil
	}
	m, err := e.stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return containers.Output{}, io.EOF
		}
		return containers.Output{}, errgrpc.ToNative(err)
	}
	out := containers.Output{Pid: int(m.GetPid()), Stdout: m.GetStdout(), Stderr: m.GetStderr()}
	if x := m.GetExit(); x != nil {
		e := fromExit(x)
		out.Exit = &e
	}
	return out, nil
}

func (e *execIO) CloseSend() error { return e.stream.CloseSend() }

// Attach connects to the container's stdio through its supervisor.
func (r *Runtime) Attach(ctx context.Context, id string) (containers.IO, error) {
	s, err := r.connectLive(id)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		stream, err := s.api.Attach(ctx)
		if err != nil {
			return nil, r.liveErr(ctx, id, err)
		}
		// The supervisor sends the stream's headers once it has subscribed to
		// the output: after this a Start cannot run ahead of the attachment.
		// A supervisor that was hibernating at that moment refuses: again.
		// (gRPC reports an error here as missing headers, with the
		// trailer set.)
		md, err := stream.Header()
		if err != nil || md == nil {
			if _, raced := hibernating(stream.Trailer()); raced && raceBackoff(ctx, i) {
				continue
			}
		}
		if err != nil {
			return nil, r.liveErr(ctx, id, err)
		}
		return &attachIO{stream: stream}, nil
	}
}

type attachIO struct {
	stream runtimev1.Runtime_AttachClient
}

func (a *attachIO) Send(in containers.Input) error {
	return errgrpc.ToNative(a.stream.Send(&runtimev1.AttachInput{
		Stdin: in.Stdin, CloseStdin: in.CloseStdin, Width: in.Width, Height: in.Height,
	}))
}

func (a *attachIO) Recv() (containers.Output, error) {
	m, err := a.stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return containers.Output{}, io.EOF
		}
		return containers.Output{}, errgrpc.ToNative(err)
	}
	return containers.Output{Stdout: m.GetStdout(), Stderr: m.GetStderr()}, nil
}

func (a *attachIO) CloseSend() error { return a.stream.CloseSend() }

// Stats reads the container's resource usage through its supervisor.
func (r *Runtime) Stats(ctx context.Context, id string) (containers.Stats, error) {
	s, err := r.connectLive(id)
	if err != nil {
		return containers.Stats{}, err
	}
	resp, err := s.api.Stats(ctx, &runtimev1.StatsRequest{})
	if err != nil {
		return containers.Stats{}, r.liveErr(ctx, id, err)
	}
	readAt := time.Now().UTC()
	if resp.ReadAt != nil {
		readAt = resp.GetReadAt().AsTime()
	}
	return containers.Stats{
		CPUUsage: time.Duration(resp.GetCpuUsageNs()), MemoryUsage: resp.GetMemoryUsage(),
		MemoryLimit: resp.GetMemoryLimit(), Pids: resp.GetPids(), ReadAt: readAt,
	}, nil
}
