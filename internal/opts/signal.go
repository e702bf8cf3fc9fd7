package opts

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth/container/errdefs"
	"golang.org/x/sys/unix"
)

// ParseSignal parses "SIGTERM", "TERM", "term", "15", "RTMIN+1" or
// "SIGRTMAX-2". Numbers must be 1 to 64.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %q: out of range: %w", s, errdefs.ErrInvalidArgument)
		}
		return syscall.Signal(n), nil
	}
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	if sig := unix.SignalNum(u); sig != 0 {
		return sig, nil
	}
	if strings.HasPrefix(u, "SIGRTMIN+") || strings.HasPrefix(u, "SIGRTMAX-") {
		n, err := strconv.Atoi(u[9:])
		if err == nil && n >= 0 && n <= 30 {
			if u[6] == 'I' {
				return syscall.Signal(34 + n), nil
			}
			return syscall.Signal(64 - n), nil
		}
	}
	return 0, fmt.Errorf("signal %q: unknown: %w", s, errdefs.ErrInvalidArgument)
}
