package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
	"github.com/berth/container/internal/version"
)

// componentVersion is one row of `system version`.
type componentVersion struct {
	Component string `json:"component"`
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Build     string `json:"build"`
	AppName   string `json:"appName"`
	GoVersion string `json:"goVersion"`
}

func (a *App) newSystemVersionCommand() *cobra.Command {
	var ff formatFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the versions of the CLI and, if it runs, the apiserver",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(ff.format); err != nil {
				return err
			}
			rows := []componentVersion{{
				Component: "CLI", Version: version.Version, Commit: version.Commit,
				Build: version.BuildDate, AppName: version.AppName, GoVersion: runtime.Version(),
			}}
			c, err := a.Client(cmd.Context())
			if err == nil {
				defer c.Close()
				var sv client.Version
				if sv, err = c.Version(cmd.Context()); err == nil {
					rows = append(rows, componentVersion{
						Component: "API server", Version: sv.Version, Commit: sv.Commit,
						Build: sv.BuildDate, AppName: sv.AppName, GoVersion: sv.GoVersion,
					})
				}
			}
			if err != nil {
				fmt.Fprintf(a.Stderr, "Warning: API server version unavailable: %s\n", errorMessage(err))
			}
			if ff.format == "json" {
				return writeJSON(a.Stdout, rows, false)
			}
			return writeTable(a.Stdout, rows, []column[componentVersion]{
				{"COMPONENT", func(v componentVersion) string { return v.Component }},
				{"VERSION", func(v componentVersion) string { return v.Version }},
				{"COMMIT", func(v componentVersion) string { return v.Commit }},
				{"BUILD", func(v componentVersion) string { return v.Build }},
				{"APP", func(v componentVersion) string { return v.AppName }},
				{"GO", func(v componentVersion) string { return v.GoVersion }},
			})
		},
	}
	ff.register(cmd)
	return cmd
}
