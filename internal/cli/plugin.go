package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

func (a *App) newPluginCommand() *cobra.Command {
	cmd := newGroupCommand("plugin", "List, inspect and restart the apiserver's plugins")
	cmd.GroupID = groupSystem
	cmd.AddCommand(a.newPluginListCommand(), a.newPluginInspectCommand(), a.newPluginRestartCommand())
	return cmd
}

// pluginView is how plugin list and inspect print a plugin.
type pluginView struct {
	Name             string               `json:"name"`
	Path             string               `json:"path"`
	Abstract         string               `json:"abstract,omitempty"`
	Author           string               `json:"author,omitempty"`
	Origin           string               `json:"origin"`
	ServiceTypes     []string             `json:"serviceTypes,omitempty"`
	LoadAtBoot       bool                 `json:"loadAtBoot"`
	RunAtLoad        bool                 `json:"runAtLoad"`
	DefaultArguments []string             `json:"defaultArguments,omitempty"`
	Broken           bool                 `json:"broken,omitempty"`
	Error            string               `json:"error,omitempty"`
	Shadows          []string             `json:"shadows,omitempty"`
	State            string               `json:"state"`
	Instances        []pluginInstanceView `json:"instances,omitempty"`
}

type pluginInstanceView struct {
	ID        string     `json:"id,omitempty"`
	State     string     `json:"state"`
	PID       int        `json:"pid,omitempty"`
	Restarts  uint32     `json:"restarts"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	LastError string     `json:"lastError,omitempty"`
	LogPath   string     `json:"logPath,omitempty"`
}

func newPluginView(p client.Plugin) pluginView {
	v := pluginView{
		Name: p.Name, Path: p.Path, Abstract: p.Abstract, Author: p.Author, Origin: p.Origin,
		ServiceTypes: p.ServiceTypes, LoadAtBoot: p.LoadAtBoot, RunAtLoad: p.RunAtLoad,
		DefaultArguments: p.DefaultArguments, Broken: p.Broken, Error: p.Error, Shadows: p.Shadows,
		State: pluginState(p),
	}
	for _, in := range p.Instances {
		iv := pluginInstanceView{ID: in.ID, State: in.State, PID: in.PID, Restarts: in.Restarts,
			LastError: in.LastError, LogPath: in.LogPath}
		if !in.StartedAt.IsZero() {
			t := in.StartedAt
			iv.StartedAt = &t
		}
		v.Instances = append(v.Instances, iv)
	}
	return v
}

// pluginState summarizes a plugin in one word: broken, the state of its
// boot instance, how many per-owner instances run, or available.
func pluginState(p client.Plugin) string {
	if p.Broken {
		return "broken"
	}
	running := 0
	for _, in := range p.Instances {
		if in.ID == "" {
			return in.State
		}
		if in.State == "running" {
			running++
		}
	}
	if running > 0 {
		return fmt.Sprintf("%d running", running)
	}
	return "available"
}

func (v pluginView) typeString() string {
	if len(v.ServiceTypes) == 0 {
		if v.Broken {
			return "-"
		}
		return "cli"
	}
	return strings.Join(v.ServiceTypes, ",")
}

func (v pluginView) pidString() string {
	for _, in := range v.Instances {
		if in.ID == "" && in.PID > 0 {
			return fmt.Sprint(in.PID)
		}
	}
	return "-"
}

func (a *App) newPluginListCommand() *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List plugins, broken ones with the reason",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(lf.format); err != nil {
				return err
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ps, err := c.ListPlugins(cmd.Context())
			if err != nil {
				return err
			}
			views := make([]pluginView, 0, len(ps))
			for _, p := range ps {
				views = append(views, newPluginView(p))
			}
			return printList(a.Stdout, lf, views, []column[pluginView]{
				{"NAME", func(v pluginView) string { return v.Name }},
				{"TYPE", pluginView.typeString},
				{"ORIGIN", func(v pluginView) string { return v.Origin }},
				{"STATE", func(v pluginView) string { return v.State }},
				{"PID", pluginView.pidString},
				{"INFO", func(v pluginView) string {
					if v.Broken {
						return v.Error
					}
					return v.Abstract
				}},
			}, func(v pluginView) string { return v.Name })
		},
	}
	lf.register(cmd)
	return cmd
}

func (a *App) newPluginInspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME...",
		Short: "Print plugins as a JSON array",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			views := make([]pluginView, 0, len(args))
			for _, name := range args {
				p, err := c.GetPlugin(cmd.Context(), name)
				if err != nil {
					return err
				}
				views = append(views, newPluginView(p))
			}
			return writeJSON(a.Stdout, views, true)
		},
	}
}

func (a *App) newPluginRestartCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart a plugin the apiserver boots (re-reads its config.toml)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			p, err := c.RestartPlugin(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := newPluginView(p)
			fmt.Fprintf(a.Stdout, "plugin %s %s (pid %s)\n", v.Name, v.State, v.pidString())
			return nil
		},
	}
}
