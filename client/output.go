package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	containersv1 "github.com/berth/container/api/services/containers/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/outfd"
)

// ErrOutputClosed is wrapped by the error of ContainerLogsTo when the
// apiserver's write to stdout or stderr failed with EPIPE: the reader of
// that pipe is gone (where a process writing itself would get SIGPIPE).
var ErrOutputClosed = errors.New("container output not written")

// ContainerLogsTo is ContainerLogs writing the output straight to stdout
// and stderr: the apiserver receives the two descriptors over the socket
// (package outfd) and writes to them itself, so the output does not pass
// through this process. Lines are written unchanged (no timestamps), each
// stream to its own descriptor, in the order the container wrote them.
// It returns when the selected output has been written (with Follow: when
// the container has stopped and its log is drained), or when ctx ends,
// after which the apiserver stops writing at its next entry.
func (c *Client) ContainerLogsTo(ctx context.Context, id string, opts LogOptions, stdout, stderr *os.File) error {
	req, err := proto.Marshal(logsRequest(id, opts))
	if err != nil {
		return fmt.Errorf("logs request: %w", err)
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("apiserver connection %T is not a unix socket: %w", conn, errdefs.ErrNotImplemented)
	}
	if err := outfd.SendRequest(uc, req, stdout, stderr); err != nil {
		return fmt.Errorf("apiserver at %s: %w: %w", c.socket, err, errdefs.ErrUnavailable)
	}
	stop := context.AfterFunc(ctx, func() { _ = uc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	flags, data, err := outfd.ReadStatus(uc)
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("apiserver at %s: output stream: %w: %w", c.socket, err, errdefs.ErrUnavailable)
	}
	var st spb.Status
	if err := proto.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("apiserver at %s: output status: %v: %w", c.socket, err, errdefs.ErrInternal)
	}
	err = errgrpc.ToNative(status.FromProto(&st).Err())
	if err != nil && flags&outfd.FlagBrokenPipe != 0 {
		return fmt.Errorf("%w: %w", ErrOutputClosed, err)
	}
	return err
}

func logsRequest(id string, opts LogOptions) *containersv1.LogsRequest {
	req := &containersv1.LogsRequest{Id: id, Follow: opts.Follow}
	if opts.Tail >= 0 {
		tail := int64(opts.Tail)
		req.Tail = &tail
	}
	if !opts.Since.IsZero() {
		req.Since = timestamppb.New(opts.Since)
	}
	if !opts.Until.IsZero() {
		req.Until = timestamppb.New(opts.Until)
	}
	return req
}
