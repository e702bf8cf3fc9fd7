package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/berth/container/errdefs"
)

// TestRecoverRestartPolicies seeds records as an apiserver starting after
// a reboot finds them (running records whose supervisor is gone, stopped
// ones with or without a user's stop) and checks which ones Recover starts.
func TestRecoverRestartPolicies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		restart  string
		state    State
		wantsRun bool
	}{
		{name: "always, running at reboot", restart: "always", state: State{Status: StatusRunning}, wantsRun: true},
		{name: "always, stopped by user", restart: "always",
			state: State{Status: StatusStopped, ExitCode: 137, StoppedByUser: true}, wantsRun: true},
		{name: "always, exited 0", restart: "always", state: State{Status: StatusStopped}, wantsRun: true},
		{name: "unless-stopped, running at reboot", restart: "unless-stopped", state: State{Status: StatusRunning}, wantsRun: true},
		{name: "unless-stopped, stopped by user", restart: "unless-stopped",
			state: State{Status: StatusStopped, ExitCode: 137, StoppedByUser: true}},
		{name: "on-failure, running at reboot", restart: "on-failure", state: State{Status: StatusRunning}, wantsRun: true},
		{name: "on-failure:1, retries used up", restart: "on-failure:1",
			state: State{Status: StatusRunning, RestartCount: 1}},
		{name: "on-failure, exited 0", restart: "on-failure", state: State{Status: StatusStopped}},
		{name: "on-failure, exited 1", restart: "on-failure", state: State{Status: StatusStopped, ExitCode: 1}, wantsRun: true},
		{name: "on-failure, stopped by user", restart: "on-failure",
			state: State{Status: StatusStopped, ExitCode: 137, StoppedByUser: true}},
		{name: "no, running at reboot", restart: "no", state: State{Status: StatusRunning}},
		{name: "no, exited 1", restart: "no", state: State{Status: StatusStopped, ExitCode: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, st, _, _ := newTestService(t)
			ctx := t.Context()
			tc.state.StartedAt = time.Now().Add(-time.Hour)
			if tc.state.Status == StatusStopped {
				tc.state.FinishedAt = time.Now().Add(-time.Minute)
			}
			c := Container{ID: "c", Name: "c", Runtime: DefaultRuntime,
				Spec: Spec{Image: "busybox", Restart: tc.restart, StopTimeout: -1}, State: tc.state}
			if err := st.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := s.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(time.Second)
			for {
				got, err := s.Get(ctx, "c")
				if err != nil {
					t.Fatal(err)
				}
				if got.State.Status == StatusRunning {
					if !tc.wantsRun {
						t.Fatalf("restarted: %+v", got.State)
					}
					return
				}
				if time.Now().After(deadline) {
					if tc.wantsRun {
						t.Fatalf("not restarted: %+v", got.State)
					}
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestUserStopIsFinal: while the apiserver runs, a user's stop ends a
// container under every policy.
func TestUserStopIsFinal(t *testing.T) {
	for _, policy := range []string{"always", "unless-stopped", "on-failure"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			s, _, _, _ := newTestService(t)
			ctx := t.Context()
			c, err := s.Create(ctx, "c", Spec{Image: "busybox", Restart: policy, StopTimeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Start(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			got, err := s.Stop(ctx, c.ID, StopOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.State.Status != StatusStopped || !got.State.StoppedByUser {
				t.Fatalf("after stop: %+v", got.State)
			}
			time.Sleep(400 * time.Millisecond) // a restart would have happened by now
			if got, _ := s.Get(ctx, c.ID); got.State.Status != StatusStopped {
				t.Fatalf("restarted after a user's stop: %+v", got.State)
			}
		})
	}
}

// TestFailedRestartCountsOnce: a restart whose start fails counts as one
// restart, so on-failure:N makes exactly N attempts.
func TestFailedRestartCountsOnce(t *testing.T) {
	s, _, _, rt := newTestService(t)
	ctx := t.Context()
	c, err := s.Create(ctx, "c", Spec{Image: "busybox", Restart: "on-failure:3", StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	rt.failCreate = true // every restart fails; set before the exit that triggers them
	rt.exit(c.ID, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State.RestartCount >= 3 {
			time.Sleep(2 * time.Second) // a fourth attempt would be due by now
			if got, _ = s.Get(ctx, c.ID); got.State.RestartCount != 3 || got.State.Status != StatusStopped || got.State.Error == "" {
				t.Fatalf("after on-failure:3 with failing starts: %+v", got.State)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarts not attempted: %+v", got.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// damagedStore is a store holding one record it cannot read.
type damagedStore struct{ *fakeStore }

func (s damagedStore) List(ctx context.Context) ([]Container, error) {
	cs, _ := s.fakeStore.List(ctx)
	return cs, fmt.Errorf("decode container %q: %w", "broken", errdefs.ErrFailedPrecondition)
}

// TestRecoverPastDamagedRecord: a record the store cannot read is
// reported by Recover, and every other container is still recovered.
func TestRecoverPastDamagedRecord(t *testing.T) {
	st := &fakeStore{m: map[string]Container{}}
	rt := &fakeRuntime{procs: map[string]chan Exit{}}
	s := New(Opt{Store: damagedStore{st}, Images: fakeImages{}, Snapshots: &fakeSnapshots{keys: map[string]bool{}}, Runtime: rt,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(s.Close)
	ctx := t.Context()
	// Running at a reboot: its supervisor is gone, so Recover records the exit.
	if err := st.Create(ctx, Container{ID: "c", Name: "c", Runtime: DefaultRuntime,
		Spec: Spec{Image: "busybox", Restart: "no", StopTimeout: -1}, State: State{Status: StatusRunning}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(ctx); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Recover = %v, want the damaged record reported", err)
	}
	if c, _ := st.Get(ctx, "c"); c.State.Status != StatusStopped || c.State.ExitCode != 255 {
		t.Fatalf("readable container not recovered: %+v", c.State)
	}
}

// unreadableStore holds records it cannot read: Get reports them.
type unreadableStore struct {
	*fakeStore
	broken map[string]bool
}

func (s unreadableStore) Get(ctx context.Context, id string) (Container, error) {
	s.mu.Lock()
	broken := s.broken[id]
	s.mu.Unlock()
	if broken {
		return Container{}, fmt.Errorf("decode container %q: %w", id, errdefs.ErrFailedPrecondition)
	}
	return s.fakeStore.Get(ctx, id)
}

func (s unreadableStore) Delete(ctx context.Context, id string) error {
	s.mu.Lock()
	delete(s.broken, id)
	s.mu.Unlock()
	return s.fakeStore.Delete(ctx, id)
}

// TestDeleteDamagedRecord: a record that cannot be read is reported by
// every operation, and a forced delete by its id removes it and its
// snapshot.
func TestDeleteDamagedRecord(t *testing.T) {
	st := unreadableStore{fakeStore: &fakeStore{m: map[string]Container{}}, broken: map[string]bool{"bad": true}}
	sn := &fakeSnapshots{keys: map[string]bool{snapshotKey("bad"): true}}
	s := New(Opt{Store: st, Images: fakeImages{}, Snapshots: sn, Runtime: &fakeRuntime{procs: map[string]chan Exit{}},
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(s.Close)
	ctx := t.Context()
	if _, err := s.Get(ctx, "bad"); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Get = %v, want FailedPrecondition", err)
	}
	if _, err := s.Delete(ctx, "bad", false); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Delete without force = %v, want FailedPrecondition", err)
	}
	if id, err := s.Delete(ctx, "bad", true); err != nil || id != "bad" {
		t.Fatalf("Delete with force = %q, %v", id, err)
	}
	if _, err := s.Get(ctx, "bad"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after delete = %v, want NotFound", err)
	}
	if sn.keys[snapshotKey("bad")] {
		t.Fatal("snapshot of the damaged container left behind")
	}
}

// TestCreateOverOrphanSnapshot: a snapshot left by a create the apiserver
// did not finish (no record) does not keep the name taken.
func TestCreateOverOrphanSnapshot(t *testing.T) {
	s, st, sn, _ := newTestService(t)
	sn.keys[snapshotKey("web")] = true
	if _, err := s.Create(t.Context(), "web", Spec{Image: "busybox", StopTimeout: -1}); err != nil {
		t.Fatalf("Create over an orphan snapshot: %v", err)
	}
	if len(st.m) != 1 || !sn.keys[snapshotKey("web")] {
		t.Fatalf("records %v, snapshots %v", st.m, sn.keys)
	}
	if _, err := s.Create(t.Context(), "web", Spec{Image: "busybox", StopTimeout: -1}); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("second Create = %v, want AlreadyExists", err)
	}
}

// TestRecoverRemovesOrphanSnapshots: Recover removes a container snapshot
// no record names and keeps every container's own; while a record cannot
// be read it removes nothing.
func TestRecoverRemovesOrphanSnapshots(t *testing.T) {
	st := &fakeStore{m: map[string]Container{}}
	sn := &fakeSnapshots{keys: map[string]bool{snapshotKey("kept"): true, snapshotKey("orphan"): true, "other/x": true}}
	newService := func(store Store) *Service {
		s := New(Opt{Store: store, Images: fakeImages{}, Snapshots: sn, Runtime: &fakeRuntime{procs: map[string]chan Exit{}},
			Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
		t.Cleanup(s.Close)
		return s
	}
	ctx := t.Context()
	if err := st.Create(ctx, Container{ID: "kept", Name: "kept", Runtime: DefaultRuntime,
		Spec: Spec{Image: "busybox", Restart: "no", StopTimeout: -1}, State: State{Status: StatusCreated}}); err != nil {
		t.Fatal(err)
	}
	// The orphan could be the damaged record's: it stays.
	if err := newService(damagedStore{st}).Recover(ctx); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Recover = %v, want the damaged record reported", err)
	}
	if len(sn.keys) != 3 {
		t.Fatalf("snapshots after Recover with a damaged record: %v", sn.keys)
	}
	if err := newService(st).Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if !sn.keys[snapshotKey("kept")] || sn.keys[snapshotKey("orphan")] || !sn.keys["other/x"] {
		t.Fatalf("snapshots after Recover: %v", sn.keys)
	}
}
