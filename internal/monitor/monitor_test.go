package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary plays two parts in a child process: the monitor (with
// the child-subreaper flag set first, as a supervisor has it), and the
// program the monitor execs on wake-up, which reports what it inherited.
func TestMain(m *testing.M) {
	switch os.Getenv("MONITOR_TEST_ROLE") {
	case "monitor":
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Setenv("MONITOR_TEST_ROLE", "resumed")
		os.Exit(Main(os.Args[1:], os.Stderr))
	case "resumed":
		var flag int32
		_ = unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&flag)), 0, 0, 0)
		var open []int
		for _, fd := range []int{3, 4, 5} {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
				open = append(open, fd)
			}
		}
		data, _ := json.Marshal(map[string]any{"subreaper": flag, "fds": open, "pid": os.Getpid()})
		os.WriteFile(os.Getenv("MONITOR_TEST_REPORT"), data, 0o644)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--log", "/l", "--listen", "3", "--pidfd", "4", "--", "/bin/true"}, true},
		{[]string{"--log", "/l", "--listen", "3", "--pidfd", "4", "--stdout", "5", "--log-max-size", "10", "--", "/bin/true", "x"}, true},
		{[]string{"--log", "/l", "--listen", "3", "--pidfd", "4"}, false}, // nothing to resume
		{[]string{"--log", "/l", "--listen", "x", "--pidfd", "4", "--", "/bin/true"}, false},
		{[]string{"--bogus", "1"}, false},
		{[]string{"--log"}, false},
	} {
		_, err := parse(tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("parse(%q) error = %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}

type report struct {
	Subreaper int32 `json:"subreaper"`
	Fds       []int `json:"fds"`
	Pid       int   `json:"pid"`
}

// startMonitor runs the monitor over a listening socket, a pidfd of a
// sleeping process and a pipe, and returns them.
func startMonitor(t *testing.T, dir string) (cmd *exec.Cmd, sock string, sleeper *exec.Cmd, w *os.File) {
	t.Helper()
	sock = filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	lf, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	sleeper = exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	pfd, err := unix.PidfdOpen(sleeper.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	pf := os.NewFile(uintptr(pfd), "pidfd")
	defer pf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Cleanup(func() { w.Close() })
	cmd = exec.Command(os.Args[0], "--id", "t", "--log", filepath.Join(dir, "container.log"),
		"--log-max-size", "150", "--log-max-files", "2",
		"--listen", "3", "--pidfd", "4", "--stdout", "5", "--", os.Args[0])
	cmd.Env = append(os.Environ(), "MONITOR_TEST_ROLE=monitor", "MONITOR_TEST_REPORT="+filepath.Join(dir, "report"))
	cmd.ExtraFiles = []*os.File{lf, pf, r}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, sock, sleeper, w
}

func readLog(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e map[string]string
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func waitExit(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("monitor (resumed): %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor did not wake up")
	}
}

func checkReport(t *testing.T, dir string, pid int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "report"))
	if err != nil {
		t.Fatalf("resumed program did not run: %v", err)
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Pid != pid || r.Subreaper != 1 || fmt.Sprint(r.Fds) != "[3 4 5]" {
		t.Fatalf("resumed with %+v, want pid %d, subreaper 1, fds [3 4 5]", r, pid)
	}
}

func TestWakeOnConnect(t *testing.T) {
	dir := t.TempDir()
	cmd, sock, _, w := startMonitor(t, dir)
	log := filepath.Join(dir, "container.log")
	for i := range 4 {
		fmt.Fprintf(w, "line %d of forty bytes, more or less\n", i)
		time.Sleep(10 * time.Millisecond)
	}
	// One write, one read: once line 4 is logged, the partial line is
	// held by the monitor.
	fmt.Fprint(w, "line 4 of forty bytes, more or less\npartial")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if e := readLog(t, log); len(e) > 0 && strings.HasPrefix(e[len(e)-1]["log"], "line 4 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("output not logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitExit(t, cmd)
	checkReport(t, dir, cmd.Process.Pid)
	// Rotated at 150 bytes, 2 files; the partial line is an entry.
	entries := append(readLog(t, log+".1"), readLog(t, log)...)
	last := entries[len(entries)-1]
	if last["log"] != "partial" || last["stream"] != "stdout" || last["time"] == "" {
		t.Fatalf("last entry %v, want the partial line", last)
	}
	if _, err := time.Parse(time.RFC3339Nano, last["time"]); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(entries[len(entries)-2]["log"], "line 4 ") {
		t.Fatalf("entries %v", entries)
	}
	if _, err := os.Stat(log + ".2"); err == nil {
		t.Fatal("more files than maxFiles")
	}
}

func TestWakeOnExit(t *testing.T) {
	dir := t.TempDir()
	cmd, _, sleeper, w := startMonitor(t, dir)
	w.Close() // output EOF: the monitor keeps waiting
	time.Sleep(100 * time.Millisecond)
	if err := sleeper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd)
	checkReport(t, dir, cmd.Process.Pid)
}

// TestLeanDependencies keeps the monitor small: a Go process linking gRPC
// costs ≈ 2.7 MiB of PSS, net and os/signal's loop more than this whole
// program (docs/ARCHITECTURE.md, Performance).
func TestLeanDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/berth/container/cmd/container-runtime-monitor").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "google.golang.org/") || dep == "net" || dep == "net/http" ||
			strings.HasPrefix(dep, "github.com/berth/container/api/") || dep == "github.com/berth/container/internal/supervisor" {
			t.Errorf("container-runtime-monitor imports %s", dep)
		}
	}
}
