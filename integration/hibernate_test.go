package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/client"
)

// A supervisor that serves nothing but Wait hibernates: it execs
// container-runtime-monitor in its own process (same pid) and execs back at
// the next call or when its container exits (internal/supervisor
// hibernate.go).

// startHibernatingDaemon starts an apiserver whose supervisors hibernate
// after 300 ms (runtime.hibernateAfter; the default, 5 s, would make these
// tests wait).
func startHibernatingDaemon(t *testing.T) (*Daemon, string) {
	t.Helper()
	return startContainersDaemonWith(t, WithConfig(t, "[runtime]\nhibernateAfter = \"300ms\"\n"))
}

// supervisorPidOf reads <state>/containers/<id>/supervisor.pid.
func supervisorPidOf(t *testing.T, d *Daemon, id string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.State, "containers", id, "supervisor.pid"))
	if err != nil {
		t.Fatalf("supervisor pid of %s: %v", id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("supervisor pid of %s: %q", id, data)
	}
	return pid
}

// processExe is the program pid runs, "" when it is gone.
func processExe(pid int) string {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return filepath.Base(exe)
}

// waitHibernated waits until id's supervisor runs the monitor and returns
// its pid.
func waitHibernated(t *testing.T, d *Daemon, id string) int {
	t.Helper()
	pid := supervisorPidOf(t, d, id)
	logSupervisorOnFailure(t, d, id)
	deadline := time.Now().Add(10 * time.Second)
	for processExe(pid) != "container-runtime-monitor" {
		if time.Now().After(deadline) {
			t.Fatalf("supervisor %d of %s did not hibernate: runs %q", pid, id, processExe(pid))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return pid
}

// logSupervisorOnFailure prints id's supervisor.log if t fails (before the
// container is removed).
func logSupervisorOnFailure(t *testing.T, d *Daemon, id string) {
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(d.State, "containers", id, "supervisor.log"))
			t.Logf("supervisor log of %s:\n%s", id, data)
		}
	})
}

// waitLogs waits until `logs id` prints want.
func waitLogs(t *testing.T, d *Daemon, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := cli(t, d, 0, "logs", id)
		if out == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs %s = %q, want %q", id, out, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestContainerHibernate(t *testing.T) {
	requireIntegration(t)
	d, img := startHibernatingDaemon(t)
	const id = "hib-main"
	cli(t, d, 0, "run", "-d", "--name", id, img, "sh", "-c",
		`trap "exit 143" TERM; echo before; sleep 1.5; echo during; printf partial; sleep 1000 & wait`)
	pid := waitHibernated(t, d, id)
	// Output written while hibernated is logged by the monitor; reading
	// the logs does not wake the supervisor.
	waitLogs(t, d, id, "before\nduring\n")
	if exe := processExe(pid); exe != "container-runtime-monitor" {
		t.Fatalf("supervisor woke for logs: runs %q", exe)
	}
	// Any call wakes it, in the same process.
	if out := cli(t, d, 0, "exec", id, "echo", "hi"); out != "hi\n" {
		t.Fatalf("exec in a hibernated container: %q", out)
	}
	if got := supervisorPidOf(t, d, id); got != pid {
		t.Fatalf("supervisor pid %d after wake-up, want %d", got, pid)
	}
	// The monitor recorded the line it held as an entry of its own.
	waitLogs(t, d, id, "before\nduring\npartial")
	c, err := d.Client.GetContainer(t.Context(), id)
	if err != nil || c.State.Status != "running" || c.State.Pid == 0 {
		t.Fatalf("inspect after wake-up: %+v, %v", c.State, err)
	}
	st, err := d.Client.ContainerStats(t.Context(), id)
	if err != nil || st.Pids == 0 {
		t.Fatalf("stats of a hibernated container: %+v, %v", st, err)
	}
	// It hibernates again, and stop works from there.
	waitHibernated(t, d, id)
	c, err = d.Client.StopContainer(t.Context(), id, client.StopOptions{})
	if err != nil || c.State.Status != "stopped" || c.State.ExitCode != 143 {
		t.Fatalf("stop of a hibernated container: %+v, %v", c.State, err)
	}
	waitLogs(t, d, id, "before\nduring\npartial")
	cli(t, d, 0, "rm", id)
	assertNoLeftovers(t, d, []client.Container{{ID: id}})
}

