package oci

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name       string
		add, drop  []string
		has, hasnt []string
		err        error
	}{
		{name: "defaults", has: []string{"CAP_CHOWN", "CAP_MKNOD"}, hasnt: []string{"CAP_SYS_ADMIN"}},
		{name: "drop without prefix", drop: []string{"mknod"}, hasnt: []string{"CAP_MKNOD"}, has: []string{"CAP_CHOWN"}},
		{name: "add with prefix", add: []string{"CAP_SYS_ADMIN"}, has: []string{"CAP_SYS_ADMIN", "CAP_CHOWN"}},
		{name: "drop all add one", drop: []string{"ALL"}, add: []string{"net_admin"}, has: []string{"CAP_NET_ADMIN"}, hasnt: []string{"CAP_CHOWN"}},
		{name: "add all", add: []string{"all"}, has: []string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}},
		{name: "add all drop one", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, hasnt: []string{"CAP_SYS_ADMIN"}, has: []string{"CAP_NET_ADMIN"}},
		{name: "unknown", add: []string{"CAP_FLY"}, err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Capabilities(tc.add, tc.drop)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Capabilities error = %v, want %v", err, tc.err)
			}
			for _, c := range tc.has {
				if !slices.Contains(got, c) {
					t.Errorf("%s missing from %v", c, got)
				}
			}
			for _, c := range tc.hasnt {
				if slices.Contains(got, c) {
					t.Errorf("%s present in %v", c, got)
				}
			}
		})
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name               string
		ep, cmd, oep, args []string
		override           bool
		want               []string
	}{
		{name: "image", ep: []string{"/ep"}, cmd: []string{"a"}, want: []string{"/ep", "a"}},
		{name: "args replace cmd", ep: []string{"/ep"}, cmd: []string{"a"}, args: []string{"b"}, want: []string{"/ep", "b"}},
		{name: "entrypoint drops cmd", ep: []string{"/ep"}, cmd: []string{"a"}, override: true, oep: []string{"/x"}, want: []string{"/x"}},
		{name: "empty entrypoint", ep: []string{"/ep"}, cmd: []string{"a"}, override: true, args: []string{"sh"}, want: []string{"sh"}},
	} {
		if got := Args(tc.ep, tc.cmd, tc.override, tc.oep, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Args = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func writeRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
	group := "root:x:0:\napp:x:1000:\nextra:x:2000:app\nother:x:3000:\n"
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644)
	return root
}

