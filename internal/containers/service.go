package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/identifiers"
)

// DefaultRuntime is the runtime plugin used when a spec names none.
const DefaultRuntime = "container-runtime-linux"

// Opt configures a Service.
type Opt struct {
	Store     Store
	Images    Images
	Snapshots Snapshots
	Runtime   Runtime
	Log       *slog.Logger
	// DefaultRuntime overrides DefaultRuntime.
	DefaultRuntime string
}

// Service runs containers.
type Service struct {
	store     *records
	images    Images
	snapshots Snapshots
	runtime   Runtime
	log       *slog.Logger
	defRT     string

	// locks serializes the operations on each id (lock); an entry lives
	// while someone holds or waits for it, so that a removal never drops
	// a lock another caller is about to take.
	locksMu sync.Mutex
	locks   map[string]*idLock

	mu       sync.Mutex
	tasks    map[string]*task         // running containers being watched
	changed  map[string]chan struct{} // closed and replaced on every state change
	creating map[string]bool          // ids reserved by a Create in progress
	// removals are the auto-removals under way or just done (Wait), and
	// following counts the log followers of each container (Logs), whom
	// an auto-removal lets drain first. awaited counts the followers a
	// StartFollowed announced that have not come yet: an auto-removal
	// waits for them too.
	removals  map[string]*removal
	following map[string]int
	awaited   map[string]int
	// snapRemovals: closed when the background removal of that
	// container's snapshot is over (removeSnapshotLater).
	snapRemovals map[string]chan struct{}

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// task is one run of a container, watched by a monitor goroutine.
type task struct {
	done      chan struct{} // closed when exit is set
	exit      Exit
	finalized bool // guarded by the container's lock
}

// New returns a Service. Call Recover before serving and Run for the
// background work (monitors, restarts).
func New(opt Opt) *Service {
	rt := opt.DefaultRuntime
	if rt == "" {
		rt = DefaultRuntime
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		store: newRecords(opt.Store), images: opt.Images, snapshots: opt.Snapshots, runtime: opt.Runtime,
		log: log, defRT: rt,
		locks: map[string]*idLock{}, tasks: map[string]*task{}, changed: map[string]chan struct{}{}, creating: map[string]bool{},
		removals: map[string]*removal{}, following: map[string]int{}, awaited: map[string]int{}, snapRemovals: map[string]chan struct{}{},
		closing: make(chan struct{}),
	}
}

func snapshotKey(id string) string { return "container/" + id }

// idLock is the lock of one id; refs counts its holder and waiters.
type idLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes id's lock and returns its release.
func (s *Service) lock(id string) func() {
	s.locksMu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &idLock{}
		s.locks[id] = l
	}
	l.refs++
	s.locksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.locksMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, id)
		}
		s.locksMu.Unlock()
	}
}

// notify wakes everyone waiting for a change of id.
func (s *Service) notify(id string) {
	s.mu.Lock()
	if ch, ok := s.changed[id]; ok {
		close(ch)
		delete(s.changed, id)
	}
	s.mu.Unlock()
}

func (s *Service) changes(id string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.changed[id]
	if !ok {
		ch = make(chan struct{})
		s.changed[id] = ch
	}
	return ch
}

