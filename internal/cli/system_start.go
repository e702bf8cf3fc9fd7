package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/plugins"
)

func (a *App) newSystemStartCommand() *cobra.Command {
	var (
		rf      rootFlags
		timeout int
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start the apiserver (as a systemd unit when systemd runs, else detached)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := rf.resolve()
			if err != nil {
				return err
			}
			return a.systemStart(cmd.Context(), r, time.Duration(timeout)*time.Second)
		},
	}
	rf.register(cmd)
	cmd.Flags().IntVar(&timeout, "timeout", 60, "seconds to wait for the apiserver to become ready")
	return cmd
}

func (a *App) systemStart(ctx context.Context, r roots, timeout time.Duration) error {
	sock := socketPath(a.Host)
	if err := probeSocket(ctx, sock); err == nil {
		if err := a.healthy(ctx, sock, 5*time.Second); err == nil {
			fmt.Fprintf(a.Stdout, "apiserver is already running at %s\n", sock)
			return nil
		}
	} else if errdefs.IsPermissionDenied(err) {
		return err
	}

	bin := filepath.Join(r.Install, "bin", apiserverBinary)
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("apiserver binary %s: %w (use --install-root or CONTAINER_INSTALL_ROOT)", bin, errdefs.ErrNotFound)
	}
	args := apiserverArgs(r, sock, a.Debug)

	if useSystemd() {
		if err := a.startUnit(ctx, bin, args); err != nil {
			return err
		}
		if err := a.waitReady(ctx, sock, timeout, nil); err != nil {
			return fmt.Errorf("%w\n%s", err, journalTail(ctx, 20))
		}
	} else if err := a.startDetached(ctx, r, sock, bin, args, timeout); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "apiserver started at %s\n", sock)
	return nil
}

// startUnit writes the systemd unit, reloads systemd and starts the unit.
func (a *App) startUnit(ctx context.Context, bin string, args []string) error {
	if err := os.WriteFile(unitPath(), []byte(apiserverUnit(bin, args)), 0o644); err != nil {
		return fmt.Errorf("write systemd unit: %w", err)
	}
	for _, argv := range [][]string{
		{"systemctl", "daemon-reload"},
		{"systemctl", "enable", unitName},
		// restart, not start: a unit that is active but not answering
		// (crash-looping, an older binary) is replaced too.
		{"systemctl", "restart", unitName},
	} {
		if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", argv[0]+" "+argv[1], err, out)
		}
	}
	return nil
}

// apiserverLogMax is the size over which `system start` moves the detached
// apiserver's log to <log>.1 before starting it (the running server holds
// its descriptor, so the log is rotated between runs).
const apiserverLogMax = 10 << 20

// startDetached starts the apiserver in its own session with its output
// appended to <log-root>/apiserver.log (rotated first when over
// apiserverLogMax) and waits until it is ready. A
// server that does not come up is killed, and the error carries its log.
func (a *App) startDetached(ctx context.Context, r roots, sock, bin string, args []string, timeout time.Duration) error {
	if err := os.MkdirAll(r.Log, 0o755); err != nil {
		return fmt.Errorf("create log root: %w", err)
	}
	logPath := filepath.Join(r.Log, logFileName)
	if err := plugins.RotateLog(logPath, apiserverLogMax); err != nil {
		fmt.Fprintf(a.Stderr, "warning: rotate apiserver log: %v\n", err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open apiserver log: %w", err)
	}
	defer logf.Close()
	var offset int64
	if fi, err := logf.Stat(); err == nil {
		offset = fi.Size()
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()

	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	if err := a.waitReady(ctx, sock, timeout, exited); err != nil {
		select {
		case <-exited:
			err = fmt.Errorf("apiserver exited before it was ready: %v: %w", waitErr, errdefs.ErrUnavailable)
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if tail := tailFile(logPath, offset, 20); tail != "" {
			return fmt.Errorf("%w\napiserver log (%s):\n%s", err, logPath, tail)
		}
		return err
	}
	return nil
}

// waitReady polls the socket until the apiserver reports SERVING, the
// timeout passes, or (when exited is not nil) exited is closed.
func (a *App) waitReady(ctx context.Context, sock string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if err := probeSocket(ctx, sock); err == nil {
			if last = a.healthy(ctx, sock, 2*time.Second); last == nil {
				return nil
			}
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("apiserver not ready after %s: %v: %w", timeout, last, errdefs.ErrUnavailable)
		}
		select {
		case <-exited:
			return fmt.Errorf("apiserver exited before it was ready: %w", errdefs.ErrUnavailable)
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// healthy dials sock and waits up to timeout for the health service to
// report SERVING.
func (a *App) healthy(ctx context.Context, sock string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := dial(ctx, sock)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.WaitReady(ctx)
}

// journalTail is the unit's last n journal lines, for errors.
func journalTail(ctx context.Context, n int) string {
	out, _ := exec.CommandContext(ctx, "journalctl", "-u", unitName, "-n", fmt.Sprint(n), "--no-pager").CombinedOutput()
	return string(out)
}
