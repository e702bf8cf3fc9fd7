package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	imagesv1 "github.com/berth/container/api/services/images/v1"
	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/testutil/imagetest"
	"github.com/berth/container/internal/testutil/registrytest"
)

// startContainersDaemon starts a daemon with a busybox image pulled from an
// in-process registry, and deletes every container before the daemon stops.
func startContainersDaemon(t *testing.T) (*Daemon, string) {
	t.Helper()
	return startContainersDaemonWith(t)
}

// startContainersDaemonWith is startContainersDaemon with options.
func startContainersDaemonWith(t *testing.T, opts ...DaemonOption) (*Daemon, string) {
	t.Helper()
	d := StartDaemon(t, opts...)
	reg := registrytest.New(t)
	ref := reg.Ref("test/busybox:latest")
	reg.Push(t, "test/busybox:latest", imagetest.Busybox(t))
	pullImage(t, d, ref)
	t.Cleanup(func() {
		if d.Client == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cs, err := d.Client.ListContainers(ctx, true)
		if err != nil {
			t.Errorf("list containers at cleanup: %v", err)
			return
		}
		for _, c := range cs {
			if _, err := d.Client.DeleteContainer(ctx, c.ID, true); err != nil {
				t.Errorf("delete %s at cleanup: %v", c.ID, err)
			}
		}
		assertNoLeftovers(t, d, cs)
	})
	return d, ref
}

func pullImage(t *testing.T, d *Daemon, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	stream, err := imagesv1.NewImagesClient(d.Client.Conn()).Pull(ctx, &imagesv1.PullImageRequest{Reference: ref})
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	for {
		if _, err := stream.Recv(); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
	}
}

// assertNoLeftovers checks that the deleted containers left no bundle,
// state dir, cgroup, mount or supervisor process.
func assertNoLeftovers(t *testing.T, d *Daemon, cs []client.Container) {
	t.Helper()
	for _, c := range cs {
		for _, dir := range []string{
			filepath.Join(d.Root, "containers", c.ID),
			filepath.Join(d.State, "containers", c.ID),
			filepath.Join(d.State, "runc", c.ID),
			filepath.Join("/sys/fs/cgroup/container", c.ID),
		} {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s left behind", dir)
			}
		}
		if m, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*/container", c.ID)); len(m) > 0 {
			t.Errorf("cgroups left behind: %v", m)
		}
		if pids := processesOf(d, c.ID); len(pids) > 0 {
			t.Errorf("processes of %s left behind: %v", c.ID, pids)
		}
		if m := mountsUnder(filepath.Join(d.Root, "containers", c.ID)); len(m) > 0 {
			t.Errorf("mounts left behind: %v", m)
		}
	}
}

// processesOf returns the pids of d's processes for container id: those
// working in its state or root dir (an adopted idle supervisor works in
// <state>/containers/<id>; its command line names no container), and those
// whose command line has id as an argument and names d's state or root
// (a supervisor, its monitor, runc). Matching the daemon's own paths keeps
// unrelated processes on the machine that happen to mention the name out.
// A supervisor that ends by itself after its container's exit may still be
// on its way out when the apiserver has answered: it gets a few seconds.
func processesOf(d *Daemon, id string) []string {
	var out []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out = processesOfNow(d, id)
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
	}
}

func processesOfNow(d *Daemon, id string) []string {
	dirs := []string{filepath.Join(d.State, "containers", id), filepath.Join(d.Root, "containers", id)}
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil {
			cwd = strings.TrimSuffix(cwd, " (deleted)")
			if slices.ContainsFunc(dirs, func(dir string) bool { return cwd == dir || strings.HasPrefix(cwd, dir+"/") }) {
				out = append(out, e.Name())
				continue
			}
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		ours := slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, d.State) || strings.Contains(a, d.Root) })
		if ours && slices.Contains(args, id) {
			out = append(out, e.Name())
		}
	}
	return out
}

