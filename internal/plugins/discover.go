package plugins

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berth/container/errdefs"
)

// Origin says which directory a plugin was found in.
type Origin string

// Plugin origins.
const (
	OriginBuiltin Origin = "builtin" // <install>/libexec/container/plugins
	OriginUser    Origin = "user"    // <install>/libexec/container-plugins
)

// BuiltinDir and UserDir return the two plugin directories of an install root.
func BuiltinDir(installRoot string) string {
	return filepath.Join(installRoot, "libexec", "container", "plugins")
}

// UserDir returns the directory of user plugins, which shadow built-ins.
func UserDir(installRoot string) string {
	return filepath.Join(installRoot, "libexec", "container-plugins")
}

// Plugin is one plugin directory as discovered on disk, plus (when it comes
// from a Manager) the state of its supervised instances.
type Plugin struct {
	Name   string
	Path   string // the plugin directory
	Binary string // Path/bin/Name
	Origin Origin
	Config Config // zero when Broken and config.toml could not be parsed
	// Broken is set when the plugin cannot be used; Error says why.
	Broken bool
	Error  string
	// Shadows lists the directories of same-named plugins this one hides.
	Shadows []string
	// Instances are the supervised processes (Manager only), sorted by ID.
	Instances []Instance
}

// CLI reports whether p is a usable CLI plugin: not broken, no
// [servicesConfig]. The CLI runs it as `container <name> ARGS...`.
func (p Plugin) CLI() bool { return !p.Broken && p.Config.CLI() }

// ServiceTypes returns the service types the plugin declares, in order,
// without duplicates; nil for a CLI or broken plugin.
func (p Plugin) ServiceTypes() []ServiceType {
	if p.Config.ServicesConfig == nil {
		return nil
	}
	var ts []ServiceType
	for _, s := range p.Config.ServicesConfig.Services {
		if !slices.Contains(ts, s.Type) {
			ts = append(ts, s.Type)
		}
	}
	return ts
}

// Provides reports whether p declares service type t.
func (p Plugin) Provides(t ServiceType) bool { return slices.Contains(p.ServiceTypes(), t) }

// LoadAtBoot reports whether the apiserver boots p: a usable plugin with
// loadAtBoot = true and a core or auxiliary service.
func (p Plugin) LoadAtBoot() bool {
	if p.Broken || p.Config.ServicesConfig == nil || !p.Config.ServicesConfig.LoadAtBoot {
		return false
	}
	return p.Provides(ServiceCore) || p.Provides(ServiceAuxiliary)
}

// InstanceState is the state of a supervised plugin process.
type InstanceState string

// Instance states.
const (
	// StateRunning: the process is running.
	StateRunning InstanceState = "running"
	// StateBackoff: the process exited and will be restarted after a delay.
	StateBackoff InstanceState = "backoff"
	// StateStopped: the process was stopped on request or at shutdown.
	StateStopped InstanceState = "stopped"
	// StateFailed: the binary could not be started; it is not retried
	// until Restart.
	StateFailed InstanceState = "failed"
)

// Instance is a snapshot of one supervised process of a plugin.
type Instance struct {
	// ID is "" for the boot instance, otherwise the owner's id (a network name).
	ID        string
	State     InstanceState
	PID       int // 0 unless running
	Restarts  uint32
	StartedAt time.Time // last start; zero if never started
	LastError string    // why it last exited or failed to start
	LogPath   string
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidateName checks a plugin name: it matches ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$
// and has at most 63 characters. Errors are of kind ErrInvalidArgument.
func ValidateName(name string) error {
	if len(name) > 63 || !nameRE.MatchString(name) {
		return fmt.Errorf("plugin name %q: must match %s and be at most 63 characters: %w",
			name, nameRE, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Discover lists the plugins under installRoot, sorted by name. It reads
// <install>/libexec/container/plugins/<name>/ (OriginBuiltin) and
// <install>/libexec/container-plugins/<name>/ (OriginUser); a user plugin
// replaces a built-in of the same name and lists the built-in's directory in
// Shadows, whether or not either is broken. Entries that are not
// directories (after following symlinks) and names starting with "." are
// ignored; a missing plugin directory simply contributes nothing.
//
// Discover never starts a process and never fails: every problem with a
// plugin is reported on that plugin (Broken, Error). Callers that run
// plugins must check Broken; for a CLI plugin (Plugin.CLI) the CLI execs
// Plugin.Binary with the remaining arguments, and the plugin's exit code
// becomes the CLI's:
//
//	for _, p := range plugins.Discover(installRoot) {
//		if p.Name == args[0] && p.CLI() {
//			cmd := exec.CommandContext(ctx, p.Binary, args[1:]...)
//			...
//		}
//	}
func Discover(installRoot string) []Plugin {
	byName := map[string]Plugin{}
	for _, p := range scanDir(BuiltinDir(installRoot), OriginBuiltin) {
		byName[p.Name] = p
	}
	for _, p := range scanDir(UserDir(installRoot), OriginUser) {
		if old, ok := byName[p.Name]; ok {
			p.Shadows = append(p.Shadows, old.Path)
		}
		byName[p.Name] = p
	}
	out := make([]Plugin, 0, len(byName))
	for _, p := range byName {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Plugin) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DiscoverOne returns the plugin called name under installRoot, as Discover
// would list it, or an error of kind ErrNotFound.
func DiscoverOne(installRoot, name string) (Plugin, error) {
	for _, p := range Discover(installRoot) {
		if p.Name == name {
			return p, nil
		}
	}
	return Plugin{}, fmt.Errorf("plugin %q: %w", name, errdefs.ErrNotFound)
}

// scanDir loads every plugin directory directly under dir.
func scanDir(dir string, origin Origin) []Plugin {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Plugin
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
			continue
		}
		out = append(out, load(path, name, origin))
	}
	return out
}

// load reads and validates one plugin directory.
func load(path, name string, origin Origin) Plugin {
	p := Plugin{
		Name:   name,
		Path:   path,
		Binary: filepath.Join(path, "bin", name),
		Origin: origin,
	}
	if err := loadErr(&p); err != nil {
		p.Broken = true
		p.Error = err.Error()
	}
	return p
}

func loadErr(p *Plugin) error {
	if err := ValidateName(p.Name); err != nil {
		return err
	}
	cfg, err := readConfig(filepath.Join(p.Path, "config.toml"))
	if err != nil {
		return err
	}
	p.Config = cfg
	return checkExecutable(p.Binary)
}

func readConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config.toml: %w", fsKind(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("config.toml: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config.toml: %w", err)
	}
	return cfg, nil
}

func checkExecutable(bin string) error {
	rel := filepath.Join("bin", filepath.Base(bin))
	fi, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, fsKind(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file: %w", rel, errdefs.ErrInvalidArgument)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not executable: %w", rel, errdefs.ErrInvalidArgument)
	}
	return nil
}

// fsKind attaches an errdefs kind to a file-system error, keeping only the
// reason (the caller names the file relative to the plugin directory).
func fsKind(err error) error {
	var pe *fs.PathError
	reason := err
	if errors.As(err, &pe) {
		reason = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errdefs.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%v: %w", reason, errdefs.ErrPermissionDenied)
	}
	return reason
}
