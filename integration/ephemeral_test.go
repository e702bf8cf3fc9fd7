package integration

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// TestContainerRunRmGone: when `run --rm` returns, the container is gone
// (the apiserver removed it and answered Wait after), with its exit code
// passed on, also when a forwarded SIGINT ended it.
func TestContainerRunRmGone(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	for i := range 5 {
		cli(t, d, 3, "run", "--rm", "--name", "gone", img, "sh", "-c", "exit 3")
		if out := cli(t, d, 0, "ls", "-a", "-q"); out != "" {
			t.Fatalf("run %d: left after run --rm: %q", i, out)
		}
	}
	assertNoLeftovers(t, d, []client.Container{{ID: "gone"}})

	cmd := d.CLICommand(t, "run", "--rm", "--name", "interrupted", img,
		"sh", "-c", `trap "exit 5" INT; echo ready; sleep 1000 & wait`)
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "ready") })
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 5 {
		t.Fatalf("run after SIGINT: exit %d, want 5", code)
	}
	if _, err := d.Client.GetContainer(t.Context(), "interrupted"); !errdefs.IsNotFound(err) {
		t.Fatalf("interrupted run --rm still there: %v", err)
	}
	assertNoLeftovers(t, d, []client.Container{{ID: "interrupted"}})

	// --rm cannot be combined with a restart policy, in the foreground too.
	cli(t, d, 125, "run", "--rm", "--restart", "always", img, "true")
}

// TestContainerEphemeralAfterCrash: the apiserver keeps a --rm
// container's state changes in memory only. Killed with SIGKILL and
// started again, it takes over the --rm containers that still run
// (detached, and one whose foreground CLI lost its apiserver), which are
// removed when they exit; it removes those that exited while it was down
// and those created and never started; other containers keep their
// records.
func TestContainerEphemeralAfterCrash(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cli(t, d, 0, "run", "-d", "--rm", "--name", "eph-run", img, "sh", "-c", `trap "exit 143" TERM; sleep 1000 & wait`)
	cli(t, d, 0, "run", "-d", "--rm", "--name", "eph-quit", img, "sh", "-c", "sleep 1; exit 7")
	cli(t, d, 0, "create", "--rm", "--name", "eph-new", img, "true")
	cli(t, d, 0, "run", "--name", "keep", img, "true")
	fg := d.CLICommand(t, "run", "--rm", "--name", "eph-fg", img, "sh", "-c", "echo ready; sleep 3")
	out := &syncBuffer{}
	fg.Stdout = out
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "ready") })
	if c, err := d.Client.GetContainer(t.Context(), "eph-run"); err != nil || c.State.Status != "running" {
		t.Fatalf("eph-run before the crash: %+v, %v", c.State, err)
	}

	d.Kill(t)
	time.Sleep(2 * time.Second) // eph-quit exits while the apiserver is down
	d.Restart(t)

	for _, id := range []string{"eph-quit", "eph-new"} {
		if _, err := d.Client.GetContainer(t.Context(), id); !errdefs.IsNotFound(err) {
			t.Errorf("%s after restart: %v, want removed", id, err)
		}
	}
	assertNoLeftovers(t, d, []client.Container{{ID: "eph-quit"}, {ID: "eph-new"}})
	for _, id := range []string{"eph-run", "eph-fg"} {
		if c, err := d.Client.GetContainer(t.Context(), id); err != nil || c.State.Status != "running" {
			t.Fatalf("%s after restart: %+v, %v; want running", id, c.State, err)
		}
	}
	if c, err := d.Client.GetContainer(t.Context(), "keep"); err != nil || c.State.Status != "stopped" {
		t.Fatalf("keep after restart: %+v, %v", c.State, err)
	}

	// The foreground CLI lost its apiserver; its container still ends
	// and is removed.
	done := make(chan struct{})
	go func() { _ = fg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = fg.Process.Signal(syscall.SIGKILL)
		<-done
	}
	waitFor(t, 15*time.Second, func() bool {
		_, err := d.Client.GetContainer(t.Context(), "eph-fg")
		return errdefs.IsNotFound(err)
	})
	// A stop of a taken-over --rm container removes it; wait tells its code.
	cli(t, d, 0, "stop", "eph-run")
	if out := cli(t, d, 0, "wait", "eph-run"); strings.TrimSpace(out) != "143" {
		t.Fatalf("wait eph-run = %q, want 143", out)
	}
	if _, err := d.Client.GetContainer(t.Context(), "eph-run"); !errdefs.IsNotFound(err) {
		t.Fatalf("eph-run after stop and wait: %v, want removed", err)
	}
	assertNoLeftovers(t, d, []client.Container{{ID: "eph-run"}, {ID: "eph-fg"}})
	cli(t, d, 0, "rm", "keep")
}
