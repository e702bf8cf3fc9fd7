package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSystemStopKillsStubbornApiserver(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	// A process whose executable is called container-apiserver and that
	// ignores SIGTERM (an ignored signal stays ignored across exec).
	bin := filepath.Join(dir, apiserverBinary)
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `trap "" TERM; exec "$0" 60`, bin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for !isApiserver(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !isApiserver(pid) {
		t.Fatalf("pid %d is not taken for an apiserver", pid)
	}
	if err := os.WriteFile(filepath.Join(state, pidFileName), fmt.Appendf(nil, "%d\n", pid), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINER_STATE_ROOT", state)

	var stdout, stderr bytes.Buffer
	a := &App{Stdout: &stdout, Stderr: &stderr, Host: filepath.Join(state, socketName)}
	if err := a.systemStop(t.Context(), 300*time.Millisecond); err != nil {
		t.Fatalf("systemStop: %v", err)
	}
	if alive(pid) {
		t.Errorf("pid %d still alive", pid)
	}
	if !strings.Contains(stderr.String(), "killing it") || !strings.Contains(stdout.String(), "apiserver stopped") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(state, pidFileName)); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}

	// A pid file naming some other process is not trusted.
	if err := os.WriteFile(filepath.Join(state, pidFileName), fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := a.systemStop(t.Context(), time.Second); err != nil || !strings.Contains(stdout.String(), "not running") {
		t.Errorf("stop with a foreign pid file: %v, stdout %q", err, stdout.String())
	}
}