// TestContainerHibernateConfig: runtime.hibernateAfter sets the delay; 0s
// keeps supervisors awake; by default they hibernate after 5 s.
func TestContainerHibernateConfig(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemonWith(t, WithConfig(t, "[runtime]\nhibernateAfter = \"0s\"\n"))
	cli(t, d, 0, "run", "-d", "--name", "awake", img, "sleep", "1000")
	pid := supervisorPidOf(t, d, "awake")
	time.Sleep(1500 * time.Millisecond) // 5× the delay of the other tests here
	if exe := processExe(pid); exe != "container-runtime-linux" {
		t.Fatalf("with hibernateAfter 0s the supervisor runs %q", exe)
	}
	cli(t, d, 0, "rm", "-f", "awake")
	assertNoLeftovers(t, d, []client.Container{{ID: "awake"}})

	// The default: awake for the first 5 s, hibernated after.
	d2, img := startContainersDaemon(t)
	cli(t, d2, 0, "run", "-d", "--name", "slow", img, "sleep", "1000")
	pid = supervisorPidOf(t, d2, "slow")
	time.Sleep(2 * time.Second)
	if exe := processExe(pid); exe != "container-runtime-linux" {
		t.Fatalf("hibernated within 2 s by default: runs %q", exe)
	}
	waitHibernated(t, d2, "slow")
	cli(t, d2, 0, "rm", "-f", "slow")
	assertNoLeftovers(t, d2, []client.Container{{ID: "slow"}})
}

func TestContainerHibernatedExit(t *testing.T) {
	requireIntegration(t)
	d, img := startHibernatingDaemon(t)
	const id = "hib-exit"
	cli(t, d, 0, "run", "-d", "--name", id, img, "sh", "-c", `sleep 2; echo bye; exit 7`)
	waitHibernated(t, d, id)
	// The exit wakes the supervisor, which records the real code.
	if out := cli(t, d, 0, "wait", id); strings.TrimSpace(out) != "7" {
		t.Fatalf("wait: %q", out)
	}
	c, err := d.Client.GetContainer(t.Context(), id)
	if err != nil || c.State.Status != "stopped" || c.State.ExitCode != 7 || c.State.Error != "" {
		t.Fatalf("after an exit while hibernated: %+v, %v", c.State, err)
	}
	waitLogs(t, d, id, "bye\n")
	cli(t, d, 0, "rm", id)
	assertNoLeftovers(t, d, []client.Container{{ID: id}})
}

