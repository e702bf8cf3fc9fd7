package containers

import (
	"context"
	"fmt"

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
