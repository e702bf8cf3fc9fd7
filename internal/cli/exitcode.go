package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth/container/errdefs"
)

// ExitError makes Main exit with Code without printing anything: the
// command has already said what there is to say (a CLI plugin's exit code,
// `run` passing on its container's).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// usageError is a mistake in how the command was called.
type usageError struct {
	err     error
	command string // the command path whose --help to suggest
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return errdefs.ErrInvalidArgument }

// runError is an error that ended `run` (or `exec`) before its program
// ran (see runFailed, execFailed).
type runError struct {
	err   error
	other int // the code when the program was found and invocable
}

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// code is docker's exit code for a failed run or exec: 127 when the
// command was not found, 126 when it could not be invoked, else e.other
// (125 for run: the CLI or the daemon failed). The runtime's error says
// which ("exec: "CMD": ...").
func (e *runError) code() int {
	msg := e.err.Error()
	i := strings.Index(msg, `exec: "`)
	if i < 0 {
		return e.other
	}
	switch msg = msg[i:]; {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"), strings.Contains(msg, "exec format error"):
		return 126
	}
	return e.other
}

// runFailed marks err, returned by `run`, as a failure of the run itself
// rather than the container's exit code (an ExitError, passed on as is).
func runFailed(err error) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &runError{err: err, other: 125}
}

// execFailed is runFailed for `exec`, whose other failures exit 1.
func execFailed(err error) error {
	if err == nil {
		return nil
	}
	return &runError{err: err, other: 1}
}

// exitCode prints err as `Error: <message>` on stderr and returns the
// process exit code: 0 for nil, the code of an ExitError, 125-127 for a
// failed run or exec (runError), 1 otherwise. It is the one place that turns
// errors into exit codes.
func (a *App) exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	a.debugf("error kind: %s (%T)", errorKind(err), err)
	fmt.Fprintf(a.Stderr, "Error: %s\n", errorMessage(err))
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.Stderr, "Run '%s --help' for usage.\n", cmp.Or(ue.command, "container"))
	}
	var re *runError
	if errors.As(err, &re) {
		return re.code()
	}
	return 1
}

// errorMessage is the one-line text for err, with a hint for the kinds a
// user can do something about.
func errorMessage(err error) string {
	msg := stripRPC(err.Error())
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		if !strings.Contains(msg, "deadline") && !strings.Contains(msg, "timed out") {
			msg += ": timed out"
		}
	case errors.Is(err, context.Canceled):
		msg = "canceled"
	case errdefs.IsNotImplemented(err) && (strings.HasPrefix(msg, "unknown service ") || strings.HasPrefix(msg, "unknown method ")):
		// The server predates this call.
		msg = "the apiserver does not support this request (" + msg + "); is it older than this CLI?"
	case isNoAccess(err):
		msg += " (run as root or as a member of group \"container\")"
	case isNotRunning(err):
		msg += " (start it with `container system start`)"
	}
	return msg
}

// stripRPC removes transport jargon ("rpc error: code = X desc = ") that
// might reach us from a library that did not map its error.
func stripRPC(msg string) string {
	for {
		i := strings.Index(msg, "rpc error: code = ")
		if i < 0 {
			return msg
		}
		j := strings.Index(msg[i:], "desc = ")
		if j < 0 {
			return msg
		}
		msg = msg[:i] + msg[i+j+len("desc = "):]
	}
}

// isNotRunning reports whether err says that no apiserver listens.
func isNotRunning(err error) bool {
	var ce *connectError
	return errors.As(err, &ce) && ce.notRunning
}

// isNoAccess reports whether err says the socket refused us.
func isNoAccess(err error) bool {
	var ce *connectError
	return errors.As(err, &ce) && errdefs.IsPermissionDenied(ce.kind)
}

// errorKind names err's errdefs kind, for --debug.
func errorKind(err error) string {
	for _, k := range []error{errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrInvalidArgument,
		errdefs.ErrFailedPrecondition, errdefs.ErrUnavailable, errdefs.ErrNotImplemented,
		errdefs.ErrPermissionDenied, errdefs.ErrInternal, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "unknown"
}
