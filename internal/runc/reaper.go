package runc

import (
	"errors"
	"os/exec"
	"sync"
	"time"

	gorunc "github.com/containerd/go-runc"
	"golang.org/x/sys/unix"
)

// Exit is one reaped process.
type Exit struct {
	Pid int
	// Status is the exit code, or 128+signal when killed by a signal.
	Status int
	// Signal that killed the process, 0 if it exited.
	Signal int
	Time   time.Time
}

// Reaper reaps every child of this process — the runc commands it starts
// and, because the supervisor is a child subreaper, the container's init
// once runc has exited — and hands each exit to whoever waits for that pid.
// It must be the only caller of wait in the process: it implements
// go-runc's ProcessMonitor so go-runc's commands are waited through it.
type Reaper struct {
	mu      sync.Mutex
	waiters map[int]chan Exit
	// exited holds exits nobody waited for yet (an init that died before
	// its pid was known, orphans), pruned after a minute.
	exited map[int]Exit
}

// NewReaper returns a Reaper. The caller must call Reap on every SIGCHLD.
func NewReaper() *Reaper {
	return &Reaper{waiters: map[int]chan Exit{}, exited: map[int]Exit{}}
}

// Reap collects every exited child without blocking.
func (r *Reaper) Reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		e := Exit{Pid: pid, Time: time.Now()}
		switch {
		case ws.Exited():
			e.Status = ws.ExitStatus()
		case ws.Signaled():
			e.Signal = int(ws.Signal())
			e.Status = 128 + e.Signal
		default:
			continue // stopped or continued
		}
		r.deliver(e)
	}
}

func (r *Reaper) deliver(e Exit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.waiters[e.Pid]; ok {
		delete(r.waiters, e.Pid)
		ch <- e
		return
	}
	for pid, old := range r.exited {
		if e.Time.Sub(old.Time) > time.Minute {
			delete(r.exited, pid)
		}
	}
	r.exited[e.Pid] = e
}

// WaitPid returns a channel that receives pid's exit: at once if it has
// already been reaped (and not claimed), else when it is.
func (r *Reaper) WaitPid(pid int) <-chan Exit {
	ch := make(chan Exit, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.exited[pid]; ok {
		delete(r.exited, pid)
		ch <- e
		return ch
	}
	r.waiters[pid] = ch
	return ch
}

// Start implements gorunc.ProcessMonitor: it starts c with its exit
// registered before Reap can see it.
func (r *Reaper) Start(c *exec.Cmd) (chan gorunc.Exit, error) {
	r.mu.Lock()
	if err := c.Start(); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	ch := make(chan Exit, 1)
	r.waiters[c.Process.Pid] = ch
	r.mu.Unlock()
	out := make(chan gorunc.Exit, 1)
	go func() {
		e := <-ch
		out <- gorunc.Exit{Pid: e.Pid, Status: e.Status, Timestamp: e.Time}
		close(out)
	}()
	return out, nil
}

// StartLocked implements gorunc.ProcessMonitor.
func (r *Reaper) StartLocked(c *exec.Cmd) (chan gorunc.Exit, error) { return r.Start(c) }

// Wait implements gorunc.ProcessMonitor: it waits for the exit and then for
// c's output copying to finish.
func (r *Reaper) Wait(c *exec.Cmd, ec chan gorunc.Exit) (int, error) {
	e := <-ec
	_ = c.Wait() // the process is reaped already; this flushes c's I/O
	return e.Status, nil
}
