package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/container/errdefs"
)

// Defaults from PRODUCT.md; each has an environment override.
const (
	defaultAppRoot   = "/var/lib/container"
	defaultStateRoot = "/run/container"
	socketName       = "apiserver.sock"
	pidFileName      = "apiserver.pid"
	logFileName      = "apiserver.log"
	apiserverBinary  = "container-apiserver"
)

// defaultHost is the socket the CLI talks to unless --host is given:
// $CONTAINER_HOST, else <state>/apiserver.sock.
func defaultHost() string {
	if h := os.Getenv("CONTAINER_HOST"); h != "" {
		return h
	}
	return filepath.Join(stateRootFromEnv(), socketName)
}

func stateRootFromEnv() string {
	if s := os.Getenv("CONTAINER_STATE_ROOT"); s != "" {
		return s
	}
	return defaultStateRoot
}

// socketPath turns a --host value (a path or unix:///path) into a path.
func socketPath(host string) string {
	return strings.TrimPrefix(host, "unix://")
}

// roots are the directories the apiserver runs with.
type roots struct {
	App, State, Log, Install string
}

// rootFlags are the flags `system start|stop|logs` share to choose roots.
type rootFlags struct {
	app, log, install string
}

func (f *rootFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.app, "app-root", "", "persistent data root (env CONTAINER_APP_ROOT, default "+defaultAppRoot+")")
	cmd.Flags().StringVar(&f.install, "install-root", "", "installation root holding bin/ and libexec/ (env CONTAINER_INSTALL_ROOT, default: parent of this binary's bin/)")
	cmd.Flags().StringVar(&f.log, "log-root", "", "log directory (env CONTAINER_LOG_ROOT, default <app-root>/logs)")
}

// resolve applies flags, then environment, then defaults, and makes every
// root absolute.
func (f *rootFlags) resolve() (roots, error) {
	r := roots{
		App:     first(f.app, os.Getenv("CONTAINER_APP_ROOT"), defaultAppRoot),
		State:   stateRootFromEnv(),
		Install: first(f.install, os.Getenv("CONTAINER_INSTALL_ROOT")),
	}
	r.Log = first(f.log, os.Getenv("CONTAINER_LOG_ROOT"), filepath.Join(r.App, "logs"))
	if r.Install == "" {
		ir, err := defaultInstallRoot()
		if err != nil {
			return roots{}, err
		}
		r.Install = ir
	}
	for _, p := range []*string{&r.App, &r.State, &r.Log, &r.Install} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return roots{}, fmt.Errorf("root %q: %w", *p, errdefs.ErrInvalidArgument)
		}
		*p = abs
	}
	return r, nil
}

// defaultInstallRoot is the parent of the directory holding this binary
// (…/bin/container → …).
func defaultInstallRoot() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("locate container binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Dir(filepath.Dir(exe)), nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
