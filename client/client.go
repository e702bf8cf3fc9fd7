// Package client is the public Go client of container-apiserver.
//
// Dial connects to the apiserver's unix socket; each service adds its
// methods in its own file (system.go, plugins.go, images.go, ...) and
// returns client-owned Go types, never protobuf messages. Every error a
// method returns unwraps to an errdefs kind: the interceptors installed by
// Dial map gRPC statuses back with errgrpc.ToNative once, so methods must
// not map again.
//
// A socket the caller may not connect to (EACCES/EPERM) fails fast with
// errdefs.ErrPermissionDenied naming the socket; a socket that is missing
// or refuses connections fails calls with errdefs.ErrUnavailable
// ("apiserver not running at <socket>") instead of waiting.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/rpcbuf"
)

// DefaultSocket is the apiserver socket used when no address is given.
const DefaultSocket = "/run/container/apiserver.sock"

// GroupName is the group whose members may use the apiserver socket.
const GroupName = "container"

// Client is a connection to container-apiserver. It is safe for concurrent
// use. Close it when done.
type Client struct {
	conn   *grpc.ClientConn
	socket string

	mu      sync.Mutex
	dialErr error    // last connect failure, already carrying its kind; nil after a successful connect
	pre     net.Conn // a connection made before gRPC's first dial, handed to it then
}

// DialOption configures Dial.
type DialOption func(*Client)

// WithConn gives Dial a connection to the socket that the caller has
// already made (to report a failed connect in its own words, say): gRPC's
// first transport uses it instead of connecting again. The client owns
// it from then on.
func WithConn(conn net.Conn) DialOption {
	return func(c *Client) { c.pre = conn }
}

// SocketPath returns the filesystem path of address, which is either a
// path or a "unix://" URL ("unix:///run/container/apiserver.sock").
// An empty address means DefaultSocket.
func SocketPath(address string) (string, error) {
	switch {
	case address == "":
		return DefaultSocket, nil
	case strings.HasPrefix(address, "unix://"):
		p := strings.TrimPrefix(address, "unix://")
		if p == "" {
			return "", fmt.Errorf("apiserver address %q: empty socket path: %w", address, errdefs.ErrInvalidArgument)
		}
		return p, nil
	case strings.Contains(address, "://"):
		return "", fmt.Errorf("apiserver address %q: only unix sockets are supported: %w", address, errdefs.ErrInvalidArgument)
	}
	return address, nil
}

// Dial returns a client for the apiserver listening at address (a socket
// path or unix:///path). It fails at once with errdefs.ErrPermissionDenied
// when the caller may not connect to the socket. It does not fail when the
// apiserver is not running yet: calls then fail fast with
// errdefs.ErrUnavailable, and WaitReady waits for the server.
func Dial(ctx context.Context, address string, opts ...DialOption) (*Client, error) {
	c := &Client{}
	for _, o := range opts {
		o(c)
	}
	path, err := SocketPath(address)
	if err != nil {
		if c.pre != nil {
			_ = c.pre.Close()
		}
		return nil, err
	}
	c.socket = path

	// Connect once now, so that a permission problem is reported now, by
	// name, rather than as a transport failure later; the connection is
	// gRPC's first (one connect per client, not two).
	if c.pre == nil {
		conn, err := c.dial(ctx)
		if errors.Is(err, errdefs.ErrPermissionDenied) {
			return nil, err
		}
		c.pre = conn
	}

	conn, err := grpc.NewClient("passthrough:///apiserver", append(rpcbuf.DialOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			if conn := c.takePre(); conn != nil {
				return conn, nil
			}
			return c.dial(ctx)
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithChainUnaryInterceptor(c.unaryInterceptor),
		grpc.WithChainStreamInterceptor(c.streamInterceptor),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		// A local socket: large fixed windows let a big log or image stream
		// at full speed instead of waiting for gRPC's window to grow.
		grpc.WithInitialWindowSize(4<<20), grpc.WithInitialConnWindowSize(8<<20),
	)...)
	if err != nil {
		if pre := c.takePre(); pre != nil {
			_ = pre.Close()
		}
		return nil, fmt.Errorf("apiserver client for %q: %w", path, err)
	}
	c.conn = conn
	// Start the HTTP/2 handshake now: it overlaps the caller's work before
	// its first call (≈ a round trip to the apiserver on every CLI call).
	conn.Connect()
	return c, nil
}

