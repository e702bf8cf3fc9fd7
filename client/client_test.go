package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/berth/container/errdefs"
)

func TestSocketPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{in: "", want: DefaultSocket},
		{in: "/run/x.sock", want: "/run/x.sock"},
		{in: "unix:///run/x.sock", want: "/run/x.sock"},
		{in: "rel.sock", want: "rel.sock"},
		{in: "unix://", err: errdefs.ErrInvalidArgument},
		{in: "tcp://127.0.0.1:1", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := SocketPath(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("SocketPath(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("SocketPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestClassifyDialError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind error
		text string
	}{
		{err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EACCES)}, kind: errdefs.ErrPermissionDenied, text: "group"},
		{err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EPERM)}, kind: errdefs.ErrPermissionDenied},
		{err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENOENT)}, kind: errdefs.ErrUnavailable, text: "not running"},
		{err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, kind: errdefs.ErrUnavailable, text: "not running"},
		{err: fmt.Errorf("dial: %w", context.DeadlineExceeded), kind: context.DeadlineExceeded},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			got := classifyDialError("/s.sock", tc.err)
			if !errors.Is(got, tc.kind) {
				t.Fatalf("classify(%v) = %v, want kind %v", tc.err, got, tc.kind)
			}
			if !strings.Contains(got.Error(), "/s.sock") || !strings.Contains(got.Error(), tc.text) {
				t.Errorf("message %q should name the socket and say %q", got, tc.text)
			}
		})
	}
}

func TestNotRunningFailsFast(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		setup func(sock string)
	}{
		{name: "missing socket", setup: func(string) {}},
		{name: "refused", setup: func(sock string) {
			// A socket file nobody listens on.
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "")+".sock")
			tc.setup(sock)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			c, err := Dial(ctx, "unix://"+sock)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			start := time.Now()
			_, err = c.Status(ctx)
			if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "apiserver not running at "+sock) {
				t.Fatalf("Status error = %v, want ErrUnavailable naming %s", err, sock)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Status took %v to fail", d)
			}
			wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer wcancel()
			err = c.WaitReady(wctx)
			if !errors.Is(err, errdefs.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitReady error = %v, want ErrUnavailable and DeadlineExceeded", err)
			}
		})
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestDialConnectsOnce checks that the connection Dial makes to report a
// permission problem, or the one the caller passes with WithConn, is the
// one gRPC then uses: one connect per client, not two.
func TestDialConnectsOnce(t *testing.T) {
	dir, err := os.MkdirTemp("", "cl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l := &countingListener{Listener: ln}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	for _, withConn := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithConn=%v", withConn), func(t *testing.T) {
			l.n.Store(0)
			var opts []DialOption
			if withConn {
				conn, err := net.Dial("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, WithConn(conn))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, sock, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range 3 {
				if err := c.WaitReady(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if n := l.n.Load(); n != 1 {
				t.Errorf("the server accepted %d connections, want 1", n)
			}
		})
	}
}
