package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/bundle"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// server is the api/runtime/v1 harness: convert and delegate.
type server struct {
	runtimev1.UnimplementedRuntimeServer
	s *supervisor
	// idle is set for an idle supervisor (idle.go); s is valid once
	// idle.adopted is.
	idle *idleState
	hib  *hibernation
}

func (h *server) Create(ctx context.Context, req *runtimev1.CreateRequest) (*runtimev1.CreateResponse, error) {
	if a := req.GetAdopt(); a != nil {
		// Adopt and Create in one call (an idle supervisor's first).
		if _, err := h.Adopt(ctx, a); err != nil {
			return nil, err
		}
		_ = grpc.SetTrailer(ctx, metadata.Pairs(runtimev1.AdoptedTrailer, "1"))
	}
	pid, err := h.s.create(ctx, req)
	if err != nil {
		return nil, err
	}
	return &runtimev1.CreateResponse{Pid: int32(pid)}, nil
}

func (h *server) Start(ctx context.Context, _ *runtimev1.StartRequest) (*runtimev1.StartResponse, error) {
	pid, err := h.s.start(ctx)
	if err != nil {
		return nil, err
	}
	return &runtimev1.StartResponse{Pid: int32(pid)}, nil
}

func (h *server) State(context.Context, *runtimev1.StateRequest) (*runtimev1.StateResponse, error) {
	return h.s.stateResponse(), nil
}

func (h *server) Kill(ctx context.Context, req *runtimev1.KillRequest) (*runtimev1.KillResponse, error) {
	if err := h.s.kill(ctx, int(req.GetSignal()), req.GetAll()); err != nil {
		return nil, err
	}
	return &runtimev1.KillResponse{}, nil
}

func (h *server) Wait(ctx context.Context, _ *runtimev1.WaitRequest) (*runtimev1.WaitResponse, error) {
	wctx, done := h.hib.wait(ctx)
	defer done()
	e, exiting, err := h.s.wait(wctx)
	if err != nil {
		if errors.Is(err, errHibernating) {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(runtimev1.HibernatingTrailer, strconv.Itoa(h.s.initPid())))
		}
		return nil, err
	}
	return &runtimev1.WaitResponse{Exit: exitProto(*e), Exiting: exiting}, nil
}

func (h *server) Delete(ctx context.Context, req *runtimev1.DeleteRequest) (*runtimev1.DeleteResponse, error) {
	e, err := h.s.delete(ctx, req.GetForce())
	if err != nil {
		return nil, err
	}
	resp := &runtimev1.DeleteResponse{}
	if e != nil {
		resp.Exit = exitProto(*e)
	}
	return resp, nil
}

func (h *server) Shutdown(ctx context.Context, req *runtimev1.ShutdownRequest) (*runtimev1.ShutdownResponse, error) {
	if err := h.s.requestShutdown(ctx, req.GetForce()); err != nil {
		return nil, err
	}
	return &runtimev1.ShutdownResponse{}, nil
}

func exitProto(e bundle.ExitStatus) *runtimev1.ExitStatus {
	return &runtimev1.ExitStatus{
		Code: int32(e.Code), Signal: int32(e.Signal), ExitedAt: timestamp(e.ExitedAt), OomKilled: e.OOMKilled,
	}
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (h *server) Stats(context.Context, *runtimev1.StatsRequest) (*runtimev1.StatsResponse, error) {
	if h.s.idle() {
		return nil, fmt.Errorf("container %q is not running: %w", h.s.id, errdefs.ErrFailedPrecondition)
	}
	st, err := readStats(h.s.id)
	if err != nil {
		return nil, err
	}
	return &runtimev1.StatsResponse{
		CpuUsageNs: st.cpuNs, MemoryUsage: st.memUsage, MemoryLimit: st.memLimit, Pids: st.pids,
		ReadAt: timestamppb.Now(),
	}, nil
}
