package oci

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth/container/errdefs"
	"golang.org/x/sys/unix"
)

// Ulimit is one parsed --ulimit value.
type Ulimit struct {
	// Name is the lower-case rlimit name without "RLIMIT_", e.g. "nofile".
	Name string
	Soft uint64
	Hard uint64
}

// Unlimited is the value of an "unlimited" (or -1) rlimit.
const Unlimited = math.MaxUint64

var rlimitNames = []string{
	"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}

// String renders u as ParseUlimit accepts it.
func (u Ulimit) String() string {
	return u.Name + "=" + fmtLimit(u.Soft) + ":" + fmtLimit(u.Hard)
}

func fmtLimit(v uint64) string {
	if v == Unlimited {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// ParseUlimit parses "name=soft[:hard]" ("nofile=1024:2048", "nproc=64",
// "core=unlimited", -1 meaning unlimited). Errors are ErrInvalidArgument.
func ParseUlimit(s string) (Ulimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return Ulimit{}, fmt.Errorf("ulimit %q: want name=soft[:hard]: %w", s, errdefs.ErrInvalidArgument)
	}
	name = strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "RLIMIT_"))
	if !slices.Contains(rlimitNames, name) {
		return Ulimit{}, fmt.Errorf("ulimit %q: unknown limit %q: %w", s, name, errdefs.ErrInvalidArgument)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := parseLimit(softS)
	if err != nil {
		return Ulimit{}, fmt.Errorf("ulimit %q: %w", s, err)
	}
	hard := soft
	if hasHard {
		if hard, err = parseLimit(hardS); err != nil {
			return Ulimit{}, fmt.Errorf("ulimit %q: %w", s, err)
		}
	}
	if soft > hard {
		return Ulimit{}, fmt.Errorf("ulimit %q: soft limit above hard limit: %w", s, errdefs.ErrInvalidArgument)
	}
	return Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" || s == "-1" {
		return Unlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == Unlimited {
		return 0, fmt.Errorf("limit %q is not a number: %w", s, errdefs.ErrInvalidArgument)
	}
	return v, nil
}

// ValidateUlimit checks u against what this host allows: nofile may not
// exceed fs.nr_open.
func ValidateUlimit(u Ulimit) error {
	if !slices.Contains(rlimitNames, u.Name) || u.Soft > u.Hard {
		return fmt.Errorf("ulimit %s: %w", u, errdefs.ErrInvalidArgument)
	}
	if u.Name == "nofile" {
		if n, err := readUint("/proc/sys/fs/nr_open"); err == nil && u.Hard > n {
			return fmt.Errorf("ulimit %s: above fs.nr_open (%d): %w", u, n, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// allCaps are the capabilities Linux knows, in number order.
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// defaultCaps are docker's default capabilities.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// NormalizeCap returns the canonical "CAP_X" form of a capability name given
// with or without the prefix, in any case, or "ALL".
func NormalizeCap(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "ALL" {
		return u, nil
	}
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	if !slices.Contains(allCaps, u) {
		return "", fmt.Errorf("capability %q: unknown: %w", s, errdefs.ErrInvalidArgument)
	}
	return u, nil
}

// ValidateCaps checks every name of a --cap-add or --cap-drop list.
func ValidateCaps(names []string) error {
	for _, n := range names {
		if _, err := NormalizeCap(n); err != nil {
			return err
		}
	}
	return nil
}

// knownCaps is allCaps limited to what the running kernel has.
func knownCaps() []string {
	if n, err := readUint("/proc/sys/kernel/cap_last_cap"); err == nil && int(n)+1 < len(allCaps) {
		return allCaps[:n+1]
	}
	return allCaps
}

// Capabilities applies docker's rules: start from the defaults, drop
// cap_drop (ALL drops everything), then add cap_add (ALL adds everything).
// An add wins over a drop of the same capability.
func Capabilities(add, drop []string) ([]string, error) {
	caps := slices.Clone(defaultCaps)
	var adds []string
	addAll := false
	for _, a := range add {
		n, err := NormalizeCap(a)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			addAll = true
		}
		adds = append(adds, n)
	}
	if addAll {
		caps = slices.Clone(knownCaps())
	}
	for _, d := range drop {
		n, err := NormalizeCap(d)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			if addAll {
				continue
			}
			caps = caps[:0]
			continue
		}
		if !slices.Contains(adds, n) {
			caps = slices.DeleteFunc(caps, func(c string) bool { return c == n })
		}
	}
	for _, a := range adds {
		if a != "ALL" && !slices.Contains(caps, a) {
			caps = append(caps, a)
		}
	}
	return caps, nil
}

// Tmpfs is one parsed --tmpfs value.
type Tmpfs struct {
	// Target is the absolute path in the container.
	Target string
	// Options are mount options; docker's noexec, nosuid, nodev when none
	// of exec/suid/dev is given.
	Options []string
}

// String renders t as ParseTmpfs accepts it.
func (t Tmpfs) String() string {
	if len(t.Options) == 0 {
		return t.Target
	}
	return t.Target + ":" + strings.Join(t.Options, ",")
}

var tmpfsFlags = []string{"rw", "ro", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
	"atime", "noatime", "relatime", "strictatime", "nodiratime", "diratime", "sync", "async"}
var tmpfsValues = []string{"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"}

// ParseTmpfs parses "/path[:opt,opt=value...]". Errors are ErrInvalidArgument.
func ParseTmpfs(s string) (Tmpfs, error) {
	target, opts, _ := strings.Cut(s, ":")
	if err := validTarget(target); err != nil {
		return Tmpfs{}, fmt.Errorf("tmpfs %q: %w", s, err)
	}
	t := Tmpfs{Target: target}
	if opts != "" {
		for o := range strings.SplitSeq(opts, ",") {
			if err := validTmpfsOption(o); err != nil {
				return Tmpfs{}, fmt.Errorf("tmpfs %q: %w", s, err)
			}
			t.Options = append(t.Options, o)
		}
	}
	return t, nil
}

// TmpfsMountOptions returns the options to mount t with: the given ones
// plus docker's noexec, nosuid, nodev unless overridden.
func TmpfsMountOptions(opts []string) []string {
	out := slices.Clone(opts)
	for _, d := range [][2]string{{"exec", "noexec"}, {"suid", "nosuid"}, {"dev", "nodev"}} {
		if !slices.Contains(opts, d[0]) && !slices.Contains(opts, d[1]) {
			out = append(out, d[1])
		}
	}
	return out
}

func validTmpfsOption(o string) error {
	if slices.Contains(tmpfsFlags, o) {
		return nil
	}
	k, v, ok := strings.Cut(o, "=")
	if !ok || !slices.Contains(tmpfsValues, k) || v == "" {
		return fmt.Errorf("option %q: %w", o, errdefs.ErrInvalidArgument)
	}
	switch k {
	case "size":
		if _, err := ParseSize(v); err != nil && !(strings.HasSuffix(v, "%") && isDigits(v[:len(v)-1])) {
			return fmt.Errorf("option %q: %w", o, errdefs.ErrInvalidArgument)
		}
	case "mode":
		if _, err := strconv.ParseUint(v, 8, 32); err != nil || len(v) > 5 {
			return fmt.Errorf("option %q: %w", o, errdefs.ErrInvalidArgument)
		}
	default:
		if _, err := ParseSize(v); err != nil {
			return fmt.Errorf("option %q: %w", o, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validTarget(p string) error {
	if p == "" || p[0] != '/' {
		return fmt.Errorf("path %q is not absolute: %w", p, errdefs.ErrInvalidArgument)
	}
	if strings.ContainsRune(p, 0) || strings.ContainsAny(p, ",:") {
		return fmt.Errorf("path %q: %w", p, errdefs.ErrInvalidArgument)
	}
	return nil
}

// ParseSize parses a byte count with an optional binary suffix: "512",
// "64k", "64m", "1g", "1.5g" (k/m/g/t, optional trailing "b" or "ib").
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v*mult >= math.MaxInt64/2 || strings.ContainsAny(t, "xXpP_") {
		return 0, fmt.Errorf("size %q: %w", s, errdefs.ErrInvalidArgument)
	}
	return int64(v * mult), nil
}

// ParseSignal parses "SIGTERM", "TERM", "term" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %q: %w", s, errdefs.ErrInvalidArgument)
		}
		return syscall.Signal(n), nil
	}
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	if sig := unix.SignalNum(u); sig != 0 {
		return sig, nil
	}
	if strings.HasPrefix(u, "SIGRTMIN+") || strings.HasPrefix(u, "SIGRTMAX-") {
		n, err := strconv.Atoi(u[9:])
		if err == nil && n >= 0 && n <= 30 {
			if u[6] == 'I' {
				return syscall.Signal(34 + n), nil
			}
			return syscall.Signal(64 - n), nil
		}
	}
	return 0, fmt.Errorf("signal %q: unknown: %w", s, errdefs.ErrInvalidArgument)
}
