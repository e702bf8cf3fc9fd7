package opts

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/berth/container/errdefs"
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
// "RLIMIT_CORE=unlimited", -1 meaning unlimited). The name must be one
// Linux knows.
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

// ValidateUlimit checks a ulimit that did not come through ParseUlimit (a
// request's): the name is known (lower case, no "RLIMIT_"), soft is not
// above hard, and nofile does not exceed this host's fs.nr_open.
func ValidateUlimit(u Ulimit) error {
	if !slices.Contains(rlimitNames, u.Name) {
		return fmt.Errorf("ulimit %q: unknown limit: %w", u.Name, errdefs.ErrInvalidArgument)
	}
	if u.Soft > u.Hard {
		return fmt.Errorf("ulimit %s: soft limit above hard limit: %w", u, errdefs.ErrInvalidArgument)
	}
	if u.Name == "nofile" {
		if n, err := readUint("/proc/sys/fs/nr_open"); err == nil && u.Hard > n {
			return fmt.Errorf("ulimit %s: above fs.nr_open (%d): %w", u, n, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func readUint(p string) (uint64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}