func cli(t *testing.T, d *Daemon, wantCode int, args ...string) string {
	t.Helper()
	out, errOut, code := d.CLI(t, args...)
	if code != wantCode {
		t.Fatalf("container %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	return out
}

func TestContainerRun(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)

	t.Run("echo", func(t *testing.T) {
		if out := cli(t, d, 0, "run", "--rm", img, "echo", "hello"); out != "hello\n" {
			t.Fatalf("stdout %q", out)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		cli(t, d, 3, "run", "--rm", img, "sh", "-c", "exit 3")
	})
	t.Run("streams apart", func(t *testing.T) {
		out, errOut, code := d.CLI(t, "run", "--name", "apart", img, "sh", "-c", "echo out; sleep 0.1; echo err >&2")
		if code != 0 || out != "out\n" || errOut != "err\n" {
			t.Fatalf("run: %d %q %q", code, out, errOut)
		}
		out, errOut, code = d.CLI(t, "logs", "apart")
		if code != 0 || out != "out\n" || errOut != "err\n" {
			t.Fatalf("logs: %d %q %q", code, out, errOut)
		}
		out, errOut, code = d.CLI(t, "logs", "-n", "1", "apart")
		if code != 0 || out != "" || errOut != "err\n" {
			t.Fatalf("logs -n 1: %d %q %q", code, out, errOut)
		}
		if out := cli(t, d, 0, "logs", "--since", "1h", "--until", "1m", "apart"); out != "" {
			t.Fatalf("logs until a minute ago: %q", out)
		}
		if out := cli(t, d, 0, "logs", "-t", "apart"); !strings.HasSuffix(out, " out\n") || !strings.Contains(out, "T") {
			t.Fatalf("logs -t: %q", out)
		}
		cli(t, d, 0, "rm", "apart")
		cli(t, d, 0, "run", "-d", "--name", "follow", img, "sh", "-c", "echo a; sleep 0.5; echo b")
		start := time.Now()
		if out := cli(t, d, 0, "logs", "-f", "follow"); out != "a\nb\n" {
			t.Fatalf("logs -f: %q", out)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("logs -f took %v to end after the container stopped", time.Since(start))
		}
		cli(t, d, 0, "rm", "follow")
	})
	t.Run("options", func(t *testing.T) {
		out := cli(t, d, 0, "run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "1000:1000", img,
			"sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g)"`)
		if out != "bar /tmp 1000:1000\n" {
			t.Fatalf("env/workdir/user: %q", out)
		}
		if out := cli(t, d, 0, "run", "--rm", "-u", "nobody", img, "id", "-un"); out != "nobody\n" {
			t.Fatalf("user by name: %q", out)
		}
		if out := cli(t, d, 0, "run", "--rm", "--entrypoint", "/bin/echo", img, "via", "entrypoint"); out != "via entrypoint\n" {
			t.Fatalf("entrypoint: %q", out)
		}
	})
	t.Run("security and resource options", func(t *testing.T) {
		cli(t, d, 1, "run", "--rm", "--read-only", img, "touch", "/x")
		if out := cli(t, d, 0, "run", "--rm", "--read-only", "--tmpfs", "/scratch", img, "sh", "-c", "touch /scratch/x && echo ok"); out != "ok\n" {
			t.Fatalf("tmpfs on a read-only rootfs: %q", out)
		}
		if out := cli(t, d, 0, "run", "--rm", "--ulimit", "nofile=100:200", img, "sh", "-c", "ulimit -n"); out != "100\n" {
			t.Fatalf("ulimit: %q", out)
		}
		cli(t, d, 0, "run", "--rm", img, "mknod", "/tmp/null", "c", "1", "3")
		cli(t, d, 1, "run", "--rm", "--cap-drop", "MKNOD", img, "mknod", "/tmp/null", "c", "1", "3")
		cli(t, d, 0, "run", "-d", "--name", "quota", "--cpus", "0.5", img, "sleep", "1000")
		quota := ""
		for _, f := range []string{"/sys/fs/cgroup/cpu/container/quota/cpu.cfs_quota_us", "/sys/fs/cgroup/container/quota/cpu.max"} {
			if data, err := os.ReadFile(f); err == nil {
				quota = strings.TrimSpace(string(data))
			}
		}
		if quota != "50000" && !strings.HasPrefix(quota, "50000 ") {
			t.Errorf("--cpus 0.5: cgroup quota %q", quota)
		}
		cli(t, d, 0, "rm", "-f", "quota")
		cli(t, d, 137, "run", "--name", "hog", "--memory", "16m", img, "sh", "-c", `x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo ${#x}`)
		c, err := d.Client.GetContainer(t.Context(), "hog")
		if err != nil || !c.State.OOMKilled {
			t.Errorf("--memory 16m: inspect %+v, %v; want oomKilled", c.State, err)
		}
		cli(t, d, 0, "rm", "hog")
	})
	t.Run("detached lifecycle", func(t *testing.T) {
		id := strings.TrimSpace(cli(t, d, 0, "run", "-d", "-l", "k=v", img, "sh", "-c", `trap "exit 143" TERM; echo started; sleep 1000 & wait`))
		if len(id) != 64 {
			t.Fatalf("run -d printed %q", id)
		}
		ls := cli(t, d, 0, "ls", "-q")
		if !strings.Contains(ls, id) {
			t.Fatalf("ls -q = %q, want %s", ls, id)
		}
		c, err := d.Client.GetContainer(t.Context(), id[:10])
		if err != nil || c.State.Status != "running" || c.State.Pid == 0 || c.Spec.Labels["k"] != "v" {
			t.Fatalf("inspect by prefix: %+v, %v", c, err)
		}
		cli(t, d, 1, "rm", id) // running needs -f
		start := time.Now()
		cli(t, d, 0, "stop", id)
		if time.Since(start) > 4*time.Second {
			t.Errorf("stop of a TERM-handling process took %v", time.Since(start))
		}
		cli(t, d, 0, "stop", id) // idempotent
		if out := cli(t, d, 0, "logs", id); out != "started\n" {
			t.Fatalf("logs after stop: %q", out)
		}
		if out := cli(t, d, 0, "wait", id); out != fmt.Sprint(128+15)+"\n" {
			t.Fatalf("wait: %q", out)
		}
		cli(t, d, 0, "start", id)
		cli(t, d, 0, "rm", "-f", id)
		if _, err := d.Client.GetContainer(t.Context(), id); !errdefs.IsNotFound(err) {
			t.Fatalf("get after rm = %v", err)
		}
		assertNoLeftovers(t, d, []client.Container{{ID: id}})
	})
	t.Run("stop escalates to SIGKILL", func(t *testing.T) {
		cli(t, d, 0, "run", "-d", "--name", "stubborn", img, "sh", "-c", `trap "" TERM; while true; do sleep 0.2; done`)
		time.Sleep(300 * time.Millisecond) // let the trap be installed
		start := time.Now()
		cli(t, d, 0, "stop", "-t", "1", "stubborn")
		if d := time.Since(start); d < time.Second {
			t.Fatalf("stop returned after %v, before the timeout", d)
		}
		c, err := d.Client.GetContainer(t.Context(), "stubborn")
		if err != nil || c.State.Status != "stopped" || c.State.ExitCode != 137 {
			t.Fatalf("after stop: %+v, %v", c.State, err)
		}
		cli(t, d, 0, "stop", "stubborn")
		cli(t, d, 0, "rm", "stubborn")
	})
	t.Run("failed create leaves nothing", func(t *testing.T) {
		missing := strings.SplitN(img, "/", 2)[0] + "/test/nosuch:latest"
		_, errOut, code := d.CLI(t, "create", "--name", "ghost", missing)
		if code == 0 || !strings.Contains(errOut, "not found") {
			t.Fatalf("create with a missing image: %d %q", code, errOut)
		}
		cli(t, d, 1, "create", "--name", "ghost", "--restart", "sometimes", img)
		cli(t, d, 1, "create", "--name", "bad/name", img)
		if _, errOut, code := d.CLI(t, "create", "--name", "ghost", "--runtime", "nosuch", img); code != 1 || !strings.Contains(errOut, "not found") {
			t.Fatalf("create with an unknown runtime: %d %q", code, errOut)
		}
		if _, err := os.Stat(filepath.Join(d.Root, "containers", "ghost")); err == nil {
			t.Fatal("bundle of the failed create left behind")
		}
		if out := cli(t, d, 0, "ls", "-a", "-q"); strings.Contains(out, "ghost") {
			t.Fatalf("ls -a: %q", out)
		}
		cli(t, d, 0, "create", "--name", "ghost", img)
		cli(t, d, 0, "rm", "ghost")
	})
	t.Run("run pulls a missing image", func(t *testing.T) {
		if _, err := d.Client.DeleteImage(t.Context(), img, false); err != nil {
			t.Fatalf("delete image: %v", err)
		}
		out, errOut, code := d.CLI(t, "run", "--rm", img, "echo", "pulled")
		if code != 0 || out != "pulled\n" || !strings.Contains(errOut, "pulling") {
			t.Fatalf("run of a missing image: %d %q %q", code, out, errOut)
		}
	})
	t.Run("sigint forwarded", func(t *testing.T) {
		cmd := d.CLICommand(t, "run", "--rm", "--name", "interrupted", img,
			"sh", "-c", `trap "echo got INT; exit 5" INT; echo ready; sleep 1000 & wait`)
		out := &syncBuffer{}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), "ready") {
			if time.Now().After(deadline) {
				t.Fatalf("container never became ready; stdout %q", out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		if cmd.ProcessState.ExitCode() != 5 || !strings.Contains(out.String(), "got INT") {
			t.Fatalf("run after SIGINT: %v, stdout %q", err, out.String())
		}
	})
	t.Run("detached rm and cidfile", func(t *testing.T) {
		cidfile := filepath.Join(ShortTempDir(t), "cid")
		id := strings.TrimSpace(cli(t, d, 0, "run", "-d", "--rm", "--cidfile", cidfile, img, "true"))
		if data, err := os.ReadFile(cidfile); err != nil || string(data) != id {
			t.Fatalf("cidfile: %q, %v; want %q", data, err, id)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := d.Client.GetContainer(t.Context(), id); errdefs.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("run -d --rm: container still there")
			}
			time.Sleep(50 * time.Millisecond)
		}
		assertNoLeftovers(t, d, []client.Container{{ID: id}})
	})
	t.Run("restart on failure", func(t *testing.T) {
		cli(t, d, 0, "run", "-d", "--name", "flaky", "--restart", "on-failure:2", img, "sh", "-c", "echo run; exit 1")
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err := d.Client.GetContainer(t.Context(), "flaky")
			if err == nil && c.State.Status == "stopped" && c.State.RestartCount == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("flaky: %+v, %v", c.State, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if out := cli(t, d, 0, "logs", "flaky"); out != "run\nrun\nrun\n" {
			t.Fatalf("logs of three runs: %q", out)
		}
		cli(t, d, 0, "rm", "flaky")
	})
	t.Run("create, start -a, kill, list, prune", func(t *testing.T) {
		id := strings.TrimSpace(cli(t, d, 0, "create", "--name", "later", img, "sh", "-c", "echo later; exit 4"))
		if id != "later" {
			t.Fatalf("create printed %q", id)
		}
		if out := cli(t, d, 4, "start", "-a", "later"); out != "later\n" {
			t.Fatalf("start -a: %q", out)
		}
		cli(t, d, 0, "run", "-d", "--name", "victim", img, "sleep", "1000")
		table := cli(t, d, 0, "ls")
		if !strings.HasPrefix(table, "ID") || !strings.Contains(table, "STARTED") || !strings.Contains(table, "victim") || strings.Contains(table, "later") {
			t.Fatalf("ls:\n%s", table)
		}
		if out := cli(t, d, 0, "ls", "-a", "--format", "json"); !strings.Contains(out, `"id":"later"`) {
			t.Fatalf("ls -a --format json: %s", out)
		}
		if out := cli(t, d, 0, "inspect", "later"); !strings.HasPrefix(out, "[\n") || !strings.Contains(out, `"exitCode": 4`) {
			t.Fatalf("inspect: %s", out)
		}
		cli(t, d, 0, "kill", "victim")
		if out := cli(t, d, 0, "wait", "victim"); out != "137\n" {
			t.Fatalf("wait after kill: %q", out)
		}
		cli(t, d, 1, "kill", "victim") // not running
		out := cli(t, d, 0, "prune")
		if !strings.Contains(out, "later") || !strings.Contains(out, "victim") {
			t.Fatalf("prune: %q", out)
		}
		if out := cli(t, d, 0, "ls", "-aq"); out != "" {
			t.Fatalf("after prune: %q", out)
		}
	})
	t.Run("concurrent create of one name", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = d.Client.CreateContainer(t.Context(), "twin", client.ContainerSpec{Image: img})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errdefs.IsAlreadyExists(err):
				t.Errorf("create: %v, want AlreadyExists", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d creates won", won)
		}
		cli(t, d, 0, "rm", "twin")
	})
}

func TestContainerParallelRunRm(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := d.CLI(t, "run", "--rm", img, "echo", fmt.Sprint("run-", i))
			if code != 0 || out != fmt.Sprintf("run-%d\n", i) {
				t.Errorf("run %d: exit %d, stdout %q, stderr %q", i, code, out, errOut)
			}
		}()
	}
	wg.Wait()
	if out := cli(t, d, 0, "ls", "-a", "-q"); out != "" {
		t.Fatalf("containers left after run --rm: %q", out)
	}
}

func TestContainerReattachAfterCrash(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	const n = 10
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("sleeper%d", i)
		cli(t, d, 0, "run", "-d", "--name", ids[i], img, "sh", "-c", fmt.Sprintf(`trap "exit 143" TERM; echo hello %d; sleep 1000 & wait`, i))
	}
	cli(t, d, 0, "run", "-d", "--name", "quitter", img, "sh", "-c", "sleep 1; exit 7")
	cli(t, d, 0, "run", "-d", "--name", "orphan", img, "sh", "-c", "sleep 1; exit 9")
	d.Kill(t)
	time.Sleep(2 * time.Second) // quitter and orphan exit while the apiserver is down
	// orphan's supervisor dies too: its exit.json is all that is left.
	killSupervisor(t, d, "orphan")
	d.Restart(t)
	o, err := d.Client.GetContainer(t.Context(), "orphan")
	if err != nil || o.State.Status != "stopped" || o.State.ExitCode != 9 || o.State.Error != "" {
		t.Fatalf("orphan after restart: %+v, %v", o.State, err)
	}
	cli(t, d, 0, "rm", "orphan")
	assertNoLeftovers(t, d, []client.Container{{ID: "orphan"}})

	cs, err := d.Client.ListContainers(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != n {
		t.Fatalf("%d running after restart, want %d", len(cs), n)
	}
	q, err := d.Client.GetContainer(t.Context(), "quitter")
	if err != nil || q.State.Status != "stopped" || q.State.ExitCode != 7 || q.State.Error != "" {
		t.Fatalf("quitter after restart: %+v, %v", q.State, err)
	}
	if out := cli(t, d, 0, "logs", ids[3]); out != "hello 3\n" {
		t.Fatalf("logs after restart: %q", out)
	}
	c, err := d.Client.StopContainer(t.Context(), ids[0], client.StopOptions{})
	if err != nil || c.State.Status != "stopped" || c.State.ExitCode != 143 {
		t.Fatalf("stop after restart: %+v, %v", c.State, err)
	}
	// A graceful apiserver restart leaves containers running too.
	d.Restart(t)
	if c, err := d.Client.GetContainer(t.Context(), ids[2]); err != nil || c.State.Status != "running" {
		t.Fatalf("after a graceful restart: %+v, %v", c.State, err)
	}
	// A supervisor killed with SIGKILL: the container shows stopped with
	// an error, and delete -f still cleans everything.
	{
		killSupervisor(t, d, ids[1])
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := d.Client.GetContainer(t.Context(), ids[1])
			if err == nil && c.State.Status == "stopped" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("container of a killed supervisor: %+v, %v", c.State, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		cli(t, d, 0, "rm", "-f", ids[1])
		assertNoLeftovers(t, d, []client.Container{{ID: ids[1]}})
	}
}

// killSupervisor SIGKILLs the supervisor of container id and waits until it is gone.
func killSupervisor(t *testing.T, d *Daemon, id string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.State, "containers", id, "supervisor.pid"))
	if err != nil {
		t.Fatalf("supervisor pid of %s: %v", id, err)
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(string(data)), &pid); err != nil || pid <= 1 {
		t.Fatalf("supervisor pid of %s: %q", id, data)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill supervisor of %s: %v", id, err)
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("supervisor %d of %s did not die", pid, id)
}
