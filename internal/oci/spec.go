package oci

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/opts"
	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Version is the ociVersion written into config.json. Debian's runc 1.1
// implements runtime-spec 1.0.2-dev; every field this package sets exists
// in that version.
const Version = "1.0.2-dev"

// DefaultPath is the PATH of a container whose image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultShmSize is the size of /dev/shm unless shm_size says otherwise.
const DefaultShmSize = 64 << 20

// InitPath is where the init binary is bind-mounted in the container.
const InitPath = "/sbin/container-init"

// Input is what Build needs besides the ContainerSpec.
type Input struct {
	ID   string
	Spec *runtimev1.ContainerSpec
	// Rootfs is the host path of the mounted root filesystem; the user is
	// resolved against its /etc/passwd and /etc/group.
	Rootfs string
	// Bundle is the bundle directory; Build binds Bundle/hostname and,
	// when the spec has contents for them, Bundle/resolv.conf and
	// Bundle/hosts.
	Bundle string
	// InitBinary is the host path of the binary bind-mounted at InitPath
	// when Spec.Init; it is run as `container-init init -- ARGS...`.
	InitBinary string
	// Cgroup2 reports a pure cgroup v2 host (adds a cgroup namespace).
	Cgroup2 bool
	// MemorySwap reports that the host accounts swap (v1
	// memory.memsw.limit_in_bytes or v2 memory.swap.max), so the swap
	// limit can be set.
	MemorySwap bool
}

