package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func (a *App) newContainerStartCommand() *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:     "start [OPTIONS] ID...",
		Short:   "Start one or more containers",
		GroupID: groupContainers,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if attach || interactive {
				if len(args) != 1 {
					return &usageError{err: errors.New("start -a/-i takes one container"), command: cmd.CommandPath()}
				}
				if interactive {
					ctr, err := c.GetContainer(ctx, args[0])
					if err != nil {
						return err
					}
					return a.runAttached(ctx, c, ctr, true, ctr.Spec.Stdin, false)
				}
				return a.runForeground(ctx, c, args[0], false, false)
			}
			// In the order given, as docker does: one may need another.
			return a.forEach(args, 1, func(id string) (string, error) {
				ctr, err := c.StartContainer(ctx, id)
				return ctr.ID, err
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "stream the container's output and exit with its code")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "with -a: forward stdin (container created with -i) and its terminal (-t)")
	return cmd
}
