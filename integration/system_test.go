package integration

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

func TestSystemStatusVersionHealth(t *testing.T) {
	d := StartDaemon(t)
	ctx := t.Context()

	st, err := d.Client.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.Status != "running" || st.AppRoot != d.Root || st.StateRoot != d.State || st.LogRoot != d.LogRoot ||
		st.InstallRoot != d.InstallRoot || st.PID != d.PID() {
		t.Errorf("Status = %+v, want running with the daemon's roots and pid %d", st, d.PID())
	}
	if st.StartedAt.IsZero() || time.Since(st.StartedAt) > time.Minute || st.Version.AppName != "container" {
		t.Errorf("Status = %+v: bad start time or version", st)
	}

	v, err := d.Client.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v.Version == "" || v.AppName != "container" || v.GoVersion == "" || v != st.Version {
		t.Errorf("Version = %+v, Status.Version = %+v", v, st.Version)
	}

	props, err := d.Client.Properties(ctx)
	if err != nil {
		t.Fatalf("Properties: %v", err)
	}
	found := false
	for _, p := range props.Properties {
		if p.Key == "runtime.default" && strings.Contains(p.Value, "container-runtime-linux") && p.Source == "default" {
			found = true
		}
	}
	if !found {
		t.Errorf("Properties = %+v: no default runtime.default", props.Properties)
	}

	// The standard health service, spoken directly.
	hc := healthpb.NewHealthClient(d.Client.Conn())
	for _, svc := range []string{"", "container.services.system.v1.System"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health Check(%q) = %v, %v; want SERVING", svc, resp.GetStatus(), err)
		}
	}
	if h, err := d.Client.Health(ctx, "no.such.Service"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Health(unknown service) = %v, %v; want ErrNotFound", h, err)
	}

	pid, err := os.ReadFile(filepath.Join(d.State, "apiserver.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(d.PID()) {
		t.Errorf("apiserver.pid = %q, %v; want %d", pid, err, d.PID())
	}
}

func TestSecondInstanceAndStaleSocket(t *testing.T) {
	d := StartDaemon(t)
	first := d.PID()

	out, code := d.RunExpectFailure(t, 20*time.Second)
	if code == 0 {
		t.Fatalf("second apiserver exited 0:\n%s", out)
	}
	if !strings.Contains(out, fmt.Sprintf("pid %d", first)) {
		t.Errorf("second apiserver's error does not name pid %d:\n%s", first, out)
	}
	// The first one is unharmed.
	if _, err := d.Client.Status(t.Context()); err != nil {
		t.Fatalf("first apiserver after the second start: %v", err)
	}

	d.Kill(t)
	if _, err := os.Lstat(d.Socket); err != nil {
		t.Fatalf("after kill -9 the socket should be stale, not gone: %v", err)
	}
	d.Restart(t)
	st, err := d.Client.Status(t.Context())
	if err != nil || st.PID == first || st.PID != d.PID() {
		t.Fatalf("Status after restart = %+v, %v; want a new pid", st, err)
	}
	if !strings.Contains(d.Logs(), "stale socket removed") {
		t.Errorf("restart did not log the stale socket")
	}
}

func TestNonRootPeer(t *testing.T) {
	d := StartDaemon(t)
	// Let uid 65534 reach the state dir, so that what stops it is the
	// socket's mode, then the peer check, not the test's temp dir.
	if err := os.Chmod(d.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o660 {
		t.Errorf("socket mode = %v, want 0660", perm)
	}

	t.Run("socket mode", func(t *testing.T) {
		out, took := runPeerClient(t, d.Socket)
		if !strings.HasPrefix(out, "error permission") || !strings.Contains(out, d.Socket) {
			t.Errorf("client as uid %d: %q, want a permission error naming the socket", nobody, out)
		}
		if took > 10*time.Second {
			t.Errorf("permission error took %v", took)
		}
	})

	t.Run("peer credentials", func(t *testing.T) {
		if err := os.Chmod(d.Socket, 0o666); err != nil {
			t.Fatal(err)
		}
		out, took := runPeerClient(t, d.Socket)
		if !strings.HasPrefix(out, "error permission") || !strings.Contains(out, "uid 65534") {
			t.Errorf("client as uid %d: %q, want the peer check's permission error", nobody, out)
		}
		if took > 10*time.Second {
			t.Errorf("permission error took %v", took)
		}
		// Root is still served on the same socket.
		if _, err := d.Client.Status(t.Context()); err != nil {
			t.Errorf("root Status: %v", err)
		}
	})
}

func TestDamagedMetadataRefusesStart(t *testing.T) {
	d := NewDaemon(t)
	if err := os.MkdirAll(d.Root, 0o711); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(d.Root, "metadata.db")
	want := make([]byte, 128<<10)
	if _, err := rand.Read(want); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, want, 0o600); err != nil {
		t.Fatal(err)
	}

	out, code := d.RunExpectFailure(t, 20*time.Second)
	if code == 0 {
		t.Fatalf("apiserver started on a damaged metadata.db:\n%s", out)
	}
	if !strings.Contains(out, db) {
		t.Errorf("error does not name %s:\n%s", db, out)
	}
	got, err := os.ReadFile(db)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("metadata.db changed (%v)", err)
	}
	if _, err := os.Lstat(d.Socket); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind by a refused start: %v", err)
	}
}

