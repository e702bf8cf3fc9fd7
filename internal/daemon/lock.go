package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/container/errdefs"
)

// stateLock is the exclusive flock on <state>/apiserver.lock. The holder's
// pid is written into the file so that a second instance can name it.
type stateLock struct {
	f *os.File
}

// lockState takes the lock at path without waiting. If another process
// holds it, the error (kind ErrAlreadyExists) names that process's pid.
func lockState(path string) (*stateLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			if pid := holderPID(path); pid > 0 {
				return nil, fmt.Errorf("another container-apiserver (pid %d) holds %s: %w", pid, path, errdefs.ErrAlreadyExists)
			}
			return nil, fmt.Errorf("another container-apiserver holds %s: %w", path, errdefs.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}
	return &stateLock{f: f}, nil
}

// holderPID reads the pid the holder wrote; the holder may be between
// taking the lock and writing it, so it retries briefly.
func holderPID(path string) int {
	for range 20 {
		data, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// release drops the lock. The file stays: removing it would race with a
// new instance that already opened it.
func (l *stateLock) release() error {
	return l.f.Close()
}
