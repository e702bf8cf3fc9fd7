package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth/container/client"
	"github.com/berth/container/internal/testutil/imagetest"
)

const benchImage = "bench.local/busybox:1"

// TestContainersBench measures the container hot paths against a raw runc
// bundle and podman, engines interleaved, and prints one table of medians
// and ratios (issue #4 "Benchmark"). Results also go to bench/results/.
//
// Environment: CONTAINER_BENCH=1, CONTAINER_BENCH_OUTPUT=<make build tree>,
// CONTAINER_BENCH_RUNS (default 20: run --rm, 100 MiB stdout, logs),
// CONTAINER_BENCH_BATCH_RUNS (default 5 rounds of 50 detached containers),
// CONTAINER_BENCH_NOPODMAN=1 to leave podman out, CONTAINER_BENCH_NODOCKER=1
// to leave docker out (a private dockerd is started when dockerd is
// installed: its own data and exec roots, no bridge, no iptables rules),
// CONTAINER_BENCH_HIBERNATE_AFTER to set runtime.hibernateAfter ("0s": the
// supervisors never hibernate; the memory rows then show them awake).
func TestContainersBench(t *testing.T) {
	if os.Getenv("CONTAINER_BENCH") != "1" {
		t.Skip("set CONTAINER_BENCH=1 (bench/containers.sh does)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	out := os.Getenv("CONTAINER_BENCH_OUTPUT")
	if out == "" {
		t.Fatal("CONTAINER_BENCH_OUTPUT must name the make build tree (_output)")
	}
	runs, batchRuns := envInt("CONTAINER_BENCH_RUNS", 20), envInt("CONTAINER_BENCH_BATCH_RUNS", 5)
	bigRuns := envInt("CONTAINER_BENCH_BIG_RUNS", runs)

	dir, err := os.MkdirTemp("", "cb")
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-registered first: podman's reset, then these.
	t.Cleanup(func() { os.RemoveAll(dir) })
	t.Cleanup(func() { removeCgroups("containerbench") })
	// podman (cgroupfs manager) makes a libpod_parent cgroup that its
	// reset leaves; remove it after the reset unless it was there before.
	if _, err := os.Stat("/sys/fs/cgroup/memory/libpod_parent"); os.IsNotExist(err) {
		t.Cleanup(func() { removeCgroups("libpod_parent") })
	}
	b := &bencher{t: t, out: out, dir: dir, sock: filepath.Join(dir, "api.sock"), results: map[string]float64{}}
	cfg := filepath.Join(dir, "config.toml")
	// The whole 100 MiB log is kept, so logs reads all of it back.
	conf := "[logs]\nmaxSize = 209715200\nmaxFiles = 2\n"
	if h := os.Getenv("CONTAINER_BENCH_HIBERNATE_AFTER"); h != "" {
		conf += fmt.Sprintf("[runtime]\nhibernateAfter = %q\n", h)
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.cfg = cfg

	// apiserver start → first answered Status, a fresh process each time.
	var startup []time.Duration
	for range 10 {
		d := b.startDaemon()
		startup = append(startup, d.firstCall)
		d.stop()
	}
	d := b.startDaemon()
	defer d.stop()

	// One busybox archive, loaded by both engines.
	archive := filepath.Join(dir, "busybox.tar")
	tag, err := name.NewTag(benchImage)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(archive, tag, imagetest.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	b.cli("image", "load", "-i", archive)
	time.Sleep(2 * time.Second)
	idleRSS := rssKiB(d.cmd.Process.Pid)

	ref := b.prepareRunc()
	pod := b.preparePodman(archive)
	dock := b.prepareDocker(archive)

	// run --rm true.
	ctrRun := []string{"run", "--rm", "--network", "none", benchImage, "true"}
	engines := []engine{
		{"container", func(int) { b.cli(ctrRun...) }},
		{"runc", func(i int) { ref.run(fmt.Sprintf("r%d", i), nil, "true") }},
	}
	if pod != nil {
		engines = append(engines, engine{"podman", func(int) {
			pod.run("run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", benchImage, "true")
		}})
	}
	if dock != nil {
		engines = append(engines, engine{"docker", func(int) {
			dock.run("run", "--rm", "--network", "none", benchImage, "true")
		}})
	}
	runTimes := interleave(runs, engines)

	// 50 detached containers, two at a time, then removed.
	const batch = 50
	batchEngines := []engine{
		{"container", func(round int) {
			ids := make([]string, batch)
			for i := range ids {
				ids[i] = fmt.Sprintf("b%d-%d", round, i)
			}
			parallel(2, ids, func(id string) {
				b.cli("run", "-d", "--network", "none", "--name", id, benchImage, "sleep", "1000")
			})
			parallel(2, ids, func(id string) { b.cli("rm", "-f", id) })
		}},
		{"runc", func(round int) {
			ids := make([]string, batch)
			for i := range ids {
				ids[i] = fmt.Sprintf("b%d-%d", round, i)
			}
			parallel(2, ids, func(id string) { ref.runDetached(id, "sleep", "1000") })
			parallel(2, ids, func(id string) { ref.runc("delete", "-f", id) })
		}},
	}
	batchTimes := interleave(batchRuns, batchEngines)

	// Supervisor memory: one running container, then ten.
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("m%d", i)
		b.cli("run", "-d", "--network", "none", "--name", id, benchImage, "sleep", "1000")
		ids = append(ids, id)
	}
	// A running container's supervisor hibernates (execs
	// container-runtime-monitor in its own process) once it has served
	// nothing but Wait for runtime.hibernateAfter: measure that steady
	// state, waiting for it at most 15 s (none when hibernation is off);
	// one still awake is measured as it is.
	time.Sleep(time.Second)
	deadline := time.Now().Add(15 * time.Second)
	if h, err := time.ParseDuration(os.Getenv("CONTAINER_BENCH_HIBERNATE_AFTER")); err == nil && h == 0 {
		deadline = time.Now()
	}
	// All are waited for first: a hibernated supervisor's PSS depends on
	// how many others share the monitor's pages.
	pids := make([]int, len(ids))
	for i, id := range ids {
		pids[i] = b.supervisorPid(id)
		for time.Now().Before(deadline) {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pids[i])); filepath.Base(exe) == "container-runtime-monitor" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var pss []float64
	for _, pid := range pids {
		pss = append(pss, float64(pssKiB(t, pid)))
	}
	onePSS := pss[0]
	var sum float64
	for _, p := range pss {
		sum += p
	}
	meanPSS := sum / float64(len(pss))
	busyRSS := rssKiB(d.cmd.Process.Pid)
	parallel(2, ids, func(id string) { b.cli("rm", "-f", id) })

	// 100 MiB to stdout: run → exit, then logs reading it all back.
	line := strings.Repeat("x", 1023)
	script := fmt.Sprintf("yes %s | head -c 104857600", line)
	outFile := filepath.Join(dir, "runc.out")
	var logTimes, rmTimes, fgRm []time.Duration
	bigEngines := []engine{
		{"container", func(i int) {
			id := fmt.Sprintf("big%d", i)
			// Output to /dev/null, as runc's goes to a file: the CLI's
			// writes cost what a terminal or file would, not a test buffer.
			b.cliQuiet("run", "--network", "none", "--name", id, benchImage, "sh", "-c", script)
			start := time.Now()
			n := b.cliCount("logs", id)
			logTimes = append(logTimes, time.Since(start))
			if n != 104857600 {
				t.Fatalf("logs %s read back %d bytes, want 104857600", id, n)
			}
			start = time.Now()
			b.cli("rm", "-f", id)
			fgRm = append(fgRm, time.Since(start))
		}},
		{"container -d", func(i int) {
			// The same output, only logged: no client streams it.
			id := fmt.Sprintf("bigd%d", i)
			b.cliQuiet("run", "-d", "--network", "none", "--name", id, benchImage, "sh", "-c", script)
			b.cliQuiet("wait", id)
			start := time.Now()
			b.cli("rm", "-f", id)
			rmTimes = append(rmTimes, time.Since(start))
		}},
		{"runc", func(i int) {
			f, err := os.Create(outFile)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ref.run(fmt.Sprintf("big%d", i), f, "sh", "-c", script)
		}},
	}
	// The logs read-back and the removals are timed inside the container
	// engines' turns; take them out of the run → exit figures.
	bigTimes := interleave(bigRuns, bigEngines)
	for i := range bigTimes["container"] {
		bigTimes["container"][i] -= logTimes[i] + fgRm[i]
		bigTimes["container -d"][i] -= rmTimes[i]
	}

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rows := []row{
		{"run --rm true", ms(median(runTimes["container"])), "runc run", ms(median(runTimes["runc"])), 1.5, "ms"},
	}
	if pod != nil {
		rows = append(rows, row{"run --rm true (vs podman)", ms(median(runTimes["container"])), "podman run --rm", ms(median(runTimes["podman"])), 1.0, "ms"})
	}
	if dock != nil {
		rows = append(rows, row{"run --rm true (vs docker)", ms(median(runTimes["container"])), "docker run --rm", ms(median(runTimes["docker"])), 1.0, "ms"})
	}
	rows = append(rows,
		row{"50 detached start+rm (2 workers)", ms(median(batchTimes["container"])), "runc run -d/delete -f", ms(median(batchTimes["runc"])), 1.5, "ms"},
		row{"supervisor PSS, 1 of 10 running", onePSS / 1024, "target", 1, 0, "MiB"},
		row{"supervisor PSS, mean of 10", meanPSS / 1024, "target", 1, 0, "MiB"},
		row{"idle apiserver RSS", float64(idleRSS) / 1024, "target", 25, 0, "MiB"},
		row{"apiserver RSS, 10 running", float64(busyRSS) / 1024, "-", 0, 0, "MiB"},
		row{"apiserver start -> first Status", ms(median(startup)), "target", 50, 0, "ms"},
		row{"100 MiB stdout run -> exit", ms(median(bigTimes["container"])), "runc > file", ms(median(bigTimes["runc"])), 1.1, "ms"},
		row{"100 MiB stdout run -d + wait", ms(median(bigTimes["container -d"])), "runc > file", ms(median(bigTimes["runc"])), 1.1, "ms"},
		row{"logs read-back 100 MiB", ms(median(logTimes)), "target", 300, 0, "ms"},
	)
	var report strings.Builder
	fmt.Fprintf(&report, "container bench %s, %d runs (%d rounds of 50, %d runs of 100 MiB), medians\n",
		time.Now().UTC().Format(time.RFC3339), runs, batchRuns, bigRuns)
	fmt.Fprintf(&report, "%-36s %10s  %-22s %10s  %7s  %s\n", "measure", "ours", "reference", "ref", "ratio", "target")
	for _, r := range rows {
		report.WriteString(r.String())
	}
	if pod == nil {
		report.WriteString("podman: not installed, left out\n")
	}
	if dock == nil {
		report.WriteString("docker: dockerd not installed, left out\n")
	}
	fmt.Print(report.String())
	resDir := filepath.Join(filepath.Dir(out), "bench", "results")
	if err := os.MkdirAll(resDir, 0o755); err == nil {
		f := filepath.Join(resDir, "containers-"+time.Now().UTC().Format("20060102T150405Z")+".txt")
		if err := os.WriteFile(f, []byte(report.String()), 0o644); err == nil {
			fmt.Printf("written to %s\n", f)
		}
	}
}

type row struct {
	name    string
	ours    float64
	refName string
	ref     float64
	target  float64 // ratio target when ref is measured, else 0 and ref is the absolute target
	unit    string
}

func (r row) String() string {
	if r.target == 0 {
		verdict := "met"
		if r.ref > 0 && r.ours > r.ref {
			verdict = "MISSED"
		}
		if r.ref == 0 {
			return fmt.Sprintf("%-36s %8.1f%-3s\n", r.name, r.ours, r.unit)
		}
		return fmt.Sprintf("%-36s %8.1f%-3s %-22s %8.1f%-3s %7s  %s\n", r.name, r.ours, r.unit, r.refName, r.ref, r.unit, "-", "<= abs "+verdict)
	}
	ratio := r.ours / r.ref
	verdict := "met"
	if ratio > r.target {
		verdict = "MISSED"
	}
	return fmt.Sprintf("%-36s %8.1f%-3s %-22s %8.1f%-3s %7.2f  <= %.2fx %s\n", r.name, r.ours, r.unit, r.refName, r.ref, r.unit, ratio, r.target, verdict)
}

type engine struct {
	name string
	run  func(i int)
}

// interleave runs every engine once per round, rotating the order, and
// returns each engine's times.
func interleave(rounds int, engines []engine) map[string][]time.Duration {
	times := map[string][]time.Duration{}
	for i := range rounds {
		for k := range engines {
			e := engines[(i+k)%len(engines)]
			start := time.Now()
			e.run(i)
			times[e.name] = append(times[e.name], time.Since(start))
		}
	}
	return times
}

func parallel(workers int, items []string, fn func(string)) {
	ch := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for it := range ch {
				fn(it)
			}
		})
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
}

type bencher struct {
	t       *testing.T
	out     string
	dir     string
	sock    string
	cfg     string
	results map[string]float64
}

type daemon struct {
	t         *testing.T
	cmd       *exec.Cmd
	logs      *os.File
	firstCall time.Duration
}

func (b *bencher) startDaemon() *daemon {
	t := b.t
	logs, err := os.Create(filepath.Join(b.dir, "apiserver.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(b.out, "bin", "container-apiserver"), "start",
		"--root", filepath.Join(b.dir, "root"), "--state", filepath.Join(b.dir, "state"), "--socket", b.sock,
		"--log-root", filepath.Join(b.dir, "logs"), "--log-level", "warn", "--config", b.cfg)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(b.dir, "xdg"))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, logs: logs}
	deadline := start.Add(10 * time.Second)
	for {
		if c, err := client.Dial(context.Background(), b.sock); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = c.Status(ctx)
			cancel()
			c.Close()
			if err == nil {
				d.firstCall = time.Since(start)
				return d
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			log, _ := os.ReadFile(logs.Name())
			t.Fatalf("apiserver did not answer Status within 10s:\n%s", log)
		}
		time.Sleep(time.Millisecond)
	}
}

