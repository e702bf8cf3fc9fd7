package errgrpc

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/berth/container/errdefs"
)

func TestRoundTrip(t *testing.T) {
	for _, kind := range []error{
		errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrInvalidArgument,
		errdefs.ErrFailedPrecondition, errdefs.ErrUnavailable, errdefs.ErrNotImplemented,
		errdefs.ErrPermissionDenied, context.Canceled, context.DeadlineExceeded,
	} {
		t.Run(kind.Error(), func(t *testing.T) {
			orig := fmt.Errorf("container %q: %w", "x", kind)
			got := ToNative(ToGRPC(orig))
			if !errors.Is(got, kind) {
				t.Fatalf("ToNative(ToGRPC(%v)) = %v, does not unwrap to %v", orig, got, kind)
			}
			if got.Error() != orig.Error() {
				t.Errorf("message = %q, want %q", got.Error(), orig.Error())
			}
		})
	}
}

func TestUnknownIsInternal(t *testing.T) {
	err := ToNative(ToGRPC(errors.New("boom")))
	if !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("got %v, want ErrInternal", err)
	}
	if c := status.Code(ToGRPC(errors.New("boom"))); c != codes.Unknown {
		t.Fatalf("code = %v, want Unknown", c)
	}
}

func TestNil(t *testing.T) {
	if ToGRPC(nil) != nil || ToNative(nil) != nil {
		t.Fatal("nil must map to nil")
	}
}