// background returns a context cancelled when the service closes.
func (s *Service) background() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		select {
		case <-s.closing:
			cancel(errClosing)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

var errClosing = errors.New("containers service closing")

// Resolve finds a container by id, name or unique id prefix.
func (s *Service) Resolve(ctx context.Context, ref string) (Container, error) {
	if ref == "" {
		return Container{}, fmt.Errorf("container reference must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	c, err := s.store.Get(ctx, ref)
	if err == nil {
		return c, nil
	}
	if !errdefs.IsNotFound(err) {
		return Container{}, err
	}
	all, err := s.store.List(ctx)
	if err != nil {
		return Container{}, err
	}
	var matches []Container
	for _, c := range all {
		if strings.HasPrefix(c.ID, ref) {
			matches = append(matches, c)
		}
	}
	switch len(matches) {
	case 0:
		return Container{}, fmt.Errorf("container %q: %w", ref, errdefs.ErrNotFound)
	case 1:
		return matches[0], nil
	}
	return Container{}, fmt.Errorf("container %q: prefix matches %d containers: %w", ref, len(matches), errdefs.ErrInvalidArgument)
}

// Get returns the container named by ref.
func (s *Service) Get(ctx context.Context, ref string) (Container, error) { return s.Resolve(ctx, ref) }

// resolveLocked resolves ref and takes the container's lock; the record is
// read again under the lock.
func (s *Service) resolveLocked(ctx context.Context, ref string) (Container, func(), error) {
	c, err := s.Resolve(ctx, ref)
	if err != nil {
		return Container{}, nil, err
	}
	unlock := s.lock(c.ID)
	c, err = s.store.Get(ctx, c.ID)
	if err != nil {
		unlock()
		return Container{}, nil, err
	}
	return c, unlock, nil
}

// Create records a new container in state created and prepares its
// writable snapshot. name may be empty.
func (s *Service) Create(ctx context.Context, name string, spec Spec) (_ Container, retErr error) {
	if err := spec.Validate(name); err != nil {
		return Container{}, err
	}
	id := name
	if id == "" {
		id = identifiers.NewID()
	}
	if spec.Runtime == "" {
		spec.Runtime = s.defRT
	}
	if spec.Restart == "" {
		spec.Restart = "no"
	}
	if err := s.runtime.Check(spec.Runtime); err != nil {
		return Container{}, err
	}
	// Reserve the id: a concurrent Create of the same name fails here.
	release, ok := s.reserve(id, nil)
	if !ok {
		return Container{}, fmt.Errorf("container %q: %w", id, errdefs.ErrAlreadyExists)
	}
	defer release()
	if _, err := s.store.Get(ctx, id); err == nil {
		return Container{}, fmt.Errorf("container %q: %w", id, errdefs.ErrAlreadyExists)
	} else if !errdefs.IsNotFound(err) {
		return Container{}, err
	}

	img, err := s.images.Get(ctx, spec.Image)
	if err != nil {
		return Container{}, fmt.Errorf("image %q: %w", spec.Image, err)
	}
	if len(spec.command(img.Config)) == 0 {
		return Container{}, fmt.Errorf("container %q: no command specified: %w", id, errdefs.ErrInvalidArgument)
	}
	// The snapshot and the record are committed side by side (two bbolt
	// files, two fdatasyncs each). The container's lock keeps every other
	// operation on it waiting until both are there (or both are gone). A
	// crash in between leaves a snapshot without a record (removed by
	// Recover or the next create of the id) or a record without a
	// snapshot (start prepares it again; removal finds none to remove).
	unlock := s.lock(id)
	defer unlock()
	if err := s.waitSnapshotRemoval(ctx, id); err != nil {
		return Container{}, err
	}
	c := Container{
		ID: id, Name: id, Image: img, Spec: spec,
		CreatedAt: time.Now().UTC(), Runtime: spec.Runtime,
		State: State{Status: StatusCreated},
	}
	prepared := make(chan error, 1)
	go func() { prepared <- s.prepareRootfs(ctx, id, img.ChainID) }()
	cerr := s.store.Create(ctx, c)
	if perr := <-prepared; perr != nil || cerr != nil {
		rctx := context.WithoutCancel(ctx)
		if perr == nil {
			if err := s.snapshots.Remove(rctx, snapshotKey(id)); err != nil && !errdefs.IsNotFound(err) {
				s.log.WarnContext(ctx, "remove snapshot after failed create", "container", id, "err", err)
			}
		}
		if cerr == nil {
			if err := s.store.Delete(rctx, id); err != nil {
				s.log.WarnContext(ctx, "remove record after failed create", "container", id, "err", err)
			}
		}
		return Container{}, errors.Join(perr, cerr)
	}
	s.mu.Lock()
	delete(s.removals, id) // a removed container's of the same name
	s.mu.Unlock()
	s.log.InfoContext(ctx, "container created", "container", id, "image", img.Name)
	return c, nil
}

// Start runs a created or stopped container. Starting a running container
// is not an error.
func (s *Service) Start(ctx context.Context, ref string) (Container, error) {
	return s.start(ctx, ref, false)
}

// StartFollowed is Start for a caller that follows the container's output
// (Logs with Follow, called around this call: a foreground `run --rm`).
// An auto-remove container is then not removed before that follower has
// come (waitFollowers), so that one that comes after a quick exit still
// reads the log. Unless someone follows the container already: then that
// follower is taken for the announced one.
func (s *Service) StartFollowed(ctx context.Context, ref string) (Container, error) {
	return s.start(ctx, ref, true)
}

func (s *Service) start(ctx context.Context, ref string, followed bool) (_ Container, retErr error) {
	c, unlock, err := s.resolveLocked(ctx, ref)
	if err != nil {
		return Container{}, err
	}
	defer unlock()
	if c.State.Status == StatusRunning {
		return c, nil
	}
	if followed && c.Spec.Ephemeral {
		s.mu.Lock()
		expected := s.following[c.ID] == 0
		if expected {
			s.awaited[c.ID]++
		}
		s.mu.Unlock()
		if expected {
			defer func() {
				if retErr != nil {
					s.mu.Lock()
					s.dropAwaitedLocked(c.ID)
					s.mu.Unlock()
				}
			}()
		}
	}
	c.State.RestartCount = 0
	return s.startLocked(ctx, c)
}

// dropAwaitedLocked forgets one follower StartFollowed announced for id.
// s.mu is held.
func (s *Service) dropAwaitedLocked(id string) {
	if s.awaited[id]--; s.awaited[id] <= 0 {
		delete(s.awaited, id)
	}
}

func (s *Service) startLocked(ctx context.Context, c Container) (Container, error) {
	return s.startLockedAttached(ctx, c, nil)
}

// startLockedAttached is startLocked; attach, when set, runs between
// creating the container and starting its program (see StartAttached).
func (s *Service) startLockedAttached(ctx context.Context, c Container, attach func(context.Context) error) (Container, error) {
	if !CanTransition(c.State.Status, StatusRunning) {
		return Container{}, fmt.Errorf("container %q is %s: %w", c.ID, c.State.Status, errdefs.ErrFailedPrecondition)
	}
	fail := func(err error) (Container, error) {
		if derr := s.runtime.Delete(context.WithoutCancel(ctx), c.ID); derr != nil {
			err = errors.Join(err, derr)
		}
		c.State.Error = err.Error()
		if uerr := s.store.Update(context.WithoutCancel(ctx), c); uerr != nil {
			err = errors.Join(err, uerr)
		}
		s.notify(c.ID)
		return Container{}, err
	}
	rootfs, err := s.snapshots.Mounts(ctx, snapshotKey(c.ID))
	if errdefs.IsNotFound(err) {
		// A create cut short after its record, before its snapshot.
		s.log.WarnContext(ctx, "prepare the writable layer a create did not finish", "container", c.ID)
		rootfs, err = s.snapshots.Prepare(ctx, snapshotKey(c.ID), c.Image.ChainID)
	}
	if err != nil {
		return Container{}, fmt.Errorf("rootfs of %q: %w", c.ID, err)
	}
	ts := TaskSpec{Runtime: c.Runtime, Image: c.Image.Config, Spec: c.Spec, Rootfs: rootfs, Hostname: c.Spec.Hostname}
	if ts.Hostname == "" {
		ts.Hostname = c.ID
		if len(ts.Hostname) > 12 && identifiers.IsID(ts.Hostname) {
			ts.Hostname = ts.Hostname[:12]
		}
	}
	for _, t := range c.Spec.Tmpfs {
		m, err := tmpfsMount(t)
		if err != nil {
			return Container{}, err
		}
		ts.Mounts = append(ts.Mounts, m)
	}
	var pid int
	if attach == nil {
		if pid, err = s.runtime.Run(ctx, c.ID, ts); err != nil {
			return fail(fmt.Errorf("start container %q: %w", c.ID, err))
		}
	} else {
		if err := s.runtime.Create(ctx, c.ID, ts); err != nil {
			return fail(fmt.Errorf("create container %q: %w", c.ID, err))
		}
		if err := attach(ctx); err != nil {
			return fail(fmt.Errorf("attach to container %q: %w", c.ID, err))
		}
		if pid, err = s.runtime.Start(ctx, c.ID); err != nil {
			return fail(fmt.Errorf("start container %q: %w", c.ID, err))
		}
	}
	c.State = State{
		Status: StatusRunning, Pid: pid, StartedAt: time.Now().UTC(),
		RestartCount: c.State.RestartCount,
	}
	t := &task{done: make(chan struct{})}
	s.mu.Lock()
	s.tasks[c.ID] = t
	s.mu.Unlock()
	s.watch(c.ID, t)
	if err := s.store.Update(ctx, c); err != nil {
		return Container{}, err
	}
	s.notify(c.ID)
	s.log.InfoContext(ctx, "container started", "container", c.ID, "pid", pid)
	return c, nil
}

// watch starts the goroutine that waits for t's exit and records it.
func (s *Service) watch(id string, t *task) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := s.background()
		defer cancel()
		exit, err := s.runtime.Wait(ctx, id)
		if ctx.Err() != nil {
			return // the service is closing; Recover picks the container up again
		}
		if err != nil {
			exit = Exit{Code: 255, ExitedAt: time.Now().UTC(), Error: fmt.Sprintf("wait for container: %v", err)}
		}
		t.exit = exit
		close(t.done)
		unlock := s.lock(id)
		defer unlock()
		s.finalizeLocked(ctx, id, t, true)
	}()
}

// finalizeLocked records t's exit, ends the supervisor and applies the
// restart policy (when policy is true). The caller holds id's lock.
func (s *Service) finalizeLocked(ctx context.Context, id string, t *task, policy bool) {
	if t.finalized {
		return
	}
	t.finalized = true
	s.mu.Lock()
	if s.tasks[id] == t {
		delete(s.tasks, id)
	}
	s.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	// The exit is recorded (and waiters woken) before the supervisor is
	// torn down; the caller's lock keeps the next operation waiting.
	defer func() {
		if err := s.runtime.Delete(ctx, id); err != nil {
			s.log.WarnContext(ctx, "end supervisor", "container", id, "err", err)
		}
	}()
	c, err := s.store.Get(ctx, id)
	if err != nil {
		s.log.ErrorContext(ctx, "record exit", "container", id, "err", err)
		return
	}
	if c.State.Status != StatusRunning {
		return
	}
	c.State.Status = StatusStopped
	c.State.Pid = 0
	c.State.ExitCode = t.exit.Code
	c.State.FinishedAt = t.exit.ExitedAt
	if c.State.FinishedAt.IsZero() {
		c.State.FinishedAt = time.Now().UTC()
	}
	c.State.OOMKilled = t.exit.OOMKilled
	c.State.Error = t.exit.Error
	var rm *removal
	if c.Spec.AutoRemove {
		// Registered before the exit is visible, so that no waiter sees
		// the exit without the removal to wait for.
		rm = s.startRemoval(id, c.State)
	}
	if err := s.store.Update(ctx, c); err != nil {
		s.log.ErrorContext(ctx, "record exit", "container", id, "err", err)
	} else if rm != nil && c.Spec.Ephemeral {
		// Its durable record goes now, beside the supervisor's end and
		// the bundle's removal (records.deleteDurable).
		s.store.deleteDurable(id)
	}
	s.log.InfoContext(ctx, "container exited", "container", id, "exit_code", c.State.ExitCode)
	s.notify(id)
	if rm != nil {
		// Also after a stop or kill, as docker does; a Delete in progress
		// (it holds the lock) removes it first, which is fine.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.autoRemove(ctx, id, rm)
		}()
		return
	}
	if !policy {
		return
	}
	if delay, ok := s.restartDelay(c); ok {
		s.scheduleRestart(id, delay)
	}
}

