package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth/container/errdefs"
)

// Opt configures a Manager.
type Opt struct {
	// InstallRoot holds libexec/container/plugins and libexec/container-plugins.
	InstallRoot string
	// LogRoot receives <plugin>.log (boot instance) and <plugin>-<id>.log.
	LogRoot string
	// StateRoot is the apiserver's state directory, passed to plugins in
	// CONTAINER_STATE_ROOT.
	StateRoot string
	Log       *slog.Logger
}

// InstanceOpts adds to what a supervised instance is started with.
type InstanceOpts struct {
	// Args are appended after the plugin's defaultArguments.
	Args []string
	// Env entries (KEY=VALUE) are added to the apiserver's environment and
	// the CONTAINER_* variables every plugin gets.
	Env []string
}

// policy is the restart and stop timing of supervised instances.
type policy struct {
	minDelay    time.Duration // first restart delay, doubled after each exit
	maxDelay    time.Duration // cap of the delay
	resetAfter  time.Duration // a run at least this long resets the delay
	stopTimeout time.Duration // SIGTERM to SIGKILL
}

var defaultPolicy = policy{
	minDelay:    250 * time.Millisecond,
	maxDelay:    30 * time.Second,
	resetAfter:  10 * time.Second,
	stopTimeout: 5 * time.Second,
}

// Manager owns the plugins found at construction and the processes it
// supervises for them. Its methods are safe for concurrent use.
type Manager struct {
	installRoot, logRoot, stateRoot string
	log                             *slog.Logger
	policy                          policy
	logMax                          int64 // a plugin log over this is rotated at the next start

	mu        sync.Mutex
	plugins   map[string]Plugin               // as discovered; Instances unset
	instances map[string]map[string]*instance // plugin name → instance id → instance
	running   bool                            // Run was called
	closed    bool                            // Run is shutting down: no new instances
	wg        sync.WaitGroup                  // one per supervising goroutine
}

// New discovers the plugins under opt.InstallRoot and logs every broken one
// at Warn. It starts no process; Run does. It kills what plugins of a
// previous apiserver on the same state root left running (see stale.go).
func New(opt Opt) (*Manager, error) {
	if opt.InstallRoot == "" {
		return nil, fmt.Errorf("plugin manager: install root is required: %w", errdefs.ErrInvalidArgument)
	}
	if opt.LogRoot == "" {
		return nil, fmt.Errorf("plugin manager: log root is required: %w", errdefs.ErrInvalidArgument)
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		installRoot: opt.InstallRoot,
		logRoot:     opt.LogRoot,
		stateRoot:   opt.StateRoot,
		log:         log,
		policy:      defaultPolicy,
		logMax:      defaultLogMax,
		plugins:     map[string]Plugin{},
		instances:   map[string]map[string]*instance{},
	}
	for _, p := range Discover(opt.InstallRoot) {
		m.plugins[p.Name] = p
		m.logDiscovered(p)
	}
	m.killStale()
	return m, nil
}

func (m *Manager) logDiscovered(p Plugin) {
	if p.Broken {
		m.log.Warn("plugin broken", "plugin", p.Name, "path", p.Path, "err", p.Error)
		return
	}
	for _, s := range p.Shadows {
		m.log.Info("plugin shadows another", "plugin", p.Name, "path", p.Path, "shadowed", s)
	}
	m.log.Debug("plugin found", "plugin", p.Name, "path", p.Path, "origin", string(p.Origin))
}

// Run boots every plugin whose LoadAtBoot is true, then waits for ctx to
// end, stops every supervised instance (SIGTERM to its process group, SIGKILL
// after a few seconds) and returns once all of them have been reaped. A
// plugin that fails to start is reported in List with state failed; it does
// not make Run fail. Run may be called once.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return fmt.Errorf("plugin manager: already running: %w", errdefs.ErrFailedPrecondition)
	}
	m.running = true
	var boot []Plugin
	for _, p := range m.plugins {
		if p.LoadAtBoot() {
			boot = append(boot, p)
		}
	}
	m.mu.Unlock()

	slices.SortFunc(boot, func(a, b Plugin) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range boot {
		if err := m.start(p, "", InstanceOpts{}, false); err != nil {
			m.log.Warn("plugin not booted", "plugin", p.Name, "err", err)
		}
	}

	<-ctx.Done()
	m.mu.Lock()
	m.closed = true
	var all []*instance
	for _, byID := range m.instances {
		all = slices.AppendSeq(all, maps.Values(byID))
	}
	m.mu.Unlock()
	for _, in := range all {
		in.requestStop()
	}
	m.wg.Wait()
	m.log.Info("plugins stopped", "cause", context.Cause(ctx))
	return nil
}

// List returns every discovered plugin, sorted by name, with the current
// state of its instances.
func (m *Manager) List() []Plugin {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Plugin, 0, len(m.plugins))
	for _, name := range slices.Sorted(maps.Keys(m.plugins)) {
		out = append(out, m.snapshotLocked(name))
	}
	return out
}

// Get returns the plugin called name, or an error of kind ErrNotFound.
func (m *Manager) Get(name string) (Plugin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.plugins[name]; !ok {
		return Plugin{}, fmt.Errorf("plugin %q: %w", name, errdefs.ErrNotFound)
	}
	return m.snapshotLocked(name), nil
}