// takePre returns the connection made before gRPC dialed, once.
func (c *Client) takePre() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn := c.pre
	c.pre = nil
	return conn
}

// Socket returns the socket path the client connects to.
func (c *Client) Socket() string { return c.socket }

// Conn returns the underlying gRPC connection, for service clients that
// live in other files of this package and for tests.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close releases the connection.
func (c *Client) Close() error {
	if pre := c.takePre(); pre != nil {
		_ = pre.Close()
	}
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// dial connects to the socket and classifies a failure by kind.
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.dialErr = classifyDialError(c.socket, err)
		return nil, c.dialErr
	}
	c.dialErr = nil
	return conn, nil
}

func classifyDialError(socket string, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("connect to apiserver socket %s: %w (run as root or as a member of group %q)",
			socket, errdefs.ErrPermissionDenied, GroupName)
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("apiserver not running at %s: %w", socket, errdefs.ErrUnavailable)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("connect to apiserver socket %s: %w", socket, err)
	}
	return fmt.Errorf("connect to apiserver socket %s: %v: %w", socket, err, errdefs.ErrUnavailable)
}

// lastDialError returns the last connect failure, or nil.
func (c *Client) lastDialError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialErr
}

// mapError turns a call's gRPC error into an error of an errdefs kind. A
// transport failure caused by a failed connect reports the connect error,
// which names the socket and says what is wrong.
func (c *Client) mapError(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable {
		if derr := c.lastDialError(); derr != nil {
			return derr
		}
	}
	return errgrpc.ToNative(err)
}

func (c *Client) unaryInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return c.mapError(invoker(ctx, method, req, reply, cc, opts...))
}

func (c *Client) streamInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, c.mapError(err)
	}
	return &clientStream{ClientStream: s, c: c}, nil
}

// clientStream maps the errors of a stream's messages like those of a call.
type clientStream struct {
	grpc.ClientStream
	c *Client
}

func (s *clientStream) SendMsg(m any) error {
	if err := s.ClientStream.SendMsg(m); err != nil {
		return s.c.mapStreamError(err)
	}
	return nil
}

func (s *clientStream) RecvMsg(m any) error {
	if err := s.ClientStream.RecvMsg(m); err != nil {
		return s.c.mapStreamError(err)
	}
	return nil
}

func (s *clientStream) CloseSend() error { return s.c.mapStreamError(s.ClientStream.CloseSend()) }

func (c *Client) mapStreamError(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return c.mapError(err)
}

// WaitReady waits until the apiserver answers the standard health check
// with SERVING, or ctx ends. A permission problem is returned at once; an
// apiserver that is not (yet) running is waited for.
func (c *Client) WaitReady(ctx context.Context) error {
	hc := healthpb.NewHealthClient(c.conn)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := hc.Check(callCtx, &healthpb.HealthCheckRequest{})
		cancel()
		switch {
		case err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING:
			return nil
		case err == nil:
			last = fmt.Errorf("apiserver at %s is %s: %w", c.socket, resp.GetStatus(), errdefs.ErrUnavailable)
		case errors.Is(err, errdefs.ErrPermissionDenied), errors.Is(err, errdefs.ErrInvalidArgument):
			return err
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			// The call ran out of time, most likely while connecting:
			// say why the connection failed, if we know.
			if derr := c.lastDialError(); derr != nil {
				last = derr
			} else if last == nil {
				last = err
			}
		default:
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = context.Cause(ctx)
			}
			return fmt.Errorf("wait for apiserver at %s: %w (%w)", c.socket, last, context.Cause(ctx))
		case <-tick.C:
		}
	}
}