// removal is the auto-removal of a container that exited: Wait answers
// its exit once the container is gone (docker's wait condition
// "removed"), so that `run --rm` needs no Delete of its own.
type removal struct {
	state State
	done  chan struct{} // closed when the removal has ended
	err   error         // set before done is closed
}

// removalKept is how long a Wait may still ask for the exit of a
// container that was removed automatically.
const removalKept = time.Minute

// followerDrain bounds how long an auto-removal waits for the container's
// log followers to drain its log.
const followerDrain = 10 * time.Second

func (s *Service) startRemoval(id string, st State) *removal {
	rm := &removal{state: st, done: make(chan struct{})}
	s.mu.Lock()
	s.removals[id] = rm
	s.mu.Unlock()
	return rm
}

func (s *Service) removalOf(id string) *removal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removals[id]
}

// autoRemove deletes the exited container id once its log followers are
// done (they read the log the removal deletes), then answers its waiters.
func (s *Service) autoRemove(ctx context.Context, id string, rm *removal) {
	s.waitFollowers(id)
	if _, err := s.Delete(ctx, id, true); err != nil && !errdefs.IsNotFound(err) {
		s.log.ErrorContext(ctx, "auto-remove", "container", id, "err", err)
		rm.err = fmt.Errorf("container %q exited but was not removed: %w", id, err)
	}
	close(rm.done)
	s.notify(id)
	time.AfterFunc(removalKept, func() {
		s.mu.Lock()
		if s.removals[id] == rm {
			delete(s.removals, id)
		}
		s.mu.Unlock()
	})
}

