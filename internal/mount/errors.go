package mount

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/berth/container/errdefs"
)

// kindError is a mount(2)/umount(2) error with the errdefs kind its errno
// tells; both stay reachable with errors.Is, and the message is the
// errno's alone.
type kindError struct {
	errno error
	kind  error
}

func (e *kindError) Error() string   { return e.errno.Error() }
func (e *kindError) Unwrap() []error { return []error{e.errno, e.kind} }

// withKind attaches the errdefs kind that err's errno says, when it says
// one, so the error crosses the wire with a kind: a bad source, type or
// option (EINVAL) is InvalidArgument, a missing source or target (ENOENT,
// ENOTDIR) NotFound, EPERM/EACCES PermissionDenied, a busy target (EBUSY)
// FailedPrecondition.
func withKind(err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err
	}
	var kind error
	switch errno {
	case unix.EINVAL:
		kind = errdefs.ErrInvalidArgument
	case unix.ENOENT, unix.ENOTDIR:
		kind = errdefs.ErrNotFound
	case unix.EPERM, unix.EACCES:
		kind = errdefs.ErrPermissionDenied
	case unix.EBUSY:
		kind = errdefs.ErrFailedPrecondition
	default:
		return err
	}
	return &kindError{errno: err, kind: kind}
}
