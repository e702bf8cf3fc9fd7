package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// writeTestPlugin creates <parent>/<name>/{config.toml,bin/<name>}.
func writeTestPlugin(t *testing.T, parent, name, config, script string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitPlugin polls GetPlugin until its boot instance satisfies ok.
func waitPlugin(t *testing.T, c *client.Client, name string, ok func(client.PluginInstance) bool) client.PluginInstance {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last client.Plugin
	for time.Now().Before(deadline) {
		p, err := c.GetPlugin(t.Context(), name)
		if err != nil {
			t.Fatalf("GetPlugin(%q): %v", name, err)
		}
		last = p
		for _, in := range p.Instances {
			if in.ID == "" && ok(in) {
				return in
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("plugin %q: boot instance never reached the expected state; last %+v", name, last)
	return client.PluginInstance{}
}

// liveProcessesInGroup lists non-zombie processes whose process group is pgid.
func liveProcessesInGroup(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := procStat(pid)
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// readPids parses a file of one pid per line.
func readPluginPids(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func pluginRunning(in client.PluginInstance) bool { return in.State == "running" && in.PID > 0 }

func TestPlugins(t *testing.T) {
	install := NewInstallRoot(t)
	builtin := filepath.Join(install, "libexec", "container", "plugins")
	user := filepath.Join(install, "libexec", "container-plugins")
	pidFile := filepath.Join(install, "core.pids")

	coreConfig := "abstract = \"test core plugin\"\n[servicesConfig]\nloadAtBoot = true\ndefaultArguments = [\"--flag\"]\n[[servicesConfig.services]]\ntype = \"core\"\n"
	// Not exec: the shell leaves a sleep child that must go with it.
	writeTestPlugin(t, builtin, "tcore", coreConfig,
		fmt.Sprintf("#!/bin/sh\necho $$ >> %s\necho \"tcore $$ args: $*\"\nsleep 600\n", pidFile))
	writeTestPlugin(t, builtin, "tbroken", "abstract = \"broken\"\nloadAtBot = true\n", "#!/bin/sh\nexit 0\n")
	shadowedDir := writeTestPlugin(t, builtin, "tshadow", "abstract = \"built-in\"\n", "#!/bin/sh\necho builtin\n")
	userDir := writeTestPlugin(t, user, "tshadow", "abstract = \"user\"\n", "#!/bin/sh\necho user\n")
	writeTestPlugin(t, builtin, "hello", "abstract = \"says hello\"\n",
		"#!/bin/sh\necho \"hello $*\"\necho \"to stderr\" >&2\nexit 7\n")

	d := StartDaemon(t, WithInstallRoot(install))
	ctx := t.Context()
	c := d.Client

	ps, err := c.ListPlugins(ctx)
	if err != nil {
		t.Fatalf("ListPlugins: %v", err)
	}
	byName := map[string]client.Plugin{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	for _, name := range []string{"tcore", "tbroken", "tshadow", "hello"} {
		if _, ok := byName[name]; !ok {
			t.Fatalf("ListPlugins has no %q: %+v", name, ps)
		}
	}
	if p := byName["tbroken"]; !p.Broken || !strings.Contains(p.Error, "loadAtBot") {
		t.Errorf("tbroken = %+v, want broken with a reason naming the unknown key", p)
	}
	if p := byName["tshadow"]; p.Origin != "user" || p.Path != userDir || !slices.Equal(p.Shadows, []string{shadowedDir}) || p.Abstract != "user" {
		t.Errorf("tshadow = %+v, want the user plugin shadowing %s", p, shadowedDir)
	}
	if p := byName["hello"]; p.Broken || len(p.ServiceTypes) != 0 || len(p.Instances) != 0 {
		t.Errorf("hello = %+v, want a usable CLI plugin with no instances", p)
	}
	if p := byName["tcore"]; p.Broken || !p.LoadAtBoot || !slices.Equal(p.ServiceTypes, []string{"core"}) {
		t.Errorf("tcore = %+v, want a usable core plugin loaded at boot", p)
	}
	// The daemon's logs name the broken plugin.
	if !strings.Contains(d.Logs(), "tbroken") {
		t.Errorf("apiserver log does not mention the broken plugin")
	}

	// Booted, then restarted with a new pid after kill -9.
	first := waitPlugin(t, c, "tcore", pluginRunning)
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitPlugin(t, c, "tcore", func(in client.PluginInstance) bool { return pluginRunning(in) && in.PID != first.PID })
	if second.Restarts < 1 {
		t.Errorf("restarts after kill -9 = %d, want >= 1", second.Restarts)
	}
	if want := filepath.Join(d.LogRoot, "tcore.log"); second.LogPath != want {
		t.Errorf("LogPath = %q, want %q", second.LogPath, want)
	}
	waitPluginLog(t, second.LogPath, fmt.Sprintf("tcore %d args: --flag", second.PID))

	// Restart over the API.
	p, err := c.RestartPlugin(ctx, "tcore")
	if err != nil {
		t.Fatalf("RestartPlugin: %v", err)
	}
	if len(p.Instances) != 1 || !pluginRunning(p.Instances[0]) || p.Instances[0].PID == second.PID {
		t.Errorf("after RestartPlugin: %+v, want a new running instance", p.Instances)
	}
	if _, err := c.RestartPlugin(ctx, "hello"); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("RestartPlugin(hello) = %v, want ErrFailedPrecondition", err)
	}
	if _, err := c.GetPlugin(ctx, "nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("GetPlugin(nosuch) = %v, want ErrNotFound", err)
	}

	// CLI plugins through the container binary.
	out, errOut, code := d.CLI(t, "hello", "a", "b")
	if code != 7 || out != "hello a b\n" || !strings.Contains(errOut, "to stderr") {
		t.Errorf("container hello a b: exit %d, stdout %q, stderr %q; want exit 7 and the plugin's output", code, out, errOut)
	}
	if out, errOut, code := d.CLI(t, "tshadow"); code != 0 || out != "user\n" {
		t.Errorf("container tshadow: exit %d, stdout %q, stderr %q; want the user plugin", code, out, errOut)
	}

	// Stopping the daemon stops every plugin process it started.
	d.Stop(t)
	pids := readPluginPids(t, pidFile)
	if len(pids) < 3 {
		t.Errorf("core plugin started %d times, want at least 3 (boot, after kill, restart)", len(pids))
	}
	deadline := time.Now().Add(3 * time.Second) // killed stragglers may take a moment
	for _, pid := range pids {
		left := liveProcessesInGroup(pid)
		for len(left) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			left = liveProcessesInGroup(pid)
		}
		if len(left) > 0 {
			t.Errorf("plugin process group %d still has processes %v after the daemon stopped", pid, left)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

func waitPluginLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(want)) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s = %q, want it to contain %q", path, b, want)
}

// TestPluginsAfterApiserverKill: a core plugin dies with an apiserver that
// is killed outright (Pdeathsig), what it forked is cleaned up by the next
// apiserver, which boots the plugin again.
func TestPluginsAfterApiserverKill(t *testing.T) {
	install := NewInstallRoot(t)
	builtin := filepath.Join(install, "libexec", "container", "plugins")
	childFile := filepath.Join(install, "child.pids")
	coreConfig := "abstract = \"test core plugin\"\n[servicesConfig]\nloadAtBoot = true\n[[servicesConfig.services]]\ntype = \"core\"\n"
	// The background sleep does not get the parent-death signal.
	writeTestPlugin(t, builtin, "tcrash", coreConfig,
		fmt.Sprintf("#!/bin/sh\nsleep 600 &\necho $! >> %s\nwait\n", childFile))

	d := StartDaemon(t, WithInstallRoot(install))
	first := waitPlugin(t, d.Client, "tcrash", pluginRunning)
	waitPluginLog(t, childFile, "\n")
	d.Kill(t)

	// The plugin itself gets SIGTERM from the kernel.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(first.PID, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := liveProcessesInGroup(first.PID); slices.Contains(left, first.PID) {
		t.Errorf("plugin pid %d survived the apiserver's SIGKILL", first.PID)
	}

	d.Restart(t)
	second := waitPlugin(t, d.Client, "tcrash", pluginRunning)
	if left := liveProcessesInGroup(first.PID); len(left) > 0 {
		t.Errorf("processes %v of the old plugin survived the apiserver restart", left)
		_ = syscall.Kill(-first.PID, syscall.SIGKILL)
	}
	d.Stop(t)
	time.Sleep(100 * time.Millisecond)
	for _, pg := range []int{first.PID, second.PID} {
		if left := liveProcessesInGroup(pg); len(left) > 0 {
			t.Errorf("plugin process group %d still has processes %v after the daemon stopped", pg, left)
			_ = syscall.Kill(-pg, syscall.SIGKILL)
		}
	}
}
