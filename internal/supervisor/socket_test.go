package supervisor

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	runtimev1 "github.com/berth/container/api/runtime/v1"
)

func TestListenDialLongPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, SocketFile)
	l, err := listenUnix(sock)
	if err != nil {
		t.Fatalf("listen on a %d-byte path: %v", len(sock), err)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket not at its own path: %v, %v", fi, err)
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := dialUnix(sock, time.Second)
	if err != nil {
		t.Fatalf("dial a %d-byte path: %v", len(sock), err)
	}
	c.Close()
	l.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("closing the listener removed the socket: %v", err)
	}
}

// TestServeLongStatePath: a supervisor whose socket path exceeds sun_path
// listens at exactly <state>/supervisor.sock (no symlink in between) and
// runs a container.
func TestServeLongStatePath(t *testing.T) {
	integration(t)
	base, err := os.MkdirTemp("", "ct")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("a", 64)
	h := &harness{id: id, base: base, bundle: filepath.Join(base, "b"),
		state: filepath.Join(base, strings.Repeat("s", 40), "containers", id)}
	for _, d := range []string{"upper", "work"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { h.cleanup(t) })
	sock := filepath.Join(h.state, SocketFile)
	if len(sock) < 108 {
		t.Fatalf("socket path %q is not long enough for this test", sock)
	}
	out, err := exec.Command(supervisorBin, "serve", "--id", id, "--bundle", h.bundle, "--state", h.state,
		"--runtime", "runc", "--runtime-root", filepath.Join(base, "runc")).CombinedOutput()
	if err != nil {
		t.Fatalf("serve: %v: %s", err, out)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s: %v, %v", sock, fi, err)
	}
	for dir := h.state; dir != base; dir = filepath.Dir(dir) {
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("%s is not a plain directory: %v, %v", dir, fi, err)
		}
	}
	h.conn, err = grpc.NewClient("passthrough:///supervisor", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return dialUnix(sock, 5*time.Second) }))
	if err != nil {
		t.Fatal(err)
	}
	h.api = runtimev1.NewRuntimeClient(h.conn)
	if _, err := h.api.Create(t.Context(), &runtimev1.CreateRequest{Spec: sh("exit 3"), Rootfs: h.rootfs()}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := h.api.Start(t.Context(), &runtimev1.StartRequest{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	if e := h.wait(t); e.GetCode() != 3 {
		t.Fatalf("exit %+v, want code 3", e)
	}
	// A second supervisor for the same long state dir sees the first.
	out, err = exec.Command(supervisorBin, "serve", "--id", id, "--bundle", h.bundle, "--state", h.state).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already") {
		t.Fatalf("second serve: %v: %s", err, out)
	}
}
