package containers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/berth/container/errdefs"
)

// interactiveRuntime adds exec, attach and stats to fakeRuntime and
// records the order of calls.
type interactiveRuntime struct {
	*fakeRuntime
	mu     sync.Mutex
	events []string
}

func (r *interactiveRuntime) event(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *interactiveRuntime) Create(ctx context.Context, id string, ts TaskSpec) error {
	r.event("create")
	return r.fakeRuntime.Create(ctx, id, ts)
}

func (r *interactiveRuntime) Start(ctx context.Context, id string) (int, error) {
	r.event("start")
	return r.fakeRuntime.Start(ctx, id)
}

func (r *interactiveRuntime) Exec(_ context.Context, _ string, p ExecProcess) (IO, error) {
	r.event("exec " + p.Args[0])
	return nopIO{}, nil
}

func (r *interactiveRuntime) Attach(context.Context, string) (IO, error) {
	r.event("attach")
	return nopIO{}, nil
}

func (r *interactiveRuntime) Stats(context.Context, string) (Stats, error) {
	return Stats{MemoryUsage: 1 << 20, Pids: 1}, nil
}

type nopIO struct{}

func (nopIO) Send(Input) error      { return nil }
func (nopIO) Recv() (Output, error) { return Output{}, io.EOF }
func (nopIO) CloseSend() error      { return nil }

func newInteractiveService(t *testing.T) (*Service, *interactiveRuntime) {
	rt := &interactiveRuntime{fakeRuntime: &fakeRuntime{procs: map[string]chan Exit{}}}
	s := New(Opt{Store: &fakeStore{m: map[string]Container{}}, Images: fakeImages{},
		Snapshots: &fakeSnapshots{keys: map[string]bool{}}, Runtime: rt,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(s.Close)
	return s, rt
}

func TestExecProcessValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    ExecProcess
		err  error
	}{
		{name: "command", p: ExecProcess{Args: []string{"ls", "-l"}}},
		{name: "all options", p: ExecProcess{Args: []string{"sh"}, Env: []string{"A=b", "C"}, Workdir: "/tmp", TTY: true, Width: 80, Height: 24}},
		{name: "no command", p: ExecProcess{}, err: errdefs.ErrInvalidArgument},
		{name: "empty command", p: ExecProcess{Args: []string{""}}, err: errdefs.ErrInvalidArgument},
		{name: "relative workdir", p: ExecProcess{Args: []string{"ls"}, Workdir: "tmp"}, err: errdefs.ErrInvalidArgument},
		{name: "env without key", p: ExecProcess{Args: []string{"ls"}, Env: []string{"=x"}}, err: errdefs.ErrInvalidArgument},
		{name: "huge terminal", p: ExecProcess{Args: []string{"sh"}, TTY: true, Width: 1 << 20, Height: 24}, err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); !errors.Is(err, tc.err) {
				t.Fatalf("Validate(%+v) = %v, want %v", tc.p, err, tc.err)
			}
		})
	}
}

func TestExecAttachStatsNeedRunning(t *testing.T) {
	s, rt := newInteractiveService(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, "web", Spec{Image: "busybox", StopTimeout: -1, Stdin: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, "web", ExecProcess{Args: []string{"ls"}}); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("Exec in a created container: %v, want FailedPrecondition", err)
	}
	if _, err := s.Attach(ctx, "web"); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("Attach to a created container: %v, want FailedPrecondition", err)
	}
	if _, err := s.Stats(ctx, "web"); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("Stats of a created container: %v, want FailedPrecondition", err)
	}
	if _, err := s.Exec(ctx, "nosuch", ExecProcess{Args: []string{"ls"}}); !errdefs.IsNotFound(err) {
		t.Errorf("Exec in a missing container: %v, want NotFound", err)
	}
	if _, err := s.Exec(ctx, "web", ExecProcess{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Exec of nothing: %v, want InvalidArgument", err)
	}

	c, pio, err := s.StartAttached(ctx, "web")
	if err != nil || pio == nil || c.State.Status != StatusRunning {
		t.Fatalf("StartAttached = %v, %v, %v", c.State.Status, pio, err)
	}
	if _, err := s.Exec(ctx, "web", ExecProcess{Args: []string{"ls"}}); err != nil {
		t.Errorf("Exec in a running container: %v", err)
	}
	if st, err := s.Stats(ctx, "web"); err != nil || st.MemoryUsage == 0 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	if _, pio, err := s.StartAttached(ctx, "web"); err != nil || pio == nil {
		t.Errorf("StartAttached to a running container = %v, %v", pio, err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if want := []string{"create", "attach", "start", "exec ls", "attach"}; !slices.Equal(rt.events, want) {
		t.Errorf("runtime calls %v, want %v (attach between create and start)", rt.events, want)
	}
}

func TestInteractiveNeedsRuntimeSupport(t *testing.T) {
	s, _, _, _ := newTestService(t)
	if _, err := s.Exec(t.Context(), "web", ExecProcess{Args: []string{"ls"}}); !errdefs.IsNotImplemented(err) {
		t.Errorf("Exec with a runtime that has none: %v, want NotImplemented", err)
	}
}
