package containers

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth/container/errdefs"
)

// removeDamaged removes a container whose record the store cannot read
// (Get failed with ErrFailedPrecondition): with nothing known about it, it
// ends a supervisor left for id and removes everything named after id.
// Only a forced delete by exact id gets here; any other operation keeps
// reporting the damage.
func (s *Service) removeDamaged(ctx context.Context, id string) error {
	unlock := s.lock(id)
	defer unlock()
	if _, err := s.store.Get(ctx, id); !errdefs.IsFailedPrecondition(err) {
		return fmt.Errorf("container %q changed while being removed: %w", id, errdefs.ErrFailedPrecondition)
	}
	ctx = context.WithoutCancel(ctx)
	var errs []error
	if err := s.runtime.Delete(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := s.runtime.Remove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := s.snapshots.Remove(ctx, snapshotKey(id)); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("remove snapshot of %q: %w", id, err))
	}
	if err := errors.Join(errs...); err != nil {
		return err // the record stays; Delete can be retried
	}
	if err := s.store.Delete(ctx, id); err != nil {
		return err
	}
	s.notify(id)
	s.log.WarnContext(ctx, "damaged container record removed", "container", id)
	return nil
}
