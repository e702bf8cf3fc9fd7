package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

func (a *App) newContainerAttachCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "attach ID",
		Short: "Attach to a running container's stdio",
		Long: "Attach streams a running container's output from now on, forwards stdin when the\n" +
			"container was created with -i (and its terminal, raw, with -t), and exits with the\n" +
			"container's exit code once it stops.",
		GroupID: groupContainers,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			ctr, err := c.GetContainer(ctx, args[0])
			if err != nil {
				return err
			}
			return a.runAttached(ctx, c, ctr, false, ctr.Spec.Stdin, false)
		},
	}
}

// runAttached connects the container's stdio to ours (stdin only when
// stdin; a terminal when the container has one), starting it first when
// start, and once its output ends returns its exit code as an ExitError
// (a --rm container is removed by the apiserver; rm only says whether a
// failed start deletes it here). Without a raw terminal SIGINT and SIGTERM are
// forwarded to the container, as a foreground `run` does.
func (a *App) runAttached(ctx context.Context, c *client.Client, ctr client.Container, start, stdin, rm bool) error {
	opts := client.AttachOptions{Start: start, Stdout: a.Stdout, Stderr: a.Stderr}
	if stdin {
		opts.Stdin = a.Stdin
	}
	attached := false
	opts.Attached = func() { attached = true }
	raw := false
	if ctr.Spec.TTY {
		t := a.openTerminal(stdin)
		defer t.restore()
		opts.Size, opts.Resize = t.size, t.resize
		raw = t.raw()
	}
	if !raw {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			for {
				select {
				case s := <-sigs:
					if err := c.KillContainer(fctx, ctr.ID, signalName(s)); err != nil && a.Debug {
						fmt.Fprintf(a.Stderr, "forward %v: %v\n", s, err)
					}
				case <-fctx.Done():
					return
				}
			}
		}()
	}
	if err := c.AttachContainer(ctx, ctr.ID, opts); err != nil {
		if !attached {
			return a.cleanupFailedRun(c, ctr.ID, rm && start, err)
		}
		return err
	}
	// A --rm container (AutoRemove) is gone when this returns.
	st, err := c.WaitContainer(ctx, ctr.ID)
	if err != nil {
		return err
	}
	if st.Error != "" {
		fmt.Fprintf(a.Stderr, "container %s: %s\n", ctr.ID, st.Error)
	}
	if st.Code != 0 {
		return &ExitError{Code: st.Code}
	}
	return nil
}
