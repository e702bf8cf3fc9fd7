package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCLI runs bin/container with args in env (no --host added) and
// returns its stdout, stderr and exit code.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIAs(t, env, nil, cliBin, args...)
}

// runCLIAs is runCLI with a command prefix (e.g. setpriv ...) and binary.
func runCLIAs(t *testing.T, env, prefix []string, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	requireBinary(t, cliBin)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	argv := append(append(append([]string{}, prefix...), bin), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code = runExit(t, cmd)
	return out.String(), errb.String(), code
}

// cliEnv is the test's environment without CONTAINER_* settings, plus env.
func cliEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONTAINER_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

func TestCLISystemStatus(t *testing.T) {
	d := StartDaemon(t)

	out, errOut, code := d.CLI(t, "system", "status")
	if code != 0 {
		t.Fatalf("system status: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"status", "running", "appRoot", d.Root, "installRoot", "logRoot", d.LogRoot,
		"apiserver.version", "apiserver.commit", "apiserver.build", "apiserver.appName"} {
		if !strings.Contains(out, want) {
			t.Errorf("system status lacks %q:\n%s", want, out)
		}
	}

	out, errOut, code = d.CLI(t, "s", "status", "--format", "json")
	if code != 0 {
		t.Fatalf("system status --format json: exit %d, stderr %q", code, errOut)
	}
	var st map[string]string
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("system status json %q: %v", out, err)
	}
	want := map[string]string{"status": "running", "appRoot": d.Root, "installRoot": d.InstallRoot,
		"logRoot": d.LogRoot, "apiserver.appName": "container"}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("status json %s = %q, want %q", k, st[k], v)
		}
	}
	if st["apiserver.version"] == "" {
		t.Errorf("status json has no apiserver.version: %v", st)
	}

	out, errOut, code = d.CLI(t, "system", "version")
	if code != 0 || !strings.Contains(out, "CLI") || !strings.Contains(out, "API server") {
		t.Errorf("system version: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = d.CLI(t, "system", "property", "list", "--format", "json")
	if code != 0 || !strings.Contains(out, `"key":"runtime.default"`) {
		t.Errorf("system property list: exit %d\n%s%s", code, out, errOut)
	}

	// Nothing listening: a clear error and exit 1, at once.
	start := time.Now()
	_, errOut, code = runCLI(t, cliEnv(), "--host", filepath.Join(d.Dir, "none.sock"), "system", "status")
	if code != 1 || !strings.Contains(errOut, "Error: apiserver is not running") {
		t.Errorf("status without a server: exit %d, stderr %q", code, errOut)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("status without a server took %s", el)
	}
}

func TestCLISystemStartStop(t *testing.T) {
	requireIntegration(t)
	requireBinary(t, apiserverBin)
	dir := ShortTempDir(t)
	state := filepath.Join(dir, "state")
	sock := filepath.Join(state, "apiserver.sock")
	// A core plugin the apiserver boots: system stop must take it along.
	install := NewInstallRoot(t)
	ticker := filepath.Join(install, "libexec", "container-plugins", "ticker")
	if err := os.MkdirAll(filepath.Join(ticker, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ticker, "bin", "ticker"), []byte("#!/bin/sh\nwhile :; do sleep 1; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "abstract = \"ticks\"\n[servicesConfig]\nloadAtBoot = true\n[[servicesConfig.services]]\ntype = \"core\"\n"
	if err := os.WriteFile(filepath.Join(ticker, "config.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ours := func() []int { return append(ourProcesses(dir), ourProcesses(install)...) }
	env := cliEnv(
		"CONTAINER_APP_ROOT="+filepath.Join(dir, "root"),
		"CONTAINER_STATE_ROOT="+state,
		"CONTAINER_LOG_ROOT="+filepath.Join(dir, "logs"),
		"CONTAINER_INSTALL_ROOT="+install,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"CONTAINER_NO_SYSTEMD=1", // on a host run by systemd, do not install a unit
	)
	t.Cleanup(func() {
		// Should the test fail half-way, leave no apiserver behind.
		for _, p := range ours() {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})

	out, errOut, code := runCLI(t, env, "system", "start", "--timeout", "30")
	if code != 0 {
		t.Fatalf("system start: exit %d\n%s%s", code, out, errOut)
	}
	pidData, err := os.ReadFile(filepath.Join(state, "apiserver.pid"))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidData)))
	if procs := ourProcesses(dir); len(procs) != 1 || procs[0] != pid {
		t.Errorf("processes under %s: %v, want the apiserver %d", dir, procs, pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ourProcesses(install)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(ourProcesses(install)) == 0 {
		t.Errorf("core plugin ticker not started")
	}

	out, errOut, code = runCLI(t, env, "system", "start")
	if code != 0 || !strings.Contains(out, "already running") {
		t.Errorf("second system start: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, env, "system", "status", "--format", "json")
	if code != 0 || !strings.Contains(out, `"status":"running"`) || !strings.Contains(out, filepath.Join(dir, "root")) {
		t.Errorf("system status: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, env, "system", "logs", "--last", "5m")
	if code != 0 || !strings.Contains(out, "apiserver started") {
		t.Errorf("system logs: exit %d\n%s%s", code, out, errOut)
	}

	out, errOut, code = runCLI(t, env, "system", "stop")
	if code != 0 {
		t.Fatalf("system stop: exit %d\n%s%s", code, out, errOut)
	}
	if procs := ours(); len(procs) > 0 {
		t.Errorf("processes left after system stop: %v", procs)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket %s after system stop: %v", sock, err)
	}
	out, errOut, code = runCLI(t, env, "system", "status")
	if code != 1 || !strings.Contains(errOut, "not running") {
		t.Errorf("status after stop: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, env, "system", "stop")
	if code != 0 || !strings.Contains(out, "not running") {
		t.Errorf("second system stop: exit %d\n%s%s", code, out, errOut)
	}
}

// ourProcesses lists live (not zombie) processes whose command line
// mentions dir.
func ourProcesses(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) || !liveProcess(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func TestCLIPermissionDenied(t *testing.T) {
	d := StartDaemon(t)
	// The unprivileged user must be able to run the binary and reach the
	// socket's directory; the socket itself (0660 root) keeps it out.
	bin := filepath.Join(d.Dir, "container")
	data, err := os.ReadFile(cliBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.Dir, d.State} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	setpriv := []string{"setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"}

	check := func(name string) {
		t.Helper()
		start := time.Now()
		out, errOut, code := runCLIAs(t, cliEnv(), setpriv, bin, "--host", d.Socket, "system", "status")
		if code == 0 || !strings.Contains(errOut, "permission denied") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want a permission error", name, code, out, errOut)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("%s: took %s", name, el)
		}
	}
	check("socket mode")

	// With the socket open to all, the server's peer-credential check
	// must refuse the call.
	if err := os.Chmod(d.Socket, 0o666); err != nil {
		t.Fatal(err)
	}
	check("peer credentials")
}

func TestCLIUnknownCommandAndVersion(t *testing.T) {
	requireIntegration(t)
	env := cliEnv("CONTAINER_INSTALL_ROOT=" + outputDir)
	_, errOut, code := runCLI(t, env, "nosuchcommand", "arg")
	if code != 1 || !strings.HasPrefix(errOut, `Error: unknown command "nosuchcommand"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCLI(t, env, "system", "nosuch")
	if code != 1 || !strings.Contains(errOut, `unknown command "nosuch"`) {
		t.Errorf("unknown subcommand: exit %d, stderr %q", code, errOut)
	}
	out, errOut, code := runCLI(t, env, "--version")
	if code != 0 || !strings.HasPrefix(out, "container version ") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestCLIPluginCommand(t *testing.T) {
	install := NewInstallRoot(t)
	dir := filepath.Join(install, "libexec", "container-plugins", "hello")
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"hello $*\"\necho \"host=$CONTAINER_HOST\" >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "bin", "hello"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte("abstract = \"says hello\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(install, "libexec", "container-plugins", "broken")
	if err := os.MkdirAll(filepath.Join(broken, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "config.toml"), []byte("abstract = \"x\"\nbogus = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	env := cliEnv("CONTAINER_INSTALL_ROOT=" + install)
	out, errOut, code := runCLI(t, env, "--host", "/tmp/x.sock", "hello", "--name", "world")
	if code != 3 || out != "hello --name world\n" || !strings.Contains(errOut, "host=/tmp/x.sock") {
		t.Errorf("container hello: exit %d, stdout %q, stderr %q; want exit 3 and the plugin's output", code, out, errOut)
	}
	_, errOut, code = runCLI(t, env, "broken")
	if code != 1 || !strings.Contains(errOut, `plugin "broken" is broken`) {
		t.Errorf("container broken: exit %d, stderr %q", code, errOut)
	}

	d := StartDaemon(t, WithInstallRoot(install))
	out, errOut, code = d.CLI(t, "plugin", "list")
	if code != 0 {
		t.Fatalf("plugin list: exit %d, stderr %q", code, errOut)
	}
	var helloRow, brokenRow string
	for _, line := range strings.Split(out, "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 0 && f[0] == "hello":
			helloRow = line
		case len(f) > 0 && f[0] == "broken":
			brokenRow = line
		}
	}
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(helloRow, "cli") || !strings.Contains(helloRow, "says hello") ||
		!strings.Contains(brokenRow, "broken") || !strings.Contains(brokenRow, "bogus") {
		t.Errorf("plugin list:\n%s", out)
	}
	out, errOut, code = d.CLI(t, "plugin", "ls", "--format", "json")
	var views []struct {
		Name   string `json:"name"`
		Broken bool   `json:"broken"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &views); code != 0 || err != nil {
		t.Fatalf("plugin ls --format json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	found := map[string]bool{}
	for _, v := range views {
		found[v.Name] = v.Broken
	}
	if b, ok := found["broken"]; !ok || !b {
		t.Errorf("plugin ls json lacks the broken plugin: %s", out)
	}
	if b, ok := found["hello"]; !ok || b {
		t.Errorf("plugin ls json lacks hello: %s", out)
	}
	out, _, code = d.CLI(t, "plugin", "ls", "-q")
	if code != 0 || !strings.Contains(out, "hello\n") {
		t.Errorf("plugin ls -q: exit %d\n%s", code, out)
	}
}

func TestCLIPropertyList(t *testing.T) {
	requireIntegration(t)
	dir := ShortTempDir(t)
	conf := filepath.Join(dir, "config", "container", "config.toml")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("[runtime]\noci = \"crun\"\nnosuchkey = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := StartDaemon(t, WithDir(dir))
	out, errOut, code := d.CLI(t, "system", "property", "list")
	if code != 0 {
		t.Fatalf("system property list: exit %d, stderr %q", code, errOut)
	}
	var row []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "runtime.oci" {
			row = f
		}
	}
	if len(row) < 3 || !strings.Contains(row[1], "crun") || row[2] != conf {
		t.Errorf("runtime.oci row %q, want crun from %s:\n%s", row, conf, out)
	}
	if !strings.Contains(errOut, "Warning: unknown configuration keys") || !strings.Contains(errOut, "nosuchkey") {
		t.Errorf("no warning about the unknown key; stderr %q", errOut)
	}
}
