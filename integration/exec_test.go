package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// ptySession is the CLI running with stdin, stdout and stderr on a new
// pseudo-terminal that is its controlling terminal (so resizes send it
// SIGWINCH), as in an interactive shell.
type ptySession struct {
	t      *testing.T
	args   []string
	master console.Console
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	read   chan struct{}
}

func startPty(t *testing.T, d *Daemon, args ...string) *ptySession {
	t.Helper()
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatalf("new pty: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := master.Resize(console.WinSize{Width: 100, Height: 30}); err != nil {
		t.Fatalf("resize pty: %v", err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open %s: %v", slavePath, err)
	}
	defer slave.Close()
	p := &ptySession{t: t, args: args, master: master, cmd: d.CLICommand(t, args...), read: make(chan struct{})}
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	go func() {
		defer close(p.read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // EIO once the last slave fd is closed
			}
		}
	}()
	return p
}

func (p *ptySession) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits until the output from offset from on contains s and
// returns the offset just past it.
func (p *ptySession) expect(from int, s string) int {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := p.output()
		if i := strings.Index(out[min(from, len(out)):], s); i >= 0 {
			return from + i + len(s)
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			p.t.Fatalf("%v: %q never appeared; output %q", p.args, s, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send types s.
func (p *ptySession) send(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatalf("type into pty: %v", err)
	}
}

// wait returns everything the CLI wrote and its exit code.
func (p *ptySession) wait() (string, int) {
	p.t.Helper()
	err := p.cmd.Wait()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("%v: %v", p.args, err)
	}
	select {
	case <-p.read:
	case <-time.After(5 * time.Second):
	}
	out := p.output()
	p.t.Logf("%v on a pty: exit %d, output %q", p.args, code, out)
	return out, code
}

// resizeAndCheck resizes the pty to 120x50 and waits until `stty size`
// in the shell at the prompt "# " reports it; it returns the offset past
// the last prompt.
func (p *ptySession) resizeAndCheck(off int) int {
	p.t.Helper()
	if err := p.master.Resize(console.WinSize{Width: 120, Height: 50}); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.send("stty size\r")
		next := p.expect(off, "# ")
		if strings.Contains(p.output()[off:next], "50 120") {
			return next
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%v: resize never reached the remote terminal: %q", p.args, p.output())
		}
		off = next
		time.Sleep(100 * time.Millisecond)
	}
}

// runPty runs the CLI on a pty, types input once waitFor appears (when
// input is set), and returns its output (the terminal turns \n into \r\n)
// and exit code.
func runPty(t *testing.T, d *Daemon, waitFor, input string, args ...string) (string, int) {
	t.Helper()
	p := startPty(t, d, args...)
	if input != "" {
		p.expect(0, waitFor)
		p.send(input)
	}
	return p.wait()
}

