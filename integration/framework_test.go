// Package integration holds black-box tests: the real container-apiserver
// in a temporary root, driven through client/ and the container binary.
//
// TestMain finds the binaries in $CONTAINER_TEST_OUTPUT (the `make build`
// tree: bin/container, bin/container-apiserver,
// libexec/container/plugins/<name>/{bin/<name>,config.toml}) or builds the
// same tree into a temporary directory. Tests are skipped under -short and
// when not root.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/container/client"
)

var (
	// outputDir is the `make build` tree the tests run.
	outputDir string
	// apiserverBin and cliBin are the binaries under outputDir.
	apiserverBin, cliBin string
	// buildErrs records binaries that failed to build, by path, so that a
	// test needing one fails with the reason.
	buildErrs = map[string]error{}
	// skipReason is set when integration tests cannot run at all.
	skipReason string
)

func TestMain(m *testing.M) {
	if sock := os.Getenv(peerClientEnv); sock != "" {
		// Re-executed as a plain client, e.g. under another uid.
		os.Exit(peerClientMain(sock))
	}
	flag.Parse()
	switch {
	case testing.Short():
		skipReason = "integration tests are skipped under -short"
	case os.Geteuid() != 0:
		skipReason = "integration tests need root"
	}
	if skipReason != "" {
		os.Exit(m.Run())
	}
	var cleanup func()
	if dir := os.Getenv("CONTAINER_TEST_OUTPUT"); dir != "" {
		outputDir = dir
	} else {
		dir, err := buildOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "integration: build binaries: %v\n", err)
			os.Exit(1)
		}
		outputDir = dir
		cleanup = func() { _ = os.RemoveAll(dir) }
	}
	apiserverBin = filepath.Join(outputDir, "bin", "container-apiserver")
	cliBin = filepath.Join(outputDir, "bin", "container")
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

