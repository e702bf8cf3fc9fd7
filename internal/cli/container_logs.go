package cli

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

func (a *App) newContainerLogsCommand() *cobra.Command {
	var follow, timestamps bool
	var tail int
	var since, until string
	cmd := &cobra.Command{
		Use:     "logs [OPTIONS] ID",
		Short:   "Show a container's output",
		GroupID: groupContainers,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			opts := client.LogOptions{Follow: follow, Tail: tail}
			if !cmd.Flags().Changed("tail") {
				opts.Tail = -1
			}
			var err error
			if opts.Since, err = parseTimeArg(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if opts.Until, err = parseTimeArg(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			err = a.writeLogs(cmd.Context(), c, args[0], opts, timestamps)
			if errors.Is(err, client.ErrOutputClosed) {
				return &ExitError{Code: exitSIGPIPE} // as if SIGPIPE ended us
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep streaming output until the container stops")
	cmd.Flags().IntVarP(&tail, "tail", "n", -1, "number of lines from the end (default all)")
	cmd.Flags().StringVar(&since, "since", "", "only lines after a time (RFC 3339, unix seconds, or a duration like 5m)")
	cmd.Flags().StringVar(&until, "until", "", "only lines before a time (RFC 3339, unix seconds, or a duration like 5m)")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "prefix each line with its time")
	return cmd
}

// parseTimeArg parses an RFC 3339 time, unix seconds, or a duration back from now.
func parseTimeArg(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339, unix seconds or a duration: %w", s, errdefs.ErrInvalidArgument)
}
