package runtime

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	runtimev1 "github.com/berth/container/api/runtime/v1"
)

func TestHibernatingTrailer(t *testing.T) {
	for _, tc := range []struct {
		md   metadata.MD
		pid  int
		want bool
	}{
		{nil, 0, false},
		{metadata.Pairs(runtimev1.HibernatingTrailer, "1234"), 1234, true},
		{metadata.Pairs(runtimev1.HibernatingTrailer, "0"), 0, true},
		{metadata.Pairs("other", "1"), 0, false},
	} {
		pid, ok := hibernating(tc.md)
		if pid != tc.pid || ok != tc.want {
			t.Errorf("hibernating(%v) = %d, %v; want %d, %v", tc.md, pid, ok, tc.pid, tc.want)
		}
	}
}

// fakeHibernated starts a stand-in for a hibernated supervisor of id (its
// command line names id, its pid is in supervisor.pid) with a child
// standing in for the container's init.
func fakeHibernated(t *testing.T, r *Runtime, id string) (sup *exec.Cmd, initPid int) {
	t.Helper()
	if err := os.MkdirAll(r.StateDir(id), 0o755); err != nil {
		t.Fatal(err)
	}
	sup = exec.Command("sh", "-c", "sleep 60 & wait", id)
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Process.Kill(); _ = sup.Wait() })
	if err := os.WriteFile(filepath.Join(r.StateDir(id), "supervisor.pid"), []byte(strconv.Itoa(sup.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(sup.Process.Pid) + "/task/" + strconv.Itoa(sup.Process.Pid) + "/children")
		if f := strings.Fields(string(data)); len(f) > 0 {
			initPid, _ = strconv.Atoi(f[0])
			t.Cleanup(func() { _ = syscallKill(initPid) })
			return sup, initPid
		}
		if time.Now().After(deadline) {
			t.Fatal("no child")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func waitHibernatedAsync(r *Runtime, ctx context.Context, id string, pid int) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- r.waitHibernated(ctx, id, pid) }()
	return ch
}

func expectReturn(t *testing.T, ch <-chan error, want error) {
	t.Helper()
	select {
	case err := <-ch:
		if !errors.Is(err, want) {
			t.Fatalf("waitHibernated: %v, want %v", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitHibernated did not return")
	}
}

func expectBlocked(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("waitHibernated returned early: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestWaitHibernated(t *testing.T) {
	r := New(Opt{Root: t.TempDir(), State: t.TempDir()})
	t.Run("init exits", func(t *testing.T) {
		_, pid := fakeHibernated(t, r, "c1")
		ch := waitHibernatedAsync(r, t.Context(), "c1", pid)
		expectBlocked(t, ch)
		_ = syscallKill(pid)
		expectReturn(t, ch, nil)
	})
	t.Run("supervisor killed", func(t *testing.T) {
		sup, pid := fakeHibernated(t, r, "c2")
		ch := waitHibernatedAsync(r, t.Context(), "c2", pid)
		expectBlocked(t, ch)
		_ = sup.Process.Kill()
		expectReturn(t, ch, nil)
	})
	t.Run("canceled", func(t *testing.T) {
		_, pid := fakeHibernated(t, r, "c3")
		ctx, cancel := context.WithCancel(t.Context())
		ch := waitHibernatedAsync(r, ctx, "c3", pid)
		expectBlocked(t, ch)
		cancel()
		expectReturn(t, ch, context.Canceled)
	})
	t.Run("not the supervisor's child", func(t *testing.T) {
		fakeHibernated(t, r, "c4")
		// This test's own pid: alive, but not a child of c4's supervisor.
		expectReturn(t, waitHibernatedAsync(r, t.Context(), "c4", os.Getpid()), nil)
	})
	t.Run("no supervisor", func(t *testing.T) {
		expectReturn(t, waitHibernatedAsync(r, t.Context(), "none", os.Getpid()), nil)
	})
}