func TestResolveUser(t *testing.T) {
	root := writeRootfs(t)
	for _, tc := range []struct {
		spec string
		want User
		err  error
	}{
		{spec: "", want: User{UID: 0, GID: 0, Home: "/root"}},
		{spec: "app", want: User{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000}, Home: "/home/app"}},
		{spec: "1000", want: User{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000}, Home: "/home/app"}},
		{spec: "1000:3000", want: User{UID: 1000, GID: 3000, Home: "/home/app"}},
		{spec: "app:other", want: User{UID: 1000, GID: 3000, Home: "/home/app"}},
		{spec: "4242", want: User{UID: 4242, GID: 0, Home: "/"}},
		{spec: "nobody", err: errdefs.ErrInvalidArgument},
		{spec: "app:nogroup", err: errdefs.ErrInvalidArgument},
	} {
		got, err := ResolveUser(root, tc.spec)
		if !errors.Is(err, tc.err) {
			t.Errorf("ResolveUser(%q) error = %v, want %v", tc.spec, err, tc.err)
			continue
		}
		if err == nil && (got.UID != tc.want.UID || got.GID != tc.want.GID || got.Home != tc.want.Home || !slices.Equal(got.AdditionalGids, tc.want.AdditionalGids)) {
			t.Errorf("ResolveUser(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
}

func TestResolveUserSymlinkEscape(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	// An absolute link must resolve inside root, where nothing exists.
	os.Symlink("/etc/passwd", filepath.Join(root, "etc/passwd"))
	if _, err := ResolveUser(root, "root"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("ResolveUser followed a link out of the rootfs: %v", err)
	}
}

// TestResolveUserFIFO: an image whose /etc/passwd is a FIFO must not
// block the supervisor; the file counts as absent.
func TestResolveUserFIFO(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if err := unix.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ResolveUser(root, "root"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("ResolveUser with a FIFO passwd: %v, want InvalidArgument", err)
		}
	case <-time.After(5 * time.Second):
		f, _ := os.OpenFile(filepath.Join(root, "etc/passwd"), os.O_WRONLY, 0) // unblock it
		f.Close()
		t.Fatal("ResolveUser blocked on a FIFO /etc/passwd")
	}
}

func TestBuild(t *testing.T) {
	root := writeRootfs(t)
	cs := &runtimev1.ContainerSpec{
		Image:    &runtimev1.ImageConfig{Env: []string{"A=1", "B=2"}, Cmd: []string{"sh"}, WorkingDir: "/srv", User: "app"},
		Args:     []string{"echo", "hi"},
		Env:      []string{"B=3", "C=4"},
		ReadOnly: true,
		CapDrop:  []string{"MKNOD"},
		Cpus:     1.5,
		Memory:   64 << 20,
		Ulimits:  []*runtimev1.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}},
		Mounts: []*runtimev1.Mount{
			{Type: "tmpfs", Target: "/run/x", Options: []string{"size=1m"}},
			{Type: "bind", Source: "/tmp", Target: "/run", Options: []string{"ro"}},
		},
		Init:    true,
		ShmSize: 1 << 20,
	}
	s, err := Build(Input{ID: "0123456789abcdef", Spec: cs, Rootfs: root, Bundle: "/b", InitBinary: "/bin/true", MemorySwap: true})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process
	if want := []string{InitPath, "init", "--", "echo", "hi"}; !slices.Equal(p.Args, want) {
		t.Errorf("args = %v, want %v", p.Args, want)
	}
	for _, e := range []string{"PATH=" + DefaultPath, "A=1", "B=3", "C=4", "HOSTNAME=0123456789ab", "HOME=/home/app"} {
		if !slices.Contains(p.Env, e) {
			t.Errorf("env %v lacks %s", p.Env, e)
		}
	}
	if p.Cwd != "/srv" || p.User.UID != 1000 || !s.Root.Readonly || !p.NoNewPrivileges {
		t.Errorf("cwd %q uid %d readonly %v nnp %v", p.Cwd, p.User.UID, s.Root.Readonly, p.NoNewPrivileges)
	}
	if slices.Contains(p.Capabilities.Bounding, "CAP_MKNOD") {
		t.Errorf("CAP_MKNOD not dropped")
	}
	if r := s.Linux.Resources; *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 64<<20 {
		t.Errorf("resources %+v %+v", r.CPU, r.Memory)
	}
	if !slices.Contains(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}) {
		t.Errorf("rlimits %v", p.Rlimits)
	}
	if s.Linux.CgroupsPath != "/container/0123456789abcdef" || s.Linux.Seccomp == nil || s.Version != Version {
		t.Errorf("cgroups path %q seccomp %v version %q", s.Linux.CgroupsPath, s.Linux.Seccomp != nil, s.Version)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
		if m.Destination == "/dev/shm" && !slices.Contains(m.Options, "size=1048576") {
			t.Errorf("shm options %v", m.Options)
		}
		if m.Destination == "/run/x" && !slices.Equal(m.Options, []string{"size=1m", "noexec", "nosuid", "nodev"}) {
			t.Errorf("tmpfs options %v", m.Options)
		}
	}
	if i, j := slices.Index(dests, "/run"), slices.Index(dests, "/run/x"); i < 0 || j < i || !slices.Contains(dests, InitPath) {
		t.Errorf("mount order %v", dests)
	}
	if slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace && n.Path != "" }) {
		t.Errorf("namespaces %v", s.Linux.Namespaces)
	}

	if _, err := Build(Input{ID: "x", Spec: &runtimev1.ContainerSpec{}, Rootfs: root}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Build without a command: %v", err)
	}
	if _, err := Build(Input{ID: "x", Spec: &runtimev1.ContainerSpec{Args: []string{"x"}, Network: "bridge"}, Rootfs: root}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Build with bad network: %v", err)
	}
}