func TestContainerHibernatedRotation(t *testing.T) {
	requireIntegration(t)
	d2, img := startContainersDaemonWith(t, WithConfig(t, "[logs]\nmaxSize = 250\nmaxFiles = 3\n[runtime]\nhibernateAfter = \"300ms\"\n"))
	const id = "hib-rotate"
	// Lines of ≈ 100 bytes in the log, one write each: the log rotates
	// every few lines, before the hibernation and while hibernated.
	cli(t, d2, 0, "run", "-d", "--name", id, img, "sh", "-c",
		`i=0; while [ $i -lt 10 ]; do i=$((i+1)); printf 'a%038d\n' $i; sleep 0.02; done; sleep 1.5; `+
			`while [ $i -lt 20 ]; do i=$((i+1)); printf 'b%038d\n' $i; sleep 0.02; done; sleep 1000`)
	pid := waitHibernated(t, d2, id)
	var want strings.Builder
	for i := 17; i <= 20; i++ {
		fmt.Fprintf(&want, "b%038d\n", i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := cli(t, d2, 0, "logs", "-n", "4", id)
		if out == want.String() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs -n 4 = %q, want %q", out, want.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	bundle := filepath.Join(d2.Root, "containers", id)
	for _, f := range []string{"container.log", "container.log.1", "container.log.2"} {
		data, err := os.ReadFile(filepath.Join(bundle, f))
		if err != nil || len(data) > 250 || strings.Contains(string(data), `"a0`) {
			t.Fatalf("%s: %q, %v (maxSize 250, rotated while hibernated)", f, data, err)
		}
	}
	if _, err := os.Stat(filepath.Join(bundle, "container.log.3")); err == nil {
		t.Fatal("container.log.3 exists with maxFiles 3")
	}
	if exe := processExe(pid); exe != "container-runtime-monitor" {
		t.Fatalf("supervisor woke while logging: runs %q", exe)
	}
	cli(t, d2, 0, "rm", "-f", id)
	assertNoLeftovers(t, d2, []client.Container{{ID: id}})
}

func TestContainerHibernatedReattach(t *testing.T) {
	requireIntegration(t)
	d, img := startHibernatingDaemon(t)
	ids := []string{"hib-r0", "hib-r1", "hib-r2"}
	for _, id := range ids {
		cli(t, d, 0, "run", "-d", "--name", id, img, "sh", "-c", `trap "exit 143" TERM; sleep 1000 & wait`)
	}
	cli(t, d, 0, "run", "-d", "--name", "hib-quit", img, "sh", "-c", "sleep 2; exit 9")
	for _, id := range append(ids, "hib-quit") {
		waitHibernated(t, d, id)
	}
	d.Kill(t)
	time.Sleep(2500 * time.Millisecond) // hib-quit exits while the apiserver is down
	d.Restart(t)
	q, err := d.Client.GetContainer(t.Context(), "hib-quit")
	if err != nil || q.State.Status != "stopped" || q.State.ExitCode != 9 || q.State.Error != "" {
		t.Fatalf("exit while hibernated and the apiserver down: %+v, %v", q.State, err)
	}
	for _, id := range ids {
		waitHibernated(t, d, id)
	}
	c, err := d.Client.StopContainer(t.Context(), ids[0], client.StopOptions{})
	if err != nil || c.State.Status != "stopped" || c.State.ExitCode != 143 {
		t.Fatalf("stop after restart: %+v, %v", c.State, err)
	}
	// A hibernated supervisor killed with SIGKILL is seen at once, and
	// rm -f cleans up.
	pid := waitHibernated(t, d, ids[1])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := d.Client.GetContainer(t.Context(), ids[1])
		if err == nil && c.State.Status == "stopped" && c.State.Error != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container of a killed hibernated supervisor: %+v, %v", c.State, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cli(t, d, 0, "rm", "-f", ids[1])
	assertNoLeftovers(t, d, []client.Container{{ID: ids[1]}})
}

func TestContainerHibernatedStdin(t *testing.T) {
	requireIntegration(t)
	d, img := startHibernatingDaemon(t)
	const id = "hib-stdin"
	// -i keeps the container's stdin open: it must stay open across the
	// handovers (cat would end at EOF).
	cli(t, d, 0, "run", "-d", "-i", "--name", id, img, "sh", "-c", `cat; echo stdin closed; sleep 1000`)
	pid := waitHibernated(t, d, id)
	start := time.Now()
	if out := cli(t, d, 0, "exec", id, "true"); out != "" {
		t.Fatalf("exec: %q", out)
	}
	t.Logf("exec in a hibernated container: %v", time.Since(start))
	waitHibernated(t, d, id)
	time.Sleep(300 * time.Millisecond)
	if out := cli(t, d, 0, "logs", id); out != "" {
		t.Fatalf("logs after two handovers: %q (stdin closed?)", out)
	}
	if got := supervisorPidOf(t, d, id); got != pid {
		t.Fatalf("supervisor pid %d, want %d", got, pid)
	}
	cli(t, d, 0, "rm", "-f", id)
	assertNoLeftovers(t, d, []client.Container{{ID: id}})
}

func TestContainerHibernatedTerminal(t *testing.T) {
	requireIntegration(t)
	d, img := startHibernatingDaemon(t)
	const id = "hib-tty"
	// A terminal's pty master is handed over like the pipes.
	cli(t, d, 0, "run", "-d", "-t", "--name", id, img, "sh", "-c", `echo before; sleep 1.5; echo during; sleep 1000`)
	pid := waitHibernated(t, d, id)
	waitLogs(t, d, id, "before\r\nduring\r\n")
	if out := cli(t, d, 0, "exec", id, "echo", "hi"); out != "hi\n" {
		t.Fatalf("exec in a hibernated container: %q", out)
	}
	if got := waitHibernated(t, d, id); got != pid {
		t.Fatalf("supervisor pid %d, want %d", got, pid)
	}
	timeout := time.Second
	c, err := d.Client.StopContainer(t.Context(), id, client.StopOptions{Timeout: &timeout})
	if err != nil || c.State.Status != "stopped" {
		t.Fatalf("stop: %+v, %v", c.State, err)
	}
	cli(t, d, 0, "rm", id)
	assertNoLeftovers(t, d, []client.Container{{ID: id}})
}

func TestContainerHibernatedFollow(t *testing.T) {
	requireIntegration(t)
	d, img := startHibernatingDaemon(t)
	const id = "hib-follow"
	// logs -f follows what the monitor writes, and ends with the exit.
	cli(t, d, 0, "run", "-d", "--name", id, img, "sh", "-c", `echo a; sleep 1; echo b; sleep 1; echo c`)
	waitHibernated(t, d, id)
	if out := cli(t, d, 0, "logs", "-f", id); out != "a\nb\nc\n" {
		t.Fatalf("logs -f: %q", out)
	}
	cli(t, d, 0, "rm", id)
	assertNoLeftovers(t, d, []client.Container{{ID: id}})
}
