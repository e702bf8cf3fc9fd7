// Package cli is the `container` command tree.
//
// Each command lives in <noun>_<verb>.go and is a thin translation from
// flags to a call on client/ and from its result to text. The command tree
// is assembled in root.go; errors become `Error: <message>` and an exit code
// in exitcode.go, the only place that knows about exit codes. Commands
// return errors and never print them, exit or touch os.Stdout themselves:
// they write to App.Stdout and App.Stderr.
//
// The package reaches the apiserver only through client/; it never imports
// the daemon's packages.
//
// Writing a command: a constructor `func (a *App) newXxxCommand()
// *cobra.Command` in <noun>_<verb>.go, added with one line to commands() in
// root.go (top-level nouns and verbs set GroupID to one of the group
// constants there). Nouns with subcommands use newGroupCommand and carry
// their alias (image=i, network=n, volume=v, system=s, registry=r); list and
// delete verbs carry ls and rm. Inside RunE: a.Client(cmd.Context()) for a
// connected client (close it), listFlags + printList for list commands
// (--format table|json, -q), writeJSON(a.Stdout, v, true) for inspect, and
// &ExitError{Code: n} to exit with a code without printing an error (run).
package cli

import (
	"context"
	"io"
	"os"
)

// App is what every command gets: where to write, how to reach the
// apiserver, and the global flags.
type App struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Host is the apiserver's socket path (--host, CONTAINER_HOST).
	Host string
	// Debug turns on debug output (--debug).
	Debug bool
}

// Main runs the CLI with args (without the program name) and returns the
// process exit code. Only cmd/container calls os.Exit with it.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := &App{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr}
	return app.run(ctx, args)
}