func TestBadConfigRefusesStart(t *testing.T) {
	d := NewDaemon(t)
	conf := filepath.Join(d.Dir, "bad.toml")
	if err := os.WriteFile(conf, []byte("[images]\nmaxConcurrentDownloads = \"lots\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.opts.args = append(d.opts.args, "--config", conf)
	out, code := d.RunExpectFailure(t, 20*time.Second)
	if code == 0 || !strings.Contains(out, conf) || !strings.Contains(out, "images.maxConcurrentDownloads") {
		t.Fatalf("exit %d, want failure naming %s and the key:\n%s", code, conf, out)
	}
}

func TestConfigLayers(t *testing.T) {
	dir := ShortTempDir(t)
	explicit := filepath.Join(dir, "explicit.toml")
	if err := os.WriteFile(explicit, []byte("[images]\nmaxConcurrentDownloads = 5\n[nosuch]\nkey = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(dir, "xdg", "container", "config.toml")
	if err := os.MkdirAll(filepath.Dir(user), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(user, []byte("[images]\nmaxConcurrentDownloads = 9\ndefaultRegistry = \"registry.test\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := StartDaemon(t, WithArgs("--config", explicit), WithEnv("XDG_CONFIG_HOME="+filepath.Join(dir, "xdg")))
	props, err := d.Client.Properties(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]client.Property{}
	for _, p := range props.Properties {
		got[p.Key] = p
	}
	if p := got["images.maxConcurrentDownloads"]; p.Value != "5" || p.Source != explicit {
		t.Errorf("images.maxConcurrentDownloads = %+v, want 5 from %s", p, explicit)
	}
	if p := got["images.defaultRegistry"]; !strings.Contains(p.Value, "registry.test") || p.Source != user {
		t.Errorf("images.defaultRegistry = %+v, want registry.test from %s", p, user)
	}
	if len(props.UnknownKeys) != 1 || !strings.Contains(props.UnknownKeys[0], "nosuch.key") {
		t.Errorf("UnknownKeys = %v, want nosuch.key", props.UnknownKeys)
	}
	if !strings.Contains(d.Logs(), "unknown config key") {
		t.Errorf("unknown key not logged")
	}
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	d := StartDaemon(t)
	d.Stop(t) // fails the test unless the exit status is 0
	for _, p := range []string{d.Socket, filepath.Join(d.State, "apiserver.pid")} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left after SIGTERM: %v", p, err)
		}
	}
	if !strings.Contains(d.Logs(), "apiserver stopped") {
		t.Errorf("no clean stop in the log:\n%s", d.Logs())
	}
	// A fresh start on the same directories works (lock released).
	d.Restart(t)
	if _, err := d.Client.Status(t.Context()); err != nil {
		t.Fatalf("Status after restart: %v", err)
	}
}

func TestSharedRootRefused(t *testing.T) {
	d := StartDaemon(t)
	// A second apiserver with its own state dir and socket but the same
	// root must not open the same metadata.db.
	other := NewDaemon(t)
	other.Root = d.Root
	out, code := other.RunExpectFailure(t, 20*time.Second)
	if code == 0 || !strings.Contains(out, filepath.Join(d.Root, "metadata.db")) || !strings.Contains(out, "locked") {
		t.Fatalf("exit %d, want a failure naming the locked metadata.db:\n%s", code, out)
	}
	if _, err := d.Client.Status(t.Context()); err != nil {
		t.Fatalf("first apiserver after the refused one: %v", err)
	}
}
