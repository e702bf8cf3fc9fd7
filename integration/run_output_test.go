package integration

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/container/internal/testutil/imagetest"
	"github.com/berth/container/internal/testutil/registrytest"
)

// TestContainerRunLargeOutput checks that foreground run relays a large
// output completely and in order, stdout and stderr apart, and passes the
// exit code through.
func TestContainerRunLargeOutput(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)

	const outSize, errSize = 20 << 20, 3<<20 + 7 // neither ends on a line boundary
	outLine, errLine := strings.Repeat("o", 999), "e"+strings.Repeat("\tE", 40)
	script := "(yes " + outLine + " | head -c 20971520) & (yes '" + errLine + "' | head -c 3145735 >&2); wait; exit 7"
	cmd := d.CLICommand(t, "run", "--rm", "--network", "none", img, "sh", "-c", script)
	outSum, errSum := &summer{h: sha256.New()}, &summer{h: sha256.New()}
	cmd.Stdout, cmd.Stderr = outSum, errSum
	if code := runExit(t, cmd); code != 7 {
		t.Fatalf("run exited %d, want 7", code)
	}
	for _, s := range []struct {
		name string
		got  *summer
		line string
		size int
	}{{"stdout", outSum, outLine, outSize}, {"stderr", errSum, errLine, errSize}} {
		want := sha256.New()
		full := bytes.Repeat([]byte(s.line+"\n"), s.size/(len(s.line)+1)+1)
		want.Write(full[:s.size])
		if s.got.n != int64(s.size) || !bytes.Equal(s.got.h.Sum(nil), want.Sum(nil)) {
			t.Errorf("%s: %d bytes, checksum match %v; want %d bytes of %q lines",
				s.name, s.got.n, bytes.Equal(s.got.h.Sum(nil), want.Sum(nil)), s.size, s.line[:3])
		}
	}
}

// summer counts and hashes what is written to it.
type summer struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (s *summer) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	return s.h.Write(p)
}

// TestContainerOutputToFiles runs foreground `run` and `logs` with the
// CLI's stdout and stderr being files (the apiserver then writes to the
// very descriptors the CLI got): the output lands after what the files
// held (same open file, same offset), byte-exact, streams apart; and with
// one file for both, it holds both streams.
func TestContainerOutputToFiles(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	dir := t.TempDir()
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if _, err := f.WriteString("before\n"); err != nil {
			t.Fatal(err)
		}
		return f
	}
	read := func(f *os.File) string {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// 5 MB of stdout, a line of stderr, then a last partial line (the
	// sleeps order the two streams in the log).
	script := "echo first; yes 0123456789abcdef | head -n 300000; sleep 0.2; echo err >&2; sleep 0.2; printf last"
	wantOut := "first\n" + strings.Repeat("0123456789abcdef\n", 300000) + "last"
	run := func(stdout, stderr *os.File, args ...string) {
		t.Helper()
		cmd := d.CLICommand(t, args...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if code := runExit(t, cmd); code != 0 {
			t.Fatalf("container %s: exit %d", strings.Join(args, " "), code)
		}
	}

	stdout, stderr := open("out"), open("err")
	run(stdout, stderr, "run", "--name", "tofiles", "--network", "none", img, "sh", "-c", script)
	if got := read(stdout); got != "before\n"+wantOut {
		t.Errorf("run stdout: %d bytes, want %d (begins %q)", len(got), len("before\n"+wantOut), got[:min(len(got), 20)])
	}
	if got := read(stderr); got != "before\nerr\n" {
		t.Errorf("run stderr = %q", got)
	}

	both := open("both")
	run(both, both, "logs", "tofiles")
	if got := read(both); len(got) != len("before\n"+wantOut+"err\n") || !strings.HasPrefix(got, "before\nfirst\n") ||
		!strings.Contains(got, "\nerr\n") || !strings.HasSuffix(got, "last") {
		t.Errorf("logs to one file: %d bytes, want %d", len(got), len("before\n"+wantOut+"err\n"))
	}

	tail := open("tail")
	run(tail, tail, "logs", "-n", "2", "tofiles")
	if got := read(tail); got != "before\nerr\nlast" {
		t.Errorf("logs -n 2 = %q", got)
	}
	// Timestamps come over gRPC: every line stamped.
	out, errOut, code := d.CLI(t, "logs", "-t", "-n", "2", "tofiles")
	if code != 0 || strings.Count(out, "Z ") != 1 || !strings.HasSuffix(out, "Z last") ||
		strings.Count(errOut, "Z ") != 1 || !strings.HasSuffix(errOut, "Z err\n") {
		t.Errorf("logs -t -n 2: %d %q %q", code, out, errOut)
	}
	cli(t, d, 0, "rm", "tofiles")
}

// TestContainerRunBrokenPipe: a foreground run whose stdout reader goes
// away ends at once with SIGPIPE's status, as a CLI writing itself would,
// though its container keeps writing.
func TestContainerRunBrokenPipe(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cmd := d.CLICommand(t, "run", "--name", "brokenpipe", "--network", "none", img, "yes")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	start := time.Now()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 141 {
		t.Errorf("run ended with %v, want exit status 141", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("run took %v to end after its stdout closed", time.Since(start))
	}
	if c, err := d.Client.GetContainer(t.Context(), "brokenpipe"); err != nil || c.State.Status != "running" {
		t.Errorf("container after the CLI left: %q, %v; want running", c.State.Status, err)
	}
	cli(t, d, 0, "rm", "-f", "brokenpipe")
}

// TestContainerRunSlowReader: a foreground run whose stdout is read far
// slower than the container writes still gets every byte, although the
// log (8 MiB x 3 files here) rotates away and deletes files the apiserver
// has not sent yet.
func TestContainerRunSlowReader(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t, WithConfig(t, "[logs]\nmaxSize = 8388608\nmaxFiles = 3\n"))
	reg := registrytest.New(t)
	img := reg.Ref("test/busybox:latest")
	reg.Push(t, "test/busybox:latest", imagetest.Busybox(t))
	pullImage(t, d, img)

	const size = 48 << 20
	line := strings.Repeat("s", 1023)
	cmd := d.CLICommand(t, "run", "--rm", "--network", "none", img, "sh", "-c", "yes "+line+" | head -c 50331648")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	time.Sleep(time.Second) // the container is done long before we read
	got := &summer{h: sha256.New()}
	if _, err := io.Copy(got, r); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	want := sha256.New()
	want.Write(bytes.Repeat([]byte(line+"\n"), size/(len(line)+1)))
	if got.n != size || !bytes.Equal(got.h.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read %d bytes (checksum match %v), want %d", got.n, bytes.Equal(got.h.Sum(nil), want.Sum(nil)), size)
	}
}
