package supervisor

import (
	"flag"
	"fmt"
	"io"
)

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
		fs.BoolVar(&cfg.Foreground, "foreground", false, "do not daemonize (debugging)")
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
