package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"

	"github.com/berth/container/client"
)

// terminal is the user's terminal while a container's or process's
// pseudo-terminal is connected to it: raw mode on stdin, its size, and
// SIGWINCH turned into resizes.
type terminal struct {
	con    console.Console
	size   client.TermSize
	resize chan client.TermSize
	sigs   chan os.Signal
	done   chan struct{}
}

// openTerminal reads the size of the terminal on stdin (or else stdout)
// and, with raw and stdin a terminal, puts it into raw mode so keys such as
// Ctrl-C reach the remote terminal. Call restore when done. It never fails:
// without a terminal there is nothing to set up.
func (a *App) openTerminal(raw bool) *terminal {
	t := &terminal{resize: make(chan client.TermSize, 1), done: make(chan struct{})}
	for _, s := range []any{a.Stdin, a.Stdout} {
		f, ok := s.(*os.File)
		if !ok {
			continue
		}
		con, err := console.ConsoleFromFile(f)
		if err != nil {
			continue
		}
		if raw && s == a.Stdin {
			if err := con.SetRaw(); err == nil {
				t.con = con
				// The remote terminal already turns \n into \r\n;
				// console keeps OPOST on, docker's raw mode does not.
				if tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
					tio.Oflag &^= unix.OPOST
					_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio)
				}
			}
		}
		if ws, err := con.Size(); err == nil {
			t.size = client.TermSize{Width: ws.Width, Height: ws.Height}
			t.sigs = make(chan os.Signal, 1)
			signal.Notify(t.sigs, syscall.SIGWINCH)
			go t.watch(con)
		}
		break
	}
	return t
}

// raw reports whether the terminal is in raw mode.
func (t *terminal) raw() bool { return t.con != nil }

func (t *terminal) watch(con console.Console) {
	for {
		select {
		case <-t.sigs:
			if ws, err := con.Size(); err == nil {
				select {
				case t.resize <- client.TermSize{Width: ws.Width, Height: ws.Height}:
				default:
				}
			}
		case <-t.done:
			return
		}
	}
}

// restore ends raw mode and the SIGWINCH watch.
func (t *terminal) restore() {
	if t.sigs != nil {
		signal.Stop(t.sigs)
	}
	close(t.done)
	if t.con != nil {
		_ = t.con.Reset()
	}
}
