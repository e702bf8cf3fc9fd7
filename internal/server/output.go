package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	containersv1 "github.com/berth/container/api/services/containers/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/containers"
	"github.com/berth/container/internal/logging"
	"github.com/berth/container/internal/outfd"
)

// LogSource is what OutputListener needs of the containers service.
type LogSource interface {
	Logs(ctx context.Context, ref string, opts containers.LogOptions, fn func(containers.LogEntry) error) error
}

// OutputOpt configures OutputListener.
type OutputOpt struct {
	// Containers serves the logs requests (a *containers.Service).
	Containers LogSource
	// Policy admits peers, as PeerCredentials does for gRPC.
	Policy PeerPolicy
	Log    *slog.Logger
}

// peekTimeout bounds the wait for a new connection's first byte; a gRPC
// client sends its preface at once.
const peekTimeout = 10 * time.Second

// OutputListener wraps the apiserver's listener. A connection that opens
// with outfd's magic is served here: the container output it asks for is
// written to the descriptors it passed (see package outfd). Every other
// connection is returned by Accept, for the gRPC server. Closing the
// listener ends the outfd requests in progress.
func OutputListener(ln net.Listener, opt OutputOpt) net.Listener {
	if opt.Log == nil {
		opt.Log = logging.Discard()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &outputListener{Listener: ln, opt: opt, conns: make(chan net.Conn), done: make(chan struct{}),
		acceptDone: make(chan struct{}), ctx: ctx, cancel: cancel}
	go l.acceptLoop()
	return l
}

type outputListener struct {
	net.Listener
	opt        OutputOpt
	conns      chan net.Conn
	done       chan struct{} // closed by Close
	closeOnce  sync.Once
	acceptDone chan struct{} // closed when the accept loop ends; acceptErr is set then
	acceptErr  error
	ctx        context.Context // cancelled by Close
	cancel     context.CancelFunc
}

func (l *outputListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.acceptDone:
		return nil, l.acceptErr
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *outputListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		l.cancel()
		err = l.Listener.Close()
	})
	return err
}

func (l *outputListener) acceptLoop() {
	defer close(l.acceptDone)
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() { // EMFILE and the like: wait, as gRPC would
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
				}
			}
			l.acceptErr = err
			return
		}
		delay = 0
		go l.route(c)
	}
}

// route hands c to gRPC unless its first byte opens an outfd request.
func (l *outputListener) route(c net.Conn) {
	if b, ok := peekByte(c); ok && outfd.Matches(b) {
		l.serveOutput(c)
		return
	}
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// peekByte waits for c's first byte without consuming it.
func peekByte(c net.Conn) (byte, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	if err := c.SetReadDeadline(time.Now().Add(peekTimeout)); err != nil {
		return 0, false
	}
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	var n int
	var perr error
	err = raw.Read(func(fd uintptr) bool {
		n, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK)
		return perr != unix.EAGAIN
	})
	if err != nil || perr != nil || n != 1 {
		return 0, false
	}
	return b[0], true
}

// outputMethod names outfd requests in logs, like a gRPC method.
const outputMethod = "outfd/Logs"

// serveOutput answers one outfd request and closes c. It logs like the
// gRPC interceptors do (Debug start/end, a panic at Error).
func (l *outputListener) serveOutput(c net.Conn) {
	defer c.Close()
	log := l.opt.Log
	ctx := logging.With(l.ctx, slog.String("request_id", newRequestID()), slog.String("method", outputMethod))
	start := time.Now()
	log.DebugContext(ctx, "rpc start")
	flags, err := func() (flags byte, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(ctx, log, outputMethod, r)
			}
		}()
		return l.output(ctx, c)
	}()
	logEnd(ctx, log, start, err)
	data, merr := proto.Marshal(status.Convert(errgrpc.ToGRPC(err)).Proto())
	if merr != nil {
		log.Warn("marshal output status", "err", merr)
		return
	}
	if err := outfd.WriteStatus(c, flags, data); err != nil {
		log.Debug("write output status", "err", err)
	}
}

// output checks the peer, reads the request and writes the container's
// output to the passed descriptors. It returns outfd's flags with the
// error.
func (l *outputListener) output(ctx context.Context, c net.Conn) (byte, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("output request: not a unix socket: %w", errdefs.ErrInvalidArgument)
	}
	// The same check as every gRPC call gets.
	_, ai, _ := (&PeerCredentials{Policy: l.opt.Policy}).ServerHandshake(c)
	if info, ok := ai.(PeerInfo); !ok || !info.Allowed {
		return 0, fmt.Errorf("apiserver refused the call: %s: %w", info.Reason, errdefs.ErrPermissionDenied)
	}
	if err := c.SetReadDeadline(time.Now().Add(peekTimeout)); err != nil {
		return 0, err
	}
	raw, stdout, stderr, err := outfd.ReadRequest(uc)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	defer stdout.Close()
	defer stderr.Close()
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return 0, err
	}
	var req containersv1.LogsRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		return 0, fmt.Errorf("output request: %v: %w", err, errdefs.ErrInvalidArgument)
	}

	// The client sends nothing more: a read that returns means it is gone.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		var b [1]byte
		_, _ = c.Read(b[:])
		cancel(errors.New("output request: the client closed the connection"))
	}()
	var flags byte
	err = l.opt.Containers.Logs(ctx, req.GetId(), logOptionsFromProto(&req), func(e containers.LogEntry) error {
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if _, err := w.Write(e.Data); err != nil {
			if errors.Is(err, syscall.EPIPE) {
				flags = outfd.FlagBrokenPipe
			}
			return fmt.Errorf("write container output to %s: %w", w.Name(), err)
		}
		return nil
	})
	if err != nil && l.ctx.Err() != nil {
		err = fmt.Errorf("apiserver stopping: %w", errdefs.ErrUnavailable)
	}
	return flags, err
}
