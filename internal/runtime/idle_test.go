package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/containers"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// idleRuntime builds the supervisor and returns a Runtime over a short
// temp dir that runs it, and the binary's path.
func idleRuntime(t *testing.T) (*Runtime, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the supervisor")
	}
	dir, err := os.MkdirTemp("", "ctidle")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "container-runtime-linux")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/berth/container/cmd/container-runtime-linux")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build supervisor: %v\n%s", err, out)
	}
	r := New(Opt{Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"),
		Lookup: func(string) (string, error) { return bin, nil },
		Log:    slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(func() { _ = r.Close() })
	return r, bin
}

// waitIdle waits until an idle supervisor of bin is ready.
func waitIdle(t *testing.T, r *Runtime, bin string) *idleSupervisor {
	t.Helper()
	r.refill(bin)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r.idle.mu.Lock()
		is, broken := r.idle.ready[bin], r.idle.broken[bin]
		r.idle.mu.Unlock()
		if is != nil {
			return is
		}
		if broken {
			t.Fatal("idle supervisor failed to spawn")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no idle supervisor after 20s")
	return nil
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func waitGone(t *testing.T, is *idleSupervisor) {
	t.Helper()
	select {
	case <-is.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("supervisor %d still running", is.pid)
	}
}

// TestIdleAdopt: an idle supervisor answers only Adopt, becomes the
// container's supervisor at its usual socket, is deleted like a spawned
// one, and another idle one is ready after it; Close ends that one.
func TestIdleAdopt(t *testing.T) {
	r, bin := idleRuntime(t)
	is := waitIdle(t, r, bin)
	if _, err := is.api.State(t.Context(), &runtimev1.StateRequest{}); !errdefs.IsFailedPrecondition(errgrpc.ToNative(err)) {
		t.Fatalf("State before Adopt = %v, want FailedPrecondition", err)
	}
	if !r.adopt(t.Context(), bin, "c1", r.BundleDir("c1")) {
		t.Fatal("adopt failed")
	}
	s, err := r.connect("c1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.api.State(t.Context(), &runtimev1.StateRequest{})
	if err != nil || st.GetStatus() != runtimev1.Status_STATUS_UNCREATED {
		t.Fatalf("State after Adopt = %v, %v", st, err)
	}
	if _, err := s.api.Adopt(t.Context(), &runtimev1.AdoptRequest{Id: "c2", Bundle: r.BundleDir("c2"), State: r.StateDir("c2")}); !errdefs.IsFailedPrecondition(errgrpc.ToNative(err)) {
		t.Fatalf("second Adopt = %v, want FailedPrecondition", err)
	}
	for _, f := range []string{"supervisor.sock", "supervisor.pid", "supervisor.log"} {
		if _, err := os.Stat(filepath.Join(r.StateDir("c1"), f)); err != nil {
			t.Errorf("after Adopt: %v", err)
		}
	}
	if p := r.openSupervisor("c1"); p == nil || p.pid != is.pid {
		t.Errorf("openSupervisor(c1) = %v, want pid %d", p, is.pid)
	} else {
		p.close()
	}
	next := waitIdle(t, r, bin)
	if err := r.Delete(t.Context(), "c1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitGone(t, is)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, next)
	if left, _ := filepath.Glob(filepath.Join(r.idleDir(), "*")); len(left) > 0 {
		t.Errorf("left in %s after Close: %v", r.idleDir(), left)
	}
}

// TestIdleAdoptFails: when the adoption fails (here: a socket already
// listens in the state dir), the idle supervisor is ended and create falls
// back to spawning; a plugin without --idle is spawned per container.
func TestIdleAdoptFails(t *testing.T) {
	r, bin := idleRuntime(t)
	is := waitIdle(t, r, bin)
	if err := os.MkdirAll(r.StateDir("busy"), 0o711); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", r.socket("busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if r.adopt(t.Context(), bin, "busy", r.BundleDir("busy")) {
		t.Fatal("adopt into a state dir with a live socket succeeded")
	}
	waitGone(t, is)

	old := filepath.Join(filepath.Dir(bin), "old-plugin")
	if err := os.WriteFile(old, []byte("#!/bin/sh\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.refill(old)
	r.idle.wg.Wait()
	r.idle.mu.Lock()
	broken := r.idle.broken[old]
	r.idle.mu.Unlock()
	if !broken || r.adopt(t.Context(), old, "x", r.BundleDir("x")) {
		t.Fatalf("plugin without --idle: broken %v", broken)
	}
}

// TestCleanupIdle: idle supervisors a previous apiserver left are killed
// and their files removed; other processes are not touched.
func TestCleanupIdle(t *testing.T) {
	r, bin := idleRuntime(t)
	is, err := r.spawnIdle(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer is.conn.Close()
	// A pid file naming a process that is not an idle supervisor.
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	_, otherPid := idlePaths(r.state, sleeper.Process.Pid)
	if err := os.WriteFile(otherPid, fmt.Appendf(nil, "%d\n", sleeper.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}

	r2 := New(Opt{Root: r.root, State: r.state, Log: r.log})
	r2.CleanupIdle()
	waitGone(t, is)
	if !alive(sleeper.Process.Pid) {
		t.Error("CleanupIdle killed a process that is not an idle supervisor")
	}
	if left, err := filepath.Glob(filepath.Join(r.idleDir(), "idle.*.*")); err != nil || len(left) > 0 {
		t.Errorf("left after CleanupIdle: %v %v", left, errors.Join(err))
	}
}

// TestIdleRefillLater: the refill a create asks for waits (refillLater),
// is started by a removal (refillPending), and a create that finds none
// ready while one is due or on its way takes that one instead of
// spawning.
func TestIdleRefillLater(t *testing.T) {
	r, bin := idleRuntime(t)
	r.refillLater(bin)
	r.idle.mu.Lock()
	due, spawning := r.idle.later[bin] != nil, r.idle.spawning[bin] != nil
	r.idle.mu.Unlock()
	if !due || spawning {
		t.Fatalf("after refillLater: due %v, spawning %v; want due only", due, spawning)
	}
	r.refillPending()
	is := waitIdle(t, r, bin)
	r.idle.mu.Lock()
	due = r.idle.later[bin] != nil
	r.idle.mu.Unlock()
	if due {
		t.Fatal("refill still due after refillPending")
	}
	// Taken: the next refill is due; a create takes it as soon as it is up.
	if got := r.takeIdle(t.Context(), bin); got != is {
		t.Fatalf("takeIdle = %v, want the ready one", got)
	}
	r.refillLater(bin)
	next := r.takeIdle(t.Context(), bin)
	if next == nil || next == is {
		t.Fatalf("takeIdle with a refill due = %v, want a new idle supervisor", next)
	}
	r.stopIdle(is)
	r.stopIdle(next)
}

// TestIdleRunEphemeral: an idle supervisor adopts and creates a container
// in one Create call (a supervisor that has a container refuses another
// adoption, without the adopted trailer); an ephemeral container's
// supervisor answers Wait with exiting and ends by itself, and Delete
// only waits for that: nothing is left.
func TestIdleRunEphemeral(t *testing.T) {
	r, bin := idleRuntime(t)
	if os.Getuid() != 0 {
		t.Skip("runs a container: needs root")
	}
	is := waitIdle(t, r, bin)
	rootfs := filepath.Join(r.BundleDir("eph"), "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox-static is needed: %v", err)
	}
	for _, applet := range []string{"sh", "sleep"} {
		if err := os.WriteFile(filepath.Join(rootfs, "bin", applet), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// It lives long enough for the calls below: its supervisor ends by
	// itself right after the exit.
	ts := containers.TaskSpec{Runtime: "container-runtime-linux", Hostname: "eph",
		Image: containers.ImageConfig{Entrypoint: []string{"/bin/sh", "-c"}},
		Spec:  containers.Spec{Args: []string{"sleep 1; exit 3"}, Ephemeral: true}}
	if _, err := r.Run(t.Context(), "eph", ts); err != nil {
		t.Fatalf("Run: %v", err)
	}
	s, err := r.connect("eph")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.api.State(t.Context(), &runtimev1.StateRequest{}); err != nil || int(st.GetSupervisorPid()) != is.pid {
		t.Fatalf("State = %v, %v; want the idle supervisor %d", st, err, is.pid)
	}
	var trailer metadata.MD
	_, err = s.api.Create(t.Context(), &runtimev1.CreateRequest{Adopt: &runtimev1.AdoptRequest{Id: "other", Bundle: r.BundleDir("other"), State: r.StateDir("other")}}, grpc.Trailer(&trailer))
	if !errdefs.IsFailedPrecondition(errgrpc.ToNative(err)) || len(trailer.Get(runtimev1.AdoptedTrailer)) > 0 {
		t.Fatalf("second adoption by Create = %v, trailer %v; want FailedPrecondition, none", err, trailer)
	}
	e, err := r.Wait(t.Context(), "eph")
	if err != nil || e.Code != 3 {
		t.Fatalf("Wait = %+v, %v", e, err)
	}
	r.mu.Lock()
	exiting := r.exiting["eph"]
	r.mu.Unlock()
	if !exiting {
		t.Fatal("Wait did not say the supervisor ends by itself")
	}
	// A signal racing the exit (stop of a --rm container) is told the
	// container has exited, not that the connection was closing.
	if err := r.Kill(t.Context(), "eph", syscall.SIGTERM, false); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Kill after the exit = %v, want FailedPrecondition", err)
	}
	if _, err := r.Stats(t.Context(), "eph"); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Stats after the exit = %v, want FailedPrecondition", err)
	}
	if err := r.Delete(t.Context(), "eph"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitGone(t, is)
	if err := r.checkCleanup("eph"); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(t.Context(), "eph"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.runcRoot(), "eph")); !os.IsNotExist(err) {
		t.Errorf("runc state left: %v", err)
	}
}

// adopt hands the container to an idle supervisor of bin with the Adopt
// RPC alone (the apiserver adopts within Create) and caches the
// connection to it. It reports false when there was none or it failed.
// The caller refills the pool (refill) when its create is done.
func (r *Runtime) adopt(ctx context.Context, bin, id, bundleDir string) bool {
	is := r.takeIdle(ctx, bin)
	if is == nil {
		return false
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := is.api.Adopt(actx, &runtimev1.AdoptRequest{Id: id, Bundle: bundleDir, State: r.StateDir(id)})
	if err != nil {
		r.adoptFailed(ctx, is, id, err)
		return false
	}
	r.adopted(is, id)
	return true
}
