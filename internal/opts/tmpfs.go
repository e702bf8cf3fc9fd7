package opts

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/berth/container/errdefs"
)

// Tmpfs is one parsed --tmpfs value.
type Tmpfs struct {
	// Target is the absolute path in the container, as given.
	Target string
	// Options are the mount options as given; TmpfsMountOptions adds
	// docker's defaults.
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

// ParseTmpfs parses "/path[:opt,opt=value...]". The target must be an
// absolute path other than "/"; options are the flags and size, mode, uid,
// gid, nr_inodes, nr_blocks values tmpfs takes.
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

// TmpfsMountOptions returns the options to mount a tmpfs with: the given
// ones plus docker's noexec, nosuid, nodev unless exec/suid/dev or the
// no-form is among them. It is idempotent.
func TmpfsMountOptions(opts []string) []string {
	out := slices.Clone(opts)
	for _, d := range [][2]string{{"exec", "noexec"}, {"suid", "nosuid"}, {"dev", "nodev"}} {
		if !slices.Contains(opts, d[0]) && !slices.Contains(opts, d[1]) {
			out = append(out, d[1])
		}
	}
	return out
}

// ValidateTmpfsOptions checks mount options that did not come through
// ParseTmpfs (a request's), with the same rules.
func ValidateTmpfsOptions(opts []string) error {
	for _, o := range opts {
		if err := validTmpfsOption(o); err != nil {
			return err
		}
	}
	return nil
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

// isDigits reports whether s is 1 to 3 decimal digits (a size percentage).
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
	if path.Clean(p) == "/" {
		return fmt.Errorf("path %q: cannot mount over the root: %w", p, errdefs.ErrInvalidArgument)
	}
	if strings.ContainsRune(p, 0) || strings.ContainsAny(p, ",:") {
		return fmt.Errorf("path %q: %w", p, errdefs.ErrInvalidArgument)
	}
	return nil
}
