package runc

import (
	"fmt"
	"io"
	"os"
	"os/exec"

	gorunc "github.com/containerd/go-runc"
)

var _ gorunc.IO = (*PipeIO)(nil)

// PipeIO gives a container pipes for stdout and stderr and /dev/null (or a
// pipe, when stdin is kept open) for stdin. It implements go-runc's IO and
// StartCloser: the container's ends are closed once runc has started.
type PipeIO struct {
	stdinR, stdinW   *os.File
	stdoutR, stdoutW *os.File
	stderrR, stderrW *os.File
}

// NewPipeIO makes the pipes; the container's ends are owned by uid:gid so
// the process can reopen /proc/self/fd/1.
func NewPipeIO(uid, gid int, stdin bool) (_ *PipeIO, retErr error) {
	p := &PipeIO{}
	defer func() {
		if retErr != nil {
			p.Close()
		}
	}()
	var err error
	if stdin {
		if p.stdinR, p.stdinW, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("stdin pipe: %w", err)
		}
	} else if p.stdinR, err = os.Open(os.DevNull); err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	if p.stdoutR, p.stdoutW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	if p.stderrR, p.stderrW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	for _, f := range []*os.File{p.stdoutW, p.stderrW} {
		if err := f.Chown(uid, gid); err != nil {
			return nil, fmt.Errorf("chown stdio pipe: %w", err)
		}
	}
	if stdin {
		if err := p.stdinR.Chown(uid, gid); err != nil {
			return nil, fmt.Errorf("chown stdio pipe: %w", err)
		}
	}
	return p, nil
}

// PipeIOFromFiles is the supervisor's side of a container's pipes made
// earlier (by a supervisor that exec'd since): stdinW may be nil.
func PipeIOFromFiles(stdinW, stdoutR, stderrR *os.File) *PipeIO {
	return &PipeIO{stdinW: stdinW, stdoutR: stdoutR, stderrR: stderrR}
}

// StdoutReader is the read end of the container's stdout.
func (p *PipeIO) StdoutReader() *os.File { return p.stdoutR }

// StderrReader is the read end of the container's stderr.
func (p *PipeIO) StderrReader() *os.File { return p.stderrR }

// StdinWriter is the write end of stdin, nil unless stdin was kept open.
func (p *PipeIO) StdinWriter() *os.File { return p.stdinW }

// Close closes every end still open.
func (p *PipeIO) Close() error {
	for _, f := range []*os.File{p.stdinR, p.stdinW, p.stdoutR, p.stdoutW, p.stderrR, p.stderrW} {
		if f != nil {
			f.Close()
		}
	}
	return nil
}

// CloseAfterStart closes the container's ends.
func (p *PipeIO) CloseAfterStart() error {
	for _, f := range []*os.File{p.stdinR, p.stdoutW, p.stderrW} {
		if f != nil {
			f.Close()
		}
	}
	return nil
}

// Set makes the pipes cmd's stdio.
func (p *PipeIO) Set(cmd *exec.Cmd) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.stdinR, p.stdoutW, p.stderrW
}

// The gorunc.IO accessors; the supervisor uses the *os.File ones above.
func (p *PipeIO) Stdin() io.WriteCloser { return p.stdinW }
func (p *PipeIO) Stdout() io.ReadCloser { return p.stdoutR }
func (p *PipeIO) Stderr() io.ReadCloser { return p.stderrR }
