package integration

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/container/client"
)

func TestSdNotify(t *testing.T) {
	dir := ShortTempDir(t)
	notify := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case m := <-msgs:
			if !strings.Contains(m, want) {
				t.Errorf("sd_notify message %q, want %q", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("no sd_notify %q", want)
		}
	}

	d := StartDaemon(t, WithEnv("NOTIFY_SOCKET="+notify))
	expect("READY=1")
	d.Stop(t)
	expect("STOPPING=1")
}

func TestSocketActivation(t *testing.T) {
	d := NewDaemon(t)
	if err := os.MkdirAll(d.State, 0o711); err != nil {
		t.Fatal(err)
	}
	// Play systemd: listen, then pass the socket as fd 3 with LISTEN_FDS
	// and LISTEN_PID set to the daemon's own pid.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: d.Socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(true)
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var logs syncBuffer
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, apiserverBin}, d.Args()...)...)
	cmd.Env = append(d.Env(), "LISTEN_FDS=1", "LISTEN_FDNAMES=apiserver.socket")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("apiserver log:\n%s", logs.String())
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.PID != cmd.Process.Pid {
		t.Fatalf("Status = %+v, %v; want pid %d", st, err, cmd.Process.Pid)
	}
	if !strings.Contains(logs.String(), "using systemd socket") {
		t.Errorf("daemon did not say it uses the systemd socket")
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("apiserver exited: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("apiserver did not stop on SIGTERM")
	}
	// The socket belongs to systemd (here: the test); the daemon leaves it.
	if _, err := os.Lstat(d.Socket); err != nil {
		t.Errorf("activated socket removed by the daemon: %v", err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("timed out")
	}
}
