package integration

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth/container/client"
)

// TestContainerFailedRun checks that a run that fails before or at its
// start exits with docker's codes (125 the CLI or daemon failed, 126 the
// command cannot be invoked, 127 not found), says why, and with --rm
// leaves nothing behind and the name free.
func TestContainerFailedRun(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{name: "missing binary", args: []string{img, "/nosuch"}, code: 127, msg: "nosuch"},
		{name: "missing binary in path", args: []string{img, "nosuch"}, code: 127, msg: "nosuch"},
		{name: "not executable", args: []string{img, "/etc/passwd"}, code: 126, msg: "passwd"},
		{name: "directory", args: []string{img, "/etc"}, code: 126, msg: "etc"},
		{name: "unknown user", args: []string{"--user", "nosuchuser", img, "true"}, code: 125, msg: "nosuchuser"},
		{name: "workdir is a file", args: []string{"--workdir", "/etc/passwd", img, "true"}, code: 125, msg: "passwd"},
		{name: "bad ulimit", args: []string{"--ulimit", "nofile=abc", img, "true"}, code: 125, msg: "nofile"},
		{name: "bad tmpfs", args: []string{"--tmpfs", "relative", img, "true"}, code: 125, msg: "relative"},
		{name: "unknown cap", args: []string{"--cap-add", "NOSUCH", img, "true"}, code: 125, msg: "NOSUCH"},
		{name: "unknown runtime", args: []string{"--runtime", "nosuch", img, "true"}, code: 125, msg: "nosuch"},
		{name: "missing image", args: []string{strings.SplitN(img, "/", 2)[0] + "/test/nosuch:latest", "true"}, code: 125, msg: "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "failed-" + strings.ReplaceAll(tc.name, " ", "-")
			args := append([]string{"run", "--rm", "--name", name}, tc.args...)
			_, errOut, code := d.CLI(t, args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("run %v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
			}
			if _, err := d.Client.GetContainer(t.Context(), name); err == nil {
				t.Errorf("container %s left behind", name)
			}
			assertNoLeftovers(t, d, []client.Container{{ID: name}})
			cli(t, d, 0, "create", "--name", name, img)
			cli(t, d, 0, "rm", name)
		})
	}
}

// TestContainerFailedStart checks that a start that fails keeps the
// created container (as docker does) with the reason in its state, and
// leaves no supervisor, mount, runc state or cgroup until it is deleted.
func TestContainerFailedStart(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "unknown user", args: []string{"--user", "nosuchuser", img, "true"}},
		{name: "missing binary", args: []string{img, "/nosuch"}},
		{name: "workdir is a file", args: []string{"--workdir", "/etc/passwd", img, "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "nostart-" + strings.ReplaceAll(tc.name, " ", "-")
			cli(t, d, 0, append([]string{"create", "--name", name}, tc.args...)...)
			for range 2 {
				if _, errOut, code := d.CLI(t, "start", name); code != 1 || errOut == "" {
					t.Fatalf("start: exit %d, stderr %q", code, errOut)
				}
				c, err := d.Client.GetContainer(t.Context(), name)
				if err != nil || c.State.Status != "created" || c.State.Error == "" {
					t.Fatalf("after a failed start: %+v, %v", c.State, err)
				}
				if m := mountsUnder(filepath.Join(d.Root, "containers", name)); len(m) > 0 {
					t.Errorf("mounts left after a failed start: %v", m)
				}
				if pids := processesOf(d, name); len(pids) > 0 {
					t.Errorf("processes left after a failed start: %v", pids)
				}
				for _, dir := range []string{filepath.Join(d.State, "runc", name), filepath.Join("/sys/fs/cgroup/container", name)} {
					if _, err := os.Stat(dir); err == nil {
						t.Errorf("%s left after a failed start", dir)
					}
				}
			}
			cli(t, d, 0, "rm", name)
			assertNoLeftovers(t, d, []client.Container{{ID: name}})
		})
	}
	t.Run("no command at create", func(t *testing.T) {
		_, errOut, code := d.CLI(t, "create", "--name", "nocmd", "--entrypoint", "", img)
		if code != 1 || !strings.Contains(errOut, "no command") {
			t.Fatalf("create --entrypoint '': exit %d, stderr %q", code, errOut)
		}
		if _, err := d.Client.GetContainer(t.Context(), "nocmd"); err == nil {
			t.Fatal("container without a command created")
		}
		assertNoLeftovers(t, d, []client.Container{{ID: "nocmd"}})
	})
	t.Run("unknown capability at create", func(t *testing.T) {
		_, errOut, code := d.CLI(t, "create", "--name", "badcap", "--cap-add", "NOSUCH", img)
		if code != 1 || !strings.Contains(errOut, "NOSUCH") {
			t.Fatalf("create --cap-add NOSUCH: exit %d, stderr %q", code, errOut)
		}
		if _, err := d.Client.GetContainer(t.Context(), "badcap"); err == nil {
			t.Fatal("container with an unknown capability created")
		}
	})
}

// TestContainerDamagedRecord damages one container record while the
// apiserver is down: after its start the damage is reported (not
// dropped), the other containers are reattached and work, and rm -f of
// the damaged one removes everything it had.
func TestContainerDamagedRecord(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cli(t, d, 0, "run", "-d", "--name", "healthy", img, "sleep", "1000")
	cli(t, d, 0, "create", "--name", "damaged", img)
	d.Stop(t)
	db, err := bolt.Open(filepath.Join(d.Root, "metadata.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("containers"))
		if b == nil || b.Get([]byte("damaged")) == nil {
			return errors.New("no record of the damaged container")
		}
		return b.Put([]byte("damaged"), []byte(`{"ID":"damaged",`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.Restart(t)
	if _, errOut, code := d.CLI(t, "ls", "-a"); code != 1 || !strings.Contains(errOut, `"damaged"`) {
		t.Fatalf("ls -a with a damaged record: exit %d, stderr %q", code, errOut)
	}
	if c, err := d.Client.GetContainer(t.Context(), "healthy"); err != nil || c.State.Status != "running" {
		t.Fatalf("healthy container after restart: %+v, %v", c.State, err)
	}
	cli(t, d, 0, "stop", "-t", "0", "healthy") // proves it is watched again
	cli(t, d, 1, "rm", "damaged")
	cli(t, d, 0, "rm", "-f", "damaged")
	if out := cli(t, d, 0, "ls", "-aq"); out != "healthy\n" {
		t.Fatalf("ls -aq after rm -f of the damaged record: %q", out)
	}
	assertNoLeftovers(t, d, []client.Container{{ID: "damaged"}})
}

// TestContainerExecFailedCommand: exec of a command that cannot run exits
// 127 (not found) or 126 (not invocable), as docker's does.
func TestContainerExecFailedCommand(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cli(t, d, 0, "run", "-d", "--name", "exec-fail", img, "sleep", "1000")
	for _, tc := range []struct {
		cmd  string
		code int
	}{{"nosuch", 127}, {"/nosuch", 127}, {"/etc/passwd", 126}} {
		if _, errOut, code := d.CLI(t, "exec", "exec-fail", tc.cmd); code != tc.code || !strings.Contains(errOut, tc.cmd) {
			t.Errorf("exec %s: exit %d, stderr %q; want %d", tc.cmd, code, errOut, tc.code)
		}
	}
	if _, _, code := d.CLI(t, "exec", "nosuch-container", "true"); code != 1 {
		t.Errorf("exec in a missing container: exit %d, want 1", code)
	}
	cli(t, d, 0, "rm", "-f", "exec-fail")
}
