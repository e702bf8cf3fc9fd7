package containers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth/container/errdefs"
)

// Restart backoff: 100 ms doubling up to a minute; a run that lasted
// longer than resetAfter starts the sequence again.
const (
	backoffBase = 100 * time.Millisecond
	backoffMax  = time.Minute
	resetAfter  = 10 * time.Second
)

// restartDelay decides whether the stopped container c restarts under its
// policy while the apiserver runs, and after how long. The caller counts
// the restart.
func (s *Service) restartDelay(c Container) (time.Duration, bool) {
	p, err := ParseRestartPolicy(c.Spec.Restart)
	if err != nil || c.State.StoppedByUser {
		return 0, false
	}
	switch p.Name {
	case "always", "unless-stopped":
	case "on-failure":
		if c.State.ExitCode == 0 && c.State.Error == "" {
			return 0, false
		}
		if p.MaxRetries > 0 && c.State.RestartCount >= p.MaxRetries {
			return 0, false
		}
	default:
		return 0, false
	}
	n := c.State.RestartCount
	if !c.State.StartedAt.IsZero() && c.State.FinishedAt.Sub(c.State.StartedAt) > resetAfter {
		n = 0
	}
	d := backoffBase << min(n, 10)
	return min(d, backoffMax), true
}

// forgetUserStopAtStart applies the one rule in which "always" and
// "unless-stopped" differ, as in docker: when the apiserver starts (after
// a restart of its own or a reboot), a stopped "always" container runs
// again even if the user stopped it, while an "unless-stopped" one the user
// stopped stays stopped. It clears c's StoppedByUser for an "always"
// container, so that restartDelay lets it restart. While the apiserver
// runs, a user's stop is final under every policy.
func (s *Service) forgetUserStopAtStart(ctx context.Context, c *Container) error {
	p, err := ParseRestartPolicy(c.Spec.Restart)
	if err != nil || p.Name != "always" || !c.State.StoppedByUser {
		return nil
	}
	c.State.StoppedByUser = false
	return s.store.Update(ctx, *c)
}

// scheduleRestart starts id again after delay unless the service closes or
// the user acts on the container first.
func (s *Service) scheduleRestart(id string, delay time.Duration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.closing:
			return
		}
		ctx, cancel := s.background()
		defer cancel()
		unlock := s.lock(id)
		defer unlock()
		c, err := s.store.Get(ctx, id)
		if err != nil || c.State.Status != StatusStopped || c.State.StoppedByUser {
			return
		}
		c.State.RestartCount++
		if _, err := s.startLocked(ctx, c); err != nil {
			s.log.ErrorContext(ctx, "restart container", "container", id, "err", err)
			// A failed start counts as a failed run (startLocked recorded
			// it, with the restart counted and the error): try again later.
			if c, gerr := s.store.Get(ctx, id); gerr == nil && c.State.Status == StatusStopped {
				if d, ok := s.restartDelay(c); ok {
					s.scheduleRestart(id, d)
				}
			}
		}
	}()
}

// Recover brings the records in line with the world after the apiserver
// (re)starts: it reattaches to supervisors of running containers, records
// exits that happened while it was down (with their real codes), marks
// containers whose supervisor died, and finishes interrupted deletes.
//
// A record the store cannot read is reported in the error; every other
// container is still recovered.
func (s *Service) Recover(ctx context.Context) error {
	cs, err := s.store.List(ctx)
	errs := []error{err}
	for _, c := range cs {
		if err := s.recoverOne(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("recover container %q: %w", c.ID, err))
		}
	}
	if err == nil {
		// Only a complete list of records tells which snapshots and dirs
		// are orphans; the dirs first (a rootfs may still be mounted).
		known := make(map[string]bool, len(cs))
		for _, c := range cs {
			known[c.ID] = true
		}
		errs = append(errs, s.removeOrphanDirs(ctx, known), s.removeOrphanSnapshots(ctx, known))
	}
	return errors.Join(errs...)
}

func (s *Service) recoverOne(ctx context.Context, id string) error {
	unlock := s.lock(id)
	defer unlock()
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if c.Spec.Ephemeral {
		return s.recoverEphemeral(ctx, c)
	}
	switch c.State.Status {
	case StatusRemoving:
		return s.removeLocked(ctx, c)
	case StatusRunning:
	case StatusStopped:
		// A restart that was pending when the apiserver stopped, or a
		// container with a policy after a reboot.
		if err := s.forgetUserStopAtStart(ctx, &c); err != nil {
			return err
		}
		if delay, ok := s.restartDelay(c); ok {
			s.scheduleRestart(id, delay)
		}
		return nil
	case StatusCreated:
		// A start interrupted by the crash may have left a supervisor.
		if _, err := s.runtime.State(ctx, id); err == nil {
			return s.runtime.Delete(ctx, id)
		}
		return nil
	default:
		return nil
	}
	st, err := s.runtime.State(ctx, id)
	t := &task{done: make(chan struct{})}
	switch {
	case err == nil && st.Running:
		s.mu.Lock()
		s.tasks[id] = t
		s.mu.Unlock()
		s.watch(id, t)
		s.log.InfoContext(ctx, "container reattached", "container", id, "pid", st.Pid)
		return nil
	case err == nil && st.Exit != nil:
		t.exit = *st.Exit
	case err == nil || errdefs.IsNotFound(err) || errdefs.IsUnavailable(err):
		// The supervisor died, or the host rebooted.
		t.exit = Exit{Code: 255, ExitedAt: time.Now().UTC(), Error: "the container's supervisor died; its exit status is unknown"}
	default:
		return err
	}
	if err := s.forgetUserStopAtStart(ctx, &c); err != nil {
		return err
	}
	close(t.done)
	s.finalizeLocked(ctx, id, t, true)
	return nil
}

// recoverEphemeral takes over an ephemeral container whose program still
// runs and removes any other, as docker removes --rm containers at its
// start: the durable record of an ephemeral container says "created"
// until it is removed (records), so "not running now" is all that is
// known of one that started, exited or was being removed. The caller
// holds c's lock.
func (s *Service) recoverEphemeral(ctx context.Context, c Container) error {
	if c.State.Status != StatusRemoving {
		st, err := s.runtime.State(ctx, c.ID)
		switch {
		case err == nil && st.Running && !st.Created:
			if c.State.Status != StatusRunning {
				c.State = State{Status: StatusRunning, Pid: st.Pid, RestartCount: c.State.RestartCount}
				if err := s.store.Update(ctx, c); err != nil {
					return err
				}
			}
			t := &task{done: make(chan struct{})}
			s.mu.Lock()
			s.tasks[c.ID] = t
			s.mu.Unlock()
			s.watch(c.ID, t)
			s.log.InfoContext(ctx, "container reattached", "container", c.ID, "pid", st.Pid)
			return nil
		case err == nil, errdefs.IsNotFound(err), errdefs.IsUnavailable(err):
		default:
			return err
		}
	}
	s.log.InfoContext(ctx, "removing an ephemeral container that no longer runs", "container", c.ID)
	return s.removeLocked(ctx, c)
}

// Run owns the service's background work (exit monitors, restarts) until
// ctx ends, then stops it and waits. Containers keep running.
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	s.Close()
	return nil
}

// Close stops the background work and waits for it. Containers keep running.
func (s *Service) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.wg.Wait()
}
