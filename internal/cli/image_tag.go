package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/container/errdefs"
)

func (a *App) newImageTagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			img, err := c.TagImage(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, img.Name)
			return nil
		},
	}
}

func (a *App) newImageDeleteCommand() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:     "delete [OPTIONS] [IMAGE...]",
		Aliases: []string{"rm"},
		Short:   "Delete images (refuses images a container uses unless --force)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return &usageError{err: errors.New("give image names or --all, not both"), command: cmd.CommandPath()}
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if all {
				imgs, err := c.ListImages(cmd.Context())
				if err != nil {
					return err
				}
				for _, img := range imgs {
					args = append(args, img.Name)
				}
			}
			var errs []error
			for _, ref := range args {
				n, err := c.DeleteImage(cmd.Context(), ref, force)
				if err != nil {
					if all && errdefs.IsFailedPrecondition(err) {
						continue // in use: --all skips it
					}
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.Stdout, n)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "delete every image no container uses")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete even if a container uses the image")
	return cmd
}

func (a *App) newImagePruneCommand() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Delete unnamed images (with --all, every image no container uses)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			deleted, err := c.PruneImages(cmd.Context(), all)
			for _, n := range deleted {
				fmt.Fprintln(a.Stdout, n)
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "delete every image no container uses")
	return cmd
}
