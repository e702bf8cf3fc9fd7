package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

func (a *App) newContainerRunCommand() *cobra.Command {
	var f createFlags
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND [ARG...]]",
		Short: "Run a container",
		Long: "Run creates and starts a container. In the foreground it streams the container's\n" +
			"stdout and stderr, forwards SIGINT and SIGTERM to it and exits with its exit code.",
		GroupID: groupContainers,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (retErr error) {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			// --rm: the apiserver removes the container when it exits, and
			// answers Wait once it is gone (no Delete of our own).
			ctr, err := a.createContainer(ctx, c, &f, cmd.Flags(), args, f.rm)
			if err != nil {
				return err
			}
			if f.rm {
				// A failed run --rm removed the container: the cidfile
				// would name one that no longer exists.
				defer func() {
					if retErr != nil {
						removeCIDFileOfGone(c, f.cidfile, ctr.ID)
					}
				}()
			}
			if detach {
				if _, err := c.StartContainer(ctx, ctr.ID); err != nil {
					return a.cleanupFailedRun(c, ctr.ID, f.rm, err)
				}
				fmt.Fprintln(a.Stdout, ctr.ID)
				return nil
			}
			if f.interactive || f.tty {
				return a.runAttached(ctx, c, ctr, true, f.interactive, f.rm)
			}
			return a.runForeground(ctx, c, ctr.ID, f.rm, true)
		},
	}
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return runFailed(run(cmd, args)) }
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background and print the container ID")
	return cmd
}

// cleanupFailedRun deletes a container whose start failed when --rm asked
// for it, and returns err.
func (a *App) cleanupFailedRun(c *client.Client, id string, rm bool, err error) error {
	if rm {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, derr := c.DeleteContainer(ctx, id, true); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	return err
}

// runForeground starts the container (when start), streams its output
// until it stops, forwards SIGINT/SIGTERM, and returns its exit code as an
// ExitError.
func (a *App) runForeground(ctx context.Context, c *client.Client, id string, rm, start bool) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	logsCtx, cancelLogs := context.WithCancel(ctx)
	defer cancelLogs()
	logsDone := make(chan error, 1)
	tail := -1 // a new container's whole log
	if !start {
		tail = 0
	}
	go func() {
		logsDone <- a.writeLogs(logsCtx, c, id, client.LogOptions{Follow: true, Tail: tail}, false)
	}()
	// WithFollower: a --rm container that ends before our follower has
	// reached the apiserver is not removed (with its log) before it has.
	if _, err := c.StartContainer(ctx, id, client.WithFollower()); err != nil {
		cancelLogs()
		<-logsDone
		return a.cleanupFailedRun(c, id, rm, err)
	}
	var logsErr error
wait:
	for {
		select {
		case s := <-sigs:
			if err := c.KillContainer(ctx, id, signalName(s)); err != nil && a.Debug {
				fmt.Fprintf(a.Stderr, "forward %v: %v\n", s, err)
			}
		case logsErr = <-logsDone:
			if errors.Is(logsErr, client.ErrOutputClosed) {
				// Our stdout's reader is gone: end as a CLI writing
				// itself would have, by SIGPIPE, leaving the container.
				return &ExitError{Code: exitSIGPIPE}
			}
			break wait
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	// With --rm this returns once the apiserver has removed the container.
	st, err := c.WaitContainer(ctx, id)
	if err != nil {
		return errors.Join(logsErr, err)
	}
	if st.Error != "" {
		fmt.Fprintf(a.Stderr, "container %s: %s\n", id, st.Error)
	}
	if st.Code != 0 {
		return &ExitError{Code: st.Code}
	}
	return logsErr
}

func signalName(s os.Signal) string {
	if s == syscall.SIGINT {
		return "INT"
	}
	return "TERM"
}

// exitSIGPIPE is the status a shell reports for a process killed by SIGPIPE.
const exitSIGPIPE = 128 + int(syscall.SIGPIPE)

// writeLogs writes the container's selected output to the App's stdout and
// stderr. When both are files (a terminal, pipe or file) and no timestamps
// are asked for, the apiserver gets the descriptors and writes to them
// itself (client.ContainerLogsTo): the output does not pass through the
// CLI. Otherwise it comes over the gRPC stream.
func (a *App) writeLogs(ctx context.Context, c *client.Client, id string, opts client.LogOptions, timestamps bool) error {
	if stdout, ok := a.Stdout.(*os.File); ok && !timestamps {
		if stderr, ok := a.Stderr.(*os.File); ok {
			return c.ContainerLogsTo(ctx, id, opts, stdout, stderr)
		}
	}
	return c.ContainerLogs(ctx, id, opts, func(e client.LogEntry) error {
		return writeEntry(a.Stdout, a.Stderr, e, timestamps)
	})
}

// writeEntry writes one log entry (one or more lines) to stdout or
// stderr; with timestamps every line gets the entry's time.
func writeEntry(stdout, stderr io.Writer, e client.LogEntry, timestamps bool) error {
	w := stdout
	if e.Stream == "stderr" {
		w = stderr
	}
	if !timestamps {
		_, err := w.Write(e.Data)
		return err
	}
	prefix := e.Time.UTC().Format(time.RFC3339Nano) + " "
	var buf []byte
	for data := e.Data; len(data) > 0; {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		buf = append(append(buf, prefix...), line...)
	}
	_, err := w.Write(buf)
	return err
}
