// Package bench holds benchmarks that compare container with other engines.
// They are not part of the test suite: each runs only when CONTAINER_BENCH=1
// (see pull.sh).
package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/internal/testutil/imagetest"
	"github.com/berth/container/internal/testutil/registrytest"
)

// TestPullBench pulls and unpacks a multi-layer image of ≥ 100 MB from an
// in-process registry with `container image pull` (a real apiserver) and
// with `podman pull`, several times each from an empty store, and reports
// the medians and their ratio. It then pulls a second image sharing all
// but one layer and checks that only the new layer is unpacked.
//
// Environment: CONTAINER_BENCH=1, CONTAINER_BENCH_OUTPUT=<make build tree>,
// CONTAINER_BENCH_RUNS (default 5), CONTAINER_BENCH_LAYERS (default 4),
// CONTAINER_BENCH_LAYER_MB (default 32).
func TestPullBench(t *testing.T) {
	if os.Getenv("CONTAINER_BENCH") != "1" {
		t.Skip("set CONTAINER_BENCH=1 (bench/pull.sh does)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	out := os.Getenv("CONTAINER_BENCH_OUTPUT")
	if out == "" {
		t.Fatal("CONTAINER_BENCH_OUTPUT must name the make build tree (_output)")
	}
	runs, layers, layerMB := envInt("CONTAINER_BENCH_RUNS", 5), envInt("CONTAINER_BENCH_LAYERS", 4), envInt("CONTAINER_BENCH_LAYER_MB", 32)

	reg := registrytest.New(t)
	big := imagetest.Big(t, layers, int64(layerMB)<<20, 1)
	reg.Push(t, "big:1", big)
	size, _ := big.Size()
	var total int64
	ls, _ := big.Layers()
	for _, l := range ls {
		s, _ := l.Size()
		total += s
	}
	total += size
	t.Logf("image: %d layers, %.1f MB compressed", len(ls), float64(total)/(1<<20))

	dir, err := os.MkdirTemp("", "pb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "api.sock")
	daemon := exec.Command(filepath.Join(out, "bin", "container-apiserver"), "start",
		"--root", filepath.Join(dir, "root"), "--state", filepath.Join(dir, "state"), "--socket", sock,
		"--log-root", filepath.Join(dir, "logs"), "--log-level", "warn")
	var logs bytes.Buffer
	daemon.Stdout, daemon.Stderr = &logs, &logs
	daemon.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		_ = daemon.Wait()
		if t.Failed() {
			t.Logf("apiserver log:\n%s", logs.String())
		}
	}()
	c, err := client.Dial(t.Context(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(out, "bin", "container"), append([]string{"--host", sock}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("container %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}

	ours := timeRuns(t, runs, func() { cli("image", "rm", "-a", "-f"); dropCaches() }, func() {
		cli("image", "pull", "--progress", "none", reg.Ref("big:1"))
	})

	// Layers shared with a second image are not unpacked again.
	snapDir := filepath.Join(dir, "root", "snapshots", "snapshots")
	before := countDir(snapDir)
	cfg, _ := big.ConfigFile()
	big2 := imagetest.Image(t, cfg.Architecture, append(ls, imagetest.Layer(t, imagetest.File("extra", "x")))...)
	reg.Push(t, "big:2", big2)
	cli("image", "pull", "--progress", "none", reg.Ref("big:2"))
	after := countDir(snapDir)
	t.Logf("snapshots: %d after big:1, %d after big:2 (shares %d layers)", before, after, len(ls))
	if after != before+1 {
		t.Errorf("pulling an image sharing %d layers added %d snapshots, want 1", len(ls), after-before)
	}

	var theirs []time.Duration
	if podman, err := exec.LookPath("podman"); err == nil {
		proot := filepath.Join(dir, "podman")
		p := func(args ...string) {
			t.Helper()
			cmd := exec.Command(podman, append([]string{"--root", filepath.Join(proot, "root"), "--runroot", filepath.Join(proot, "run"),
				"--storage-driver", "overlay"}, args...)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, b)
			}
		}
		theirs = timeRuns(t, runs, func() { p("rmi", "-a", "-f"); dropCaches() }, func() {
			p("pull", "-q", "--tls-verify=false", reg.Ref("big:1"))
		})
		p("rmi", "-a", "-f")
		cmd := exec.Command(podman, "--root", filepath.Join(proot, "root"), "--runroot", filepath.Join(proot, "run"), "system", "reset", "-f")
		_ = cmd.Run()
	} else {
		t.Log("podman not installed: no comparison")
	}
	mo := median(ours)
	fmt.Printf("container image pull: median %v over %d runs %v\n", mo.Round(time.Millisecond), runs, roundAll(ours))
	if len(theirs) > 0 {
		mt := median(theirs)
		fmt.Printf("podman pull:          median %v over %d runs %v\n", mt.Round(time.Millisecond), runs, roundAll(theirs))
		fmt.Printf("ratio container/podman: %.2f (target <= 0.80)\n", float64(mo)/float64(mt))
	}
}

func timeRuns(t *testing.T, n int, reset, run func()) []time.Duration {
	var out []time.Duration
	for range n {
		reset()
		start := time.Now()
		run()
		out = append(out, time.Since(start))
	}
	return out
}

func dropCaches() {
	syscall.Sync()
	_ = os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0o200)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

func countDir(dir string) int {
	ents, _ := os.ReadDir(dir)
	return len(ents)
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}
