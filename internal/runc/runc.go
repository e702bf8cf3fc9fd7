// Package runc drives the OCI runtime binary (runc, or crun) through
// containerd/go-runc for the supervisor, and reaps its children.
//
// go-runc waits for the commands it starts through a package-level
// ProcessMonitor; New installs the supervisor's Reaper there, because a
// child subreaper that calls wait4(-1) would otherwise steal those exits.
// A process therefore has at most one Runc.
//
// Errors from the runtime are translated here: "does not exist" becomes
// errdefs.ErrNotFound, and a failed create carries the runtime's own
// message from its log.
package runc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berth/container/errdefs"
	gorunc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Opt configures a Runc.
type Opt struct {
	// Command is the runtime binary; default "runc".
	Command string
	// Root is the runtime's state root (--root); empty for its default.
	Root string
	// Log is the runtime's JSON log file (--log).
	Log string
	// Reaper waits for the runtime's commands. Required.
	Reaper *Reaper
}

// Runc runs runtime commands for one container.
type Runc struct {
	r   *gorunc.Runc
	log string
}

// New returns a Runc and makes opt.Reaper go-runc's process monitor.
func New(opt Opt) *Runc {
	gorunc.Monitor = opt.Reaper
	cmd := opt.Command
	if cmd == "" {
		cmd = "runc"
	}
	// Resolve the binary once: os/exec otherwise walks $PATH (a stat per
	// entry) for every runtime command, on the hot path of Create.
	if abs, err := exec.LookPath(cmd); err == nil && filepath.IsAbs(abs) {
		cmd = abs
	}
	return &Runc{
		r:   &gorunc.Runc{Command: cmd, Root: opt.Root, Log: opt.Log, LogFormat: gorunc.JSON},
		log: opt.Log,
	}
}

// Create runs `runtime create` for bundle with io as the container's stdio
// (nil with a terminal: console then receives the pty master) and writes
// the init pid to pidFile.
func (r *Runc) Create(ctx context.Context, id, bundle, pidFile string, io gorunc.IO, console *gorunc.Socket) error {
	size := r.logSize()
	opts := &gorunc.CreateOpts{IO: io, PidFile: pidFile}
	if console != nil {
		opts.ConsoleSocket = console
	}
	err := r.r.Create(ctx, id, bundle, opts)
	if err != nil {
		return fmt.Errorf("runtime create: %s: %w", r.lastError(size, err), errdefs.ErrFailedPrecondition)
	}
	return nil
}

// Run runs `runtime run --detach`: Create and Start in one exec. The
// container is running when it returns; io's container-side ends are
// closed.
func (r *Runc) Run(ctx context.Context, id, bundle, pidFile string, io gorunc.IO, console *gorunc.Socket) error {
	size := r.logSize()
	opts := &gorunc.CreateOpts{IO: io, PidFile: pidFile, Detach: true}
	if console != nil {
		opts.ConsoleSocket = console
	}
	_, err := r.r.Run(ctx, id, bundle, opts)
	// go-runc's Run, unlike Create, leaves the child's ends open.
	if c, ok := io.(gorunc.StartCloser); ok {
		if cerr := c.CloseAfterStart(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("runtime run: %s: %w", r.lastError(size, err), errdefs.ErrFailedPrecondition)
	}
	return nil
}

// Exec runs p in the container, detached from runc, with io as its stdio
// (nil with a terminal: console then receives the pty master), and writes
// its pid to pidFile.
func (r *Runc) Exec(ctx context.Context, id string, p specs.Process, pidFile string, io gorunc.IO, console *gorunc.Socket) error {
	size := r.logSize()
	opts := &gorunc.ExecOpts{IO: io, PidFile: pidFile, Detach: true}
	if console != nil {
		opts.ConsoleSocket = console
	}
	err := r.r.Exec(ctx, id, p, opts)
	if err != nil {
		return r.wrap("exec", errors.New(r.lastError(size, err)))
	}
	return nil
}

// Start runs `runtime start`.
func (r *Runc) Start(ctx context.Context, id string) error {
	return r.wrap("start", r.r.Start(ctx, id))
}

// Kill sends sig to the container's init, or to all its processes.
func (r *Runc) Kill(ctx context.Context, id string, sig int, all bool) error {
	return r.wrap("kill", r.r.Kill(ctx, id, sig, &gorunc.KillOpts{All: all}))
}

// Delete runs `runtime delete` (with --force when force). A container the
// runtime does not know is ErrNotFound.
func (r *Runc) Delete(ctx context.Context, id string, force bool) error {
	return r.wrap("delete", r.r.Delete(ctx, id, &gorunc.DeleteOpts{Force: force}))
}

// RemoveStopped removes what runc keeps for a container whose init has
// exited and been reaped, without running `runc delete` (an exec, ≈ 5 ms):
// for a stopped container with a private pid namespace and no poststop
// hooks, that command only removes the container's cgroups, which the
// caller does, and <root>/<id>. It reports false, doing nothing, when the
// runtime is not runc or has no explicit root; the caller runs Delete then.
func (r *Runc) RemoveStopped(id string) (bool, error) {
	if filepath.Base(r.r.Command) != "runc" || r.r.Root == "" || id == "" || id == "." || id == ".." || strings.Contains(id, "/") {
		return false, nil
	}
	if err := os.RemoveAll(filepath.Join(r.r.Root, id)); err != nil {
		return true, fmt.Errorf("remove runtime state of %q: %w", id, err)
	}
	return true, nil
}

func (r *Runc) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(err.Error())
	switch {
	case strings.Contains(msg, "does not exist"), strings.Contains(msg, "not found"):
		return fmt.Errorf("runtime %s: %s: %w", op, msg, errdefs.ErrNotFound)
	case strings.Contains(msg, "not running"), strings.Contains(msg, "process already finished"),
		strings.Contains(msg, "cannot start"), strings.Contains(msg, "is not stopped"):
		return fmt.Errorf("runtime %s: %s: %w", op, msg, errdefs.ErrFailedPrecondition)
	}
	return fmt.Errorf("runtime %s: %s", op, msg)
}

func (r *Runc) logSize() int64 {
	fi, err := os.Stat(r.log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// lastError returns the last error message the runtime logged after
// offset, or err's text.
func (r *Runc) lastError(offset int64, err error) string {
	msg := err.Error()
	f, ferr := os.Open(r.log)
	if ferr != nil {
		return msg
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return msg
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &l) == nil && (l.Level == "error" || l.Level == "fatal") && l.Msg != "" {
			msg = l.Msg
		}
	}
	return msg
}
