package supervisor

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/ctrlog"
	"github.com/berth/container/internal/mount"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var (
	supervisorBin string // built in TestMain for the integration tests
	lowerDir      string // a busybox rootfs shared (read-only) by all containers
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || os.Getuid() != 0 {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "ctsup")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		supervisorBin = filepath.Join(dir, "container-runtime-linux")
		cmd := exec.Command("go", "build", "-o", supervisorBin, "github.com/berth/container/cmd/container-runtime-linux")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if os.Getenv("SUPERVISOR_RACE") != "" {
			// A race-enabled (hence dynamically linked) supervisor: --init tests fail.
			cmd = exec.Command("go", "build", "-race", "-o", supervisorBin, "github.com/berth/container/cmd/container-runtime-linux")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build supervisor: %v\n%s", err, out)
			return 1
		}
		// The hibernated form, next to it (used only with --hibernate-after).
		cmd = exec.Command("go", "build", "-o", filepath.Join(dir, MonitorBinary), "github.com/berth/container/cmd/container-runtime-monitor")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build monitor: %v\n%s", err, out)
			return 1
		}
		lowerDir = filepath.Join(dir, "lower")
		if err := busyboxRootfs(lowerDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// busyboxRootfs builds a minimal image rootfs from /bin/busybox.
func busyboxRootfs(dir string) error {
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox-static is needed: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	for _, a := range []string{"sh", "echo", "cat", "sleep", "mknod", "touch", "true", "false", "dd", "head", "id", "ls", "ps", "yes", "tr", "df", "tail", "awk"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// harness is one supervisor with its own bundle, state and rootfs layer.
type harness struct {
	id, base, bundle, state string
	api                     runtimev1.RuntimeClient
	conn                    *grpc.ClientConn
	spawner                 *exec.Cmd // the process that ran serve, when not serve itself
}

func integration(t *testing.T) {
	t.Helper()
	if testing.Short() || os.Getuid() != 0 {
		t.Skip("integration test: needs root and not -short")
	}
}

// spawn runs `serve` through spawner (nil: directly) and connects.
func startSupervisor(t *testing.T, spawner func(args []string) *exec.Cmd) *harness {
	t.Helper()
	base, err := os.MkdirTemp("", "ct")
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("sup-%s-%d", strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), time.Now().UnixNano()%100000)
	if len(id) > 60 {
		id = id[len(id)-60:]
	}
	h := &harness{id: id, base: base, bundle: filepath.Join(base, "b"), state: filepath.Join(base, "s")}
	for _, d := range []string{"upper", "work"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	args := []string{"serve", "--id", id, "--bundle", h.bundle, "--state", h.state, "--runtime", "runc", "--runtime-root", filepath.Join(base, "runc")}
	var cmd *exec.Cmd
	if spawner != nil {
		cmd = spawner(args)
	} else {
		cmd = exec.Command(supervisorBin, args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() { h.cleanup(t) })
	if spawner != nil {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		h.spawner = cmd
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(h.state, SocketFile)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("supervisor did not come up: %s", out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	} else if err := cmd.Run(); err != nil {
		t.Fatalf("serve: %v: %s", err, out.String())
	}
	h.conn, err = grpc.NewClient("unix://"+filepath.Join(h.state, SocketFile), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	h.api = runtimev1.NewRuntimeClient(h.conn)
	return h
}

func (h *harness) supervisorPid(t *testing.T) int {
	data, err := os.ReadFile(filepath.Join(h.state, PidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func (h *harness) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pid := h.supervisorPid(t)
	if h.api != nil {
		if _, err := h.api.Delete(ctx, &runtimev1.DeleteRequest{Force: true}); err != nil {
			t.Errorf("cleanup delete: %v", err)
		}
		if _, err := h.api.Shutdown(ctx, &runtimev1.ShutdownRequest{Force: true}); err != nil {
			t.Errorf("cleanup shutdown: %v", err)
		}
		h.conn.Close()
	}
	if pid > 0 {
		for i := 0; alive(pid); i++ {
			if i == 500 {
				t.Errorf("supervisor %d still alive after Shutdown", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if m, _ := mount.Mounted(filepath.Join(h.bundle, bundle.RootfsDir)); m {
		t.Errorf("rootfs still mounted")
		_ = mount.UnmountAll(filepath.Join(h.bundle, bundle.RootfsDir))
	}
	if dirs := cgroupDirs(h.id); len(dirs) > 0 {
		t.Errorf("cgroups left behind: %v", dirs)
	}
	if t.Failed() || os.Getenv("SUPERVISOR_TEST_LOG") != "" {
		if data, err := os.ReadFile(filepath.Join(h.state, LogFile)); err == nil {
			t.Logf("supervisor log:\n%s", data)
		}
	}
	os.RemoveAll(h.base)
}

func (h *harness) rootfs() []*runtimev1.Mount {
	return []*runtimev1.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + lowerDir, "upperdir=" + filepath.Join(h.base, "upper"), "workdir=" + filepath.Join(h.base, "work")}}}
}

// run creates and starts spec and returns the init pid.
func (h *harness) run(t *testing.T, spec *runtimev1.ContainerSpec) int {
	t.Helper()
	ctx := t.Context()
	if _, err := h.api.Create(ctx, &runtimev1.CreateRequest{Spec: spec, Rootfs: h.rootfs()}); err != nil {
		t.Fatalf("create: %v", errgrpc.ToNative(err))
	}
	resp, err := h.api.Start(ctx, &runtimev1.StartRequest{})
	if err != nil {
		t.Fatalf("start: %v", errgrpc.ToNative(err))
	}
	return int(resp.GetPid())
}

func (h *harness) wait(t *testing.T) *runtimev1.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, err := h.api.Wait(ctx, &runtimev1.WaitRequest{})
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return resp.GetExit()
}

func (h *harness) logs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := ctrlog.Read(t.Context(), filepath.Join(h.bundle, bundle.LogFile), ctrlog.ReadOptions{}, func(e ctrlog.Entry) error {
		out[e.Stream] += string(e.Line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sh(script string) *runtimev1.ContainerSpec {
	return &runtimev1.ContainerSpec{Image: &runtimev1.ImageConfig{Entrypoint: []string{"/bin/sh", "-c"}}, Args: []string{script}}
}

func TestOutputAndExit(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	h.run(t, sh("echo out; echo err >&2; id -u; exit 3"))
	e := h.wait(t)
	if e.GetCode() != 3 || e.GetSignal() != 0 || e.GetExitedAt() == nil {
		t.Errorf("exit = %+v, want code 3", e)
	}
	// Wait answers before exit.json is written; Delete waits for it.
	if _, err := h.api.Delete(t.Context(), &runtimev1.DeleteRequest{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	st, err := (bundle.Bundle{Dir: h.bundle}).ReadExit()
	if err != nil || st.Code != 3 {
		t.Errorf("exit.json = %+v, %v", st, err)
	}
	if l := h.logs(t); l[ctrlog.Stdout] != "out\n0\n" || l[ctrlog.Stderr] != "err\n" {
		t.Errorf("logs = %q", l)
	}
	s, err := h.api.State(t.Context(), &runtimev1.StateRequest{})
	if err != nil || s.GetStatus() != runtimev1.Status_STATUS_STOPPED || s.GetExit().GetCode() != 3 {
		t.Errorf("state = %v, %v", s, err)
	}
	if _, err := h.api.Kill(t.Context(), &runtimev1.KillRequest{Signal: 15}); !errors.Is(errgrpc.ToNative(err), errdefs.ErrFailedPrecondition) {
		t.Errorf("kill of stopped container: %v", err)
	}
}

func TestVolatileRootfs(t *testing.T) {
	for _, tc := range []struct {
		ms   []*runtimev1.Mount
		want bool
	}{
		{nil, false},
		{[]*runtimev1.Mount{{Type: "overlay", Options: []string{"lowerdir=/a", "upperdir=/b", "workdir=/c"}}}, false},
		{[]*runtimev1.Mount{{Type: "overlay", Options: []string{"lowerdir=/a", "upperdir=/b", "workdir=/c", "volatile"}}}, true},
		{[]*runtimev1.Mount{{Type: "bind", Options: []string{"volatile"}}}, false},
	} {
		if got := volatileRootfs(tc.ms); got != tc.want {
			t.Errorf("volatileRootfs(%v) = %v, want %v", tc.ms, got, tc.want)
		}
	}
}

// TestVolatileExitRecord: a container on a volatile overlay (an
// ephemeral one) has its exit recorded in exit.json like any other.
func TestVolatileExitRecord(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	rootfs := h.rootfs()
	rootfs[0].Options = append(rootfs[0].Options, "volatile")
	if _, err := h.api.Create(t.Context(), &runtimev1.CreateRequest{Spec: sh("exit 6"), Rootfs: rootfs, Start: true}); err != nil {
		t.Fatalf("create: %v", errgrpc.ToNative(err))
	}
	if e := h.wait(t); e.GetCode() != 6 {
		t.Fatalf("exit = %+v, want code 6", e)
	}
	if _, err := h.api.Delete(t.Context(), &runtimev1.DeleteRequest{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if st, err := (bundle.Bundle{Dir: h.bundle}).ReadExit(); err != nil || st.Code != 6 {
		t.Fatalf("exit.json = %+v, %v", st, err)
	}
}

// TestCreateWithStart: Create with start runs the program at once (`runc
// run --detach`), and once it has exited the supervisor has already
// removed the runc state, the cgroups and the rootfs mount by itself.
func TestCreateWithStart(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	resp, err := h.api.Create(t.Context(), &runtimev1.CreateRequest{Spec: sh("echo started; exit 4"), Rootfs: h.rootfs(), Start: true})
	if err != nil {
		t.Fatalf("create with start: %v", errgrpc.ToNative(err))
	}
	if resp.GetPid() <= 0 {
		t.Errorf("pid %d", resp.GetPid())
	}
	if e := h.wait(t); e.GetCode() != 4 {
		t.Errorf("exit = %+v, want code 4", e)
	}
	if out := h.logs(t)[ctrlog.Stdout]; out != "started\n" {
		t.Errorf("stdout %q", out)
	}
	if _, err := h.api.Start(t.Context(), &runtimev1.StartRequest{}); !errors.Is(errgrpc.ToNative(err), errdefs.ErrFailedPrecondition) {
		t.Errorf("start after create with start: %v, want FailedPrecondition", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, serr := os.Stat(filepath.Join(h.base, "runc", h.id))
		mounted, _ := mount.Mounted(filepath.Join(h.bundle, bundle.RootfsDir))
		cgroups := cgroupDirs(h.id)
		if errors.Is(serr, os.ErrNotExist) && !mounted && len(cgroups) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after exit: runc state %v, rootfs mounted %v, cgroups %v", serr, mounted, cgroups)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUserEnvWorkdirInit(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	spec := sh(`echo "$(id -u):$(id -g):$(id -G) $PWD $FOO $HOME"; cat /proc/1/cmdline | tr '\0' ' '`)
	spec.User, spec.Env, spec.Workdir, spec.Init = "app", []string{"FOO=bar"}, "/tmp", true
	h.run(t, spec)
	if e := h.wait(t); e.GetCode() != 0 {
		t.Fatalf("exit %+v: %q", e, h.logs(t))
	}
	out := h.logs(t)[ctrlog.Stdout]
	if !strings.HasPrefix(out, "1000:1000:1000 2000 /tmp bar /home/app\n") || !strings.Contains(out, "/sbin/container-init init --") {
		t.Errorf("output %q", out)
	}
}

func TestKillIgnoringTerm(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	h.run(t, sh(`trap "" TERM; echo ready; while true; do sleep 1; done`))
	waitLog(t, h, "ready\n")
	if _, err := h.api.Kill(t.Context(), &runtimev1.KillRequest{Signal: 15}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if s, _ := h.api.State(t.Context(), &runtimev1.StateRequest{}); s.GetStatus() != runtimev1.Status_STATUS_RUNNING {
		t.Fatalf("TERM-ignoring container is %v", s.GetStatus())
	}
	if _, err := h.api.Kill(t.Context(), &runtimev1.KillRequest{Signal: 9, All: true}); err != nil {
		t.Fatal(err)
	}
	if e := h.wait(t); e.GetCode() != 137 || e.GetSignal() != 9 {
		t.Errorf("exit = %+v, want 137/SIGKILL", e)
	}
}

func waitLog(t *testing.T, h *harness, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs(t)[ctrlog.Stdout], want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never showed %q: %q", want, h.logs(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOOMKilled(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	spec := sh(`dd if=/dev/zero of=/dev/null bs=64M count=1`)
	spec.Memory = 16 << 20
	h.run(t, spec)
	e := h.wait(t)
	if !e.GetOomKilled() || e.GetCode() == 0 {
		t.Errorf("exit = %+v, want OOM-killed", e)
	}
	if _, err := h.api.Delete(t.Context(), &runtimev1.DeleteRequest{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if st, err := (bundle.Bundle{Dir: h.bundle}).ReadExit(); err != nil || !st.OOMKilled {
		t.Errorf("exit.json = %+v, %v", st, err)
	}
}

func TestSecurityAndLimits(t *testing.T) {
	integration(t)
	for _, tc := range []struct {
		name   string
		spec   func() *runtimev1.ContainerSpec
		code   int
		stdout string
	}{
		{name: "mknod allowed", spec: func() *runtimev1.ContainerSpec { return sh("mknod /tmp/n c 1 3") }, code: 0},
		{name: "cap drop mknod", spec: func() *runtimev1.ContainerSpec {
			s := sh("mknod /tmp/n c 1 3")
			s.CapDrop = []string{"MKNOD"}
			return s
		}, code: 1},
		{name: "read-only rootfs", spec: func() *runtimev1.ContainerSpec {
			s := sh("touch /x")
			s.ReadOnly = true
			return s
		}, code: 1},
		{name: "tmpfs on read-only rootfs", spec: func() *runtimev1.ContainerSpec {
			s := sh("touch /scratch/x && echo ok")
			s.ReadOnly = true
			s.Mounts = []*runtimev1.Mount{{Type: "tmpfs", Target: "/scratch", Options: []string{"size=1m"}}}
			return s
		}, code: 0, stdout: "ok\n"},
		{name: "ulimit", spec: func() *runtimev1.ContainerSpec {
			s := sh("ulimit -n; ulimit -Hn")
			s.Ulimits = []*runtimev1.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}}
			return s
		}, code: 0, stdout: "100\n200\n"},
		{name: "shm size", spec: func() *runtimev1.ContainerSpec {
			s := sh("df -k /dev/shm | tail -1 | awk '{print $2}'")
			s.ShmSize = 8 << 20
			return s
		}, code: 0, stdout: "8192\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startSupervisor(t, nil)
			h.run(t, tc.spec())
			e := h.wait(t)
			if int(e.GetCode()) != tc.code {
				t.Errorf("exit code %d, want %d; logs %q", e.GetCode(), tc.code, h.logs(t))
			}
			if tc.stdout != "" {
				if got := h.logs(t)[ctrlog.Stdout]; got != tc.stdout {
					t.Errorf("stdout %q, want %q", got, tc.stdout)
				}
			}
		})
	}
}

func TestCPUQuotaAndStats(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	spec := sh("sleep 60")
	spec.Cpus = 0.5
	spec.Memory = 64 << 20
	h.run(t, spec)
	st, err := h.api.Stats(t.Context(), &runtimev1.StatsRequest{})
	if err != nil || st.GetPids() < 1 || st.GetMemoryLimit() != 64<<20 || st.GetMemoryUsage() == 0 || st.GetCpuUsageNs() == 0 {
		t.Errorf("stats = %v, %v", st, err)
	}
	var quota string
	if data, err := os.ReadFile(filepath.Join(cgroupRoot, "cpu", "container", h.id, "cpu.cfs_quota_us")); err == nil {
		quota = strings.TrimSpace(string(data))
	} else if data, err := os.ReadFile(filepath.Join(cgroupRoot, "container", h.id, "cpu.max")); err == nil {
		quota = strings.Fields(string(data))[0]
	} else {
		t.Fatalf("no cpu cgroup for %s: %v", h.id, err)
	}
	if quota != "50000" {
		t.Errorf("cpu quota %q, want 50000", quota)
	}
}

func TestSurvivesParentAndCleansUp(t *testing.T) {
	integration(t)
	// The apiserver stands in as a shell that spawns serve and then hangs.
	h := startSupervisor(t, func(args []string) *exec.Cmd {
		return exec.Command("/bin/sh", append([]string{"-c", `"$0" "$@" && exec sleep 60`, supervisorBin}, args...)...)
	})
	pid := h.run(t, sh("echo up; sleep 60"))
	// SIGKILL the spawning side (it stands in for the apiserver).
	if err := h.spawner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = h.spawner.Wait()
	time.Sleep(200 * time.Millisecond)
	s, err := h.api.State(t.Context(), &runtimev1.StateRequest{})
	if err != nil || s.GetStatus() != runtimev1.Status_STATUS_RUNNING || int(s.GetPid()) != pid {
		t.Fatalf("after the parent died: state %v, %v", s, err)
	}
	waitLog(t, h, "up\n")
	supPid := h.supervisorPid(t)
	if _, err := h.api.Delete(t.Context(), &runtimev1.DeleteRequest{}); !errors.Is(errgrpc.ToNative(err), errdefs.ErrFailedPrecondition) {
		t.Errorf("delete of running container without force: %v", err)
	}
	if _, err := h.api.Delete(t.Context(), &runtimev1.DeleteRequest{Force: true}); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("container init %d alive after delete", pid)
	}
	if m, _ := mount.Mounted(filepath.Join(h.bundle, bundle.RootfsDir)); m {
		t.Errorf("rootfs mounted after delete")
	}
	if dirs := cgroupDirs(h.id); len(dirs) > 0 {
		t.Errorf("cgroups after delete: %v", dirs)
	}
	if _, err := h.api.Delete(t.Context(), &runtimev1.DeleteRequest{Force: true}); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := h.api.Shutdown(t.Context(), &runtimev1.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; alive(supPid); i++ {
		if i > 300 {
			t.Fatalf("supervisor %d alive after Shutdown", supPid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(h.bundle, bundle.ConfigFile)); err != nil {
		t.Errorf("bundle not kept: %v", err)
	}
	h.api = nil
}

// alive reports whether pid runs (a zombie waiting for a slow init to
// reap it does not count).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}

func TestServeErrors(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	// A second supervisor for the same state dir refuses.
	out, err := exec.Command(supervisorBin, "serve", "--id", h.id, "--bundle", h.bundle, "--state", h.state).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already") {
		t.Errorf("second serve: %v: %s", err, out)
	}
	// A state dir that cannot be made: serve says why and exits 1.
	blocker := filepath.Join(h.base, "file")
	os.WriteFile(blocker, nil, 0o644)
	cmd := exec.Command(supervisorBin, "serve", "--id", "x", "--bundle", filepath.Join(h.base, "b2"), "--state", filepath.Join(blocker, "s"))
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "not a directory") {
		t.Errorf("serve with a bad state dir: %v: %s", err, out)
	}
	// Bad flags exit 2.
	cmd = exec.Command(supervisorBin, "serve", "--id", "a/b", "--bundle", "rel", "--state", "/x")
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("serve with bad flags: exit %d: %s", cmd.ProcessState.ExitCode(), out)
	}
	// A bad create leaves the supervisor usable and nothing mounted.
	_, err = h.api.Create(t.Context(), &runtimev1.CreateRequest{Spec: &runtimev1.ContainerSpec{Args: []string{"x"}, User: "nobody"}, Rootfs: h.rootfs()})
	if !errors.Is(errgrpc.ToNative(err), errdefs.ErrInvalidArgument) {
		t.Errorf("create with unknown user: %v", err)
	}
	if m, _ := mount.Mounted(filepath.Join(h.bundle, bundle.RootfsDir)); m {
		t.Errorf("rootfs mounted after failed create")
	}
	_, err = h.api.Create(t.Context(), &runtimev1.CreateRequest{Spec: sh("exec /nonexistent"), Rootfs: h.rootfs()})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := h.api.Start(t.Context(), &runtimev1.StartRequest{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	if e := h.wait(t); e.GetCode() != 127 {
		t.Errorf("exec of a missing binary: exit %+v", e)
	}
}

// TestFootprint reports the supervisor's memory with a running container
// (PSS from smaps_rollup); the file-backed part is shared by every
// supervisor on the host.
func TestFootprint(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	h.run(t, sh("echo up; sleep 60"))
	waitLog(t, h, "up\n")
	time.Sleep(200 * time.Millisecond)
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", h.supervisorPid(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "Rss:") || strings.HasPrefix(l, "Pss") {
			t.Log(strings.Join(strings.Fields(l), " "))
		}
	}
	if os.Getenv("SUPERVISOR_SMAPS") != "" {
		out, _ := exec.Command("sh", "-c", fmt.Sprintf(`awk '/^[0-9a-f]+-/{name=$6; range=$1} /^Anonymous:/{ if ($2>50) print range, name, $2" kB"}' /proc/%d/smaps; grep -E 'Threads|VmRSS|RssAnon' /proc/%d/status`, h.supervisorPid(t), h.supervisorPid(t))).CombinedOutput()
		t.Logf("%s", out)
	}
}

// BenchmarkRunTrue measures one whole supervisor lifecycle around `true`:
// serve (daemonize), Create, Start, Wait, Delete, Shutdown.
func BenchmarkRunTrue(b *testing.B) {
	if testing.Short() || os.Getuid() != 0 {
		b.Skip("needs root")
	}
	for b.Loop() {
		benchOnce(b)
	}
}

func benchOnce(b *testing.B) {
	base, _ := os.MkdirTemp("", "ct")
	defer os.RemoveAll(base)
	id := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	bdl, state := filepath.Join(base, "b"), filepath.Join(base, "s")
	os.MkdirAll(filepath.Join(base, "upper"), 0o755)
	os.MkdirAll(filepath.Join(base, "work"), 0o755)
	t0 := time.Now()
	if out, err := exec.Command(supervisorBin, "serve", "--id", id, "--bundle", bdl, "--state", state, "--runtime-root", filepath.Join(base, "runc")).CombinedOutput(); err != nil {
		b.Fatalf("serve: %v %s", err, out)
	}
	t1 := time.Now()
	conn, _ := grpc.NewClient("unix://"+filepath.Join(state, SocketFile), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	api := runtimev1.NewRuntimeClient(conn)
	ctx := context.Background()
	rootfs := []*runtimev1.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + lowerDir, "upperdir=" + filepath.Join(base, "upper"), "workdir=" + filepath.Join(base, "work")}}}
	if _, err := api.Create(ctx, &runtimev1.CreateRequest{Spec: &runtimev1.ContainerSpec{Args: []string{"/bin/true"}, Network: "none"}, Rootfs: rootfs}); err != nil {
		b.Fatal(err)
	}
	t2 := time.Now()
	if _, err := api.Start(ctx, &runtimev1.StartRequest{}); err != nil {
		b.Fatal(err)
	}
	t3 := time.Now()
	if _, err := api.Wait(ctx, &runtimev1.WaitRequest{}); err != nil {
		b.Fatal(err)
	}
	t4 := time.Now()
	if _, err := api.Delete(ctx, &runtimev1.DeleteRequest{Force: true}); err != nil {
		b.Fatal(err)
	}
	t5 := time.Now()
	if _, err := api.Shutdown(ctx, &runtimev1.ShutdownRequest{Force: true}); err != nil {
		b.Fatal(err)
	}
	t6 := time.Now()
	if os.Getenv("SUPERVISOR_BENCH_PHASES") != "" {
		b.Logf("serve %v create %v start %v wait %v delete %v shutdown %v", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3), t5.Sub(t4), t6.Sub(t5))
	}
}

// BenchmarkLog100MiB measures a container writing 100 MiB of 41-byte
// lines to stdout, from Start to the end of Wait.
func BenchmarkLog100MiB(b *testing.B) {
	if testing.Short() || os.Getuid() != 0 {
		b.Skip("needs root")
	}
	for b.Loop() {
		b.StopTimer()
		base, _ := os.MkdirTemp("", "ct")
		id := fmt.Sprintf("benchlog-%d", time.Now().UnixNano())
		bdl, state := filepath.Join(base, "b"), filepath.Join(base, "s")
		os.MkdirAll(filepath.Join(base, "upper"), 0o755)
		os.MkdirAll(filepath.Join(base, "work"), 0o755)
		if out, err := exec.Command(supervisorBin, "serve", "--id", id, "--bundle", bdl, "--state", state, "--runtime-root", filepath.Join(base, "runc")).CombinedOutput(); err != nil {
			b.Fatalf("serve: %v %s", err, out)
		}
		conn, _ := grpc.NewClient("unix://"+filepath.Join(state, SocketFile), grpc.WithTransportCredentials(insecure.NewCredentials()))
		api := runtimev1.NewRuntimeClient(conn)
		ctx := context.Background()
		rootfs := []*runtimev1.Mount{{Type: "overlay", Source: "overlay", Options: []string{
			"lowerdir=" + lowerDir, "upperdir=" + filepath.Join(base, "upper"), "workdir=" + filepath.Join(base, "work")}}}
		spec := sh("yes 0123456789012345678901234567890123456789 | head -c 104857600")
		if _, err := api.Create(ctx, &runtimev1.CreateRequest{Spec: spec, Rootfs: rootfs}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := api.Start(ctx, &runtimev1.StartRequest{}); err != nil {
			b.Fatal(err)
		}
		if _, err := api.Wait(ctx, &runtimev1.WaitRequest{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_, _ = api.Delete(ctx, &runtimev1.DeleteRequest{Force: true})
		_, _ = api.Shutdown(ctx, &runtimev1.ShutdownRequest{Force: true})
		conn.Close()
		os.RemoveAll(base)
		b.StartTimer()
	}
}

func TestExec(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	h.run(t, sh("echo up; sleep 60"))
	waitLog(t, h, "up\n")

	exec := func(p *runtimev1.ExecProcess, stdin ...string) (stdout, stderr string, exit *runtimev1.ExitStatus) {
		t.Helper()
		st, err := h.api.Exec(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&runtimev1.ExecInput{Start: p}); err != nil {
			t.Fatal(err)
		}
		for _, in := range stdin {
			st.Send(&runtimev1.ExecInput{Stdin: []byte(in)})
		}
		st.Send(&runtimev1.ExecInput{CloseStdin: true})
		for {
			m, err := st.Recv()
			if err != nil {
				t.Fatalf("exec recv: %v", errgrpc.ToNative(err))
			}
			stdout += string(m.GetStdout())
			stderr += string(m.GetStderr())
			if m.GetExit() != nil {
				return stdout, stderr, m.GetExit()
			}
			if p.GetDetach() && m.GetPid() > 0 {
				return "", "", nil
			}
		}
	}
	out, errOut, e := exec(&runtimev1.ExecProcess{Args: []string{"sh", "-c", "echo hi; echo err >&2; cat; exit 5"}, Stdin: true}, "data\n")
	if out != "hi\ndata\n" || errOut != "err\n" || e.GetCode() != 5 {
		t.Errorf("exec: stdout %q stderr %q exit %+v", out, errOut, e)
	}
	out, _, e = exec(&runtimev1.ExecProcess{Args: []string{"sh", "-c", "id -u; pwd; echo $X"}, User: "app", Workdir: "/tmp", Env: []string{"X=y"}})
	if out != "1000\n/tmp\ny\n" || e.GetCode() != 0 {
		t.Errorf("exec as app: stdout %q exit %+v", out, e)
	}
	exec(&runtimev1.ExecProcess{Args: []string{"sh", "-c", "echo detached"}, Detach: true})
	waitLog(t, h, "detached\n")

	if _, err := h.api.Kill(t.Context(), &runtimev1.KillRequest{Signal: 9}); err != nil {
		t.Fatal(err)
	}
	h.wait(t)
	st, _ := h.api.Exec(t.Context())
	st.Send(&runtimev1.ExecInput{Start: &runtimev1.ExecProcess{Args: []string{"true"}}})
	if _, err := st.Recv(); !errors.Is(errgrpc.ToNative(err), errdefs.ErrFailedPrecondition) {
		t.Errorf("exec in a stopped container: %v", err)
	}
}

func TestAttachAndTerminal(t *testing.T) {
	integration(t)
	for _, tc := range []struct {
		name     string
		terminal bool
		script   string
		want     []string
	}{
		{name: "pipes", script: `read x; echo "got $x"; echo oops >&2`, want: []string{"got hello\n", "oops\n"}},
		{name: "terminal", terminal: true, script: `read x; stty size; tty; echo "got $x"`, want: []string{"40 100\r\n", "/dev/pts/0\r\n", "got hello\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startSupervisor(t, nil)
			spec := sh(tc.script)
			spec.Stdin, spec.Terminal = true, tc.terminal
			if _, err := h.api.Create(t.Context(), &runtimev1.CreateRequest{Spec: spec, Rootfs: h.rootfs()}); err != nil {
				t.Fatalf("create: %v", err)
			}
			st, err := h.api.Attach(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tc.terminal {
				if _, err := h.api.ResizePty(t.Context(), &runtimev1.ResizePtyRequest{Width: 100, Height: 40}); err != nil {
					t.Fatalf("resize: %v", err)
				}
			} else if _, err := h.api.ResizePty(t.Context(), &runtimev1.ResizePtyRequest{Width: 100, Height: 40}); !errors.Is(errgrpc.ToNative(err), errdefs.ErrFailedPrecondition) {
				t.Errorf("resize without a terminal: %v", err)
			}
			if _, err := h.api.Start(t.Context(), &runtimev1.StartRequest{}); err != nil {
				t.Fatal(err)
			}
			st.Send(&runtimev1.AttachInput{Stdin: []byte("hello\n"), CloseStdin: true})
			var stdout, stderr string
			for {
				m, err := st.Recv()
				if err != nil {
					break // io.EOF once the output ended
				}
				stdout += string(m.GetStdout())
				stderr += string(m.GetStderr())
			}
			if e := h.wait(t); e.GetCode() != 0 {
				t.Errorf("exit %+v", e)
			}
			all := stdout + stderr
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("attached output %q lacks %q", all, w)
				}
			}
			if !tc.terminal && (stdout != "got hello\n" || stderr != "oops\n") {
				t.Errorf("streams mixed: stdout %q stderr %q", stdout, stderr)
			}
			if logged := h.logs(t)[ctrlog.Stdout]; !strings.Contains(logged, tc.want[0]) {
				t.Errorf("log %q lacks %q", logged, tc.want[0])
			}
		})
	}
}

func TestExecTerminal(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	h.run(t, sh("echo up; sleep 60"))
	waitLog(t, h, "up\n")
	st, err := h.api.Exec(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&runtimev1.ExecInput{Start: &runtimev1.ExecProcess{Args: []string{"sh", "-c", "tty; stty size"}, Tty: true}, Width: 90, Height: 30})
	var out string
	for {
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("recv: %v (output %q)", err, out)
		}
		out += string(m.GetStdout())
		if m.GetExit() != nil {
			break
		}
	}
	if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "30 90") {
		t.Errorf("exec tty output %q", out)
	}
}

// TestExitAfter: a container created with exit_after is cleaned up and
// its supervisor ends by itself once the client closes its connection
// after Wait (which says so); exit.json is there.
func TestExitAfter(t *testing.T) {
	integration(t)
	h := startSupervisor(t, nil)
	pid := h.supervisorPid(t)
	ctx := t.Context()
	if _, err := h.api.Create(ctx, &runtimev1.CreateRequest{Spec: sh("exit 4"), Rootfs: h.rootfs(), Start: true, ExitAfter: true}); err != nil {
		t.Fatalf("create: %v", errgrpc.ToNative(err))
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := h.api.Wait(wctx, &runtimev1.WaitRequest{})
	if err != nil || resp.GetExit().GetCode() != 4 || !resp.GetExiting() {
		t.Fatalf("Wait = %v, %v; want code 4, exiting", resp, err)
	}
	h.conn.Close()
	h.api = nil // nothing to delete or shut down: the harness checks the rest
	for i := 0; alive(pid); i++ {
		if i == 1000 {
			t.Fatalf("supervisor %d still running 10s after the exit", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, f := range []string{SocketFile, PidFile} {
		if _, err := os.Stat(filepath.Join(h.state, f)); !os.IsNotExist(err) {
			t.Errorf("%s after the supervisor ended: %v", f, err)
		}
	}
	if st, err := (bundle.Bundle{Dir: h.bundle}).ReadExit(); err != nil || st.Code != 4 {
		t.Errorf("exit.json = %+v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(h.base, "runc", h.id)); !os.IsNotExist(err) {
		t.Errorf("runc state after the supervisor ended: %v", err)
	}
}
