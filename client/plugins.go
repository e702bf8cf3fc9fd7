package client

import (
	"context"
	"time"

	pluginsv1 "github.com/berth/container/api/services/plugins/v1"
)

// Plugin is a plugin the apiserver found on disk.
type Plugin struct {
	Name     string
	Path     string // the plugin directory, holding bin/<name> and config.toml
	Abstract string
	Author   string
	Origin   string // "builtin" or "user"
	// ServiceTypes are runtime, network, core or auxiliary; empty for a
	// CLI plugin (run as `container <name> ARGS...`).
	ServiceTypes     []string
	LoadAtBoot       bool
	RunAtLoad        bool
	DefaultArguments []string
	// Broken is set when the plugin is unusable; Error says why.
	Broken bool
	Error  string
	// Shadows lists directories of same-named plugins this one hides.
	Shadows   []string
	Instances []PluginInstance
}

// PluginInstance is a process the apiserver supervises for a plugin.
type PluginInstance struct {
	ID        string // "" for the boot instance, else e.g. a network name
	State     string // running, backoff, stopped, failed
	PID       int
	Restarts  uint32
	StartedAt time.Time // zero if never started
	LastError string
	LogPath   string
}

// ListPlugins returns every plugin the apiserver found, sorted by name,
// broken ones included.
func (c *Client) ListPlugins(ctx context.Context) ([]Plugin, error) {
	resp, err := pluginsv1.NewPluginsClient(c.conn).List(ctx, &pluginsv1.ListRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]Plugin, 0, len(resp.GetPlugins()))
	for _, p := range resp.GetPlugins() {
		out = append(out, pluginFromProto(p))
	}
	return out, nil
}

// GetPlugin returns the plugin called name (errdefs.ErrNotFound if none).
func (c *Client) GetPlugin(ctx context.Context, name string) (Plugin, error) {
	resp, err := pluginsv1.NewPluginsClient(c.conn).Get(ctx, &pluginsv1.GetRequest{Name: name})
	if err != nil {
		return Plugin{}, err
	}
	return pluginFromProto(resp.GetPlugin()), nil
}

// RestartPlugin re-reads the plugin's config from disk, stops its boot
// instance if any and starts it again. Only core and auxiliary plugins can
// be restarted (errdefs.ErrFailedPrecondition otherwise, and for a broken
// plugin).
func (c *Client) RestartPlugin(ctx context.Context, name string) (Plugin, error) {
	resp, err := pluginsv1.NewPluginsClient(c.conn).Restart(ctx, &pluginsv1.RestartRequest{Name: name})
	if err != nil {
		return Plugin{}, err
	}
	return pluginFromProto(resp.GetPlugin()), nil
}

func pluginFromProto(p *pluginsv1.Plugin) Plugin {
	out := Plugin{
		Name:             p.GetName(),
		Path:             p.GetPath(),
		Abstract:         p.GetAbstract(),
		Author:           p.GetAuthor(),
		Origin:           p.GetOrigin(),
		ServiceTypes:     p.GetServiceTypes(),
		LoadAtBoot:       p.GetLoadAtBoot(),
		RunAtLoad:        p.GetRunAtLoad(),
		DefaultArguments: p.GetDefaultArguments(),
		Broken:           p.GetBroken(),
		Error:            p.GetError(),
		Shadows:          p.GetShadows(),
	}
	for _, in := range p.GetInstances() {
		pi := PluginInstance{
			ID:        in.GetId(),
			State:     in.GetState(),
			PID:       int(in.GetPid()),
			Restarts:  in.GetRestarts(),
			LastError: in.GetLastError(),
			LogPath:   in.GetLogPath(),
			StartedAt: containerTime(in.GetStartedAt()),
		}
		out.Instances = append(out.Instances, pi)
	}
	return out
}
