package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// connectError says why the apiserver's socket could not be reached. It
// unwraps to an errdefs kind: Unavailable when nothing listens,
// PermissionDenied when the socket refuses us.
type connectError struct {
	socket string
	kind   error
	cause  error
	// notRunning: nothing listens on the socket (absent or refused).
	notRunning bool
}

func (e *connectError) Error() string {
	if e.notRunning {
		return fmt.Sprintf("apiserver is not running at %s", e.socket)
	}
	return fmt.Sprintf("connect to apiserver at %s: %v", e.socket, e.cause)
}

func (e *connectError) Unwrap() []error { return []error{e.kind, e.cause} }

// probeSocket connects to the socket once, without gRPC, so that "not
// running" and "permission denied" are reported at once instead of after
// gRPC's reconnect backoff.
func probeSocket(ctx context.Context, sock string) error {
	conn, err := connectSocket(ctx, sock)
	if err != nil {
		return err
	}
	return conn.Close()
}

// connectSocket connects to the socket without gRPC; a failure is a
// *connectError (see probeSocket).
func connectSocket(ctx context.Context, sock string) (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "unix", sock)
	if err == nil {
		return conn, nil
	}
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return nil, &connectError{socket: sock, kind: errdefs.ErrPermissionDenied, cause: syscall.EACCES}
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOTDIR):
		return nil, &connectError{socket: sock, kind: errdefs.ErrUnavailable, cause: err, notRunning: true}
	}
	return nil, &connectError{socket: sock, kind: errdefs.ErrUnavailable, cause: err}
}

// Client connects to the apiserver at --host. The caller closes it.
func (a *App) Client(ctx context.Context) (*client.Client, error) {
	a.debugf("connecting to apiserver at %s", socketPath(a.Host))
	return dial(ctx, socketPath(a.Host))
}

// debugf prints a line on stderr when --debug is given.
func (a *App) debugf(format string, args ...any) {
	if a.Debug {
		fmt.Fprintf(a.Stderr, "debug: "+format+"\n", args...)
	}
}

// dial connects once: the connection that shows the apiserver listens
// becomes the client's.
func dial(ctx context.Context, sock string) (*client.Client, error) {
	conn, err := connectSocket(ctx, sock)
	if err != nil {
		return nil, err
	}
	c, err := client.Dial(ctx, sock, client.WithConn(conn))
	if err != nil {
		return nil, fmt.Errorf("connect to apiserver at %s: %w", sock, err)
	}
	return c, nil
}
