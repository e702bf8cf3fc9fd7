package plugins

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/errdefs"
)

// startManager builds a Manager over root with a fast restart policy, runs
// it, and stops it when the test ends, checking that every process group
// it ever saw is gone.
func startManager(t *testing.T, root string) (*Manager, *pgroups) {
	t.Helper()
	m, err := New(Opt{InstallRoot: root, LogRoot: filepath.Join(root, "logs"), StateRoot: filepath.Join(root, "state"), Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	m.policy = policy{minDelay: 50 * time.Millisecond, maxDelay: 200 * time.Millisecond, resetAfter: 10 * time.Second, stopTimeout: 500 * time.Millisecond}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	pg := &pgroups{}
	t.Cleanup(func() {
		cancel(errors.New("test over"))
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		pg.assertGone(t)
	})
	return m, pg
}

// pgroups remembers process groups (plugin pids) a test has seen.
type pgroups struct{ ids []int }

func (g *pgroups) add(pid int) { g.ids = append(g.ids, pid) }

func (g *pgroups) assertGone(t *testing.T) {
	t.Helper()
	for _, pg := range g.ids {
		assertGroupGone(t, pg)
	}
}

// assertGroupGone checks that no live (non-zombie) process is left in
// process group pg. Killed members whose parent died are reaped by init a
// moment later, so zombies do not count, and there is a short grace period.
func assertGroupGone(t *testing.T, pg int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := liveInGroup(pg)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process group %d still has live processes %v", pg, left)
			_ = syscall.Kill(-pg, syscall.SIGKILL)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveInGroup lists the pids of non-zombie processes in process group pg.
func liveInGroup(pg int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pg {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitInstance polls until the instance id of plugin name satisfies ok.
func waitInstance(t *testing.T, m *Manager, name, id string, ok func(Instance) bool) Instance {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last Instance
	for time.Now().Before(deadline) {
		p, err := m.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range p.Instances {
			if in.ID == id {
				last = in
				if ok(in) {
					return in
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("plugin %q instance %q: condition not met; last %+v", name, id, last)
	return Instance{}
}

func running(in Instance) bool { return in.State == StateRunning && in.PID > 0 }

func TestSupervisedRestartAfterKill(t *testing.T) {
	root := t.TempDir()
	// Not exec: the shell's sleep child must be cleaned up with its group.
	writePlugin(t, BuiltinDir(root), "core1", coreConfig, "#!/bin/sh\necho started $$\nsleep 600\n")
	m, pg := startManager(t, root)

	first := waitInstance(t, m, "core1", "", running)
	pg.add(first.PID)
	if first.Restarts != 0 || first.StartedAt.IsZero() {
		t.Errorf("first instance = %+v, want 0 restarts and a start time", first)
	}
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitInstance(t, m, "core1", "", func(in Instance) bool { return running(in) && in.PID != first.PID })
	pg.add(second.PID)
	if second.Restarts != 1 {
		t.Errorf("restarts after one kill = %d, want 1", second.Restarts)
	}
	if !strings.Contains(second.LastError, "killed") {
		t.Errorf("LastError = %q, want it to say killed", second.LastError)
	}
	// The killed shell's sleep child went with its process group.
	assertGroupGone(t, first.PID)
	logPath := filepath.Join(root, "logs", "core1.log")
	if second.LogPath != logPath {
		t.Errorf("LogPath = %q, want %q", second.LogPath, logPath)
	}
	waitFile(t, logPath, fmt.Sprintf("started %d", second.PID))
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), fmt.Sprintf("started %d", first.PID)) {
		t.Errorf("log %q lost the first run's output (not appended)", b)
	}
}

// TestPluginLogRotated: a plugin log over the size limit goes to <log>.1 at
// the next start (replacing the older one); a smaller one is appended to.
func TestPluginLogRotated(t *testing.T) {
	root := t.TempDir()
	writePlugin(t, BuiltinDir(root), "core1", coreConfig, "#!/bin/sh\necho started $$\nexec sleep 600\n")
	logPath := filepath.Join(root, "logs", "core1.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	old := strings.Repeat("old run\n", 100)
	if err := os.WriteFile(logPath, []byte(old), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath+".1", []byte("older run\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	m, err := New(Opt{InstallRoot: root, LogRoot: filepath.Join(root, "logs"), StateRoot: filepath.Join(root, "state"), Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	m.logMax = 512
	m.policy = policy{minDelay: 50 * time.Millisecond, maxDelay: 200 * time.Millisecond, resetAfter: 10 * time.Second, stopTimeout: 500 * time.Millisecond}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(errors.New("test over")); <-done }()

	first := waitInstance(t, m, "core1", "", running)
	waitFile(t, logPath, fmt.Sprintf("started %d", first.PID))
	if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "old run") {
		t.Errorf("log over the limit not rotated: %q", b)
	}
	if b, _ := os.ReadFile(logPath + ".1"); string(b) != old {
		t.Errorf("%s.1 = %d bytes, want the old log (%d bytes)", logPath, len(b), len(old))
	}
	// Under the limit: the next run appends.
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitInstance(t, m, "core1", "", func(in Instance) bool { return running(in) && in.PID != first.PID })
	waitFile(t, logPath, fmt.Sprintf("started %d", second.PID))
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), fmt.Sprintf("started %d", first.PID)) {
		t.Errorf("log under the limit not appended to: %q", b)
	}
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s = %q, want it to contain %q", path, b, want)
}

func TestSupervisedBackoff(t *testing.T) {
	root := t.TempDir()
	writePlugin(t, BuiltinDir(root), "crashy", coreConfig, "#!/bin/sh\nexit 3\n")
	m, _ := startManager(t, root)

	start := time.Now()
	in := waitInstance(t, m, "crashy", "", func(in Instance) bool { return in.Restarts >= 4 })
	// Delays 50, 100, 200, 200 ms: four restarts take at least 550ms.
	if elapsed := time.Since(start); elapsed < 500*time.Millisecond {
		t.Errorf("4 restarts after %v: backoff not applied", elapsed)
	}
	if in.LastError != "exit status 3" {
		t.Errorf("LastError = %q, want exit status 3", in.LastError)
	}
	time.Sleep(time.Second)
	in = waitInstance(t, m, "crashy", "", func(Instance) bool { return true })
	// Capped at 200ms: about 5 more per second, never a tight loop.
	if in.Restarts > 15 {
		t.Errorf("restarts = %d after ~1.5s, want the delay capped at 200ms", in.Restarts)
	}
	if in.State != StateBackoff && in.State != StateRunning {
		t.Errorf("state = %q, want backoff or running", in.State)
	}
}

func TestSupervisedStopEscalatesToKill(t *testing.T) {
	root := t.TempDir()
	writePlugin(t, BuiltinDir(root), "stubborn", coreConfig, "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n")
	m, pg := startManager(t, root)
	in := waitInstance(t, m, "stubborn", "", running)
	pg.add(in.PID)
	time.Sleep(100 * time.Millisecond) // let the trap be installed
	start := time.Now()
	if err := m.StopInstance(t.Context(), "stubborn", ""); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("StopInstance returned after %v, before the stop timeout", d)
	}
	in = waitInstance(t, m, "stubborn", "", func(Instance) bool { return true })
	if in.State != StateStopped || in.PID != 0 {
		t.Errorf("after StopInstance: %+v, want stopped", in)
	}
	pg.assertGone(t)
}

func TestFailedStart(t *testing.T) {
	root := t.TempDir()
	// Executable but not a valid executable format: execve fails.
	writePlugin(t, BuiltinDir(root), "garbage", coreConfig, "\x00\x01\x02 not a program\n")
	writePlugin(t, BuiltinDir(root), "good", coreConfig, sleeper)
	m, pg := startManager(t, root)
	in := waitInstance(t, m, "garbage", "", func(in Instance) bool { return in.State == StateFailed })
	if in.LastError == "" {
		t.Error("failed instance has no LastError")
	}
	// A failing plugin does not hide or stop the others.
	good := waitInstance(t, m, "good", "", running)
	pg.add(good.PID)
}

func TestInstances(t *testing.T) {
	root := t.TempDir()
	netConfig := "abstract = \"net\"\n[servicesConfig]\ndefaultArguments = [\"serve\"]\n[[servicesConfig.services]]\ntype = \"network\"\n"
	writePlugin(t, BuiltinDir(root), "netp", netConfig, "#!/bin/sh\necho \"args=$* instance=$CONTAINER_PLUGIN_INSTANCE extra=$EXTRA notify=$NOTIFY_SOCKET\"\nexec sleep 600\n")
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify") // meant for the apiserver alone
	writePlugin(t, BuiltinDir(root), "hello", cliConfig, sleeper)
	writePlugin(t, BuiltinDir(root), "broken", "abstract = 1\n", sleeper)
	m, pg := startManager(t, root)
	ctx := t.Context()

	// Not booted: no loadAtBoot, and network plugins are per network.
	if p, _ := m.Get("netp"); len(p.Instances) != 0 {
		t.Fatalf("netp booted: %+v", p.Instances)
	}
	if err := m.StartInstance(ctx, "netp", "net1", InstanceOpts{Args: []string{"--bridge", "br1"}, Env: []string{"EXTRA=yes"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.StartInstance(ctx, "netp", "net2", InstanceOpts{}); err != nil {
		t.Fatal(err)
	}
	in1 := waitInstance(t, m, "netp", "net1", running)
	in2 := waitInstance(t, m, "netp", "net2", running)
	pg.add(in1.PID)
	pg.add(in2.PID)
	waitFile(t, filepath.Join(root, "logs", "netp-net1.log"), "args=serve --bridge br1 instance=net1 extra=yes notify=\n")

	for _, tc := range []struct {
		name, plugin, id string
		err              error
	}{
		{"duplicate", "netp", "net1", errdefs.ErrAlreadyExists},
		{"unknown plugin", "nosuch", "x", errdefs.ErrNotFound},
		{"cli plugin", "hello", "x", errdefs.ErrFailedPrecondition},
		{"broken plugin", "broken", "x", errdefs.ErrFailedPrecondition},
		{"empty id", "netp", "", errdefs.ErrInvalidArgument},
		{"bad id", "netp", "../x", errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.StartInstance(ctx, tc.plugin, tc.id, InstanceOpts{}); !errors.Is(err, tc.err) {
				t.Errorf("StartInstance(%q, %q) = %v, want %v", tc.plugin, tc.id, err, tc.err)
			}
		})
	}

	if err := m.StopInstance(ctx, "netp", "net1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(in1.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("net1 pid %d still alive after StopInstance: %v", in1.PID, err)
	}
	p, _ := m.Get("netp")
	if len(p.Instances) != 1 || p.Instances[0].ID != "net2" {
		t.Errorf("instances after stopping net1 = %+v, want only net2", p.Instances)
	}
	if err := m.StopInstance(ctx, "netp", "net1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second StopInstance = %v, want ErrNotFound", err)
	}
	// Stopped instances can be started again.
	if err := m.StartInstance(ctx, "netp", "net1", InstanceOpts{}); err != nil {
		t.Fatal(err)
	}
	pg.add(waitInstance(t, m, "netp", "net1", running).PID)
}

func TestRestart(t *testing.T) {
	root := t.TempDir()
	dir := BuiltinDir(root)
	writePlugin(t, dir, "core1", coreConfig, sleeper)
	writePlugin(t, dir, "hello", cliConfig, sleeper)
	fixme := writePlugin(t, dir, "fixme", "abstract = \"x\"\n[servicesConfig]\nloadAtBot = true\n", sleeper)
	m, pg := startManager(t, root)
	ctx := t.Context()

	old := waitInstance(t, m, "core1", "", running)
	pg.add(old.PID)
	p, err := m.Restart(ctx, "core1")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Instances) != 1 || !running(p.Instances[0]) || p.Instances[0].PID == old.PID {
		t.Fatalf("after Restart: %+v, want a new running instance (old pid %d)", p.Instances, old.PID)
	}
	pg.add(p.Instances[0].PID)
	if err := syscall.Kill(old.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("old pid %d alive after Restart: %v", old.PID, err)
	}

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"hello", errdefs.ErrFailedPrecondition},
		{"fixme", errdefs.ErrFailedPrecondition},
		{"nosuch", errdefs.ErrNotFound},
	} {
		if _, err := m.Restart(ctx, tc.name); !errors.Is(err, tc.err) {
			t.Errorf("Restart(%q) = %v, want %v", tc.name, err, tc.err)
		}
	}

	// Restart re-reads config.toml: fixing it makes the plugin usable.
	if err := os.WriteFile(filepath.Join(fixme, "config.toml"), []byte(coreConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = m.Restart(ctx, "fixme")
	if err != nil {
		t.Fatal(err)
	}
	if p.Broken || len(p.Instances) != 1 || !running(p.Instances[0]) {
		t.Fatalf("fixed plugin after Restart: %+v", p)
	}
	pg.add(p.Instances[0].PID)
}

func TestLookup(t *testing.T) {
	root := t.TempDir()
	rtConfig := "abstract = \"rt\"\n[servicesConfig]\n[[servicesConfig.services]]\ntype = \"runtime\"\n"
	writePlugin(t, BuiltinDir(root), "container-runtime-linux", rtConfig, sleeper)
	writePlugin(t, BuiltinDir(root), "core1", coreConfig, sleeper)
	writePlugin(t, BuiltinDir(root), "rtbroken", rtConfig, "")
	m, err := New(Opt{InstallRoot: root, LogRoot: filepath.Join(root, "logs"), Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Lookup("runtime", "container-runtime-linux")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(BuiltinDir(root), "container-runtime-linux", "bin", "container-runtime-linux"); p.Binary != want {
		t.Errorf("Binary = %q, want %q", p.Binary, want)
	}
	for _, tc := range []struct {
		typ, name string
		err       error
	}{
		{"runtime", "core1", errdefs.ErrNotFound},
		{"runtime", "nosuch", errdefs.ErrNotFound},
		{"runtime", "rtbroken", errdefs.ErrFailedPrecondition},
	} {
		if _, err := m.Lookup(tc.typ, tc.name); !errors.Is(err, tc.err) {
			t.Errorf("Lookup(%q, %q) = %v, want %v", tc.typ, tc.name, err, tc.err)
		}
	}
	if _, err := m.Get("nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get(nosuch) = %v, want ErrNotFound", err)
	}
	if _, err := New(Opt{LogRoot: "/tmp"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("New without install root = %v, want ErrInvalidArgument", err)
	}
}

func TestRunTwice(t *testing.T) {
	root := t.TempDir()
	m, _ := startManager(t, root)
	time.Sleep(10 * time.Millisecond)
	if err := m.Run(t.Context()); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("second Run = %v, want ErrFailedPrecondition", err)
	}
}

func TestKillStale(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	if err := os.MkdirAll(filepath.Join(state, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A leftover of a crashed apiserver: a process group whose members
	// carry the state root marker, and a stranger in a recorded group.
	spawn := func(env string) *exec.Cmd {
		cmd := exec.Command("sleep", "600")
		cmd.Env = append(os.Environ(), env)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	ours := spawn("CONTAINER_STATE_ROOT=" + state)
	stranger := spawn("CONTAINER_STATE_ROOT=" + state + "x")
	for name, cmd := range map[string]*exec.Cmd{"core1": ours, "other-net1": stranger} {
		if err := os.WriteFile(filepath.Join(state, "plugins", name+".pid"), fmt.Appendf(nil, "%d\n", cmd.Process.Pid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(Opt{InstallRoot: root, LogRoot: filepath.Join(root, "logs"), StateRoot: state, Log: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ours.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("leftover plugin process was not killed")
	}
	if err := stranger.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process without the marker was killed: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(state, "plugins")); len(ents) != 0 {
		t.Errorf("pid records left: %v", ents)
	}
}

func TestPIDRecord(t *testing.T) {
	root := t.TempDir()
	writePlugin(t, BuiltinDir(root), "core1", coreConfig, sleeper)
	m, pg := startManager(t, root)
	in := waitInstance(t, m, "core1", "", running)
	pg.add(in.PID)
	rec := filepath.Join(root, "state", "plugins", "core1.pid")
	b, err := os.ReadFile(rec)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(in.PID) {
		t.Fatalf("pid record = %q, %v; want %d", b, err, in.PID)
	}
	if err := m.StopInstance(t.Context(), "core1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rec); !os.IsNotExist(err) {
		t.Errorf("pid record still there after stop: %v", err)
	}
}

// TestRotateLog: a log over the limit becomes <log>.1 (replacing it); one
// at or under it, or none, is left alone.
func TestRotateLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apiserver.log")
	if err := RotateLog(path, 4); err != nil {
		t.Fatalf("no log: %v", err)
	}
	for _, f := range []struct{ path, data string }{{path, "four"}, {path + ".1", "older"}} {
		if err := os.WriteFile(f.path, []byte(f.data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := RotateLog(path, 4); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "four" {
		t.Fatalf("log at the limit changed: %q", b)
	}
	if err := RotateLog(path, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("log over the limit still there: %v", err)
	}
	if b, _ := os.ReadFile(path + ".1"); string(b) != "four" {
		t.Fatalf("%s.1 = %q, want the rotated log", path, b)
	}
}
