package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	containersv1 "github.com/berth/container/api/services/containers/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/containers"
	"github.com/berth/container/internal/opts"
)

// RegisterContainers registers the Containers service backed by svc.
func RegisterContainers(s *grpc.Server, svc *containers.Service) {
	containersv1.RegisterContainersServer(s, &containersServer{svc: svc})
}

type containersServer struct {
	containersv1.UnimplementedContainersServer
	svc *containers.Service
}

func (s *containersServer) Create(ctx context.Context, req *containersv1.CreateRequest) (*containersv1.CreateResponse, error) {
	if req.GetSpec() == nil {
		return nil, fmt.Errorf("create: spec is required: %w", errdefs.ErrInvalidArgument)
	}
	c, err := s.svc.Create(ctx, req.GetName(), specFromProto(req.GetSpec()))
	if err != nil {
		return nil, err
	}
	return &containersv1.CreateResponse{Container: containerToProto(c)}, nil
}

func (s *containersServer) Start(ctx context.Context, req *containersv1.StartRequest) (*containersv1.StartResponse, error) {
	start := s.svc.Start
	if req.GetFollow() {
		start = s.svc.StartFollowed
	}
	c, err := start(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &containersv1.StartResponse{Container: containerToProto(c)}, nil
}

func (s *containersServer) Stop(ctx context.Context, req *containersv1.StopRequest) (*containersv1.StopResponse, error) {
	var stop containers.StopOptions
	if req.GetSignal() != "" {
		sig, err := opts.ParseSignal(req.GetSignal())
		if err != nil {
			return nil, err
		}
		stop.Signal = sig
	}
	if req.Timeout != nil {
		stop.Timeout, stop.TimeoutSet = req.GetTimeout().AsDuration(), true
		if stop.Timeout < 0 {
			return nil, fmt.Errorf("stop timeout %v is negative: %w", stop.Timeout, errdefs.ErrInvalidArgument)
		}
	}
	c, err := s.svc.Stop(ctx, req.GetId(), stop)
	if err != nil {
		return nil, err
	}
	return &containersv1.StopResponse{Container: containerToProto(c)}, nil
}

func (s *containersServer) Kill(ctx context.Context, req *containersv1.KillRequest) (*containersv1.KillResponse, error) {
	sigName := req.GetSignal()
	if sigName == "" {
		sigName = "KILL"
	}
	sig, err := opts.ParseSignal(sigName)
	if err != nil {
		return nil, err
	}
	if err := s.svc.Kill(ctx, req.GetId(), sig); err != nil {
		return nil, err
	}
	return &containersv1.KillResponse{}, nil
}

func (s *containersServer) Delete(ctx context.Context, req *containersv1.DeleteRequest) (*containersv1.DeleteResponse, error) {
	id, err := s.svc.Delete(ctx, req.GetId(), req.GetForce())
	if err != nil {
		return nil, err
	}
	return &containersv1.DeleteResponse{Id: id}, nil
}

func (s *containersServer) List(ctx context.Context, req *containersv1.ListRequest) (*containersv1.ListResponse, error) {
	cs, err := s.svc.List(ctx, req.GetAll())
	if err != nil {
		return nil, err
	}
	resp := &containersv1.ListResponse{}
	for _, c := range cs {
		resp.Containers = append(resp.Containers, containerToProto(c))
	}
	return resp, nil
}

func (s *containersServer) Get(ctx context.Context, req *containersv1.GetRequest) (*containersv1.GetResponse, error) {
	c, err := s.svc.Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &containersv1.GetResponse{Container: containerToProto(c)}, nil
}

func (s *containersServer) Wait(ctx context.Context, req *containersv1.WaitRequest) (*containersv1.WaitResponse, error) {
	st, err := s.svc.Wait(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &containersv1.WaitResponse{
		ExitCode: int32(st.ExitCode), FinishedAt: timeToProto(st.FinishedAt),
		OomKilled: st.OOMKilled, Error: st.Error,
	}, nil
}

func (s *containersServer) Logs(req *containersv1.LogsRequest, stream grpc.ServerStreamingServer[containersv1.LogEntry]) error {
	return s.svc.Logs(stream.Context(), req.GetId(), logOptionsFromProto(req), func(e containers.LogEntry) error {
		return stream.Send(&containersv1.LogEntry{Stream: e.Stream, Data: e.Data, Time: timestamppb.New(e.Time)})
	})
}

// logOptionsFromProto converts a logs request (gRPC's or outfd's).
func logOptionsFromProto(req *containersv1.LogsRequest) containers.LogOptions {
	opts := containers.LogOptions{Follow: req.GetFollow(), Tail: -1}
	if req.Tail != nil && req.GetTail() >= 0 {
		opts.Tail = int(min(req.GetTail(), 1<<30))
	}
	if req.Since != nil {
		opts.Since = req.GetSince().AsTime()
	}
	if req.Until != nil {
		opts.Until = req.GetUntil().AsTime()
	}
	return opts
}

func (s *containersServer) Prune(ctx context.Context, _ *containersv1.PruneRequest) (*containersv1.PruneResponse, error) {
	ids, err := s.svc.Prune(ctx)
	if err != nil {
		return nil, err
	}
	return &containersv1.PruneResponse{Deleted: ids}, nil
}

func specFromProto(p *containersv1.Spec) containers.Spec {
	sp := containers.Spec{
		Image: p.GetImage(), Args: p.GetArgs(), OverrideEntrypoint: p.GetOverrideEntrypoint(),
		Entrypoint: p.GetEntrypoint(), Env: p.GetEnv(), Workdir: p.GetWorkdir(), User: p.GetUser(),
		UID: -1, GID: -1, Hostname: p.GetHostname(), Labels: p.GetLabels(),
		CPUs: p.GetCpus(), Memory: p.GetMemory(), CapAdd: p.GetCapAdd(), CapDrop: p.GetCapDrop(),
		ReadOnly: p.GetReadOnly(), Tmpfs: p.GetTmpfs(), ShmSize: p.GetShmSize(), Init: p.GetInit(),
		Network: p.GetNetwork(), Runtime: p.GetRuntime(), Restart: p.GetRestart(),
		StopSignal: p.GetStopSignal(), StopTimeout: -1, AutoRemove: p.GetAutoRemove(),
		Platform: p.GetPlatform(), Stdin: p.GetStdin(), TTY: p.GetTty(), Ephemeral: p.GetEphemeral(),
	}
	if p.Uid != nil {
		sp.UID = int64(p.GetUid())
	}
	if p.Gid != nil {
		sp.GID = int64(p.GetGid())
	}
	if p.StopTimeout != nil {
		sp.StopTimeout = max(p.GetStopTimeout().AsDuration(), 0)
	}
	for _, u := range p.GetUlimits() {
		sp.Ulimits = append(sp.Ulimits, containers.Ulimit{Name: u.GetName(), Soft: u.GetSoft(), Hard: u.GetHard()})
	}
	return sp
}

func specToProto(sp containers.Spec) *containersv1.Spec {
	p := &containersv1.Spec{
		Image: sp.Image, Args: sp.Args, OverrideEntrypoint: sp.OverrideEntrypoint,
		Entrypoint: sp.Entrypoint, Env: sp.Env, Workdir: sp.Workdir, User: sp.User,
		Hostname: sp.Hostname, Labels: sp.Labels,
		Cpus: sp.CPUs, Memory: sp.Memory, CapAdd: sp.CapAdd, CapDrop: sp.CapDrop,
		ReadOnly: sp.ReadOnly, Tmpfs: sp.Tmpfs, ShmSize: sp.ShmSize, Init: sp.Init,
		Network: sp.Network, Runtime: sp.Runtime, Restart: sp.Restart,
		StopSignal: sp.StopSignal, AutoRemove: sp.AutoRemove, Platform: sp.Platform,
		Stdin: sp.Stdin, Tty: sp.TTY, Ephemeral: sp.Ephemeral,
	}
	if sp.UID >= 0 {
		u := uint32(sp.UID)
		p.Uid = &u
	}
	if sp.GID >= 0 {
		g := uint32(sp.GID)
		p.Gid = &g
	}
	if sp.StopTimeout >= 0 {
		p.StopTimeout = durationpb.New(sp.StopTimeout)
	}
	for _, u := range sp.Ulimits {
		p.Ulimits = append(p.Ulimits, &containersv1.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	return p
}

func containerToProto(c containers.Container) *containersv1.Container {
	return &containersv1.Container{
		Id: c.ID, Name: c.Name, Image: c.Image.Name, ImageDigest: c.Image.Digest,
		Os: c.Image.OS, Arch: c.Image.Arch, Spec: specToProto(c.Spec),
		CreatedAt: timeToProto(c.CreatedAt), Runtime: c.Runtime,
		State: &containersv1.State{
			Status: string(c.State.Status), Pid: int32(c.State.Pid), ExitCode: int32(c.State.ExitCode),
			StartedAt: timeToProto(c.State.StartedAt), FinishedAt: timeToProto(c.State.FinishedAt),
			OomKilled: c.State.OOMKilled, Error: c.State.Error, RestartCount: int32(c.State.RestartCount),
		},
	}
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (s *containersServer) Exec(stream grpc.BidiStreamingServer[containersv1.ExecRequest, containersv1.ExecResponse]) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	p := first.GetProcess()
	if p == nil {
		return fmt.Errorf("exec: first message carries no process: %w", errdefs.ErrInvalidArgument)
	}
	pio, err := s.svc.Exec(ctx, first.GetId(), containers.ExecProcess{
		Args: p.GetArgs(), Env: p.GetEnv(), Workdir: p.GetWorkdir(), User: p.GetUser(),
		Stdin: p.GetStdin(), TTY: p.GetTty(), Detach: p.GetDetach(),
		Width: first.GetWidth(), Height: first.GetHeight(),
	})
	if err != nil {
		return err
	}
	go relayInput(pio, first.GetStdin(), first.GetCloseStdin(), func() (containers.Input, error) {
		m, err := stream.Recv()
		return containers.Input{Stdin: m.GetStdin(), CloseStdin: m.GetCloseStdin(), Width: m.GetWidth(), Height: m.GetHeight()}, err
	})
	for {
		out, err := pio.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		m := &containersv1.ExecResponse{Pid: int32(out.Pid), Stdout: out.Stdout, Stderr: out.Stderr}
		if out.Exit != nil {
			m.Exit = &containersv1.ExecExit{Code: int32(out.Exit.Code), Signal: int32(out.Exit.Signal)}
		}
		if err := stream.Send(m); err != nil {
			return err
		}
	}
}

func (s *containersServer) Attach(stream grpc.BidiStreamingServer[containersv1.AttachRequest, containersv1.AttachResponse]) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	var pio containers.IO
	if first.GetStart() {
		_, pio, err = s.svc.StartAttached(ctx, first.GetId())
	} else {
		pio, err = s.svc.Attach(ctx, first.GetId())
	}
	if err != nil {
		return err
	}
	if err := stream.Send(&containersv1.AttachResponse{Attached: true}); err != nil {
		return err
	}
	go relayInput(pio, first.GetStdin(), first.GetCloseStdin(), func() (containers.Input, error) {
		m, err := stream.Recv()
		return containers.Input{Stdin: m.GetStdin(), CloseStdin: m.GetCloseStdin(), Width: m.GetWidth(), Height: m.GetHeight()}, err
	})
	if w, h := first.GetWidth(), first.GetHeight(); w > 0 && h > 0 {
		_ = pio.Send(containers.Input{Width: w, Height: h})
	}
	for {
		out, err := pio.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&containersv1.AttachResponse{Stdout: out.Stdout, Stderr: out.Stderr}); err != nil {
			return err
		}
	}
}

// relayInput passes the client's stdin, close and resize messages to pio
// until the client ends its stream (which ends pio's input too) or pio
// fails. It ends when the handler returns, as the stream's Recv then fails.
func relayInput(pio containers.IO, stdin []byte, closeStdin bool, recv func() (containers.Input, error)) {
	defer pio.CloseSend()
	if len(stdin) > 0 || closeStdin {
		if err := pio.Send(containers.Input{Stdin: stdin, CloseStdin: closeStdin}); err != nil {
			return
		}
	}
	for {
		in, err := recv()
		if err != nil {
			return
		}
		if err := pio.Send(in); err != nil {
			return
		}
	}
}

func (s *containersServer) Stats(ctx context.Context, req *containersv1.StatsRequest) (*containersv1.StatsResponse, error) {
	st, err := s.svc.Stats(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &containersv1.StatsResponse{
		CpuUsageNs: uint64(max(st.CPUUsage, 0)), MemoryUsage: st.MemoryUsage, MemoryLimit: st.MemoryLimit,
		Pids: st.Pids, ReadAt: timeToProto(st.ReadAt),
	}, nil
}
