package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/plugins"
)

// installRoot is the install root the CLI itself runs from:
// CONTAINER_INSTALL_ROOT, else the parent of this binary's bin/.
func installRoot() (string, error) {
	if r := os.Getenv("CONTAINER_INSTALL_ROOT"); r != "" {
		return r, nil
	}
	return defaultInstallRoot()
}

// runPlugin runs the CLI plugin called name with args, as
// `container NAME ARGS...`, and passes its exit code on. A name that is
// neither a command nor a CLI plugin is an unknown command.
func (a *App) runPlugin(ctx context.Context, name string, args []string) error {
	root, err := installRoot()
	if err != nil {
		return err
	}
	p, err := plugins.DiscoverOne(root, name)
	switch {
	case errdefs.IsNotFound(err):
		return unknownCommand(name)
	case err != nil:
		return err
	case p.Broken:
		return fmt.Errorf("plugin %q is broken: %s: %w", name, p.Error, errdefs.ErrFailedPrecondition)
	case !p.CLI():
		return fmt.Errorf("plugin %q is a service plugin, not a command: %w", name, errdefs.ErrInvalidArgument)
	}

	cmd := exec.CommandContext(ctx, p.Binary, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.Stdin, a.Stdout, a.Stderr
	cmd.Env = append(os.Environ(), "CONTAINER_HOST="+a.Host, "CONTAINER_INSTALL_ROOT="+root)
	// The terminal sends SIGINT to the plugin too; pass on what is sent to
	// us alone, and stay alive to report the plugin's exit code.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run plugin %q: %w", name, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				if s != syscall.SIGINT {
					_ = cmd.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: 128 + int(ws.Signal())}
		}
		return &ExitError{Code: ee.ExitCode()}
	}
	return fmt.Errorf("run plugin %q: %w", name, err)
}
