// Package errgrpc maps errdefs kinds to gRPC status codes and back.
//
// The server converts once, in an interceptor (ToGRPC); the client converts
// once, when a call returns (ToNative). The message is carried unchanged, so
// the user sees the server's words, and the kind is restored so callers can
// use errors.Is on the client side.
package errgrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/berth/container/errdefs"
)

// ToGRPC maps err to a gRPC status carrying the code of its errdefs kind.
// An error that already is a status passes through.
func ToGRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(Code(err), err.Error())
}

// Code returns the gRPC code for err's kind, codes.Unknown if it has none.
func Code(err error) codes.Code {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return codes.NotFound
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return codes.AlreadyExists
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return codes.InvalidArgument
	case errors.Is(err, errdefs.ErrFailedPrecondition):
		return codes.FailedPrecondition
	case errors.Is(err, errdefs.ErrUnavailable):
		return codes.Unavailable
	case errors.Is(err, errdefs.ErrNotImplemented):
		return codes.Unimplemented
	case errors.Is(err, errdefs.ErrPermissionDenied):
		return codes.PermissionDenied
	case errors.Is(err, errdefs.ErrInternal):
		return codes.Internal
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}

// remoteError keeps the server's message and unwraps to the kind.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// ToNative turns a gRPC status error into an error that prints the server's
// message and unwraps to the matching errdefs kind (or context error).
// Errors that are not statuses pass through unchanged.
func ToNative(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	var kind error
	switch st.Code() {
	case codes.NotFound:
		kind = errdefs.ErrNotFound
	case codes.AlreadyExists:
		kind = errdefs.ErrAlreadyExists
	case codes.InvalidArgument, codes.OutOfRange:
		kind = errdefs.ErrInvalidArgument
	case codes.FailedPrecondition, codes.Aborted:
		kind = errdefs.ErrFailedPrecondition
	case codes.Unavailable:
		kind = errdefs.ErrUnavailable
	case codes.Unimplemented:
		kind = errdefs.ErrNotImplemented
	case codes.PermissionDenied, codes.Unauthenticated:
		kind = errdefs.ErrPermissionDenied
	case codes.Canceled:
		kind = context.Canceled
	case codes.DeadlineExceeded:
		kind = context.DeadlineExceeded
	default:
		kind = errdefs.ErrInternal
	}
	return &remoteError{msg: st.Message(), kind: kind}
}
