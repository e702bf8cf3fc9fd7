package supervisor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func exeOf(pid int) string {
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return filepath.Base(exe)
}

// TestHibernate: a pending Wait ends UNAVAILABLE with the init's pid when
// the supervisor hibernates; the init stays its unreaped child; the next
// Wait wakes it in the same process and reports the real exit; output
// written meanwhile is logged.
func TestHibernate(t *testing.T) {
	integration(t)
	h := startSupervisor(t, func(args []string) *exec.Cmd {
		cmd := exec.Command(supervisorBin, append(args, "--hibernate-after", "100ms")...)
		return cmd
	})
	pid := h.run(t, sh("echo up; sleep 1.5; echo down; exit 3"))
	sup := h.supervisorPid(t)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var trailer metadata.MD
	_, err := h.api.Wait(ctx, &runtimev1.WaitRequest{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("pending Wait: %v, want UNAVAILABLE", err)
	}
	if v := trailer.Get(runtimev1.HibernatingTrailer); len(v) != 1 || v[0] != strconv.Itoa(pid) {
		t.Fatalf("trailer %v, want %s: %d", trailer, runtimev1.HibernatingTrailer, pid)
	}
	deadline := time.Now().Add(5 * time.Second)
	for exeOf(sup) != MonitorBinary {
		if time.Now().After(deadline) {
			t.Fatalf("supervisor %d runs %q, not the monitor", sup, exeOf(sup))
		}
		time.Sleep(10 * time.Millisecond)
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); f[1] != strconv.Itoa(sup) {
		t.Fatalf("init's parent %s, want the supervisor %d", f[1], sup)
	}
	// A Wait wakes it; it hibernates again (a pending Wait does not keep
	// it awake) until the exit, which comes with the real code.
	var e *runtimev1.ExitStatus
	for e == nil {
		var md metadata.MD
		resp, err := h.api.Wait(ctx, &runtimev1.WaitRequest{}, grpc.Trailer(&md))
		switch {
		case err == nil:
			e = resp.GetExit()
		case len(md.Get(runtimev1.HibernatingTrailer)) == 1:
			time.Sleep(50 * time.Millisecond)
		default:
			t.Fatalf("wait: %v", err)
		}
	}
	if e.GetCode() != 3 {
		t.Fatalf("exit %v, want code 3", e)
	}
	if got := h.supervisorPid(t); got != sup || exeOf(sup) != "container-runtime-linux" {
		t.Fatalf("after the exit: pid %d runs %q, want %d running the supervisor", got, exeOf(sup), sup)
	}
	if out := h.logs(t)["stdout"]; out != "up\ndown\n" {
		t.Fatalf("stdout %q", out)
	}
}

// TestHibernateTerminal: a terminal is handed over; a resize after the
// wake-up reaches it.
func TestHibernateTerminal(t *testing.T) {
	integration(t)
	h := startSupervisor(t, func(args []string) *exec.Cmd {
		return exec.Command(supervisorBin, append(args, "--hibernate-after", "100ms")...)
	})
	spec := sh("echo up; sleep 1.5; stty size; sleep 1000")
	spec.Terminal = true
	h.run(t, spec)
	sup := h.supervisorPid(t)
	deadline := time.Now().Add(5 * time.Second)
	for exeOf(sup) != MonitorBinary {
		if time.Now().After(deadline) {
			t.Fatalf("supervisor %d runs %q, not the monitor", sup, exeOf(sup))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := h.api.ResizePty(t.Context(), &runtimev1.ResizePtyRequest{Width: 50, Height: 20}); err != nil {
		t.Fatalf("resize: %v", err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		out := h.logs(t)["stdout"]
		if out == "up\r\n20 50\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stdout %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := h.api.Kill(t.Context(), &runtimev1.KillRequest{Signal: 9}); err != nil {
		t.Fatalf("kill: %v", err)
	}
}

// TestHibernateExecFails: when the monitor cannot be exec'd, the
// supervisor serves on in the same process with a new generation of output
// copiers: output written after the failed handover is logged, the exit
// comes with its real code, and no Wait of the old copiers trips over the
// new ones.
func TestHibernateExecFails(t *testing.T) {
	integration(t)
	dir, err := os.MkdirTemp("", "hx")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, filepath.Base(supervisorBin))
	data, err := os.ReadFile(supervisorBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// There, but not executable: the start-up check passes, the exec fails.
	if err := os.WriteFile(filepath.Join(dir, MonitorBinary), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startSupervisor(t, func(args []string) *exec.Cmd {
		return exec.Command(bin, append(args, "--hibernate-after", "100ms")...)
	})
	h.run(t, sh("echo up; sleep 1; echo down; exit 4"))
	sup := h.supervisorPid(t)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var e *runtimev1.ExitStatus
	sawHandover := false
	for e == nil {
		var md metadata.MD
		resp, err := h.api.Wait(ctx, &runtimev1.WaitRequest{}, grpc.Trailer(&md))
		switch {
		case err == nil:
			e = resp.GetExit()
		case len(md.Get(runtimev1.HibernatingTrailer)) == 1:
			sawHandover = true
			time.Sleep(20 * time.Millisecond)
		default:
			t.Fatalf("wait: %v", err)
		}
	}
	if !sawHandover {
		t.Fatal("the supervisor never tried to hibernate")
	}
	if e.GetCode() != 4 {
		t.Fatalf("exit %v, want code 4", e)
	}
	if got := h.supervisorPid(t); got != sup || exeOf(sup) != filepath.Base(supervisorBin) {
		t.Fatalf("after the exit: pid %d runs %q, want %d running the supervisor", got, exeOf(sup), sup)
	}
	if out := h.logs(t)["stdout"]; out != "up\ndown\n" {
		t.Fatalf("stdout %q", out)
	}
}
