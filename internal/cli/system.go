package cli

import "github.com/spf13/cobra"

func (a *App) newSystemCommand() *cobra.Command {
	cmd := newGroupCommand("system", "Manage the apiserver: start, stop, status, logs", "s")
	cmd.GroupID = groupSystem
	cmd.AddCommand(
		a.newSystemStartCommand(),
		a.newSystemStopCommand(),
		a.newSystemStatusCommand(),
		a.newSystemVersionCommand(),
		a.newSystemLogsCommand(),
		a.newSystemPropertyCommand(),
	)
	return cmd
}