// waitFollowers returns once nobody follows id's log and no announced
// follower is still to come (StartFollowed), or after followerDrain.
func (s *Service) waitFollowers(id string) {
	timer := time.NewTimer(followerDrain)
	defer timer.Stop()
	for {
		ch := s.changes(id)
		s.mu.Lock()
		n := s.following[id] + s.awaited[id]
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			s.log.Warn("auto-remove: log followers still reading", "container", id, "followers", n)
			return
		case <-s.closing:
			return
		}
	}
}

// StopOptions tune Stop. Zero values mean the container's own settings.
type StopOptions struct {
	Signal  syscall.Signal
	Timeout time.Duration
	// TimeoutSet distinguishes an explicit zero timeout.
	TimeoutSet bool
}

// Stop sends the stop signal, waits up to the timeout, then sends SIGKILL,
// and returns once the exit is recorded. Stopping a container that is not
// running is not an error.
func (s *Service) Stop(ctx context.Context, ref string, opts StopOptions) (Container, error) {
	c, unlock, err := s.resolveLocked(ctx, ref)
	if err != nil {
		return Container{}, err
	}
	defer unlock()
	if c.State.Status != StatusRunning {
		if c.State.Status == StatusStopped {
			// Cancels a restart the policy has scheduled.
			if err := s.markStoppedByUser(ctx, &c); err != nil {
				return Container{}, err
			}
		}
		return c, nil
	}
	if err := s.markStoppedByUser(ctx, &c); err != nil {
		return Container{}, err
	}
	sig := opts.Signal
	if sig == 0 {
		sig = c.stopSignal()
	}
	timeout := c.stopTimeout()
	if opts.TimeoutSet {
		timeout = opts.Timeout
	}
	if err := s.stopLocked(ctx, c, sig, timeout); err != nil {
		return Container{}, err
	}
	return s.store.Get(ctx, c.ID)
}