func (d *daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	_ = d.cmd.Wait()
	d.logs.Close()
}

func (b *bencher) command(args ...string) *exec.Cmd {
	return exec.Command(filepath.Join(b.out, "bin", "container"), append([]string{"--host", b.sock}, args...)...)
}

func (b *bencher) cli(args ...string) {
	b.t.Helper()
	if out, err := b.command(args...).CombinedOutput(); err != nil {
		b.t.Fatalf("container %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// cliQuiet runs the CLI with stdout on /dev/null.
func (b *bencher) cliQuiet(args ...string) {
	b.t.Helper()
	cmd := b.command(args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("container %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
}

// cliCount runs the CLI with stdout counted and discarded.
func (b *bencher) cliCount(args ...string) int64 {
	b.t.Helper()
	cmd := b.command(args...)
	var cw countWriter
	cmd.Stdout = &cw
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("container %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return cw.n
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func (b *bencher) supervisorPid(id string) int {
	b.t.Helper()
	for _, p := range []string{filepath.Join(b.dir, "state", "containers", id, "supervisor.pid")} {
		data, err := os.ReadFile(p)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err == nil {
				return pid
			}
		}
	}
	b.t.Fatalf("no supervisor.pid for %s", id)
	return 0
}

// runcRef is a raw runc bundle of the same busybox rootfs, with the
// config.json our supervisor generated (same namespaces, caps, seccomp,
// masked paths), one bundle directory per container id.
type runcRef struct {
	t      *testing.T
	root   string // runc --root
	dir    string
	config map[string]any
}

func (b *bencher) prepareRunc() *runcRef {
	t := b.t
	b.cli("run", "--network", "none", "--name", "benchref", benchImage, "true")
	bundle := filepath.Join(b.dir, "root", "containers", "benchref")
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := &runcRef{t: t, root: filepath.Join(b.dir, "runc"), dir: filepath.Join(b.dir, "ref")}
	if err := json.Unmarshal(data, &r.config); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(r.dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	tar := exec.Command("tar", "-x", "-C", rootfs)
	tar.Stdin = strings.NewReader(string(imagetest.Tar(t, imagetest.BusyboxEntries(t)...)))
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("extract rootfs: %v\n%s", err, out)
	}
	// Files our bundle bind-mounts (hostname, hosts, resolv.conf) move to
	// the reference dir.
	if mounts, ok := r.config["mounts"].([]any); ok {
		for _, m := range mounts {
			mm := m.(map[string]any)
			src, _ := mm["source"].(string)
			if strings.HasPrefix(src, bundle+"/") {
				dst := filepath.Join(r.dir, strings.TrimPrefix(src, bundle+"/"))
				content, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, content, 0o644); err != nil {
					t.Fatal(err)
				}
				mm["source"] = dst
			}
		}
	}
	r.config["root"] = map[string]any{"path": rootfs}
	delete(r.config, "hooks")
	b.cli("rm", "-f", "benchref")
	return r
}

func (r *runcRef) bundle(id string, args ...string) string {
	dir := filepath.Join(r.dir, "bundles", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	proc := r.config["process"].(map[string]any)
	proc["args"] = args
	proc["terminal"] = false
	r.config["linux"].(map[string]any)["cgroupsPath"] = "/containerbench/" + id
	data, _ := json.Marshal(r.config)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return dir
}

var configMu sync.Mutex

// run is `runc run` in the foreground (the container is destroyed when it
// exits), stdout to w (nil: /dev/null). The bundle is written beforehand,
// outside the timing that matters little: it is one small file.
func (r *runcRef) run(id string, w io.Writer, args ...string) {
	configMu.Lock()
	bundle := r.bundle(id, args...)
	configMu.Unlock()
	cmd := exec.Command("runc", "--root", r.root, "run", "--bundle", bundle, id)
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("runc run %s: %v\n%s", id, err, stderr.String())
	}
	os.RemoveAll(bundle)
}

func (r *runcRef) runDetached(id string, args ...string) {
	configMu.Lock()
	bundle := r.bundle(id, args...)
	configMu.Unlock()
	// The container inherits runc's stdio: /dev/null, or a pipe would
	// stay open for as long as it runs.
	cmd := exec.Command("runc", "--root", r.root, "run", "-d", "--bundle", bundle, id)
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("runc run -d %s: %v", id, err)
	}
}

func (r *runcRef) runc(args ...string) {
	cmd := exec.Command("runc", append([]string{"--root", r.root}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("runc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type podmanRef struct {
	t    *testing.T
	bin  string
	args []string
}

func (b *bencher) preparePodman(archive string) *podmanRef {
	if os.Getenv("CONTAINER_BENCH_NOPODMAN") == "1" {
		return nil
	}
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil
	}
	p := filepath.Join(b.dir, "podman")
	pr := &podmanRef{t: b.t, bin: bin, args: []string{"--root", filepath.Join(p, "root"), "--runroot", filepath.Join(p, "run"),
		"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--runtime", "runc", "--events-backend", "file",
		"--tmpdir", filepath.Join(p, "tmp")}}
	pr.run("load", "-q", "-i", archive)
	b.t.Cleanup(func() {
		_ = exec.Command(bin, append(pr.args, "system", "reset", "-f")...).Run()
	})
	return pr
}

// dockerRef is a private dockerd: data and exec roots under the bench's
// directory, no bridge, no iptables rules, its own containerd.
type dockerRef struct {
	t    *testing.T
	bin  string
	args []string
}

func (b *bencher) prepareDocker(archive string) *dockerRef {
	t := b.t
	if os.Getenv("CONTAINER_BENCH_NODOCKER") == "1" {
		return nil
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return nil
	}
	bin, err := exec.LookPath("docker")
	if err != nil {
		return nil
	}
	p := filepath.Join(b.dir, "docker")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := "unix://" + filepath.Join(p, "docker.sock")
	logs, err := os.Create(filepath.Join(p, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dockerd, "--data-root", filepath.Join(p, "data"), "--exec-root", filepath.Join(p, "exec"),
		"--pidfile", filepath.Join(p, "dockerd.pid"), "-H", sock, "--bridge=none", "--iptables=false",
		"--ip-masq=false", "--ip-forward=false", "--userland-proxy=false", "--cgroup-parent", "containerbench-docker")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dr := &dockerRef{t: t, bin: bin, args: []string{"-H", sock}}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logs.Close()
		removeCgroups("containerbench-docker")
	})
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command(bin, append(dr.args, "info")...).Run() != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logs.Name())
			t.Fatalf("private dockerd did not answer within 30s:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	dr.run("load", "-q", "-i", archive)
	return dr
}

func (d *dockerRef) run(args ...string) {
	cmd := exec.Command(d.bin, append(d.args, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		d.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (p *podmanRef) run(args ...string) {
	cmd := exec.Command(p.bin, append(p.args, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func rssKiB(pid int) int64 { return statusField(pid, "VmRSS:") }

func statusField(pid int, field string) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func pssKiB(t *testing.T, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "Pss:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

// removeCgroups removes the (empty) cgroup directories a reference engine
// left under name in every hierarchy.
func removeCgroups(name string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	dirs = append(dirs, "/sys/fs/cgroup/"+name)
	for _, d := range dirs {
		removeCgroupTree(d)
	}
}

// removeCgroupTree removes d and the cgroups below it, deepest first (a
// cgroup directory goes with rmdir once it has no children).
func removeCgroupTree(d string) {
	subs, _ := os.ReadDir(d)
	for _, s := range subs {
		if s.IsDir() {
			removeCgroupTree(filepath.Join(d, s.Name()))
		}
	}
	_ = os.Remove(d)
}
