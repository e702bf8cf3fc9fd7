package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/errdefs"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

type fakeStore struct {
	mu sync.Mutex
	m  map[string]Container
}

func (s *fakeStore) Create(_ context.Context, c Container) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[c.ID]; ok {
		return fmt.Errorf("container %q: %w", c.ID, errdefs.ErrAlreadyExists)
	}
	s.m[c.ID] = c
	return nil
}
func (s *fakeStore) Get(_ context.Context, id string) (Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if !ok {
		return Container{}, fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}
func (s *fakeStore) List(context.Context) ([]Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Container
	for _, c := range s.m {
		out = append(out, c)
	}
	return out, nil
}
func (s *fakeStore) Update(_ context.Context, c Container) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[c.ID]; !ok {
		return errdefs.ErrNotFound
	}
	s.m[c.ID] = c
	return nil
}
func (s *fakeStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

type fakeImages struct{}

func (fakeImages) Get(_ context.Context, ref string) (Image, error) {
	if ref != "busybox" {
		return Image{}, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
	}
	return Image{Name: "docker.io/library/busybox:latest", ChainID: "sha256:abc", Config: ImageConfig{Cmd: []string{"sh"}}}, nil
}

type fakeSnapshots struct {
	mu   sync.Mutex
	keys map[string]bool
	fail bool
	// removeGate, when set, holds Remove until closed.
	removeGate chan struct{}
}

func (s *fakeSnapshots) Prepare(_ context.Context, key, _ string) ([]Mount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[key] {
		return nil, errdefs.ErrAlreadyExists
	}
	if s.fail {
		return nil, errors.New("no space left on device")
	}
	time.Sleep(5 * time.Millisecond) // widen the race window
	s.keys[key] = true
	return []Mount{{Type: "bind", Source: "/x"}}, nil
}
func (s *fakeSnapshots) Mounts(_ context.Context, key string) ([]Mount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.keys[key] {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	return []Mount{{Type: "bind", Source: "/x"}}, nil
}
func (s *fakeSnapshots) List(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}
func (s *fakeSnapshots) Remove(_ context.Context, key string) error {
	s.mu.Lock()
	gate := s.removeGate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.keys[key] {
		return errdefs.ErrNotFound
	}
	delete(s.keys, key)
	return nil
}

// fakeRuntime runs "processes" that exit when killed, unless they ignore
// the signal (ignoreTerm).
type fakeRuntime struct {
	mu         sync.Mutex
	procs      map[string]chan Exit
	ignoreTerm bool
	failCreate bool
	kills      []syscall.Signal
	// states answers State (default: no supervisor); drain, when set,
	// holds a following Logs after the container stopped until closed.
	states map[string]TaskState
	drain  chan struct{}
	// dirs are the ids with bundle or state dirs (Leftovers); Remove
	// drops them; removeHook, when set, runs at the start of Remove.
	dirs       map[string]bool
	removeHook func(id string)
}

func (r *fakeRuntime) Create(_ context.Context, id string, _ TaskSpec) error {
	if r.failCreate {
		return errors.New("boom")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.procs[id] = make(chan Exit, 1)
	return nil
}
func (r *fakeRuntime) Start(context.Context, string) (int, error) { return 1234, nil }
func (r *fakeRuntime) Run(ctx context.Context, id string, ts TaskSpec) (int, error) {
	if err := r.Create(ctx, id, ts); err != nil {
		return 0, err
	}
	return r.Start(ctx, id)
}
func (r *fakeRuntime) Check(name string) error {
	if name != DefaultRuntime {
		return fmt.Errorf("runtime plugin %q: %w", name, errdefs.ErrNotFound)
	}
	return nil
}
func (r *fakeRuntime) Kill(_ context.Context, id string, sig syscall.Signal, _ bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kills = append(r.kills, sig)
	ch, ok := r.procs[id]
	if !ok {
		return errdefs.ErrFailedPrecondition
	}
	if sig == syscall.SIGTERM && r.ignoreTerm {
		return nil
	}
	select {
	case ch <- Exit{Code: 128 + int(sig), Signal: int(sig), ExitedAt: time.Now()}:
	default:
	}
	return nil
}
func (r *fakeRuntime) exit(id string, code int) {
	r.mu.Lock()
	ch := r.procs[id]
	r.mu.Unlock()
	ch <- Exit{Code: code, ExitedAt: time.Now()}
}
func (r *fakeRuntime) Wait(ctx context.Context, id string) (Exit, error) {
	r.mu.Lock()
	ch := r.procs[id]
	r.mu.Unlock()
	select {
	case e := <-ch:
		return e, nil
	case <-ctx.Done():
		return Exit{}, ctx.Err()
	}
}
func (r *fakeRuntime) State(_ context.Context, id string) (TaskState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.states[id]; ok {
		return st, nil
	}
	return TaskState{}, errdefs.ErrNotFound
}
func (r *fakeRuntime) Delete(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.procs, id)
	return nil
}
func (r *fakeRuntime) Remove(ctx context.Context, id string) error {
	r.mu.Lock()
	hook := r.removeHook
	delete(r.dirs, id)
	r.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	return r.Delete(ctx, id)
}
func (r *fakeRuntime) Leftovers() ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id := range r.dirs {
		ids = append(ids, id)
	}
	return ids, nil
}
func (r *fakeRuntime) Logs(ctx context.Context, _ string, opts LogOptions, stopped <-chan struct{}, _ func(LogEntry) error) error {
	if !opts.Follow || r.drain == nil {
		return nil
	}
	for _, ch := range []<-chan struct{}{stopped, r.drain} {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func newTestService(t *testing.T) (*Service, *fakeStore, *fakeSnapshots, *fakeRuntime) {
	st := &fakeStore{m: map[string]Container{}}
	sn := &fakeSnapshots{keys: map[string]bool{}}
	rt := &fakeRuntime{procs: map[string]chan Exit{}}
	s := New(Opt{Store: st, Images: fakeImages{}, Snapshots: sn, Runtime: rt,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(s.Close)
	return s, st, sn, rt
}

func TestCreateSameNameConcurrently(t *testing.T) {
	s, st, sn, _ := newTestService(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Create(t.Context(), "web", Spec{Image: "busybox", StopTimeout: -1})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errdefs.ErrAlreadyExists):
			t.Errorf("Create: %v, want AlreadyExists", err)
		}
	}
	if won != 1 || len(st.m) != 1 || len(sn.keys) != 1 {
		t.Fatalf("%d creates won, %d records, %d snapshots; want 1 each", won, len(st.m), len(sn.keys))
	}
}

func TestCreateFailureLeavesNothing(t *testing.T) {
	s, st, sn, _ := newTestService(t)
	for _, tc := range []struct {
		name, ctr string
		spec      Spec
		err       error
	}{
		{name: "bad name", ctr: "-x", spec: Spec{Image: "busybox"}, err: errdefs.ErrInvalidArgument},
		{name: "no image", ctr: "a", spec: Spec{Image: "nosuch"}, err: errdefs.ErrNotFound},
		{name: "bad restart", ctr: "a", spec: Spec{Image: "busybox", Restart: "sometimes"}, err: errdefs.ErrInvalidArgument},
		{name: "bad signal", ctr: "a", spec: Spec{Image: "busybox", StopSignal: "SIGNOPE"}, err: errdefs.ErrInvalidArgument},
		{name: "unknown runtime", ctr: "a", spec: Spec{Image: "busybox", Runtime: "nosuch"}, err: errdefs.ErrNotFound},
		{name: "bad tmpfs", ctr: "a", spec: Spec{Image: "busybox", Tmpfs: []string{"rel"}}, err: errdefs.ErrInvalidArgument},
		{name: "no command", ctr: "a", spec: Spec{Image: "busybox", OverrideEntrypoint: true}, err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Create(t.Context(), tc.ctr, tc.spec); !errors.Is(err, tc.err) {
				t.Fatalf("Create = %v, want %v", err, tc.err)
			}
			if len(st.m) != 0 || len(sn.keys) != 0 {
				t.Fatalf("left %v records and %v snapshots", st.m, sn.keys)
			}
		})
	}
}

func TestStartFailureKeepsCreated(t *testing.T) {
	s, st, _, rt := newTestService(t)
	rt.failCreate = true
	c, err := s.Create(t.Context(), "", Spec{Image: "busybox", StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(t.Context(), c.ID[:8]); err == nil {
		t.Fatal("Start succeeded")
	}
	if got := st.m[c.ID].State; got.Status != StatusCreated || got.Error == "" {
		t.Fatalf("state after failed start = %+v", got)
	}
}

func TestLifecycle(t *testing.T) {
	s, st, sn, rt := newTestService(t)
	ctx := t.Context()
	c, err := s.Create(ctx, "", Spec{Image: "busybox", StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ID) != 64 {
		t.Fatalf("id %q", c.ID)
	}
	if _, err := s.Start(ctx, c.ID[:6]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, c.ID, false); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Delete running = %v, want FailedPrecondition", err)
	}
	rt.exit(c.ID, 3)
	st3, err := s.Wait(ctx, c.ID)
	if err != nil || st3.ExitCode != 3 || st3.Status != StatusStopped {
		t.Fatalf("Wait = %+v, %v", st3, err)
	}
	// Stop of a stopped container is fine; start again; stop twice.
	if _, err := s.Stop(ctx, c.ID, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stop(ctx, c.ID, StopOptions{})
	if err != nil || got.State.Status != StatusStopped || got.State.ExitCode != 128+15 {
		t.Fatalf("Stop = %+v, %v", got.State, err)
	}
	if _, err := s.Stop(ctx, c.ID, StopOptions{}); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := s.Delete(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	if len(st.m) != 0 || len(sn.keys) != 0 {
		t.Fatalf("left %v records and %v snapshots", maps.Keys(st.m), sn.keys)
	}
	if _, err := s.Get(ctx, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after delete = %v", err)
	}
}

func TestStopEscalatesToKill(t *testing.T) {
	s, _, _, rt := newTestService(t)
	rt.ignoreTerm = true
	ctx := t.Context()
	c, err := s.Create(ctx, "stubborn", Spec{Image: "busybox", StopTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, "stubborn"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := s.Stop(ctx, c.ID, StopOptions{})
	if err != nil || got.State.ExitCode != 128+9 {
		t.Fatalf("Stop = %+v, %v", got.State, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("Stop took %v, less than the timeout", d)
	}
}

func TestResolvePrefix(t *testing.T) {
	s, st, _, _ := newTestService(t)
	st.m["abc1"] = Container{ID: "abc1"}
	st.m["abc2"] = Container{ID: "abc2"}
	if _, err := s.Resolve(t.Context(), "abc"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("ambiguous prefix = %v", err)
	}
	if c, err := s.Resolve(t.Context(), "abc2"); err != nil || c.ID != "abc2" {
		t.Fatalf("exact = %v, %v", c.ID, err)
	}
	if _, err := s.Resolve(t.Context(), "zz"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("no match = %v", err)
	}
}

func TestRestartOnFailure(t *testing.T) {
	s, st, _, rt := newTestService(t)
	ctx := t.Context()
	c, err := s.Create(ctx, "flaky", Spec{Image: "busybox", Restart: "on-failure:2", StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		deadline := time.Now().Add(5 * time.Second)
		for {
			rt.mu.Lock()
			_, running := rt.procs[c.ID]
			rt.mu.Unlock()
			st.mu.Lock()
			status := st.m[c.ID].State.Status
			st.mu.Unlock()
			if running && status == StatusRunning {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %d never started", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		rt.exit(c.ID, 1)
		if _, err := s.Wait(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(600 * time.Millisecond) // a fourth run would start by now
	got, _ := s.Get(ctx, c.ID)
	if got.State.Status != StatusStopped || got.State.RestartCount != 2 {
		t.Fatalf("after retries: %+v", got.State)
	}
}

func TestStateMachine(t *testing.T) {
	for _, tc := range []struct {
		from, to Status
		ok       bool
	}{
		{StatusCreated, StatusRunning, true},
		{StatusRunning, StatusStopped, true},
		{StatusStopped, StatusRunning, true},
		{StatusStopped, StatusRemoving, true},
		{StatusRemoving, StatusRunning, false},
		{StatusRunning, StatusCreated, false},
	} {
		if got := CanTransition(tc.from, tc.to); got != tc.ok {
			t.Errorf("CanTransition(%s, %s) = %v", tc.from, tc.to, got)
		}
	}
}

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		err  error
	}{
		{in: "", want: RestartPolicy{Name: "no"}},
		{in: "always", want: RestartPolicy{Name: "always"}},
		{in: "on-failure:3", want: RestartPolicy{Name: "on-failure", MaxRetries: 3}},
		{in: "on-failure", want: RestartPolicy{Name: "on-failure"}},
		{in: "always:3", err: errdefs.ErrInvalidArgument},
		{in: "on-failure:-1", err: errdefs.ErrInvalidArgument},
		{in: "never", err: errdefs.ErrInvalidArgument},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestStopCancelsPendingRestart(t *testing.T) {
	s, _, _, rt := newTestService(t)
	ctx := t.Context()
	c, err := s.Create(ctx, "always", Spec{Image: "busybox", Restart: "always", StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	rt.exit(c.ID, 0)
	if _, err := s.Wait(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stop(ctx, c.ID, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if got, _ := s.Get(ctx, c.ID); got.State.Status != StatusStopped {
		t.Fatalf("restarted after stop: %+v", got.State)
	}
}

// TestLockKeptForWaiters: an id's lock stays one lock while anyone holds
// or waits for it (a removal used to drop it from under a waiter, letting
// a later caller in beside that waiter), and goes once nobody does.
func TestLockKeptForWaiters(t *testing.T) {
	s := New(Opt{})
	unlockA := s.lock("x")
	got := make(chan func())
	go func() { got <- s.lock("x") }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.locksMu.Lock()
		refs := s.locks["x"].refs
		s.locksMu.Unlock()
		if refs == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second caller never waited for the lock")
		}
	}
	unlockA()
	unlockB := <-got
	go func() { got <- s.lock("x") }()
	select {
	case unlockC := <-got:
		unlockC()
		t.Fatal("a third caller took the lock the second holds")
	case <-time.After(50 * time.Millisecond):
	}
	unlockB()
	(<-got)()
	s.locksMu.Lock()
	defer s.locksMu.Unlock()
	if len(s.locks) != 0 {
		t.Fatalf("%d locks left after every holder is done", len(s.locks))
	}
}
