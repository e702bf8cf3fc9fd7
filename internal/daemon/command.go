package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/logging"
	"github.com/berth/container/internal/version"
)

// Defaults returns the roots from the environment and PRODUCT.md's
// defaults: CONTAINER_APP_ROOT (/var/lib/container), CONTAINER_STATE_ROOT
// (/run/container), socket <state>/apiserver.sock, CONTAINER_LOG_ROOT
// (<root>/logs), CONTAINER_INSTALL_ROOT (the parent of the binary's bin/).
func Defaults() Config {
	c := Config{
		Root:        envOr("CONTAINER_APP_ROOT", "/var/lib/container"),
		State:       envOr("CONTAINER_STATE_ROOT", "/run/container"),
		LogRoot:     os.Getenv("CONTAINER_LOG_ROOT"),
		InstallRoot: os.Getenv("CONTAINER_INSTALL_ROOT"),
	}
	if c.InstallRoot == "" {
		if exe, err := os.Executable(); err == nil {
			if exe, err = filepath.EvalSymlinks(exe); err == nil {
				c.InstallRoot = filepath.Dir(filepath.Dir(exe))
			}
		}
	}
	return c
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

const usage = `usage: container-apiserver start [flags]

Runs the container API server in the foreground.

flags:
`

// Main runs `container-apiserver ARGS` and returns the exit code. ctx is
// cancelled by the caller on SIGTERM/SIGINT.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		newFlags(&Config{}, new(string), stdout).PrintDefaults()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "start":
	case "version", "--version":
		fmt.Fprintf(stdout, "container-apiserver %s (commit %s, built %s, %s)\n",
			version.Version, version.Commit, version.BuildDate, version.GoVersion())
		return 0
	default:
		fmt.Fprintf(stderr, "container-apiserver: unknown command %q (want start)\n", args[0])
		return 2
	}
	cfg := Defaults()
	var level string
	fs := newFlags(&cfg, &level, stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "container-apiserver start: unexpected arguments %q\n", fs.Args())
		return 2
	}
	lvl, err := logging.ParseLevel(level)
	if err != nil {
		fmt.Fprintf(stderr, "container-apiserver: %v\n", err)
		return 2
	}
	cfg.Log = logging.New(stderr, lvl)
	if err := cfg.complete(); err != nil {
		fmt.Fprintf(stderr, "container-apiserver: %v\n", err)
		return 2
	}
	if err := Run(ctx, cfg); err != nil {
		cfg.Log.Error("apiserver failed", "err", err)
		fmt.Fprintf(stderr, "container-apiserver: %v\n", err)
		return 1
	}
	cfg.Log.Info("apiserver stopped")
	return 0
}

func newFlags(cfg *Config, level *string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("container-apiserver start", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.Root, "root", cfg.Root, "persistent data root (CONTAINER_APP_ROOT)")
	fs.StringVar(&cfg.State, "state", cfg.State, "runtime state root (CONTAINER_STATE_ROOT)")
	fs.StringVar(&cfg.Socket, "socket", cfg.Socket, "unix socket to serve on (default <state>/apiserver.sock)")
	fs.StringVar(&cfg.LogRoot, "log-root", cfg.LogRoot, "directory for plugin logs (CONTAINER_LOG_ROOT, default <root>/logs)")
	fs.StringVar(&cfg.InstallRoot, "install-root", cfg.InstallRoot, "install tree holding libexec/container/plugins (CONTAINER_INSTALL_ROOT)")
	fs.StringVar(level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.ConfigFile, "config", "", "config file read before the user and system config files")
	return fs
}

// complete fills derived defaults and makes every path absolute.
func (c *Config) complete() error {
	if c.Root == "" || c.State == "" {
		return fmt.Errorf("--root and --state must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	if c.Socket == "" {
		c.Socket = filepath.Join(c.State, "apiserver.sock")
	}
	if c.LogRoot == "" {
		c.LogRoot = filepath.Join(c.Root, "logs")
	}
	for _, p := range []*string{&c.Root, &c.State, &c.Socket, &c.LogRoot, &c.InstallRoot, &c.ConfigFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("path %q: %w", *p, err)
		}
		*p = abs
	}
	if len(c.Socket) >= 108 {
		return fmt.Errorf("socket path %s is %d bytes, the limit is 107: %w", c.Socket, len(c.Socket), errdefs.ErrInvalidArgument)
	}
	return nil
}