// Lookup returns the usable plugin called name that provides serviceType
// (for example the runtime plugin chosen with --runtime); its Binary is what
// the caller executes. It is of kind ErrNotFound when there is no such
// plugin or it does not provide serviceType, and ErrFailedPrecondition when
// it is broken. Lookup starts nothing: runtime plugins are spawned by
// internal/runtime, detached, so that they outlive the apiserver.
func (m *Manager) Lookup(serviceType, name string) (Plugin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.plugins[name]
	switch {
	case !ok:
		return Plugin{}, fmt.Errorf("%s plugin %q: %w", serviceType, name, errdefs.ErrNotFound)
	case p.Broken:
		return Plugin{}, fmt.Errorf("plugin %q is broken: %s: %w", name, p.Error, errdefs.ErrFailedPrecondition)
	case !p.Provides(ServiceType(serviceType)):
		return Plugin{}, fmt.Errorf("plugin %q does not provide service %q: %w", name, serviceType, errdefs.ErrNotFound)
	}
	return m.snapshotLocked(name), nil
}

// Restart re-reads the plugin called name from disk, stops its boot
// instance if one exists, and starts it again (also when it was not booted
// because loadAtBoot is false). The plugin must provide a core or auxiliary
// service. The returned plugin reflects the new instance.
func (m *Manager) Restart(ctx context.Context, name string) (Plugin, error) {
	m.mu.Lock()
	_, known := m.plugins[name]
	m.mu.Unlock()
	if !known {
		return Plugin{}, fmt.Errorf("plugin %q: %w", name, errdefs.ErrNotFound)
	}
	p, err := DiscoverOne(m.installRoot, name)
	if err != nil {
		return Plugin{}, fmt.Errorf("plugin %q: no longer on disk: %w", name, errdefs.ErrNotFound)
	}
	m.mu.Lock()
	m.plugins[name] = p
	m.mu.Unlock()
	m.logDiscovered(p)

	if p.Broken {
		return Plugin{}, fmt.Errorf("plugin %q is broken: %s: %w", name, p.Error, errdefs.ErrFailedPrecondition)
	}
	if !p.Provides(ServiceCore) && !p.Provides(ServiceAuxiliary) {
		return Plugin{}, fmt.Errorf("plugin %q has no core or auxiliary service to restart: %w", name, errdefs.ErrFailedPrecondition)
	}
	if err := m.StopInstance(ctx, name, ""); err != nil && !errdefs.IsNotFound(err) {
		return Plugin{}, err
	}
	if err := m.start(p, "", InstanceOpts{}, false); err != nil {
		return Plugin{}, err
	}
	m.log.Info("plugin restarted", "plugin", name)
	return m.Get(name)
}

// StartInstance starts a supervised instance id of the plugin called name
// (for example one per network for a network plugin) and returns once its
// process has started. The process gets the plugin's defaultArguments
// followed by opts.Args, logs to <log-root>/<name>-<id>.log and is
// restarted with backoff until StopInstance or the end of Run. Errors:
// ErrInvalidArgument for a bad id, ErrNotFound for an unknown plugin,
// ErrFailedPrecondition for a broken or CLI plugin, ErrAlreadyExists when
// the instance exists, ErrUnavailable once Run is shutting down.
func (m *Manager) StartInstance(ctx context.Context, name, id string, opts InstanceOpts) error {
	if err := ValidateName(id); err != nil {
		return fmt.Errorf("plugin %q instance: %w", name, err)
	}
	p, err := m.Get(name)
	if err != nil {
		return err
	}
	switch {
	case p.Broken:
		return fmt.Errorf("plugin %q is broken: %s: %w", name, p.Error, errdefs.ErrFailedPrecondition)
	case p.Config.CLI():
		return fmt.Errorf("plugin %q is a CLI plugin: %w", name, errdefs.ErrFailedPrecondition)
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	return m.start(p, id, opts, true)
}

// StopInstance stops instance id of the plugin called name ("" is the boot
// instance): SIGTERM to its process group, SIGKILL after a few seconds. It
// returns once the process is reaped, or when ctx ends. A stopped instance
// with a non-empty id is forgotten; the boot instance stays listed as
// stopped. Unknown instances are of kind ErrNotFound.
func (m *Manager) StopInstance(ctx context.Context, name, id string) error {
	m.mu.Lock()
	in := m.instances[name][id]
	m.mu.Unlock()
	if in == nil {
		return fmt.Errorf("plugin %q instance %q: %w", name, id, errdefs.ErrNotFound)
	}
	in.requestStop()
	select {
	case <-in.done:
	case <-ctx.Done():
		return fmt.Errorf("stop plugin %q instance %q: %w", name, id, context.Cause(ctx))
	}
	if id != "" {
		m.mu.Lock()
		if m.instances[name][id] == in {
			delete(m.instances[name], id)
		}
		m.mu.Unlock()
	}
	return nil
}

// snapshotLocked returns the plugin with its instances. m.mu must be held.
func (m *Manager) snapshotLocked(name string) Plugin {
	p := m.plugins[name]
	p.Shadows = slices.Clone(p.Shadows)
	p.Instances = nil
	byID := m.instances[name]
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		p.Instances = append(p.Instances, byID[id].snapshotLocked())
	}
	return p
}
