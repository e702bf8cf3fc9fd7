package containers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth/container/errdefs"
)

// prepareRootfs prepares id's writable snapshot. The caller has reserved
// id and found no record of it, so a snapshot already there is an orphan
// of a create the apiserver did not finish (it crashed between the two
// steps): it is removed and prepared again rather than keeping the name
// taken forever.
func (s *Service) prepareRootfs(ctx context.Context, id, chainID string) error {
	_, err := s.snapshots.Prepare(ctx, snapshotKey(id), chainID)
	if errdefs.IsAlreadyExists(err) {
		s.log.WarnContext(ctx, "remove snapshot left by an unfinished create", "container", id, "snapshot", snapshotKey(id))
		if rerr := s.snapshots.Remove(ctx, snapshotKey(id)); rerr != nil {
			return fmt.Errorf("prepare rootfs for %q: remove the snapshot an unfinished create left: %w", id, rerr)
		}
		_, err = s.snapshots.Prepare(ctx, snapshotKey(id), chainID)
	}
	if err != nil {
		return fmt.Errorf("prepare rootfs for %q: %w", id, err)
	}
	return nil
}

// removeOrphanSnapshots removes every container snapshot that no record
// names (known holds the records' ids): a create of a generated id that the apiserver did not finish
// leaves one nobody would ever prepare again. Recover calls it only when
// the store listed every record without error, so a record it cannot
// read never loses its snapshot. Each id is reserved like a Create's and
// checked once more against the store before its snapshot goes.
func (s *Service) removeOrphanSnapshots(ctx context.Context, known map[string]bool) error {
	keys, err := s.snapshots.List(ctx, snapshotKey(""))
	if err != nil {
		return fmt.Errorf("list container snapshots: %w", err)
	}
	var errs []error
	for _, key := range keys {
		id := strings.TrimPrefix(key, snapshotKey(""))
		if known[id] {
			continue
		}
		if err := s.removeOrphanSnapshot(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeOrphanDirs removes the bundle and state directories (and whatever
// the runtime still holds for them: a supervisor, mounts, cgroups) that no
// record names (known holds the records' ids): an auto-removal deletes an ephemeral container's record
// first (records.deleteDurable), so an apiserver killed in between leaves
// them. Recover calls it only with a complete list of records.
func (s *Service) removeOrphanDirs(ctx context.Context, known map[string]bool) error {
	ids, err := s.runtime.Leftovers()
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if known[id] {
			continue
		}
		if err := s.removeOrphanDir(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) removeOrphanDir(ctx context.Context, id string) error {
	release, ok := s.reserve(id, nil)
	if !ok {
		return nil
	}
	defer release()
	unlock := s.lock(id)
	defer unlock()
	if _, err := s.store.Get(ctx, id); !errdefs.IsNotFound(err) {
		return err // a record (readable or not) keeps its dirs
	}
	if err := s.runtime.Remove(ctx, id); err != nil {
		return fmt.Errorf("remove orphan container dirs of %q: %w", id, err)
	}
	s.log.WarnContext(ctx, "removed a container's dirs no record names", "container", id)
	return nil
}

func (s *Service) removeOrphanSnapshot(ctx context.Context, id string) error {
	release, ok := s.reserve(id, func() bool { return s.snapRemovals[id] != nil })
	if !ok {
		return nil
	}
	defer release()
	if _, err := s.store.Get(ctx, id); !errdefs.IsNotFound(err) {
		return err // a record (readable or not) keeps its snapshot
	}
	if err := s.snapshots.Remove(ctx, snapshotKey(id)); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove orphan snapshot of %q: %w", id, err)
	}
	s.log.WarnContext(ctx, "removed a container snapshot no record names", "container", id, "snapshot", snapshotKey(id))
	return nil
}

// reserve marks id as taken by a create or a collection, so that no other
// create or collection of it runs meanwhile; false when it already is, or
// when busy (called with s.mu held) says so. release gives it back.
func (s *Service) reserve(id string, busy func() bool) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creating[id] || (busy != nil && busy()) {
		return nil, false
	}
	s.creating[id] = true
	return func() {
		s.mu.Lock()
		delete(s.creating, id)
		s.mu.Unlock()
	}, true
}
