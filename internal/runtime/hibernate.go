package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	runtimev1 "github.com/berth/container/api/runtime/v1"
)

// A supervisor hibernates (internal/supervisor hibernate.go) once it has
// served nothing but Wait for a while: it execs a small monitor in its own
// process and comes back at the next connection to its socket or when the
// container exits. The apiserver must not pin it awake: a Wait it ends
// while hibernating carries the container init's pid
// (runtimev1.HibernatingTrailer), and Wait then waits without any RPC, on
// pidfds of the init and of the supervisor process, before calling Wait
// again (which wakes the supervisor, which reaps and reports the exit).

// DefaultHibernateAfter is how long a supervisor serves nothing but Wait
// before it hibernates. A hibernation and the wake-up after it cost two
// execs (≈ 50 ms of CPU on the slow machine of docs/ARCHITECTURE.md
// "Performance"): a container that lives a few seconds, or is polled every
// few seconds, would pay them for nothing.
const DefaultHibernateAfter = 5 * time.Second

// hibernateEnv passes the delay to the supervisor (a plugin that does not
// know it ignores it); "0" disables hibernation.
const hibernateEnv = "CONTAINER_SUPERVISOR_HIBERNATE_AFTER"

func (r *Runtime) hibernateEnv() string {
	if r.hibernateAfter < 0 {
		return hibernateEnv + "=0"
	}
	return hibernateEnv + "=" + r.hibernateAfter.String()
}

// hibernating returns the init pid a supervisor named when it ended a
// call because it hibernates (0: the call raced the hibernation; retry),
// and whether it did.
func hibernating(md metadata.MD) (int, bool) {
	v := md.Get(runtimev1.HibernatingTrailer)
	if len(v) == 0 {
		return 0, false
	}
	pid, _ := strconv.Atoi(v[0])
	return pid, true
}

// retryHibernating retries a call the supervisor refused because it was
// hibernating at that moment; the retry connects again, which wakes it.
func retryHibernating(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	for i := 0; ; i++ {
		var md metadata.MD
		err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Trailer(&md))...)
		if pid, ok := hibernating(md); err == nil || !ok || pid != 0 || !raceBackoff(ctx, i) {
			return err
		}
	}
}

// raceBackoff waits before attempt i+1 of a call that raced a
// hibernation (the handover takes a few ms); false when it gives up.
func raceBackoff(ctx context.Context, i int) bool {
	if i >= 8 {
		return false
	}
	select {
	case <-time.After(min(5*time.Millisecond<<i, 200*time.Millisecond)):
		return true
	case <-ctx.Done():
		return false
	}
}

// waitHibernated blocks until the hibernated supervisor of id or its
// container's init (pid) ends, or ctx is done. It returns at once when the
// init is already gone or is no longer the supervisor's child (pid reuse):
// the caller's next Wait finds out what happened.
func (r *Runtime) waitHibernated(ctx context.Context, id string, pid int) error {
	if pid <= 0 {
		return nil
	}
	sup := r.openSupervisor(id)
	if sup == nil {
		return nil
	}
	defer sup.close()
	initfd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil // reaped already: the supervisor is awake
	}
	initf := os.NewFile(uintptr(initfd), "init")
	defer initf.Close()
	// The pidfd pins pid; it is the container's init only if its parent
	// is the supervisor (which reaps nothing while hibernated).
	if ppid, err := parentPid(pid); err != nil || ppid != sup.pid {
		return nil
	}
	supfd, err := unix.Dup(sup.pidfd)
	if err != nil {
		return nil
	}
	if err := unix.SetNonblock(supfd, true); err != nil {
		unix.Close(supfd)
		return nil
	}
	supf := os.NewFile(uintptr(supfd), "supervisor")
	defer supf.Close()
	done := make(chan struct{}, 2)
	for _, f := range []*os.File{initf, supf} {
		go func() { waitReadable(f); done <- struct{}{} }()
	}
	pending := 2
	select {
	case <-done:
		pending--
	case <-ctx.Done():
	}
	past := time.Unix(1, 0)
	_ = initf.SetReadDeadline(past)
	_ = supf.SetReadDeadline(past)
	for ; pending > 0; pending-- {
		<-done
	}
	return context.Cause(ctx)
}

// waitReadable blocks, in the runtime's poller (no thread), until f is
// readable (a pidfd: its process exited) or f's read deadline passes.
func waitReadable(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	first := true
	_ = rc.Read(func(uintptr) bool {
		if first {
			first = false
			return false // wait for readiness once
		}
		return true
	})
}

// parentPid reads pid's parent from /proc/<pid>/stat.
func parentPid(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("bad stat of %d", pid)
	}
	return strconv.Atoi(f[1])
}
