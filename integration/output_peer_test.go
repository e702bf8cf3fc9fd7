package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestContainerOutputRefusesOthers: a user who may open the socket but is
// neither root nor a member of the container group is refused by the
// output protocol (descriptors handed to the apiserver) as by gRPC.
func TestContainerOutputRefusesOthers(t *testing.T) {
	requireIntegration(t)
	d := StartDaemon(t)
	// Let anyone reach and open the socket: only the peer check is left.
	if err := os.Chmod(d.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.Socket, 0o666); err != nil {
		t.Fatal(err)
	}
	dir := ShortTempDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "container")
	if err := copyFile(cliBin, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// logs goes through the output protocol (stdout and stderr are
	// pipes); logs -t through gRPC.
	for _, args := range [][]string{{"logs", "somebody"}, {"logs", "-t", "somebody"}} {
		cmd := d.CLICommand(t, args...)
		cmd.Path, cmd.Args[0] = bin, bin
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := runExit(t, cmd)
		if code == 0 || !strings.Contains(stderr.String(), "refused") || !strings.Contains(stderr.String(), "not root") {
			t.Errorf("%s as uid %d: exit %d, stdout %q, stderr %q; want a refusal", strings.Join(args, " "), nobody, code, stdout.String(), stderr.String())
		}
	}
}
