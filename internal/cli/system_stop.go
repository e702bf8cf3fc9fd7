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
)

func (a *App) newSystemStopCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the apiserver (containers keep running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.systemStop(cmd.Context(), time.Duration(timeout)*time.Second)
		},
	}
	cmd.Flags().IntVar(&timeout, "timeout", 30, "seconds to wait for a graceful stop before SIGKILL")
	return cmd
}

func (a *App) systemStop(ctx context.Context, timeout time.Duration) error {
	sock := socketPath(a.Host)
	if unitServes(sock) {
		if out, err := exec.CommandContext(ctx, "systemctl", "stop", unitName).CombinedOutput(); err != nil {
			return fmt.Errorf("systemctl stop %s: %v: %s", unitName, err, out)
		}
		fmt.Fprintln(a.Stdout, "apiserver stopped")
		return nil
	}

	pid, state := a.findApiserver(ctx, sock)
	if pid == 0 {
		cleanupStale(ctx, sock, state)
		fmt.Fprintf(a.Stdout, "apiserver is not running at %s\n", sock)
		return nil
	}
	if err := signalProcess(pid, syscall.SIGTERM); err != nil {
		return err
	}
	if !waitGone(ctx, pid, timeout) {
		fmt.Fprintf(a.Stderr, "apiserver (pid %d) did not stop within %s; killing it\n", pid, timeout)
		// The detached apiserver leads its own process group; take any
		// helper left in it along. Per-container supervisors run in their
		// own sessions and are not touched.
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if err := signalProcess(pid, syscall.SIGKILL); err != nil {
			return err
		}
		if !waitGone(ctx, pid, 5*time.Second) {
			return fmt.Errorf("apiserver (pid %d) still running after SIGKILL: %w", pid, errdefs.ErrFailedPrecondition)
		}
	}
	cleanupStale(ctx, sock, state)
	fmt.Fprintln(a.Stdout, "apiserver stopped")
	return nil
}

// findApiserver returns the pid of the apiserver serving sock and its
// state root. It asks the server itself, then falls back to the pid file
// and the lock file in the state root; a pid is trusted only if it is a
// live container-apiserver process.
func (a *App) findApiserver(ctx context.Context, sock string) (pid int, state string) {
	state = stateRootFromEnv()
	if filepath.Base(sock) == socketName && os.Getenv("CONTAINER_STATE_ROOT") == "" {
		state = filepath.Dir(sock)
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if c, err := dial(sctx, sock); err == nil {
		st, err := c.Status(sctx)
		c.Close()
		if err == nil {
			if st.StateRoot != "" {
				state = st.StateRoot
			}
			if isApiserver(st.PID) {
				return st.PID, state
			}
		}
	}
	for _, name := range []string{pidFileName, "apiserver.lock"} {
		if p := readPidFile(filepath.Join(state, name)); isApiserver(p) {
			return p, state
		}
	}
	return 0, state
}

// cleanupStale removes the socket and pid file a dead apiserver left. A
// socket something still listens on, and a pid file naming a live
// apiserver (another one's, when --host points elsewhere), are left alone.
func cleanupStale(ctx context.Context, sock, state string) {
	if err := probeSocket(ctx, sock); isNotRunning(err) {
		_ = os.Remove(sock)
	}
	pidFile := filepath.Join(state, pidFileName)
	if !isApiserver(readPidFile(pidFile)) {
		_ = os.Remove(pidFile)
	}
}
