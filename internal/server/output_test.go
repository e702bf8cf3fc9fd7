package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/containers"
	"github.com/berth/container/internal/outfd"
)

// fakeLogs emits entries, then fails with err or (follow) waits for ctx.
type fakeLogs struct {
	entries []containers.LogEntry
	err     error
	follow  bool
	got     chan request // each call's arguments
	ended   chan error   // each call's ctx error when it returns
}

type request struct {
	ref  string
	opts containers.LogOptions
}

func (f *fakeLogs) Logs(ctx context.Context, ref string, opts containers.LogOptions, fn func(containers.LogEntry) error) error {
	f.got <- request{ref, opts}
	defer func() { f.ended <- ctx.Err() }()
	for _, e := range f.entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	if f.follow {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.err
}

// serveOutput runs a gRPC server behind OutputListener on a unix socket
// and returns a client and the listener.
func serveOutput(t *testing.T, src LogSource) (*client.Client, net.Listener, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cto")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	inner, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	policy := PeerPolicy{OwnUID: os.Geteuid(), GroupGID: -1, GroupName: "container"}
	ln := OutputListener(inner, OutputOpt{Containers: src, Policy: policy, Log: log})
	srv := grpc.NewServer(append(Interceptors(log), grpc.Creds(&PeerCredentials{Policy: policy}))...)
	hs := RegisterHealth(srv)
	MarkServing(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	c, err := client.Dial(t.Context(), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil { // gRPC passes through the listener
		t.Fatal(err)
	}
	return c, ln, sock
}

// pipe returns both ends of a pipe whose read end is drained into a
// channel delivering everything read once the write end is closed.
func pipe(t *testing.T) (*os.File, <-chan string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	return w, out
}

func newFake(entries ...containers.LogEntry) *fakeLogs {
	return &fakeLogs{entries: entries, got: make(chan request, 1), ended: make(chan error, 1)}
}

func TestOutputWritesStreamsApart(t *testing.T) {
	src := newFake(
		containers.LogEntry{Stream: "stdout", Data: []byte("o1\no2\n")},
		containers.LogEntry{Stream: "stderr", Data: []byte("e1\n")},
		containers.LogEntry{Stream: "stdout", Data: []byte("o3 no newline")},
	)
	c, _, _ := serveOutput(t, src)
	stdout, outc := pipe(t)
	stderr, errc := pipe(t)
	since := time.Unix(1700000000, 5).UTC()
	if err := c.ContainerLogsTo(t.Context(), "abc", client.LogOptions{Tail: 3, Since: since}, stdout, stderr); err != nil {
		t.Fatalf("ContainerLogsTo: %v", err)
	}
	// The apiserver's copies are closed; ours end the readers.
	stdout.Close()
	stderr.Close()
	if got := <-outc; got != "o1\no2\no3 no newline" {
		t.Errorf("stdout = %q", got)
	}
	if got := <-errc; got != "e1\n" {
		t.Errorf("stderr = %q", got)
	}
	req := <-src.got
	if req.ref != "abc" || req.opts.Tail != 3 || req.opts.Follow || !req.opts.Since.Equal(since) || !req.opts.Until.IsZero() {
		t.Errorf("request = %+v", req)
	}
}

func TestOutputErrorKindCrosses(t *testing.T) {
	src := newFake()
	src.err = errors.Join(errors.New(`container "nope": not found`), errdefs.ErrNotFound)
	c, _, _ := serveOutput(t, src)
	stdout, _ := pipe(t)
	err := c.ContainerLogsTo(t.Context(), "nope", client.LogOptions{Tail: -1}, stdout, stdout)
	if !errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, client.ErrOutputClosed) {
		t.Fatalf("err = %v, want NotFound", err)
	}
}

func TestOutputBrokenPipe(t *testing.T) {
	src := newFake(containers.LogEntry{Stream: "stderr", Data: []byte("x\n")})
	c, _, _ := serveOutput(t, src)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	err = c.ContainerLogsTo(t.Context(), "a", client.LogOptions{Tail: -1}, os.Stdout, w)
	if !errors.Is(err, client.ErrOutputClosed) {
		t.Fatalf("err = %v, want ErrOutputClosed", err)
	}
}

func TestOutputCancelStopsWriting(t *testing.T) {
	src := newFake(containers.LogEntry{Stream: "stdout", Data: []byte("first\n")})
	src.follow = true
	c, _, _ := serveOutput(t, src)
	stdout, outc := pipe(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.ContainerLogsTo(ctx, "a", client.LogOptions{Follow: true, Tail: -1}, stdout, stdout) }()
	<-src.got
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ContainerLogsTo did not return after cancel")
	}
	select {
	case err := <-src.ended: // the apiserver noticed the closed connection
		if err == nil {
			t.Error("the source's ctx was not cancelled")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the apiserver kept following after the client left")
	}
	stdout.Close()
	if got := <-outc; got != "first\n" {
		t.Errorf("stdout = %q", got)
	}
}

func TestOutputListenerCloseEndsRequests(t *testing.T) {
	src := newFake()
	src.follow = true
	c, ln, _ := serveOutput(t, src)
	stdout, _ := pipe(t)
	done := make(chan error, 1)
	go func() {
		done <- c.ContainerLogsTo(t.Context(), "a", client.LogOptions{Follow: true, Tail: -1}, stdout, stdout)
	}()
	<-src.got
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("err = %v, want Unavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request still running after the listener closed")
	}
}

// A request without descriptors, or not speaking the protocol past its
// first byte, is refused with InvalidArgument.
func TestOutputBadRequests(t *testing.T) {
	src := newFake()
	_, _, sock := serveOutput(t, src)
	for name, msg := range map[string][]byte{
		"no descriptors": binary.BigEndian.AppendUint32([]byte(outfd.Magic), 0),
		"bad magic":      []byte("CTRXXXXX\x00\x00\x00\x00"),
		"short":          []byte("CTR"),
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			conn.(*net.UnixConn).CloseWrite()
			_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, data, err := outfd.ReadStatus(conn)
			if err != nil {
				t.Fatalf("read status: %v", err)
			}
			var st spb.Status
			if err := proto.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			if codes.Code(st.GetCode()) != codes.InvalidArgument {
				t.Errorf("status = %v %q, want InvalidArgument", codes.Code(st.GetCode()), st.GetMessage())
			}
		})
	}
	select {
	case r := <-src.got:
		t.Errorf("a bad request reached the logs: %+v", r)
	default:
	}
}

type panickingLogs struct{}

func (panickingLogs) Logs(context.Context, string, containers.LogOptions, func(containers.LogEntry) error) error {
	panic("boom")
}

// A panic serving an output request is an Internal error for that request,
// as for a gRPC call, and the apiserver goes on.
func TestOutputPanicBecomesInternal(t *testing.T) {
	c, _, _ := serveOutput(t, panickingLogs{})
	stdout, _ := pipe(t)
	for range 2 {
		err := c.ContainerLogsTo(t.Context(), "a", client.LogOptions{Tail: -1}, stdout, stdout)
		if !errors.Is(err, errdefs.ErrInternal) {
			t.Fatalf("err = %v, want Internal", err)
		}
	}
}
