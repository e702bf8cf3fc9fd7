package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

// systemStatus is what `system status` prints; the JSON keys are the row
// names of the table.
type systemStatus struct {
	Status      string `json:"status"`
	AppRoot     string `json:"appRoot"`
	InstallRoot string `json:"installRoot"`
	LogRoot     string `json:"logRoot"`
	Version     string `json:"apiserver.version"`
	Commit      string `json:"apiserver.commit"`
	Build       string `json:"apiserver.build"`
	AppName     string `json:"apiserver.appName"`
}

func newSystemStatus(st client.Status) systemStatus {
	return systemStatus{
		Status:      st.Status,
		AppRoot:     st.AppRoot,
		InstallRoot: st.InstallRoot,
		LogRoot:     st.LogRoot,
		Version:     st.Version.Version,
		Commit:      st.Version.Commit,
		Build:       st.Version.BuildDate,
		AppName:     st.Version.AppName,
	}
}

func (s systemStatus) fields() []field {
	return []field{
		{"status", s.Status},
		{"appRoot", s.AppRoot},
		{"installRoot", s.InstallRoot},
		{"logRoot", s.LogRoot},
		{"apiserver.version", s.Version},
		{"apiserver.commit", s.Commit},
		{"apiserver.build", s.Build},
		{"apiserver.appName", s.AppName},
	}
}

func (a *App) newSystemStatusCommand() *cobra.Command {
	var ff formatFlag
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the apiserver runs, its roots and build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(ff.format); err != nil {
				return err
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			out := newSystemStatus(st)
			if ff.format == "json" {
				return writeJSON(a.Stdout, out, false)
			}
			return printFields(a.Stdout, out.fields())
		},
	}
	ff.register(cmd)
	return cmd
}