// moduleRoot returns the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// buildOutput builds what `make build` builds into a temporary directory:
// bin/container-apiserver, bin/container (static, with CGO_ENABLED=0), and
// every cmd/<plugin> that has a config.toml into
// libexec/container/plugins/<plugin>/ (static too, as the Makefile builds
// the CLI and plugins). The apiserver
// must build; the others record their error in buildErrs.
func buildOutput() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out, err := os.MkdirTemp("", "ctout")
	if err != nil {
		return "", err
	}
	gobuild := func(dst, pkg string, static bool) error {
		cmd := exec.Command("go", "build", "-o", dst, pkg)
		cmd.Dir = root
		if static {
			// As the Makefile: a plugin runs inside containers (--init
			// bind-mounts the runtime plugin as the container's pid 1).
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, stderr.String())
		}
		return nil
	}
	type job struct {
		dst, pkg, conf string
		static         bool
	}
	jobs := []job{
		{dst: filepath.Join(out, "bin", "container-apiserver"), pkg: "./cmd/container-apiserver"},
		{dst: filepath.Join(out, "bin", "container"), pkg: "./cmd/container", static: true}, // as the Makefile
	}
	plugins, _ := filepath.Glob(filepath.Join(root, "cmd", "*", "config.toml"))
	for _, conf := range plugins {
		name := filepath.Base(filepath.Dir(conf))
		jobs = append(jobs, job{
			dst:  filepath.Join(out, "libexec", "container", "plugins", name, "bin", name),
			pkg:  "./cmd/" + name,
			conf: conf,
		})
	}
	// The supervisor's hibernated form, next to it (as the Makefile).
	jobs = append(jobs, job{
		dst:    filepath.Join(out, "libexec", "container", "plugins", "container-runtime-linux", "bin", "container-runtime-monitor"),
		pkg:    "./cmd/container-runtime-monitor",
		static: true,
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, j := range jobs {
		wg.Go(func() {
			err := gobuild(j.dst, j.pkg, j.static || j.conf != "")
			if err == nil && j.conf != "" {
				err = copyFile(j.conf, filepath.Join(filepath.Dir(filepath.Dir(j.dst)), "config.toml"))
			}
			if err != nil {
				mu.Lock()
				buildErrs[j.dst] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for dst, err := range buildErrs {
		fmt.Fprintf(os.Stderr, "integration: warning: %s not built: %v\n", dst, err)
	}
	if err := buildErrs[jobs[0].dst]; err != nil {
		_ = os.RemoveAll(out)
		return "", err
	}
	return out, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// requireIntegration skips t under -short or when not root.
func requireIntegration(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// requireBinary fails t if path was not built, with the build error.
func requireBinary(t testing.TB, path string) {
	t.Helper()
	if err, ok := buildErrs[path]; ok {
		t.Fatalf("%s was not built: %v", path, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("binary %s: %v", path, err)
	}
}

// ShortTempDir returns a new directory under os.TempDir() with a short
// name (unix socket paths must stay under 108 bytes), removed when the
// test ends. Mounts left under it are reported and detached first.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ct")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if mounts := mountsUnder(dir); len(mounts) > 0 {
			t.Errorf("mounts left under %s: %v", dir, mounts)
			for i := len(mounts) - 1; i >= 0; i-- {
				_ = unix.Unmount(mounts[i], unix.MNT_DETACH)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// procStat returns the fields of /proc/<pid>/stat after the command name
// (state, ppid, pgrp, ...), or nil when pid is gone.
func procStat(pid int) []string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// The command name may hold spaces and parentheses: it ends at the last ")".
	i := bytes.LastIndexByte(stat, ')')
	if err != nil || i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

// liveProcess reports whether pid exists and is not a zombie.
func liveProcess(pid int) bool {
	f := procStat(pid)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// mountsUnder lists the mount points at or below dir, in mount order.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := strings.ReplaceAll(fields[4], `\040`, " ")
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// Daemon is a running container-apiserver with a private root, state dir
// and socket.
type Daemon struct {
	Client      *client.Client
	Dir         string // holds root/, state/, logs/, config/
	Root        string
	State       string
	Socket      string
	LogRoot     string
	InstallRoot string

	opts    daemonOpts
	logs    *syncBuffer
	cmd     *exec.Cmd
	started bool          // start was called at least once
	done    chan struct{} // closed when cmd has exited
	err     error         // cmd.Wait's result, valid after done
}

type daemonOpts struct {
	installRoot string
	env         []string
	args        []string
	dir         string
}

// DaemonOption configures StartDaemon.
type DaemonOption func(*daemonOpts)

// WithInstallRoot runs the daemon with --install-root dir (tests of
// plugins build their own tree; see NewInstallRoot).
func WithInstallRoot(dir string) DaemonOption {
	return func(o *daemonOpts) { o.installRoot = dir }
}

// WithEnv adds KEY=VALUE entries to the daemon's environment.
func WithEnv(env ...string) DaemonOption {
	return func(o *daemonOpts) { o.env = append(o.env, env...) }
}

// WithArgs adds arguments to `container-apiserver start`.
func WithArgs(args ...string) DaemonOption {
	return func(o *daemonOpts) { o.args = append(o.args, args...) }
}

// WithConfig writes toml to a config file of the test's and starts the
// daemon with --config naming it.
func WithConfig(t testing.TB, toml string) DaemonOption {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return WithArgs("--config", path)
}

// WithDir reuses dir (a previous Daemon's Dir) for root, state and
// socket, as an apiserver restarted on the same host would.
func WithDir(dir string) DaemonOption {
	return func(o *daemonOpts) { o.dir = dir }
}

// StartDaemon runs container-apiserver with a private root, state dir and
// socket, waits until it answers health checks with SERVING, and stops it
// (SIGTERM, expecting exit 0) when the test ends. The daemon's log is
// printed only if the test failed.
func StartDaemon(t testing.TB, opts ...DaemonOption) *Daemon {
	t.Helper()
	d := NewDaemon(t, opts...)
	d.Start(t)
	return d
}

// NewDaemon prepares a Daemon's directories without starting it; Start
// starts it, RunExpectFailure runs it expecting it to exit.
func NewDaemon(t testing.TB, opts ...DaemonOption) *Daemon {
	t.Helper()
	requireIntegration(t)
	requireBinary(t, apiserverBin)
	var o daemonOpts
	for _, opt := range opts {
		opt(&o)
	}
	dir := o.dir
	if dir == "" {
		dir = ShortTempDir(t)
	}
	if o.installRoot == "" {
		o.installRoot = outputDir
	}
	d := &Daemon{
		Dir:         dir,
		Root:        filepath.Join(dir, "root"),
		State:       filepath.Join(dir, "state"),
		Socket:      filepath.Join(dir, "state", "apiserver.sock"),
		LogRoot:     filepath.Join(dir, "logs"),
		InstallRoot: o.installRoot,
		opts:        o,
		logs:        &syncBuffer{},
	}
	t.Cleanup(func() { d.cleanup(t) })
	return d
}

// Start starts the apiserver and waits until it is ready; it fails t if
// the apiserver exits or is not ready within 30 seconds.
func (d *Daemon) Start(t testing.TB) {
	t.Helper()
	d.start(t)
}

// RunExpectFailure runs the apiserver on d's directories in the
// foreground, expecting it to exit on its own within timeout, and
// returns its combined output and exit code.
func (d *Daemon) RunExpectFailure(t testing.TB, timeout time.Duration) (output string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, apiserverBin, d.Args()...)
	cmd.Env = d.Env()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("apiserver did not exit within %v; output:\n%s", timeout, out.String())
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee) && ee.Exited():
		t.Logf("apiserver exited %d after %v", ee.ExitCode(), time.Since(start).Round(time.Millisecond))
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("run apiserver: %v\n%s", err, out.String())
	return "", -1
}

// Args returns the `container-apiserver start ...` arguments of d.
func (d *Daemon) Args() []string {
	return append([]string{"start",
		"--root", d.Root, "--state", d.State, "--socket", d.Socket,
		"--log-root", d.LogRoot, "--install-root", d.InstallRoot, "--log-level", "debug",
	}, d.opts.args...)
}

// Env returns the daemon's environment: the test's, without CONTAINER_*
// settings, with XDG_CONFIG_HOME pointing into d.Dir so that no user
// config file leaks in, plus WithEnv's entries.
func (d *Daemon) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CONTAINER_") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") ||
			strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "LISTEN_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "XDG_CONFIG_HOME="+filepath.Join(d.Dir, "config"))
	return append(env, d.opts.env...)
}

func (d *Daemon) start(t testing.TB) {
	t.Helper()
	if d.started {
		fmt.Fprintf(d.logs, "----- restart -----\n")
	}
	d.started = true
	cmd := exec.Command(apiserverBin, d.Args()...)
	cmd.Env = d.Env()
	cmd.Stdout, cmd.Stderr = d.logs, d.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", apiserverBin, err)
	}
	d.cmd = cmd
	d.done = make(chan struct{})
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-d.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := client.Dial(ctx, d.Socket)
	if err == nil {
		err = c.WaitReady(ctx)
	}
	if err != nil {
		select {
		case <-d.done:
			err = fmt.Errorf("apiserver exited: %v (before ready: %w)", d.err, err)
		default:
			_ = cmd.Process.Kill()
			<-d.done
		}
		if c != nil {
			_ = c.Close()
		}
		d.cmd = nil
		t.Fatalf("apiserver not ready: %v\napiserver log:\n%s", err, d.logs.String())
	}
	d.Client = c
}

// PID returns the apiserver's pid.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Logs returns what the apiserver has logged so far.
func (d *Daemon) Logs() string { return d.logs.String() }

// Stop sends SIGTERM and waits for the apiserver to exit; it fails t if
// the exit is not clean.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	d.closeClient()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("apiserver did not exit within 20s of SIGTERM")
	}
	if d.err != nil {
		t.Errorf("apiserver exited: %v", d.err)
	}
	d.cmd = nil
}

// Kill sends SIGKILL and waits for the apiserver to die, leaving its
// socket, lock and pid file behind as a crash would.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	d.closeClient()
	_ = d.cmd.Process.Kill()
	<-d.done
	d.cmd = nil
}

// Restart starts the apiserver again on the same directories (after Stop
// or Kill) and replaces d.Client.
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	if d.cmd != nil {
		d.Stop(t)
	}
	d.start(t)
}

func (d *Daemon) closeClient() {
	if d.Client != nil {
		_ = d.Client.Close()
		d.Client = nil
	}
}

func (d *Daemon) cleanup(t testing.TB) {
	d.Stop(t)
	if t.Failed() {
		t.Logf("apiserver log:\n%s", d.logs.String())
	}
}

// CLI runs bin/container --host d.Socket ARGS and returns its stdout,
// stderr and exit code. It fails t if the binary cannot be run at all.
func (d *Daemon) CLI(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := d.CLICommand(t, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code = runExit(t, cmd)
	return out.String(), errb.String(), code
}

// CLICommand returns an unstarted bin/container --host d.Socket ARGS, for
// tests that need stdin, another user or a custom environment. It is
// killed if it outlives the test's context or two minutes.
func (d *Daemon) CLICommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	requireBinary(t, cliBin)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, cliBin, append([]string{"--host", d.Socket}, args...)...)
	cmd.Env = append(d.Env(), "CONTAINER_INSTALL_ROOT="+d.InstallRoot)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runExit runs cmd and returns its exit code; it fails t if cmd could not
// be started or was killed by a signal.
func runExit(t testing.TB, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode()
	}
	t.Fatalf("run %s: %v", strings.Join(cmd.Args, " "), err)
	return -1
}

// NewInstallRoot returns a private install tree for tests that change the
// plugin directories: bin/ links to the built binaries and
// libexec/container/plugins holds a copy of the built-in plugins.
func NewInstallRoot(t testing.TB) string {
	t.Helper()
	requireIntegration(t)
	dir := filepath.Join(ShortTempDir(t), "install")
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{apiserverBin, cliBin} {
		if err := os.Symlink(b, filepath.Join(dir, "bin", filepath.Base(b))); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(outputDir, "libexec", "container", "plugins")
	dst := filepath.Join(dir, "libexec", "container", "plugins")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == src {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy plugins into %s: %v", dst, err)
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a
// process's stdout and stderr and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
