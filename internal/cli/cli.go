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
