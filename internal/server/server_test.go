package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/config"
	"github.com/berth/container/internal/version"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serve runs a server with the standard interceptors and peer credentials
// on a unix socket in a short temp dir and returns a client for it.
func serve(t *testing.T, register func(*grpc.Server)) *client.Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "cts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	policy := PeerPolicy{OwnUID: os.Geteuid(), GroupGID: -1, GroupName: "container"}
	srv := grpc.NewServer(append(Interceptors(log), grpc.Creds(&PeerCredentials{Policy: policy}))...)
	hs := RegisterHealth(srv)
	register(srv)
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
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSystemOverSocket(t *testing.T) {
	started := time.Now().Truncate(time.Second)
	info := SystemInfo{AppRoot: "/r", InstallRoot: "/i", LogRoot: "/l", StateRoot: "/s", PID: 42, StartedAt: started}
	loaded, err := config.Merge()
	if err != nil {
		t.Fatal(err)
	}
	loaded.UnknownKeys = []string{"x.y (/etc/container/config.toml)"}
	c := serve(t, func(s *grpc.Server) { RegisterSystem(s, info, loaded) })

	st, err := c.Status(t.Context())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.Status != "running" || st.AppRoot != "/r" || st.InstallRoot != "/i" || st.LogRoot != "/l" ||
		st.StateRoot != "/s" || st.PID != 42 || !st.StartedAt.Equal(started) || st.Version.AppName != version.AppName {
		t.Errorf("Status = %+v", st)
	}
	v, err := c.Version(t.Context())
	if err != nil || v.Version != version.Version || v.GoVersion == "" {
		t.Errorf("Version = %+v, %v", v, err)
	}
	props, err := c.Properties(t.Context())
	if err != nil {
		t.Fatalf("Properties: %v", err)
	}
	if len(props.Properties) != len(loaded.Properties) || len(props.UnknownKeys) != 1 {
		t.Errorf("Properties = %+v", props)
	}
	for _, svc := range []string{"", "container.services.system.v1.System", "grpc.health.v1.Health"} {
		if h, err := c.Health(t.Context(), svc); err != nil || h != client.HealthServing {
			t.Errorf("Health(%q) = %v, %v", svc, h, err)
		}
	}
	if _, err := c.Health(t.Context(), "no.such.Service"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Health(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestErrorKindsCrossTheWire(t *testing.T) {
	for _, kind := range []error{
		errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrInvalidArgument,
		errdefs.ErrFailedPrecondition, errdefs.ErrUnavailable, errdefs.ErrNotImplemented,
		errdefs.ErrPermissionDenied, errdefs.ErrInternal,
	} {
		t.Run(kind.Error(), func(t *testing.T) {
			want := errors.New("thing \"x\"")
			c := serve(t, func(s *grpc.Server) {
				registerFailing(s, func(ctx context.Context) error {
					if _, ok := peer.FromContext(ctx); !ok {
						t.Error("no peer in handler context")
					}
					return errors.Join(want, kind)
				})
			})
			_, err := c.Version(t.Context())
			if !errors.Is(err, kind) {
				t.Fatalf("error %v is not %v", err, kind)
			}
			if !strings.Contains(err.Error(), `thing "x"`) {
				t.Errorf("error %q lost the server's message", err)
			}
		})
	}
}

func TestPanicBecomesInternal(t *testing.T) {
	c := serve(t, func(s *grpc.Server) {
		registerFailing(s, func(context.Context) error { panic("boom") })
	})
	if _, err := c.Version(t.Context()); !errors.Is(err, errdefs.ErrInternal) {
		t.Fatalf("error %v is not ErrInternal", err)
	}
	// The server survives.
	if _, err := c.Health(t.Context(), ""); err != nil {
		t.Fatalf("Health after panic: %v", err)
	}
}
