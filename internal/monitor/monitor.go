// Package monitor is container-runtime-monitor, the hibernated form of a
// per-container supervisor (internal/supervisor). A supervisor that has
// nothing to do but wait for its container execs this small program in its
// own process (same pid, session, child-subreaper flag, children and the
// fds it hands over):
//
//	container-runtime-monitor --id ID --log PATH [--log-max-size N] [--log-max-files N]
//	    --listen FD --pidfd FD [--stdout FD] [--stderr FD] -- RESUME-ARGV...
//
// It copies the container's output into its json-file log exactly as the
// supervisor does (internal/ctrlog), and execs RESUME-ARGV (the supervisor
// in its resume mode) as soon as the supervisor socket's listening fd is
// readable (a client connects; the connection waits in the backlog) or the
// container's init exits (its pidfd is readable; the monitor never reaps:
// the resumed supervisor does, and records the exit). Every fd it was
// given stays open across that exec; the output copiers first record a
// partial line they hold as an entry of its own.
//
// It imports no gRPC, protobuf or net, and uses os/signal only to ignore
// signals (no Notify, so no signal loop): a Go process with them costs
// ≈ 2.7 MiB of PSS, this one ≈ 0.7 MiB.
package monitor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/berth/container/internal/ctrlog"
	"golang.org/x/sys/unix"
)

// Config is the command line.
type Config struct {
	ID          string
	Log         string
	LogMaxSize  int64
	LogMaxFiles int
	Listen      int // the supervisor socket's listening fd
	Pidfd       int // a pidfd of the container's init
	Stdout      int // output fds, -1 for none
	Stderr      int
	// Resume is the argv exec'd on wake-up; Resume[0] is a path.
	Resume []string
}

// Main runs the monitor and returns only on a usage or exec error.
func Main(args []string, stderr io.Writer) int {
	cfg, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 2
	}
	debug.SetGCPercent(20)
	// As the supervisor: a running container's supervisor is not stopped
	// by SIGTERM or SIGINT (ignored dispositions survive the exec back).
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
	if err := Run(cfg); err != nil {
		fmt.Fprintf(stderr, "Error: container-runtime-monitor %s: %v\n", cfg.ID, err)
		return 1
	}
	return 0
}

func parse(args []string) (Config, error) {
	cfg := Config{Listen: -1, Pidfd: -1, Stdout: -1, Stderr: -1}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			cfg.Resume = args[i+1:]
			break
		}
		if i+1 >= len(args) {
			return cfg, fmt.Errorf("flag %s: no value", a)
		}
		v := args[i+1]
		i++
		var err error
		switch a {
		case "--id":
			cfg.ID = v
		case "--log":
			cfg.Log = v
		case "--log-max-size":
			cfg.LogMaxSize, err = strconv.ParseInt(v, 10, 64)
		case "--log-max-files":
			cfg.LogMaxFiles, err = strconv.Atoi(v)
		case "--listen":
			cfg.Listen, err = strconv.Atoi(v)
		case "--pidfd":
			cfg.Pidfd, err = strconv.Atoi(v)
		case "--stdout":
			cfg.Stdout, err = strconv.Atoi(v)
		case "--stderr":
			cfg.Stderr, err = strconv.Atoi(v)
		default:
			return cfg, fmt.Errorf("unknown flag %q", a)
		}
		if err != nil {
			return cfg, fmt.Errorf("flag %s: %w", a, err)
		}
	}
	if cfg.Log == "" || cfg.Listen < 0 || cfg.Pidfd < 0 || len(cfg.Resume) == 0 {
		return cfg, errors.New("usage: container-runtime-monitor --id ID --log PATH --listen FD --pidfd FD [--stdout FD] [--stderr FD] -- RESUME-ARGV")
	}
	return cfg, nil
}

// Run copies output until a wake-up, then execs cfg.Resume. It returns
// only on error.
func Run(cfg Config) error {
	w, err := ctrlog.NewWriter(cfg.Log, cfg.LogMaxSize, cfg.LogMaxFiles)
	if err != nil {
		return err
	}
	var copies sync.WaitGroup
	var outputs []*os.File
	for _, o := range []struct {
		fd     int
		stream string
	}{{cfg.Stdout, ctrlog.Stdout}, {cfg.Stderr, ctrlog.Stderr}} {
		if o.fd < 0 {
			continue
		}
		// Non-blocking, the file is pollable: a read deadline stops its
		// copier without closing the fd.
		if err := unix.SetNonblock(o.fd, true); err != nil {
			return fmt.Errorf("%s fd %d: %w", o.stream, o.fd, err)
		}
		f := os.NewFile(uintptr(o.fd), o.stream)
		outputs = append(outputs, f)
		copies.Add(1)
		go func() {
			defer copies.Done()
			if err := w.Copy(o.stream, eofReader{f}); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				fmt.Fprintf(os.Stderr, "container-runtime-monitor %s: copy %s: %v\n", cfg.ID, o.stream, err)
			}
		}()
	}
	if err := waitReadable(cfg.Listen, cfg.Pidfd); err != nil {
		return err
	}
	past := time.Unix(1, 0)
	for _, f := range outputs {
		_ = f.SetReadDeadline(past)
	}
	copies.Wait()
	_ = w.Close()
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if len(e) < 11 || e[:11] != "GOMAXPROCS=" {
			env = append(env, e)
		}
	}
	err = syscall.Exec(cfg.Resume[0], cfg.Resume, env)
	for _, f := range outputs {
		runtime.KeepAlive(f) // the fds must outlive the exec, not the File's finalizer
	}
	return fmt.Errorf("exec %s: %w", cfg.Resume[0], err)
}

// eofReader reads a terminal's EIO (its slave side closed) as EOF.
type eofReader struct{ r io.Reader }

func (e eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

// waitReadable blocks until one of fds is readable (or hung up).
func waitReadable(fds ...int) error {
	pfds := make([]unix.PollFd, len(fds))
	for i, fd := range fds {
		pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	}
	for {
		n, err := unix.Poll(pfds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
}
