// Package bundle owns the layout of a container's bundle directory,
// <root>/containers/<id>, and the exit status file inside it.
//
// The bundle holds config.json (the OCI spec), rootfs/ (the mount point of
// the container's root filesystem), exit.json (written once by the
// supervisor when the container exits), container.log (+ rotated
// container.log.N) and the files bind-mounted into the container
// (resolv.conf, hosts, hostname).
//
// exit.json is written atomically (temporary file, fsync, rename, fsync of
// the directory), so a reader sees either nothing or a whole record. A record
// that does not parse is reported as an error; it is never deleted here.
package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth/container/errdefs"
)

// File names inside a bundle.
const (
	ConfigFile   = "config.json"
	RootfsDir    = "rootfs"
	ExitFile     = "exit.json"
	LogFile      = "container.log"
	ResolvFile   = "resolv.conf"
	HostsFile    = "hosts"
	HostnameFile = "hostname"
)

// Bundle is the bundle directory of one container.
type Bundle struct {
	// Dir is the absolute path of the bundle, <root>/containers/<id>.
	Dir string
}

// New returns the bundle of container id under root (the app root).
func New(root, id string) Bundle {
	return Bundle{Dir: filepath.Join(root, "containers", id)}
}

// Config is the path of config.json.
func (b Bundle) Config() string { return filepath.Join(b.Dir, ConfigFile) }

// Rootfs is the path where the container's root filesystem is mounted.
func (b Bundle) Rootfs() string { return filepath.Join(b.Dir, RootfsDir) }

// Exit is the path of exit.json.
func (b Bundle) Exit() string { return filepath.Join(b.Dir, ExitFile) }

// Log is the path of the current container log file.
func (b Bundle) Log() string { return filepath.Join(b.Dir, LogFile) }

// Path returns the path of name inside the bundle.
func (b Bundle) Path(name string) string { return filepath.Join(b.Dir, name) }

// ExitStatus is how a container's init process ended.
type ExitStatus struct {
	// Code is the exit code; 128+Signal when killed by a signal.
	Code int `json:"code"`
	// Signal is the signal that killed the process, 0 if it exited.
	Signal int `json:"signal,omitempty"`
	// ExitedAt is when the supervisor reaped the process.
	ExitedAt time.Time `json:"exited_at"`
	// OOMKilled reports that the cgroup's OOM killer fired.
	OOMKilled bool `json:"oom_killed,omitempty"`
}

// maxExitFile bounds what ReadExit reads; a real record is under 200 bytes.
const maxExitFile = 64 << 10

// WriteExit records st in the bundle atomically.
func (b Bundle) WriteExit(st ExitStatus) error { return b.writeExit(st, true) }

// WriteExitVolatile records st in the bundle atomically but without the
// fsyncs: for a container thrown away after it runs (its rootfs is a
// volatile overlay), whose exit record need not survive a host crash.
func (b Bundle) WriteExitVolatile(st ExitStatus) error { return b.writeExit(st, false) }

func (b Bundle) writeExit(st ExitStatus, durable bool) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode exit status: %w", err)
	}
	return writeFileAtomic(b.Exit(), append(data, '\n'), 0o644, durable)
}

// ReadExit reads exit.json. It returns an ErrNotFound error when the
// container has no recorded exit and an ErrInvalidArgument error when the
// file does not parse.
func (b Bundle) ReadExit() (ExitStatus, error) {
	f, err := os.Open(b.Exit())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ExitStatus{}, fmt.Errorf("exit status in %q: %w", b.Dir, errdefs.ErrNotFound)
		}
		return ExitStatus{}, fmt.Errorf("read exit status: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxExitFile+1)); err != nil {
		return ExitStatus{}, fmt.Errorf("read exit status: %w", err)
	}
	st, err := ParseExit(buf.Bytes())
	if err != nil {
		return ExitStatus{}, fmt.Errorf("exit status in %q: %w", b.Dir, err)
	}
	return st, nil
}

// ParseExit decodes an exit.json record. Errors are ErrInvalidArgument.
func ParseExit(data []byte) (ExitStatus, error) {
	if len(data) > maxExitFile {
		return ExitStatus{}, fmt.Errorf("exit record of %d bytes: %w", len(data), errdefs.ErrInvalidArgument)
	}
	var st ExitStatus
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return ExitStatus{}, fmt.Errorf("parse exit record: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if dec.More() {
		return ExitStatus{}, fmt.Errorf("parse exit record: trailing data: %w", errdefs.ErrInvalidArgument)
	}
	if st.Code < 0 || st.Code > 255 || st.Signal < 0 || st.Signal > 64 {
		return ExitStatus{}, fmt.Errorf("exit record code %d signal %d: %w", st.Code, st.Signal, errdefs.ErrInvalidArgument)
	}
	if st.ExitedAt.IsZero() {
		return ExitStatus{}, fmt.Errorf("exit record without exited_at: %w", errdefs.ErrInvalidArgument)
	}
	return st, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, fsyncs it, renames it into place and fsyncs the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm, true)
}

// writeFileAtomic is WriteFileAtomic, with the fsyncs only when durable.
func writeFileAtomic(path string, data []byte, perm os.FileMode, durable bool) (retErr error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %q: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if !durable {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %q: %w", dir, err)
	}
	return nil
}
