package containers

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/identifiers"
	"github.com/berth/container/internal/opts"
)

// DefaultStopTimeout is how long Stop waits before SIGKILL.
const DefaultStopTimeout = 5 * time.Second

// RestartPolicy is a parsed --restart value.
type RestartPolicy struct {
	// Name is "no", "on-failure", "always" or "unless-stopped".
	Name string
	// MaxRetries bounds on-failure restarts; 0 means unlimited.
	MaxRetries int
}

// ParseRestartPolicy parses no|on-failure[:N]|always|unless-stopped ("" is "no").
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	switch name {
	case "", "no":
		if hasCount {
			break
		}
		return RestartPolicy{Name: "no"}, nil
	case "always", "unless-stopped":
		if hasCount {
			break
		}
		return RestartPolicy{Name: name}, nil
	case "on-failure":
		if !hasCount {
			return RestartPolicy{Name: name}, nil
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || n > 1<<20 {
			return RestartPolicy{}, fmt.Errorf("restart policy %q: bad retry count: %w", s, errdefs.ErrInvalidArgument)
		}
		return RestartPolicy{Name: name, MaxRetries: n}, nil
	}
	return RestartPolicy{}, fmt.Errorf("restart policy %q: want no, on-failure[:N], always or unless-stopped: %w", s, errdefs.ErrInvalidArgument)
}

// tmpfsMount parses a --tmpfs value into the mount the runtime gets:
// options as given plus docker's noexec, nosuid, nodev defaults.
func tmpfsMount(s string) (Mount, error) {
	t, err := opts.ParseTmpfs(s)
	if err != nil {
		return Mount{}, err
	}
	return Mount{Type: "tmpfs", Source: "tmpfs", Target: path.Clean(t.Target), Options: opts.TmpfsMountOptions(t.Options)}, nil
}

// command is the process's argv, combined as docker does (and as
// internal/oci's Args does at start): an overridden entrypoint drops the
// image's cmd; args replace the cmd.
func (sp Spec) command(img ImageConfig) []string {
	ep, cmd := img.Entrypoint, img.Cmd
	if sp.OverrideEntrypoint {
		ep, cmd = sp.Entrypoint, nil
	}
	if len(sp.Args) > 0 {
		cmd = sp.Args
	}
	return append(slices.Clone(ep), cmd...)
}

// Validate checks a create request before anything is made.
func (sp Spec) Validate(name string) error {
	if name != "" {
		if err := identifiers.Validate(name); err != nil {
			return err
		}
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
	}
	if sp.Image == "" {
		return bad("image reference must not be empty")
	}
	restart, err := ParseRestartPolicy(sp.Restart)
	if err != nil {
		return err
	}
	if sp.StopSignal != "" {
		if _, err := opts.ParseSignal(sp.StopSignal); err != nil {
			return err
		}
	}
	if sp.AutoRemove && restart.Name != "no" {
		return bad("--rm and --restart %s cannot be combined", sp.Restart)
	}
	for _, e := range sp.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" || strings.ContainsRune(e, 0) {
			return bad("environment entry %q", e)
		}
	}
	for k := range sp.Labels {
		if k == "" {
			return bad("label with an empty key")
		}
	}
	if sp.Workdir != "" && !path.IsAbs(sp.Workdir) {
		return bad("working directory %q must be absolute", sp.Workdir)
	}
	if sp.CPUs < 0 || sp.CPUs > 4096 {
		return bad("cpus %v out of range", sp.CPUs)
	}
	if sp.Memory < 0 || (sp.Memory > 0 && sp.Memory < 6<<20) {
		return bad("memory %d: the minimum is 6 MiB", sp.Memory)
	}
	if sp.ShmSize < 0 {
		return bad("shm size %d must not be negative", sp.ShmSize)
	}
	if sp.UID > 1<<32-1 || sp.GID > 1<<32-1 {
		return bad("uid/gid out of range")
	}
	for _, u := range sp.Ulimits {
		if err := opts.ValidateUlimit(opts.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard}); err != nil {
			return err
		}
	}
	for _, c := range slices.Concat(sp.CapAdd, sp.CapDrop) {
		if _, err := opts.NormalizeCap(c); err != nil {
			return err
		}
	}
	for _, t := range sp.Tmpfs {
		if _, err := tmpfsMount(t); err != nil {
			return err
		}
	}
	switch sp.Network {
	case "", "none", "default", "host":
	default:
		return bad("network %q: only none, default and host are supported yet", sp.Network)
	}
	if sp.Runtime != "" {
		if err := identifiers.Validate(sp.Runtime); err != nil {
			return bad("runtime %q", sp.Runtime)
		}
	}
	if sp.Hostname != "" && identifiers.Validate(sp.Hostname) != nil {
		return bad("hostname %q", sp.Hostname)
	}
	return nil
}

// stopSignal is the signal Stop sends first.
func (c Container) stopSignal() syscall.Signal {
	for _, s := range []string{c.Spec.StopSignal, c.Image.Config.StopSignal} {
		if s == "" {
			continue
		}
		if sig, err := opts.ParseSignal(s); err == nil {
			return sig
		}
	}
	return syscall.SIGTERM
}

func (c Container) stopTimeout() time.Duration {
	if c.Spec.StopTimeout >= 0 {
		return c.Spec.StopTimeout
	}
	return DefaultStopTimeout
}