func TestContainerExec(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cli(t, d, 0, "run", "-d", "--name", "itx-exec-main", img, "sleep", "300")

	t.Run("output and exit code", func(t *testing.T) {
		out, errOut, code := d.CLI(t, "exec", "itx-exec-main", "sh", "-c", "echo out; echo err >&2; exit 7")
		if code != 7 || out != "out\n" || errOut != "err\n" {
			t.Fatalf("exec: %d %q %q", code, out, errOut)
		}
		out = cli(t, d, 0, "exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "itx-exec-main", "sh", "-c", `echo "$FOO $(pwd) $(id -un)"`)
		if out != "bar /tmp nobody\n" {
			t.Fatalf("exec -e -w -u: %q", out)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		cmd := d.CLICommand(t, "exec", "-i", "itx-exec-main", "sh", "-c", "cat; echo done")
		cmd.Stdin = strings.NewReader("line one\nline two\n")
		var out bytes.Buffer
		cmd.Stdout = &out
		if code := runExit(t, cmd); code != 0 || out.String() != "line one\nline two\ndone\n" {
			t.Fatalf("exec -i: %d %q", code, out.String())
		}
		cmd = d.CLICommand(t, "exec", "-i", "itx-exec-main", "head", "-n", "1")
		cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 1<<20))
		out.Reset()
		cmd.Stdout = &out
		if code := runExit(t, cmd); code != 0 || out.String() != "y\n" {
			t.Fatalf("exec -i head: %d %q", code, out.String())
		}
	})
	t.Run("tty", func(t *testing.T) {
		out, code := runPty(t, d, "", "", "exec", "-t", "itx-exec-main", "tty")
		if code != 0 || !regexp.MustCompile(`/dev/pts/\d+`).MatchString(out) {
			t.Fatalf("exec -t tty: %d %q", code, out)
		}
		out, code = runPty(t, d, "", "", "exec", "-t", "itx-exec-main", "stty", "size")
		if code != 0 || !strings.Contains(out, "30 100") {
			t.Fatalf("exec -t stty size: %d %q", code, out)
		}
		// -i -t: an interactive shell; what we type goes through raw mode.
		out, code = runPty(t, d, "# ", "echo $((6*7)); exit 5\r", "exec", "-i", "-t", "itx-exec-main", "sh")
		if code != 5 || !strings.Contains(out, "42") {
			t.Fatalf("exec -it sh: %d %q", code, out)
		}
		// Resizes reach the process's terminal; Ctrl-C interrupts the
		// process in the container, not the CLI.
		p := startPty(t, d, "exec", "-i", "-t", "itx-exec-main", "sh")
		off := p.expect(0, "# ")
		off = p.resizeAndCheck(off)
		p.send("sleep 100\r")
		time.Sleep(300 * time.Millisecond)
		p.send("\x03")
		p.expect(off, "# ")
		p.send("echo alive; exit 4\r")
		if out, code := p.wait(); code != 4 || !strings.Contains(out, "alive") {
			t.Fatalf("exec -it after Ctrl-C: %d %q", code, out)
		}
	})
	t.Run("detach", func(t *testing.T) {
		if out := cli(t, d, 0, "exec", "-d", "itx-exec-main", "sh", "-c", "echo detached-out"); out != "" {
			t.Fatalf("exec -d printed %q", out)
		}
		waitFor(t, 10*time.Second, func() bool {
			out, _, _ := d.CLI(t, "logs", "itx-exec-main")
			return strings.Contains(out, "detached-out")
		})
	})
	t.Run("errors", func(t *testing.T) {
		_, errOut, code := d.CLI(t, "exec", "itx-exec-main", "/no/such/binary")
		t.Logf("exec of a missing binary: %d %q", code, errOut)
		if code == 0 || !strings.Contains(errOut, "Error:") {
			t.Fatalf("exec of a missing binary: %d %q", code, errOut)
		}
		_, errOut, code = d.CLI(t, "exec", "nosuch", "true")
		if code != 1 || !strings.Contains(errOut, "not found") {
			t.Fatalf("exec in a missing container: %d %q", code, errOut)
		}
		cli(t, d, 0, "create", "--name", "itx-exec-created", img, "true")
		_, errOut, code = d.CLI(t, "exec", "itx-exec-created", "true")
		if code != 1 || !strings.Contains(errOut, `container "itx-exec-created" is created, not running`) {
			t.Fatalf("exec in a created container: %d %q", code, errOut)
		}
		cli(t, d, 0, "run", "--name", "itx-exec-stopped", img, "true")
		_, errOut, code = d.CLI(t, "exec", "itx-exec-stopped", "true")
		t.Logf("exec in a stopped container: %d %q", code, errOut)
		if code != 1 || !strings.Contains(errOut, `container "itx-exec-stopped" is stopped, not running`) {
			t.Fatalf("exec in a stopped container: %d %q", code, errOut)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		_, err := d.Client.ExecContainer(ctx, "itx-exec-stopped", client.ExecOptions{Args: []string{"true"}})
		if !errdefs.IsFailedPrecondition(err) {
			t.Fatalf("client exec in a stopped container: %v, want FailedPrecondition", err)
		}
		_, err = d.Client.ContainerStats(ctx, "itx-exec-stopped")
		if !errdefs.IsFailedPrecondition(err) {
			t.Fatalf("stats of a stopped container: %v, want FailedPrecondition", err)
		}
	})
}

func TestContainerRunInteractive(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)

	t.Run("run -i", func(t *testing.T) {
		cmd := d.CLICommand(t, "run", "--rm", "-i", img, "sh", "-c", "cat; echo err >&2; exit 4")
		cmd.Stdin = strings.NewReader("from stdin\n")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if code := runExit(t, cmd); code != 4 || out.String() != "from stdin\n" || errOut.String() != "err\n" {
			t.Fatalf("run -i: %d %q %q", code, out.String(), errOut.String())
		}
	})
	t.Run("run -i, stdin outlives the container", func(t *testing.T) {
		cmd := d.CLICommand(t, "run", "--rm", "-i", img, "head", "-n", "1")
		cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 1<<20))
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if code := runExit(t, cmd); code != 0 || out.String() != "y\n" {
			t.Fatalf("run -i head: %d %q %q", code, out.String(), errOut.String())
		}
	})
	t.Run("run -t", func(t *testing.T) {
		out, code := runPty(t, d, "", "", "run", "--rm", "-t", img, "tty")
		if code != 0 || !regexp.MustCompile(`/dev/pts/\d+`).MatchString(out) {
			t.Fatalf("run -t tty: %d %q", code, out)
		}
	})
	t.Run("run -it", func(t *testing.T) {
		out, code := runPty(t, d, "# ", "echo $((6*7)); exit 3\r", "run", "--rm", "-i", "-t", img, "sh")
		if code != 3 || !strings.Contains(out, "42") {
			t.Fatalf("run -it sh: %d %q", code, out)
		}
		p := startPty(t, d, "run", "--rm", "-i", "-t", img, "sh")
		p.resizeAndCheck(p.expect(0, "# "))
		p.send("exit 0\r")
		if _, code := p.wait(); code != 0 {
			t.Fatalf("run -it after resize: exit %d", code)
		}
	})
	t.Run("create -i, start -a -i", func(t *testing.T) {
		cli(t, d, 0, "create", "--name", "itx-start-ai", "-i", img, "sh", "-c", "read x; echo got $x")
		cmd := d.CLICommand(t, "start", "-a", "-i", "itx-start-ai")
		cmd.Stdin = strings.NewReader("hello\n")
		var out bytes.Buffer
		cmd.Stdout = &out
		if code := runExit(t, cmd); code != 0 || out.String() != "got hello\n" {
			t.Fatalf("start -a -i: %d %q", code, out.String())
		}
		cli(t, d, 0, "rm", "itx-start-ai")
	})
	t.Run("attach", func(t *testing.T) {
		cli(t, d, 0, "run", "-d", "--name", "itx-attach-main", img, "sh", "-c",
			"i=0; while [ $i -lt 100 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; exit 6")
		cmd := d.CLICommand(t, "attach", "itx-attach-main")
		pr, pw := io.Pipe()
		cmd.Stdout = pw
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatalf("attach: %v", err)
		}
		lines := make(chan string, 200)
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		select {
		case l := <-lines:
			if !strings.HasPrefix(l, "tick ") {
				t.Fatalf("attach: first line %q", l)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("attach saw no output; stderr %q", errOut.String())
		}
		// attach exits with the container's code once it stops.
		cli(t, d, 0, "kill", "itx-attach-main")
		err := cmd.Wait()
		pw.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 137 {
			t.Fatalf("attach after kill: %v (stderr %q), want exit 137", err, errOut.String())
		}
		_, errOut2, code := d.CLI(t, "attach", "itx-attach-main")
		if code != 1 || !strings.Contains(errOut2, "not running") {
			t.Fatalf("attach to a stopped container: %d %q", code, errOut2)
		}
	})
}

