package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// `system stop` with --host pointing at a socket nothing serves must not
// remove the pid file of the apiserver that does run in the state root.
func TestCleanupStaleKeepsLiveApiserverPidFile(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, apiserverBinary)
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pidFile := filepath.Join(state, pidFileName)
	if err := os.WriteFile(pidFile, fmt.Appendf(nil, "%d\n", cmd.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}
	// exec has happened once /proc/<pid>/exe names the copy.
	for deadline := time.Now().Add(5 * time.Second); !isApiserver(cmd.Process.Pid); {
		if time.Now().After(deadline) {
			t.Fatal("fake apiserver not recognised")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cleanupStale(t.Context(), filepath.Join(dir, "elsewhere.sock"), state)
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("pid file of a live apiserver removed: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	cleanupStale(t.Context(), filepath.Join(dir, "elsewhere.sock"), state)
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("stale pid file of a dead apiserver kept: %v", err)
	}
}
