package containers

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/berth/container/errdefs"
)

// TestEphemeralStateInMemory: an ephemeral container's durable record
// stays "created" while the service shows it running and stopped; its
// removal deletes both. A plain container's changes are all durable.
func TestEphemeralStateInMemory(t *testing.T) {
	s, st, sn, rt := newTestService(t)
	ctx := t.Context()
	eph, err := s.Create(ctx, "eph", Spec{Image: "busybox", Ephemeral: true, StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := s.Create(ctx, "plain", Spec{Image: "busybox", StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{eph.ID, plain.ID} {
		if _, err := s.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	durable := func(id string) Status {
		c, err := st.Get(ctx, id)
		if err != nil {
			t.Fatalf("durable record of %s: %v", id, err)
		}
		return c.State.Status
	}
	if got, _ := s.Get(ctx, "eph"); got.State.Status != StatusRunning || durable("eph") != StatusCreated {
		t.Fatalf("started: shown %s, durable %s; want running, created", got.State.Status, durable("eph"))
	}
	if durable("plain") != StatusRunning {
		t.Fatalf("plain started: durable %s", durable("plain"))
	}
	cs, err := s.List(ctx, false)
	if err != nil || len(cs) != 2 {
		t.Fatalf("List running = %d containers, %v; want both", len(cs), err)
	}
	rt.exit("eph", 4)
	if got, err := s.Wait(ctx, "eph"); err != nil || got.ExitCode != 4 || got.Status != StatusStopped {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
	if durable("eph") != StatusCreated {
		t.Fatalf("exited: durable %s, want created", durable("eph"))
	}
	if _, err := s.Delete(ctx, "eph", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "eph"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after delete = %v", err)
	}
	if _, err := st.Get(ctx, "eph"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("durable record left after delete: %v", err)
	}
	waitSnapshotGone(t, sn, "eph")
	rt.exit("plain", 0)
	if _, err := s.Wait(ctx, "plain"); err != nil || durable("plain") != StatusStopped {
		t.Fatalf("plain exited: durable %s, %v", durable("plain"), err)
	}
}

// TestRecoverEphemeral: after a restart (a new Service over the same
// store: the in-memory states are gone) an ephemeral container whose
// program runs is taken over and shown running; one that exited, one
// whose supervisor is gone, one created and never started and one only
// created in its supervisor are removed with their snapshots. Plain
// containers are recovered as before.
func TestRecoverEphemeral(t *testing.T) {
	s, st, sn, _ := newTestService(t)
	ctx := t.Context()
	for _, name := range []string{"runs", "exited", "gone", "new", "half", "plain"} {
		if _, err := s.Create(ctx, name, Spec{Image: "busybox", Ephemeral: name != "plain", StopTimeout: -1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"runs", "exited", "gone", "plain"} {
		if _, err := s.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // the apiserver goes away; containers keep running

	rt2 := &fakeRuntime{procs: map[string]chan Exit{"runs": make(chan Exit, 1), "plain": make(chan Exit, 1)},
		states: map[string]TaskState{
			"runs":   {Running: true, Pid: 42},
			"exited": {Exit: &Exit{Code: 3, ExitedAt: time.Now()}},
			"half":   {Running: true, Created: true, Pid: 43},
			"plain":  {Running: true, Pid: 44},
		}}
	s2 := New(Opt{Store: st, Images: fakeImages{}, Snapshots: sn, Runtime: rt2,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(s2.Close)
	if err := s2.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	for _, name := range []string{"exited", "gone", "new", "half"} {
		if _, err := s2.Get(ctx, name); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s after Recover: %v, want removed", name, err)
		}
		waitSnapshotGone(t, sn, name)
	}
	for _, name := range []string{"runs", "plain"} {
		if c, err := s2.Get(ctx, name); err != nil || c.State.Status != StatusRunning {
			t.Fatalf("%s after Recover: %+v, %v; want running", name, c.State, err)
		}
	}
	// The taken-over container is watched: its exit is recorded.
	rt2.exit("runs", 5)
	if got, err := s2.Wait(ctx, "runs"); err != nil || got.ExitCode != 5 {
		t.Fatalf("Wait after takeover = %+v, %v", got, err)
	}
}

// TestAutoRemoveWait: Wait on a container that is removed automatically
// answers its exit only once it is gone, also to a Wait that comes after
// the removal; the removal waits for the log's followers to drain; a stop
// removes it too.
func TestAutoRemoveWait(t *testing.T) {
	s, st, sn, rt := newTestService(t)
	ctx := t.Context()
	rt.drain = make(chan struct{})
	c, err := s.Create(ctx, "", Spec{Image: "busybox", AutoRemove: true, Ephemeral: true, StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	following := followLog(t, s, c.ID)
	waited := waitAsync(t, s, c.ID)
	if _, err := s.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	rt.exit(c.ID, 7)
	select {
	case got := <-waited:
		t.Fatalf("Wait answered %+v while a log follower still reads", got)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := s.Get(ctx, c.ID); err != nil {
		t.Fatalf("removed while a log follower still reads: %v", err)
	}
	close(rt.drain)
	if err := <-following; err != nil {
		t.Fatalf("Logs: %v", err)
	}
	select {
	case got := <-waited:
		if got.ExitCode != 7 || got.Status != StatusStopped {
			t.Fatalf("Wait = %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after the removal")
	}
	if _, err := s.Get(ctx, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after Wait = %v, want NotFound", err)
	}
	if len(st.m) != 0 {
		t.Fatalf("left %v records", st.m)
	}
	waitSnapshotGone(t, sn, c.ID)
	if got, err := s.Wait(ctx, c.ID); err != nil || got.ExitCode != 7 {
		t.Fatalf("Wait after the removal = %+v, %v", got, err)
	}

	// Stopped by the user: removed as well.
	rt.drain = nil
	c2, err := s.Create(ctx, "stopped", Spec{Image: "busybox", AutoRemove: true, Ephemeral: true, StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, c2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stop(ctx, c2.ID, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Wait(ctx, c2.ID); err != nil || got.ExitCode != 128+15 {
		t.Fatalf("Wait after stop = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, c2.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("stopped auto-remove container still there: %v", err)
	}
	// A new container of the same name is not taken for the removed one.
	if _, err := s.Create(ctx, "stopped", Spec{Image: "busybox", StopTimeout: -1}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if got, err := s.Wait(wctx, "stopped"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a new created container = %+v, %v; want it to wait", got, err)
	}
}

// failingStore fails every Create.
type failingStore struct{ *fakeStore }

func (failingStore) Create(context.Context, Container) error { return errors.New("disk full") }

// TestCreateCommitsSideBySide: the snapshot and the record are made side
// by side; when either fails the other is undone; a record whose snapshot
// a crash lost gets it prepared again at start.
func TestCreateCommitsSideBySide(t *testing.T) {
	s, st, sn, _ := newTestService(t)
	ctx := t.Context()
	sn.fail = true
	if _, err := s.Create(ctx, "nospace", Spec{Image: "busybox", StopTimeout: -1}); err == nil {
		t.Fatal("Create with a failing snapshot succeeded")
	}
	if len(st.m) != 0 || len(sn.keys) != 0 {
		t.Fatalf("failed prepare left records %v, snapshots %v", st.m, sn.keys)
	}
	sn.fail = false

	s2 := New(Opt{Store: failingStore{st}, Images: fakeImages{}, Snapshots: sn, Runtime: &fakeRuntime{procs: map[string]chan Exit{}},
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(s2.Close)
	if _, err := s2.Create(ctx, "nodisk", Spec{Image: "busybox", StopTimeout: -1}); err == nil {
		t.Fatal("Create with a failing store succeeded")
	}
	if len(st.m) != 0 || len(sn.keys) != 0 {
		t.Fatalf("failed record left records %v, snapshots %v", st.m, sn.keys)
	}

	// A record without its snapshot, as a crash between the two leaves.
	if err := st.Create(ctx, Container{ID: "half", Name: "half", Runtime: DefaultRuntime,
		Image: Image{ChainID: "sha256:abc"}, Spec: Spec{Image: "busybox", Restart: "no", StopTimeout: -1},
		State: State{Status: StatusCreated}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, "half"); err != nil {
		t.Fatalf("Start of a record without its snapshot: %v", err)
	}
	if !sn.keys[snapshotKey("half")] {
		t.Fatal("start did not prepare the missing snapshot")
	}
}

// waitSnapshotGone waits for the background removal of id's snapshot.
func waitSnapshotGone(t *testing.T, sn *fakeSnapshots, id string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sn.mu.Lock()
		left := sn.keys[snapshotKey(id)]
		sn.mu.Unlock()
		if !left {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot of %s left", id)
		}
	}
}

// TestEphemeralSnapshotRemovedLater: an ephemeral container's snapshot
// is removed after its record, in the background; a create of the same
// name waits for that removal, and a plain container's is removed before
// Delete returns.
func TestEphemeralSnapshotRemovedLater(t *testing.T) {
	s, st, sn, rt := newTestService(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, "eph", Spec{Image: "busybox", Ephemeral: true, StopTimeout: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, "eph"); err != nil {
		t.Fatal(err)
	}
	rt.exit("eph", 0)
	if _, err := s.Wait(ctx, "eph"); err != nil {
		t.Fatal(err)
	}
	sn.mu.Lock()
	sn.removeGate = make(chan struct{})
	sn.mu.Unlock()
	if _, err := s.Delete(ctx, "eph", false); err != nil {
		t.Fatalf("Delete while the snapshot's removal is held: %v", err)
	}
	if _, err := st.Get(ctx, "eph"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("record after Delete: %v", err)
	}
	created := make(chan error, 1)
	go func() {
		_, err := s.Create(ctx, "eph", Spec{Image: "busybox", StopTimeout: -1})
		created <- err
	}()
	select {
	case err := <-created:
		t.Fatalf("Create of the name returned (%v) while the old snapshot's removal was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(sn.removeGate)
	if err := <-created; err != nil {
		t.Fatalf("Create after the removal: %v", err)
	}
	sn.mu.Lock()
	sn.removeGate = nil
	sn.mu.Unlock()
	if _, err := s.Delete(ctx, "eph", false); err != nil {
		t.Fatal(err)
	}
	sn.mu.Lock()
	left := sn.keys[snapshotKey("eph")]
	sn.mu.Unlock()
	if left {
		t.Fatal("a plain container's snapshot is left when Delete returns")
	}
}

// followLog follows id's log in the background until it ends (the fake
// runtime's drain) and returns once the follower is registered.
func followLog(t *testing.T, s *Service, id string) <-chan error {
	t.Helper()
	following := make(chan error, 1)
	go func() {
		following <- s.Logs(t.Context(), id, LogOptions{Follow: true, Tail: -1}, func(LogEntry) error { return nil })
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		n := s.following[id]
		s.mu.Unlock()
		if n == 1 {
			return following
		}
		if time.Now().After(deadline) {
			t.Fatal("the log follower never started")
		}
	}
}

// waitAsync calls Wait on id in the background.
func waitAsync(t *testing.T, s *Service, id string) <-chan State {
	waited := make(chan State, 1)
	go func() {
		got, err := s.Wait(t.Context(), id)
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		waited <- got
	}()
	return waited
}

// TestAutoRemoveLateFollower: after StartFollowed, an auto-remove container
// that exits before its follower has come is kept until the follower comes
// and has read the log; then it is removed and Wait answers. When someone
// follows it already at the start, that follower is the announced one.
func TestAutoRemoveLateFollower(t *testing.T) {
	s, _, _, rt := newTestService(t)
	ctx := t.Context()
	c, err := s.Create(ctx, "", Spec{Image: "busybox", AutoRemove: true, Ephemeral: true, StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartFollowed(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	waited := waitAsync(t, s, c.ID)
	rt.exit(c.ID, 3)
	select {
	case got := <-waited:
		t.Fatalf("Wait answered %+v before the announced follower came", got)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := s.Get(ctx, c.ID); err != nil {
		t.Fatalf("removed before the announced follower came: %v", err)
	}
	if err := s.Logs(ctx, c.ID, LogOptions{Follow: true, Tail: -1}, func(LogEntry) error { return nil }); err != nil {
		t.Fatalf("late follower: %v", err)
	}
	select {
	case got := <-waited:
		if got.ExitCode != 3 {
			t.Fatalf("Wait = %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not removed after the follower read the log")
	}
	if _, err := s.Get(ctx, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after Wait = %v, want NotFound", err)
	}

	// Followed already when it starts: nobody else is awaited.
	rt.drain = make(chan struct{})
	c2, err := s.Create(ctx, "", Spec{Image: "busybox", AutoRemove: true, Ephemeral: true, StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	following := followLog(t, s, c2.ID)
	if _, err := s.StartFollowed(ctx, c2.ID); err != nil {
		t.Fatal(err)
	}
	rt.exit(c2.ID, 0)
	close(rt.drain)
	if err := <-following; err != nil {
		t.Fatalf("Logs: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if got, err := s.Wait(wctx, c2.ID); err != nil || got.ExitCode != 0 {
		t.Fatalf("Wait = %+v, %v; want removed promptly", got, err)
	}
	s.mu.Lock()
	left := len(s.awaited)
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("awaited followers left: %d", left)
	}
}

// TestAutoRemoveRecordFirst: an auto-removed ephemeral container's durable
// record is deleted before its bundle and state dirs (the in-memory one,
// still listed, stays until the removal ends); Recover removes the dirs
// that no record names, as a crash in between leaves them, and keeps
// those of a container with a record.
func TestAutoRemoveRecordFirst(t *testing.T) {
	s, st, sn, rt := newTestService(t)
	ctx := t.Context()
	c, err := s.Create(ctx, "first", Spec{Image: "busybox", AutoRemove: true, Ephemeral: true, StopTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		durable, mem, listed bool
	}
	atRemove := make(chan seen, 1)
	rt.removeHook = func(id string) {
		// The durable deletion runs beside the removal: give it time.
		var v seen
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			_, err := st.Get(context.Background(), id)
			if v.durable = err == nil; !v.durable {
				break
			}
		}
		_, err := s.store.Get(context.Background(), id)
		v.mem = err == nil
		cs, _ := s.List(context.Background(), true)
		for _, c := range cs {
			v.listed = v.listed || c.ID == id
		}
		atRemove <- v
	}
	if _, err := s.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	rt.exit(c.ID, 0)
	if got, err := s.Wait(ctx, c.ID); err != nil || got.Status != StatusStopped {
		t.Fatalf("Wait = %+v, %v", got, err)
	}
	if v := <-atRemove; v.durable || !v.mem || !v.listed {
		t.Fatalf("at the dirs' removal: durable record %v, in memory %v, listed %v; want false, true, true", v.durable, v.mem, v.listed)
	}
	if _, err := s.Get(ctx, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get after Wait = %v, want NotFound", err)
	}
	waitSnapshotGone(t, sn, c.ID)
	rt.removeHook = nil
	s.Close()

	if _, err := s.Create(ctx, "kept", Spec{Image: "busybox", StopTimeout: -1}); err != nil {
		t.Fatal(err)
	}
	rt2 := &fakeRuntime{procs: map[string]chan Exit{}, dirs: map[string]bool{"orphan": true, "kept": true}}
	s2 := New(Opt{Store: st, Images: fakeImages{}, Snapshots: sn, Runtime: rt2,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(s2.Close)
	if err := s2.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if left, _ := rt2.Leftovers(); len(left) != 1 || left[0] != "kept" {
		t.Fatalf("dirs after Recover = %v, want [kept]", left)
	}
}