func (s *Service) markStoppedByUser(ctx context.Context, c *Container) error {
	if c.State.StoppedByUser {
		return nil
	}
	c.State.StoppedByUser = true
	return s.store.Update(ctx, *c)
}

// stopLocked ends the running container c: sig, then SIGKILL after timeout.
func (s *Service) stopLocked(ctx context.Context, c Container, sig syscall.Signal, timeout time.Duration) error {
	s.mu.Lock()
	t := s.tasks[c.ID]
	s.mu.Unlock()
	if t == nil {
		return fmt.Errorf("container %q is running but not watched: %w", c.ID, errdefs.ErrInternal)
	}
	if sig != syscall.SIGKILL && timeout > 0 {
		if err := s.runtime.Kill(ctx, c.ID, sig, false); err != nil && !errdefs.IsFailedPrecondition(err) && !errdefs.IsNotFound(err) {
			return fmt.Errorf("signal container %q: %w", c.ID, err)
		}
		timer := time.NewTimer(timeout)
		select {
		case <-t.done:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		}
		timer.Stop()
	}
	select {
	case <-t.done:
	default:
		if err := s.runtime.Kill(ctx, c.ID, syscall.SIGKILL, true); err != nil && !errdefs.IsFailedPrecondition(err) && !errdefs.IsNotFound(err) {
			return fmt.Errorf("kill container %q: %w", c.ID, err)
		}
		select {
		case <-t.done:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	s.finalizeLocked(ctx, c.ID, t, false)
	return nil
}

// Kill sends sig to a running container's init process.
func (s *Service) Kill(ctx context.Context, ref string, sig syscall.Signal) error {
	c, unlock, err := s.resolveLocked(ctx, ref)
	if err != nil {
		return err
	}
	defer unlock()
	if c.State.Status != StatusRunning {
		return fmt.Errorf("container %q is not running: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		if err := s.markStoppedByUser(ctx, &c); err != nil {
			return err
		}
	}
	if err := s.runtime.Kill(ctx, c.ID, sig, false); err != nil {
		return fmt.Errorf("signal container %q: %w", c.ID, err)
	}
	return nil
}

// Delete removes a container and everything it owns. A running container
// needs force. It returns the container's id.
func (s *Service) Delete(ctx context.Context, ref string, force bool) (string, error) {
	c, unlock, err := s.resolveLocked(ctx, ref)
	if force && errdefs.IsFailedPrecondition(err) {
		// The record exists but cannot be read: a forced delete by its id
		// is the way out.
		if _, gerr := s.store.Get(ctx, ref); errdefs.IsFailedPrecondition(gerr) {
			if err := s.removeDamaged(ctx, ref); err != nil {
				return "", err
			}
			return ref, nil
		}
	}
	if err != nil {
		return "", err
	}
	defer unlock()
	if c.State.Status == StatusRunning {
		if !force {
			return "", fmt.Errorf("container %q is running: stop it or use force: %w", c.ID, errdefs.ErrFailedPrecondition)
		}
		if err := s.markStoppedByUser(ctx, &c); err != nil {
			return "", err
		}
		if err := s.stopLocked(ctx, c, syscall.SIGKILL, 0); err != nil {
			return "", err
		}
		if c, err = s.store.Get(ctx, c.ID); err != nil {
			return "", err
		}
	}
	if err := s.removeLocked(ctx, c); err != nil {
		return "", err
	}
	return c.ID, nil
}

// removeLocked removes a container that is not running.
func (s *Service) removeLocked(ctx context.Context, c Container) error {
	ctx = context.WithoutCancel(ctx)
	if c.State.Status != StatusRemoving {
		if err := transition(&c, StatusRemoving); err != nil {
			return err
		}
		if err := s.store.Update(ctx, c); err != nil {
			return err
		}
		s.notify(c.ID)
	}
	var errs []error
	if err := s.runtime.Remove(ctx, c.ID); err != nil {
		errs = append(errs, err)
	}
	// An ephemeral container's writable layer goes after its record, in
	// the background (removeSnapshotLater): its removal (a commit and the
	// layer's files, 1–6 ms here) is off the path of `run --rm`.
	later := c.Spec.Ephemeral && len(errs) == 0
	if !later {
		if err := s.snapshots.Remove(ctx, snapshotKey(c.ID)); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove snapshot of %q: %w", c.ID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err // the record stays in "removing"; Delete can be retried
	}
	if err := s.store.Delete(ctx, c.ID); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.awaited, c.ID) // announced followers that never came
	s.mu.Unlock()
	if later {
		s.removeSnapshotLater(c.ID)
	}
	s.notify(c.ID)
	s.log.InfoContext(ctx, "container deleted", "container", c.ID)
	return nil
}

// removeSnapshotLater removes id's writable snapshot in the background,
// once its record is gone. A create of the same id waits for it
// (waitSnapshotRemoval); if the apiserver stops first, the snapshot is an
// orphan that Recover removes.
func (s *Service) removeSnapshotLater(id string) {
	done := make(chan struct{})
	s.mu.Lock()
	s.snapRemovals[id] = done
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			if s.snapRemovals[id] == done {
				delete(s.snapRemovals, id)
			}
			s.mu.Unlock()
			close(done)
		}()
		if err := s.snapshots.Remove(context.Background(), snapshotKey(id)); err != nil && !errdefs.IsNotFound(err) {
			s.log.Warn("remove snapshot of a removed container", "container", id, "err", err)
		}
	}()
}

