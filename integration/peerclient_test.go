package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// peerClientEnv makes the test binary act as a client of the socket it
// names (see peerClientMain) instead of running tests.
const peerClientEnv = "CONTAINER_TEST_PEER_CLIENT"

// peerClientMain dials sock, calls Health and Status, and prints one line:
// "ok", or "error <kind> <message>", where kind is permission, unavailable
// or other.
func peerClientMain(sock string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := func() error {
		c, err := client.Dial(ctx, sock)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Health(ctx, ""); err != nil {
			return err
		}
		_, err = c.Status(ctx)
		return err
	}()
	switch {
	case err == nil:
		fmt.Println("ok")
	case errors.Is(err, errdefs.ErrPermissionDenied):
		fmt.Println("error permission", err)
	case errors.Is(err, errdefs.ErrUnavailable):
		fmt.Println("error unavailable", err)
	default:
		fmt.Println("error other", err)
	}
	return 0
}

// nobody is the uid/gid the peer tests run clients as.
const nobody = 65534

// runPeerClient runs the test binary as a client of sock under uid/gid
// 65534 with no supplementary groups and returns its one line of output
// and how long it took. The binary is copied to a directory that user can
// read.
func runPeerClient(t *testing.T, sock string) (string, time.Duration) {
	t.Helper()
	return runPeerClientAs(t, sock, nobody, nil)
}

// runPeerClientAs is runPeerClient as uid 65534 with primary group gid
// and supplementary groups groups.
func runPeerClientAs(t *testing.T, sock string, gid uint32, groups []uint32) (string, time.Duration) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := ShortTempDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "peerclient")
	if err := copyFile(exe, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{peerClientEnv + "=" + sock, "PATH=/usr/bin:/bin", "HOME=/"}
	cmd.Dir = "/"
	if groups == nil {
		groups = []uint32{}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: gid, Groups: groups}}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("peer client: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out)), took
}
