package integration

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// withContainerGroup makes sure group "container" exists for the test,
// creating it (and deleting it afterwards) if the host has none, and
// returns its gid.
func withContainerGroup(t *testing.T) uint32 {
	t.Helper()
	if _, err := user.LookupGroup("container"); err != nil {
		if out, err := exec.Command("groupadd", "--system", "container").CombinedOutput(); err != nil {
			t.Fatalf("groupadd container: %v\n%s", err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("groupdel", "container").CombinedOutput(); err != nil {
				t.Errorf("groupdel container: %v\n%s", err, out)
			}
		})
	}
	g, err := user.LookupGroup("container")
	if err != nil {
		t.Fatal(err)
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(gid)
}

func TestContainerGroupMembersAllowed(t *testing.T) {
	requireIntegration(t)
	gid := withContainerGroup(t)
	d := StartDaemon(t)
	if err := os.Chmod(d.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Gid != gid || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket group %d mode %v, want group %d mode 0660", st.Gid, fi.Mode().Perm(), gid)
	}

	t.Run("supplementary member", func(t *testing.T) {
		out, _ := runPeerClientAs(t, d.Socket, nobody, []uint32{gid})
		if out != "ok" {
			t.Errorf("uid %d in group container: %q, want ok", nobody, out)
		}
	})
	t.Run("primary group", func(t *testing.T) {
		out, _ := runPeerClientAs(t, d.Socket, gid, nil)
		if out != "ok" {
			t.Errorf("uid %d gid container: %q, want ok", nobody, out)
		}
	})
	t.Run("not a member", func(t *testing.T) {
		out, _ := runPeerClientAs(t, d.Socket, nobody, nil)
		if !strings.HasPrefix(out, "error permission") {
			t.Errorf("uid %d outside group container: %q, want a permission error", nobody, out)
		}
	})
}
