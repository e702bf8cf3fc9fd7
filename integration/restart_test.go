package integration

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestContainerRestartPoliciesAtBoot runs containers under every restart
// policy, simulates a reboot, and checks which ones the apiserver starts
// again: "always" ones (even one the user stopped), "unless-stopped" ones
// the user did not stop, "on-failure" ones that did not exit 0, and no
// "no" one.
func TestContainerRestartPoliciesAtBoot(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	const sleeper = `trap "exit 0" TERM; sleep 1000 & wait`
	run := func(name, policy string, cmd ...string) {
		t.Helper()
		args := append([]string{"run", "-d", "--name", name, "--restart", policy, img}, cmd...)
		cli(t, d, 0, args...)
	}
	run("always", "always", "sh", "-c", sleeper)
	run("always-stopped", "always", "sh", "-c", sleeper)
	run("unless", "unless-stopped", "sh", "-c", sleeper)
	run("unless-stopped", "unless-stopped", "sh", "-c", sleeper)
	run("onfail", "on-failure", "sh", "-c", sleeper)
	run("onfail-ok", "on-failure", "true")
	run("never", "no", "sh", "-c", sleeper)
	cli(t, d, 0, "stop", "always-stopped", "unless-stopped")
	if _, err := d.Client.WaitContainer(t.Context(), "onfail-ok"); err != nil {
		t.Fatal(err)
	}
	// While the apiserver runs, a user's stop is final even for "always".
	time.Sleep(500 * time.Millisecond)
	for _, id := range []string{"always-stopped", "unless-stopped", "onfail-ok"} {
		c, err := d.Client.GetContainer(t.Context(), id)
		if err != nil || c.State.Status != "stopped" {
			t.Fatalf("%s before the reboot: %+v, %v", id, c.State, err)
		}
	}

	simulateReboot(t, d)

	want := map[string]string{
		"always": "running", "always-stopped": "running", "unless": "running", "onfail": "running",
		"unless-stopped": "stopped", "onfail-ok": "stopped", "never": "stopped",
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := map[string]string{}
		cs, err := d.Client.ListContainers(t.Context(), true)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			got[c.ID] = c.State.Status
		}
		if maps.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reboot: %v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The ones that came back really run, and "never" says why it stopped.
	for _, id := range []string{"always", "always-stopped", "unless", "onfail"} {
		c, err := d.Client.GetContainer(t.Context(), id)
		if err != nil || c.State.Pid <= 0 || syscall.Kill(c.State.Pid, 0) != nil {
			t.Fatalf("%s after the reboot: %+v, %v", id, c.State, err)
		}
	}
	c, err := d.Client.GetContainer(t.Context(), "never")
	if err != nil || c.State.ExitCode != 255 || c.State.Error == "" {
		t.Fatalf("never after the reboot: %+v, %v", c.State, err)
	}
	// A user's stop after the reboot is final again.
	cli(t, d, 0, "stop", "always")
	time.Sleep(500 * time.Millisecond)
	if c, err := d.Client.GetContainer(t.Context(), "always"); err != nil || c.State.Status != "stopped" {
		t.Fatalf("always after stop: %+v, %v", c.State, err)
	}
}

// simulateReboot does to d what a reboot does: the apiserver stops, every
// supervisor and container process dies, the containers' cgroups and
// rootfs mounts go, and the state dir (a tmpfs on a real host) is emptied;
// only the root survives. Then the apiserver starts again.
func simulateReboot(t *testing.T, d *Daemon) {
	t.Helper()
	d.Stop(t)
	sups, _ := filepath.Glob(filepath.Join(d.State, "containers", "*", "supervisor.pid"))
	for _, f := range sups {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(strings.TrimSpace(string(data)), &pid); err != nil || pid <= 1 {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			waitGone(t, pid)
		}
	}
	runcRoot := filepath.Join(d.State, "runc")
	out, err := exec.Command("runc", "--root", runcRoot, "list", "-q").Output()
	if err != nil {
		t.Fatalf("runc list: %v", err)
	}
	for _, id := range strings.Fields(string(out)) {
		if out, err := exec.Command("runc", "--root", runcRoot, "delete", "--force", id).CombinedOutput(); err != nil {
			t.Fatalf("runc delete %s: %v: %s", id, err, out)
		}
	}
	mounts := mountsUnder(d.Root)
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil {
			t.Fatalf("unmount %s: %v", mounts[i], err)
		}
	}
	if err := os.RemoveAll(d.State); err != nil {
		t.Fatal(err)
	}
	d.Start(t)
}

// waitGone waits up to two seconds for process pid to die. A zombie counts
// as dead: an orphan is reaped by pid 1, which may take its time (this
// machine's init reaps every few seconds).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 100 {
		if !liveProcess(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d did not die", pid)
}