// waitSnapshotRemoval waits until a background removal of id's snapshot
// (removeSnapshotLater) is over.
func (s *Service) waitSnapshotRemoval(ctx context.Context, id string) error {
	s.mu.Lock()
	done := s.snapRemovals[id]
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// List returns running containers, or all with all, newest first.
func (s *Service) List(ctx context.Context, all bool) ([]Container, error) {
	cs, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := cs[:0]
	for _, c := range cs {
		if all || c.State.Status == StatusRunning {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// Wait blocks until the container is stopped and returns its state. A
// created container is waited for through its coming run. A container
// that is removed automatically (Spec.AutoRemove) is waited for until it
// is gone; its exit is still answered for removalKept after.
func (s *Service) Wait(ctx context.Context, ref string) (State, error) {
	c, err := s.Resolve(ctx, ref)
	if err != nil {
		if rm := s.removalOf(ref); rm != nil && errdefs.IsNotFound(err) {
			return rm.wait(ctx)
		}
		return State{}, err
	}
	id := c.ID
	for {
		ch := s.changes(id)
		c, err = s.store.Get(ctx, id)
		if err != nil || c.State.Status == StatusStopped || c.State.Status == StatusRemoving {
			if rm := s.removalOf(id); rm != nil {
				return rm.wait(ctx)
			}
		}
		if err != nil {
			return State{}, err
		}
		if c.State.Status == StatusStopped {
			return c.State, nil
		}
		if c.State.Status == StatusRemoving {
			return State{}, fmt.Errorf("container %q is being removed: %w", c.ID, errdefs.ErrNotFound)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return State{}, context.Cause(ctx)
		}
	}
}

func (rm *removal) wait(ctx context.Context) (State, error) {
	select {
	case <-rm.done:
		return rm.state, rm.err
	case <-ctx.Done():
		return State{}, context.Cause(ctx)
	}
}

// waitStopped returns once id is stopped, being removed or gone, or when
// ctx ends; a created container is waited for through its coming run.
func (s *Service) waitStopped(ctx context.Context, id string) {
	for {
		ch := s.changes(id)
		c, err := s.store.Get(ctx, id)
		if err != nil || (c.State.Status != StatusCreated && c.State.Status != StatusRunning) {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Logs calls fn for every selected log entry of the container. With
// opts.Follow it returns once the container has stopped and its log is
// drained, or when ctx ends.
func (s *Service) Logs(ctx context.Context, ref string, opts LogOptions, fn func(LogEntry) error) error {
	c, err := s.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	stopped := make(chan struct{})
	if opts.Follow {
		s.mu.Lock()
		s.following[c.ID]++
		if s.awaited[c.ID] > 0 {
			s.dropAwaitedLocked(c.ID) // the follower StartFollowed announced
		}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if s.following[c.ID]--; s.following[c.ID] <= 0 {
				delete(s.following, c.ID)
			}
			s.mu.Unlock()
			s.notify(c.ID) // an auto-removal may wait for this follower
		}()
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			defer close(stopped)
			s.waitStopped(wctx, c.ID)
		}()
		defer func() { cancel(); <-stopped }() // the watcher ends with the call
	} else {
		close(stopped)
	}
	return s.runtime.Logs(ctx, c.ID, opts, stopped, fn)
}

// Prune deletes every container that is not running and returns their ids.
func (s *Service) Prune(ctx context.Context) ([]string, error) {
	cs, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, c := range cs {
		if c.State.Status == StatusRunning {
			continue
		}
		id, err := s.Delete(ctx, c.ID, false)
		switch {
		case err == nil:
			deleted = append(deleted, id)
		case errdefs.IsNotFound(err), errdefs.IsFailedPrecondition(err):
		default:
			errs = append(errs, err)
		}
	}
	return deleted, errors.Join(errs...)
}
