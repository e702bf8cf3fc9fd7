package integration

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// TestContainerRaces runs operations on one container at once: they are
// serialized, each ends in a state the others accept, and nothing leaks.
func TestContainerRaces(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	ctx := t.Context()
	t.Run("delete while stopping", func(t *testing.T) {
		cli(t, d, 0, "run", "-d", "--name", "race-stop-rm", img, "sh", "-c", `trap "" TERM; while true; do sleep 0.1; done`)
		time.Sleep(200 * time.Millisecond)
		var wg sync.WaitGroup
		var stopErr, rmErr error
		timeout := time.Second
		wg.Go(func() {
			_, stopErr = d.Client.StopContainer(ctx, "race-stop-rm", client.StopOptions{Timeout: &timeout})
		})
		time.Sleep(100 * time.Millisecond)
		wg.Go(func() { _, rmErr = d.Client.DeleteContainer(ctx, "race-stop-rm", true) })
		wg.Wait()
		if stopErr != nil || rmErr != nil {
			t.Fatalf("stop: %v; rm -f: %v", stopErr, rmErr)
		}
		assertNoLeftovers(t, d, []client.Container{{ID: "race-stop-rm"}})
	})
	t.Run("stop twice at once", func(t *testing.T) {
		cli(t, d, 0, "run", "-d", "--name", "race-stop2", img, "sleep", "1000")
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { _, errs[i] = d.Client.StopContainer(ctx, "race-stop2", client.StopOptions{}) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("stop: %v", err)
			}
		}
		c, err := d.Client.GetContainer(ctx, "race-stop2")
		if err != nil || c.State.Status != "stopped" {
			t.Fatalf("after concurrent stops: %+v, %v", c.State, err)
		}
		cli(t, d, 0, "rm", "race-stop2")
	})
	t.Run("concurrent start", func(t *testing.T) {
		cli(t, d, 0, "create", "--name", "race-start", img, "sleep", "1000")
		var wg sync.WaitGroup
		pids := make([]int, 3)
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() {
				var c client.Container
				c, errs[i] = d.Client.StartContainer(ctx, "race-start")
				pids[i] = c.State.Pid
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil || pids[i] != pids[0] || pids[i] == 0 {
				t.Errorf("start %d: pid %d (first %d), %v", i, pids[i], pids[0], err)
			}
		}
		if n := len(processesOfNow(d, "race-start")); n != 1 {
			t.Errorf("%d supervisors for one container", n)
		}
		cli(t, d, 0, "rm", "-f", "race-start")
		assertNoLeftovers(t, d, []client.Container{{ID: "race-start"}})
	})
	t.Run("restart loop vs stop and delete", func(t *testing.T) {
		for _, verb := range []string{"stop", "rm"} {
			name := "race-loop-" + verb
			cli(t, d, 0, "run", "-d", "--name", name, "--restart", "always", img, "true")
			deadline := time.Now().Add(10 * time.Second)
			for {
				c, err := d.Client.GetContainer(ctx, name)
				if err == nil && c.State.RestartCount >= 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s never restarted: %+v, %v", name, c.State, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if verb == "stop" {
				cli(t, d, 0, "stop", name)
				time.Sleep(time.Second) // a restart would have happened by now
				c, err := d.Client.GetContainer(ctx, name)
				if err != nil || c.State.Status != "stopped" {
					t.Fatalf("restart loop after stop: %+v, %v", c.State, err)
				}
			}
			cli(t, d, 0, "rm", "-f", name)
			time.Sleep(500 * time.Millisecond)
			if _, err := d.Client.GetContainer(ctx, name); !errdefs.IsNotFound(err) {
				t.Fatalf("%s after rm -f: %v", name, err)
			}
			if out := cli(t, d, 0, "ls", "-aq"); strings.Contains(out, name) {
				t.Fatalf("ls -a after rm -f: %q", out)
			}
			assertNoLeftovers(t, d, []client.Container{{ID: name}})
		}
	})
	t.Run("restart whose start fails", func(t *testing.T) {
		// The first run removes its own command: every restart fails to start.
		cli(t, d, 0, "run", "-d", "--name", "race-nostart", "--restart", "on-failure:3", img,
			"/bin/sh", "-c", "rm /bin/sh; exit 1")
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err := d.Client.GetContainer(ctx, "race-nostart")
			if err == nil && c.State.RestartCount == 3 && c.State.Status == "stopped" && strings.Contains(c.State.Error, "sh") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("on-failure:3 with failing starts: %+v, %v", c.State, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // a fourth attempt would be due by now
		if c, err := d.Client.GetContainer(ctx, "race-nostart"); err != nil || c.State.RestartCount != 3 {
			t.Fatalf("after the retries were used up: %+v, %v", c.State, err)
		}
		cli(t, d, 0, "rm", "-f", "race-nostart")
		assertNoLeftovers(t, d, []client.Container{{ID: "race-nostart"}})
	})
}