// Build returns the runtime spec for in.
func Build(in Input) (*specs.Spec, error) {
	cs := in.Spec
	if cs == nil {
		cs = &runtimev1.ContainerSpec{}
	}
	img := cs.GetImage()
	if img == nil {
		img = &runtimev1.ImageConfig{}
	}

	args := Args(img.GetEntrypoint(), img.GetCmd(), cs.GetOverrideEntrypoint(), cs.GetEntrypoint(), cs.GetArgs())
	if len(args) == 0 {
		return nil, fmt.Errorf("container %q: no command specified: %w", in.ID, errdefs.ErrInvalidArgument)
	}
	if cs.GetInit() {
		args = append([]string{InitPath, "init", "--"}, args...)
	}

	hostname := cs.GetHostname()
	if hostname == "" {
		hostname = in.ID
		if len(hostname) > 12 {
			hostname = hostname[:12]
		}
	}

	userSpec := img.GetUser()
	if cs.GetUser() != "" {
		userSpec = cs.GetUser()
	}
	u, err := ResolveUser(in.Rootfs, userSpec)
	if err != nil {
		return nil, err
	}
	if cs.Uid != nil {
		u.UID = cs.GetUid()
	}
	if cs.Gid != nil {
		u.GID = cs.GetGid()
	}

	env := MergeEnv(img.GetEnv(), cs.GetEnv())
	if !hasEnv(env, "PATH") {
		env = append([]string{"PATH=" + DefaultPath}, env...)
	}
	env = setEnvDefault(env, "HOSTNAME", hostname)
	if u.Home != "" {
		env = setEnvDefault(env, "HOME", u.Home)
	} else {
		env = setEnvDefault(env, "HOME", "/")
	}
	if cs.GetTerminal() {
		env = setEnvDefault(env, "TERM", "xterm")
	}

	cwd := img.GetWorkingDir()
	if cs.GetWorkdir() != "" {
		cwd = cs.GetWorkdir()
	}
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, fmt.Errorf("working directory %q is not absolute: %w", cwd, errdefs.ErrInvalidArgument)
	}

	caps, err := Capabilities(cs.GetCapAdd(), cs.GetCapDrop())
	if err != nil {
		return nil, err
	}

	rlimits, err := rlimits(cs.GetUlimits())
	if err != nil {
		return nil, err
	}

	s := &specs.Spec{
		Version: Version,
		Process: &specs.Process{
			Terminal: cs.GetTerminal(),
			User: specs.User{
				UID:            u.UID,
				GID:            u.GID,
				AdditionalGids: u.AdditionalGids,
			},
			Args: args,
			Env:  env,
			Cwd:  path.Clean(cwd),
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			Rlimits:         rlimits,
			NoNewPrivileges: true,
		},
		Root:        &specs.Root{Path: "rootfs", Readonly: cs.GetReadOnly()},
		Hostname:    hostname,
		Annotations: cs.GetLabels(),
		Linux: &specs.Linux{
			CgroupsPath: "/container/" + in.ID,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			MaskedPaths: []string{
				"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
				"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}

	if err := setNamespaces(s, cs.GetNetwork(), in.Cgroup2); err != nil {
		return nil, err
	}
	setResources(s.Linux.Resources, cs, in.MemorySwap)

	mounts, err := mounts(in, cs)
	if err != nil {
		return nil, err
	}
	s.Mounts = mounts

	sc, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	s.Linux.Seccomp = sc
	return s, nil
}

// Args combines image and override entrypoint/cmd as docker does: an
// overridden entrypoint drops the image's cmd; args replace the cmd.
func Args(imgEntrypoint, imgCmd []string, overrideEntrypoint bool, entrypoint, args []string) []string {
	ep := imgEntrypoint
	cmd := imgCmd
	if overrideEntrypoint {
		ep = entrypoint
		cmd = nil
	}
	if len(args) > 0 {
		cmd = args
	}
	return append(slices.Clone(ep), cmd...)
}

// MergeEnv returns base with overrides applied: an override "K=V" replaces
// base's K, a bare "K" (no '=') is dropped. Order is kept.
func MergeEnv(base, overrides []string) []string {
	out := slices.Clone(base)
	for _, o := range overrides {
		k, _, hasVal := strings.Cut(o, "=")
		i := slices.IndexFunc(out, func(e string) bool { return envKey(e) == k })
		switch {
		case !hasVal:
			continue
		case i >= 0:
			out[i] = o
		default:
			out = append(out, o)
		}
	}
	return out
}

func envKey(e string) string {
	k, _, _ := strings.Cut(e, "=")
	return k
}

func hasEnv(env []string, k string) bool {
	return slices.ContainsFunc(env, func(e string) bool { return envKey(e) == k })
}

func setEnvDefault(env []string, k, v string) []string {
	if hasEnv(env, k) {
		return env
	}
	return append(env, k+"="+v)
}

// User is a resolved process user.
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32
	Home           string
}

// ResolveUser resolves spec ("", "name", "uid", "name:group", "uid:gid")
// against rootfs/etc/passwd and rootfs/etc/group, never following links out
// of rootfs. A numeric uid absent from passwd is allowed (gid 0 unless
// given); an unknown name is ErrInvalidArgument.
func ResolveUser(rootfs, spec string) (User, error) {
	passwd, _ := openInRoot(rootfs, "/etc/passwd")
	group, _ := openInRoot(rootfs, "/etc/group")
	defer func() {
		if passwd != nil {
			passwd.Close()
		}
		if group != nil {
			group.Close()
		}
	}()
	var pr, gr io.Reader
	if passwd != nil {
		pr = passwd
	}
	if group != nil {
		gr = group
	}
	eu, err := user.GetExecUser(spec, &user.ExecUser{Home: "/"}, pr, gr)
	if err != nil {
		return User{}, fmt.Errorf("user %q: %v: %w", spec, err, errdefs.ErrInvalidArgument)
	}
	if eu.Uid < 0 || eu.Gid < 0 {
		return User{}, fmt.Errorf("user %q: negative id: %w", spec, errdefs.ErrInvalidArgument)
	}
	u := User{UID: uint32(eu.Uid), GID: uint32(eu.Gid), Home: eu.Home}
	for _, g := range eu.Sgids {
		if g >= 0 && uint32(g) != u.GID && !slices.Contains(u.AdditionalGids, uint32(g)) {
			u.AdditionalGids = append(u.AdditionalGids, uint32(g))
		}
	}
	return u, nil
}

// openInRoot opens the regular file name resolved inside root (symlinks
// cannot escape it). Anything else, such as a FIFO that would block the
// open or the read forever, is refused.
func openInRoot(root, name string) (*os.File, error) {
	if root == "" {
		return nil, os.ErrNotExist
	}
	dir, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	var f *os.File
	fd, err := unix.Openat2(int(dir.Fd()), strings.TrimPrefix(name, "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case err == nil:
		f = os.NewFile(uintptr(fd), filepath.Join(root, name))
	case errors.Is(err, unix.ENOSYS):
		// Old kernel: os.Root refuses every link that leaves root.
		r, err := os.OpenRoot(root)
		if err != nil {
			return nil, err
		}
		f, err = r.OpenFile(strings.TrimPrefix(name, "/"), os.O_RDONLY|unix.O_NONBLOCK, 0)
		r.Close()
		if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s in the rootfs is not a regular file: %w", name, errdefs.ErrInvalidArgument)
	}
	return f, nil
}

func rlimits(us []*runtimev1.Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	hasNofile := false
	for _, u := range us {
		ul := opts.Ulimit{Name: strings.ToLower(u.GetName()), Soft: u.GetSoft(), Hard: u.GetHard()}
		if err := opts.ValidateUlimit(ul); err != nil {
			return nil, err
		}
		typ := "RLIMIT_" + strings.ToUpper(ul.Name)
		out = slices.DeleteFunc(out, func(r specs.POSIXRlimit) bool { return r.Type == typ })
		out = append(out, specs.POSIXRlimit{Type: typ, Soft: ul.Soft, Hard: ul.Hard})
		hasNofile = hasNofile || ul.Name == "nofile"
	}
	if !hasNofile {
		// Default: soft 1024 as docker's containers see it, hard what this
		// process has (never above it: raising the hard limit may fail).
		var cur unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err == nil {
			out = append(out, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: min(1024, cur.Max), Hard: cur.Max})
		}
	}
	return out, nil
}

func setNamespaces(s *specs.Spec, network string, cgroup2 bool) error {
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
	}
	switch {
	case network == "" || network == "none":
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	case network == "host":
	case path.IsAbs(network):
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: network})
	default:
		return fmt.Errorf("network %q: want none, host or a namespace path: %w", network, errdefs.ErrInvalidArgument)
	}
	if cgroup2 {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	s.Linux.Namespaces = ns
	return nil
}

