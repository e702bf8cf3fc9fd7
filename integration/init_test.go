package integration

import (
	"strings"
	"testing"
	"time"
)

// TestContainerRunInit: with --init the runtime plugin's init is the
// container's pid 1; it runs the command as its child, reaps orphans,
// forwards signals and exits with the command's status.
func TestContainerRunInit(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)

	// pid 1 is the init, the command is its child.
	out := cli(t, d, 0, "run", "--rm", "--init", img, "sh", "-c",
		`tr '\0' ' ' </proc/1/cmdline; echo; echo "sh=$$ parent=$PPID"`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "container-init") || lines[1] == "sh=1 parent=0" ||
		!strings.HasSuffix(lines[1], " parent=1") {
		t.Fatalf("pid 1 and the command under --init: %q", out)
	}

	// The exit code passes through.
	cli(t, d, 7, "run", "--rm", "--init", img, "sh", "-c", "exit 7")

	// An orphan is reaped by the init: no zombie is left once it exits.
	out = cli(t, d, 0, "run", "--rm", "--init", img, "sh", "-c",
		`(sleep 0.2 &); sleep 1; grep -l '^State:.*Z' /proc/[0-9]*/status; echo done`)
	if out != "done\n" {
		t.Fatalf("zombies under --init: %q", out)
	}

	// A signal sent to the container reaches the command through the init.
	cli(t, d, 0, "run", "-d", "--init", "--name", "init-term", img, "sh", "-c",
		`trap "echo got TERM; exit 9" TERM; echo ready; sleep 1000 & wait`)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(cli(t, d, 0, "logs", "init-term"), "ready") {
		if time.Now().After(deadline) {
			t.Fatal("container never got ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	cli(t, d, 0, "stop", "-t", "10", "init-term")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("stop took %v: SIGTERM was not forwarded", took)
	}
	c, err := d.Client.GetContainer(t.Context(), "init-term")
	if err != nil || c.State.ExitCode != 9 {
		t.Fatalf("after stop: %+v, %v", c.State, err)
	}
	if out := cli(t, d, 0, "logs", "init-term"); out != "ready\ngot TERM\n" {
		t.Fatalf("logs: %q", out)
	}
}