func TestContainerStats(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cli(t, d, 0, "run", "-d", "--name", "itx-stats-main", "-m", "64m", img, "sleep", "300")

	out := cli(t, d, 0, "stats", "--no-stream")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "MEM USAGE / LIMIT") || !strings.HasPrefix(lines[1], "itx-stats-main ") {
		t.Fatalf("stats --no-stream:\n%s", out)
	}
	if !strings.Contains(lines[1], " / 64M") {
		t.Fatalf("stats: no 64M limit in %q", lines[1])
	}

	out = cli(t, d, 0, "stats", "--no-stream", "--format", "json", "itx-stats-main")
	var rows []struct {
		ID          string  `json:"id"`
		CPUPercent  float64 `json:"cpuPercent"`
		MemoryUsage uint64  `json:"memoryUsage"`
		MemoryLimit uint64  `json:"memoryLimit"`
		Pids        uint64  `json:"pids"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("stats json %q: %v", out, err)
	}
	if r := rows[0]; r.ID != "itx-stats-main" || r.MemoryUsage == 0 || r.MemoryLimit != 64<<20 || r.Pids < 1 {
		t.Fatalf("stats row %+v", r)
	}

	// Streaming: at least two refreshes within a few seconds, then interrupted.
	cmd := d.CLICommand(t, "stats", "--format", "json", "itx-stats-main")
	var sout syncBuffer
	cmd.Stdout = &sout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, func() bool { return strings.Count(sout.String(), "\n") >= 2 })
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()

	_, errOut, code := d.CLI(t, "stats", "--no-stream", "nosuch")
	if code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("stats nosuch: %d %q", code, errOut)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