func setResources(r *specs.LinuxResources, cs *runtimev1.ContainerSpec, swap bool) {
	if c := cs.GetCpus(); c > 0 {
		period := uint64(100000)
		quota := int64(c * float64(period))
		if quota < 1000 {
			quota = 1000
		}
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if m := cs.GetMemory(); m > 0 {
		r.Memory = &specs.LinuxMemory{Limit: &m}
		if swap {
			sw := m
			r.Memory.Swap = &sw
		}
	}
	if p := cs.GetPidsLimit(); p > 0 {
		r.Pids = &specs.LinuxPids{Limit: &p}
	}
}

func mounts(in Input, cs *runtimev1.ContainerSpec) ([]specs.Mount, error) {
	shm := cs.GetShmSize()
	if shm <= 0 {
		shm = DefaultShmSize
	}
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shm, 10)}},
	}
	if in.Bundle != "" {
		ms = append(ms, specs.Mount{Destination: "/etc/hostname", Type: "bind", Source: filepath.Join(in.Bundle, "hostname"), Options: []string{"rbind", "rprivate"}})
		if len(cs.GetResolvConf()) > 0 {
			ms = append(ms, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: filepath.Join(in.Bundle, "resolv.conf"), Options: []string{"rbind", "rprivate"}})
		}
		if len(cs.GetHosts()) > 0 {
			ms = append(ms, specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(in.Bundle, "hosts"), Options: []string{"rbind", "rprivate"}})
		}
	}
	if cs.GetInit() {
		if in.InitBinary == "" {
			return nil, fmt.Errorf("init requested but no init binary: %w", errdefs.ErrFailedPrecondition)
		}
		ms = append(ms, specs.Mount{Destination: InitPath, Type: "bind", Source: in.InitBinary, Options: []string{"bind", "ro", "rprivate"}})
	}

	var user []specs.Mount
	for _, m := range cs.GetMounts() {
		if t := m.GetTarget(); !path.IsAbs(t) || strings.ContainsRune(t, 0) {
			return nil, fmt.Errorf("mount target %q is not absolute: %w", t, errdefs.ErrInvalidArgument)
		}
		switch m.GetType() {
		case "bind", "volume":
			if !path.IsAbs(m.GetSource()) {
				return nil, fmt.Errorf("bind mount source %q is not absolute: %w", m.GetSource(), errdefs.ErrInvalidArgument)
			}
			bindOpts := []string{"rbind"}
			for _, o := range m.GetOptions() {
				if o != "bind" && o != "rbind" {
					bindOpts = append(bindOpts, o)
				}
			}
			if !slices.ContainsFunc(bindOpts, isPropagation) {
				bindOpts = append(bindOpts, "rprivate")
			}
			user = append(user, specs.Mount{Destination: path.Clean(m.GetTarget()), Type: "bind", Source: m.GetSource(), Options: bindOpts})
		case "tmpfs":
			if err := opts.ValidateTmpfsOptions(m.GetOptions()); err != nil {
				return nil, fmt.Errorf("tmpfs %q: %w", m.GetTarget(), err)
			}
			user = append(user, specs.Mount{Destination: path.Clean(m.GetTarget()), Type: "tmpfs", Source: "tmpfs", Options: opts.TmpfsMountOptions(m.GetOptions())})
		default:
			return nil, fmt.Errorf("mount type %q: %w", m.GetType(), errdefs.ErrInvalidArgument)
		}
	}
	// A user mount replaces a default one at the same place; parents mount
	// before children.
	ms = slices.DeleteFunc(ms, func(d specs.Mount) bool {
		return slices.ContainsFunc(user, func(u specs.Mount) bool { return u.Destination == d.Destination })
	})
	slices.SortStableFunc(user, func(a, b specs.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	return append(ms, user...), nil
}

func isPropagation(o string) bool {
	switch o {
	case "private", "rprivate", "shared", "rshared", "slave", "rslave":
		return true
	}
	return false
}

func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}
