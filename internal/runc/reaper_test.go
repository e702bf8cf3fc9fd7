package runc

import (
	"os"
	"os/exec"
	"os/signal"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func startReaping(t *testing.T, r *Reaper) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGCHLD)
	done := make(chan struct{})
	t.Cleanup(func() { signal.Stop(sigs); close(done) })
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-sigs:
			case <-tick.C:
			case <-done:
				return
			}
			r.Reap()
		}
	}()
}

func TestReaperMonitor(t *testing.T) {
	r := NewReaper()
	startReaping(t, r)

	// A command waited through the monitor gets its own status and output.
	cmd := exec.Command("/bin/sh", "-c", "echo hi; exit 7")
	var out []byte
	pr, pw, _ := os.Pipe()
	cmd.Stdout = pw
	ec, err := r.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	pw.Close()
	status, err := r.Wait(cmd, ec)
	out, _ = readAll(pr)
	if err != nil || status != 7 || string(out) != "hi\n" {
		t.Fatalf("Wait = %d, %v, output %q", status, err, out)
	}

	// An exit reaped before anyone waits is kept for WaitPid.
	c2 := exec.Command("/bin/sh", "-c", "kill -TERM $$")
	if err := c2.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case e := <-r.WaitPid(c2.Process.Pid):
		if e.Signal != int(unix.SIGTERM) || e.Status != 128+int(unix.SIGTERM) {
			t.Fatalf("exit %+v, want SIGTERM", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("exit of an already reaped process not delivered")
	}
}

func readAll(f *os.File) ([]byte, error) {
	defer f.Close()
	var out []byte
	buf := make([]byte, 512)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, nil
		}
	}
}
