package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/container/errdefs"
)

func (a *App) newSystemLogsCommand() *cobra.Command {
	var (
		follow bool
		last   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print the apiserver's log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if last < 0 {
				return fmt.Errorf("--last %s: must not be negative: %w", last, errdefs.ErrInvalidArgument)
			}
			ctx := cmd.Context()
			if follow {
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
			}
			if unitServes(socketPath(a.Host)) {
				return a.journalLogs(ctx, follow, last)
			}
			path, err := a.logPath(ctx)
			if err != nil {
				return err
			}
			var since time.Time
			if last > 0 {
				since = time.Now().Add(-last)
			}
			return printLog(ctx, a.Stdout, path, since, follow)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().DurationVar(&last, "last", 0, "only lines from this long ago on, e.g. 5m or 1h")
	return cmd
}

// logPath is <log-root>/apiserver.log: the running server's log root, or
// the one the environment and defaults name.
func (a *App) logPath(ctx context.Context) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c, err := a.Client(sctx); err == nil {
		st, err := c.Status(sctx)
		c.Close()
		if err == nil && st.LogRoot != "" {
			return filepath.Join(st.LogRoot, logFileName), nil
		}
	}
	var rf rootFlags
	r, err := rf.resolve()
	if err != nil {
		return "", err
	}
	return filepath.Join(r.Log, logFileName), nil
}

func (a *App) journalLogs(ctx context.Context, follow bool, last time.Duration) error {
	args := []string{"-u", unitName, "--no-pager", "-o", "cat"}
	if follow {
		args = append(args, "-f")
	}
	if last > 0 {
		args = append(args, "--since", fmt.Sprintf("-%ds", int(last.Seconds())))
	}
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	cmd.Stdout, cmd.Stderr = a.Stdout, a.Stderr
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	return nil
}

// printLog copies the log at path to w, skipping lines older than since
// (judged by the "time" field of JSON lines; other lines go with the line
// before them). With follow it then waits for new lines until ctx ends,
// starting over if the file is truncated or replaced.
func printLog(ctx context.Context, w io.Writer, path string, since time.Time, follow bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !follow {
		return fmt.Errorf("apiserver log %s: %w", path, errdefs.ErrNotFound)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open apiserver log: %w", err)
	}
	keep := since.IsZero()
	var (
		offset  int64
		partial []byte
	)
	for {
		if f != nil {
			r := bufio.NewReader(f)
			for {
				line, err := r.ReadBytes('\n')
				offset += int64(len(line))
				if len(line) > 0 && line[len(line)-1] == '\n' {
					line = append(partial, line...)
					partial = nil
					if !since.IsZero() {
						if t, ok := lineTime(line); ok {
							keep = !t.Before(since)
						}
					}
					if keep {
						if _, err := w.Write(line); err != nil {
							f.Close()
							return err
						}
					}
				} else {
					partial = append(partial, line...)
				}
				if err != nil {
					break
				}
			}
		}
		if !follow {
			if f != nil {
				f.Close()
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if f != nil {
				f.Close()
			}
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		// Reopen when the file was truncated, replaced or created.
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		var cur os.FileInfo
		if f != nil {
			cur, _ = f.Stat()
		}
		if f == nil || cur == nil || !os.SameFile(fi, cur) || fi.Size() < offset {
			if f != nil {
				f.Close()
			}
			if f, err = os.Open(path); err != nil {
				f = nil
				continue
			}
			offset, partial = 0, nil
		}
	}
}

// lineTime reads the "time" field of a JSON log line.
func lineTime(line []byte) (time.Time, bool) {
	var rec struct {
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &rec); err != nil || rec.Time.IsZero() {
		return time.Time{}, false
	}
	return rec.Time, true
}
