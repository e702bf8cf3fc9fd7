package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *App) newContainerStartCommand() *cobra.Command {
	var attach bool
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
			if attach {
				if len(args) != 1 {
					return &usageError{err: errors.New("start -a takes one container"), command: cmd.CommandPath()}
				}
				return a.runForeground(ctx, c, args[0], false, false)
			}
			var errs []error
			for _, id := range args {
				ctr, err := c.StartContainer(ctx, id)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.Stdout, ctr.ID)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "stream the container's output and exit with its code")
	cmd.Flags().BoolP("interactive", "i", false, "attach stdin (not supported yet)")
	return cmd
}
