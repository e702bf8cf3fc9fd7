package supervisor

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth/container/errdefs"
)

// hibernateEnv sets the default of serve --hibernate-after.
const hibernateEnv = "CONTAINER_SUPERVISOR_HIBERNATE_AFTER"

// Main runs the supervisor binary's command line and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: container-runtime-linux serve|init ...")
		return 2
	}
	switch args[0] {
	case "init":
		return Init(args[1:], stderr)
	case "serve":
		var cfg Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.StringVar(&cfg.ID, "id", "", "container id")
		fs.StringVar(&cfg.Bundle, "bundle", "", "bundle directory (<root>/containers/<id>)")
		fs.StringVar(&cfg.State, "state", "", "state directory (<state>/containers/<id>)")
		fs.StringVar(&cfg.Runtime, "runtime", "runc", "OCI runtime binary")
		fs.StringVar(&cfg.RuntimeRoot, "runtime-root", "", "OCI runtime state root")
		fs.BoolVar(&cfg.Idle, "idle", false, "wait without a container for Adopt (idle.go)")
		fs.StringVar(&cfg.StateRoot, "state-root", "", "the apiserver's state dir (with --idle)")
		fs.IntVar(&cfg.LifelineFD, "lifeline-fd", 0, "with --idle: exit when this pipe reads EOF")
		fs.DurationVar(&cfg.HibernateAfter, "hibernate-after", 0, "hibernate after serving nothing but Wait for this long (0: never)")
		fs.BoolVar(&cfg.Resume, "resume", false, "resume a hibernated supervisor (exec'd by "+MonitorBinary+")")
		fs.BoolVar(&cfg.Foreground, "foreground", false, "do not daemonize (debugging)")
		if v := os.Getenv(hibernateEnv); v != "" {
			// The apiserver's setting (the flag wins): "0" never.
			d, err := time.ParseDuration(v)
			if err != nil {
				fmt.Fprintf(stderr, "Error: %s=%q: not a duration: %v\n", hibernateEnv, v, errdefs.ErrInvalidArgument)
				return 2
			}
			cfg.HibernateAfter = d
		}
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if err := cfg.validate(); err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 2
		}
		return Serve(cfg, stderr)
	default:
		fmt.Fprintf(stderr, "Error: unknown command %q\n", args[0])
		return 2
	}
}
