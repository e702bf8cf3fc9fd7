package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// targets returns the containers a multi-container command acts on: args,
// or with all every container (running ones only when runningOnly).
func (a *App) targets(ctx context.Context, c *client.Client, cmd *cobra.Command, args []string, all, runningOnly bool) ([]string, error) {
	if all {
		if len(args) > 0 {
			return nil, &usageError{err: errors.New("give container IDs or --all, not both"), command: cmd.CommandPath()}
		}
		cs, err := c.ListContainers(ctx, !runningOnly)
		if err != nil {
			return nil, err
		}
		ids := make([]string, 0, len(cs))
		for _, ctr := range cs {
			ids = append(ids, ctr.ID)
		}
		return ids, nil
	}
	if len(args) == 0 {
		return nil, &usageError{err: errors.New("no container given"), command: cmd.CommandPath()}
	}
	return args, nil
}

// perIDParallel is how many containers stop, kill, delete and wait act on
// at once.
const perIDParallel = 8

// forEach runs fn on every id, parallel at a time (1: one after the other,
// in order), prints what fn returned for the ids it succeeded for, in
// order, and joins the errors.
func (a *App) forEach(ids []string, parallel int, fn func(id string) (string, error)) error {
	out := make([]string, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = fn(id)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] == nil && out[i] != "" {
			fmt.Fprintln(a.Stdout, out[i])
		}
	}
	return errors.Join(errs...)
}

func (a *App) newContainerStopCommand() *cobra.Command {
	var all bool
	var sig string
	var secs int
	cmd := &cobra.Command{
		Use:     "stop [OPTIONS] [ID...]",
		Short:   "Stop running containers",
		GroupID: groupContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			ids, err := a.targets(ctx, c, cmd, args, all, true)
			if err != nil {
				return err
			}
			opts := client.StopOptions{Signal: sig}
			if cmd.Flags().Changed("time") {
				if secs < 0 {
					return fmt.Errorf("--time %d must not be negative: %w", secs, errdefs.ErrInvalidArgument)
				}
				d := time.Duration(secs) * time.Second
				opts.Timeout = &d
			}
			return a.forEach(ids, perIDParallel, func(id string) (string, error) {
				_, err := c.StopContainer(ctx, id, opts)
				return id, err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "stop every running container")
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "signal to send first (default: the container's stop signal)")
	cmd.Flags().IntVarP(&secs, "time", "t", 5, "seconds to wait before SIGKILL")
	return cmd
}

func (a *App) newContainerKillCommand() *cobra.Command {
	var all bool
	var sig string
	cmd := &cobra.Command{
		Use:     "kill [OPTIONS] [ID...]",
		Short:   "Send a signal to running containers",
		GroupID: groupContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			ids, err := a.targets(ctx, c, cmd, args, all, true)
			if err != nil {
				return err
			}
			return a.forEach(ids, perIDParallel, func(id string) (string, error) {
				return id, c.KillContainer(ctx, id, sig)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every running container")
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send")
	return cmd
}

func (a *App) newContainerDeleteCommand() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:     "delete [OPTIONS] [ID...]",
		Aliases: []string{"rm"},
		Short:   "Delete containers",
		GroupID: groupContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if all && !force {
				// --all without --force deletes the containers that are not running.
				if len(args) > 0 {
					return &usageError{err: errors.New("give container IDs or --all, not both"), command: cmd.CommandPath()}
				}
				cs, err := c.ListContainers(ctx, true)
				if err != nil {
					return err
				}
				for _, ctr := range cs {
					if ctr.State.Status != "running" {
						args = append(args, ctr.ID)
					}
				}
				all = false
				if len(args) == 0 {
					return nil
				}
			}
			ids, err := a.targets(ctx, c, cmd, args, all, false)
			if err != nil {
				return err
			}
			return a.forEach(ids, perIDParallel, func(id string) (string, error) {
				full, err := c.DeleteContainer(ctx, id, force)
				if errdefs.IsNotFound(err) && all {
					return "", nil
				}
				return full, err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "delete every container (running ones only with --force)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "delete running containers too")
	return cmd
}

func (a *App) newContainerPruneCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "prune",
		Short:   "Delete every stopped container",
		GroupID: groupContainers,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ids, err := c.PruneContainers(cmd.Context())
			for _, id := range ids {
				fmt.Fprintln(a.Stdout, id)
			}
			return err
		},
	}
}

func (a *App) newContainerWaitCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "wait ID...",
		Short:   "Wait for containers to stop and print their exit codes",
		GroupID: groupContainers,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			return a.forEach(args, perIDParallel, func(id string) (string, error) {
				st, err := c.WaitContainer(ctx, id)
				return fmt.Sprint(st.Code), err
			})
		},
	}
}
