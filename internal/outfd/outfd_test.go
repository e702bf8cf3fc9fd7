package outfd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// socketPair returns the two ends of a connected unix stream socket.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "sock")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestRequestRoundTrip(t *testing.T) {
	client, server := socketPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	req := bytes.Repeat([]byte("req"), 1000)
	if err := SendRequest(client, req, w, os.Stderr); err != nil {
		t.Fatal(err)
	}
	got, stdout, stderr, err := ReadRequest(server)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	defer stderr.Close()
	if !bytes.Equal(got, req) {
		t.Errorf("request: %d bytes, want %d", len(got), len(req))
	}
	// The received stdout is the pipe's write end: what goes in comes out.
	if _, err := stdout.Write([]byte("through\n")); err != nil {
		t.Fatal(err)
	}
	stdout.Close()
	w.Close()
	if b, _ := io.ReadAll(r); string(b) != "through\n" {
		t.Errorf("pipe read %q", b)
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(int(stderr.Fd()), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(int(os.Stderr.Fd()), &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Error("stderr is not the descriptor sent")
	}
}

func TestReadRequestRefuses(t *testing.T) {
	head := func(magic string, size uint32) []byte {
		return binary.BigEndian.AppendUint32([]byte(magic), size)
	}
	for _, tc := range []struct {
		name  string
		msg   []byte
		fds   int // descriptors attached
		close bool
		want  string
	}{
		{"no descriptors", head(Magic, 0), 0, false, "0 descriptors"},
		{"one descriptor", head(Magic, 0), 1, false, "1 descriptors"},
		{"three descriptors", head(Magic, 0), 3, false, "3 descriptors"},
		{"twenty descriptors", head(Magic, 0), 20, false, "too many descriptors"},
		{"bad magic", head("CTROUT9\n", 0), 2, false, "bad magic"},
		{"too large", head(Magic, MaxRequest+1), 2, false, "too large"},
		{"short header", []byte(Magic[:5]), 2, true, "unexpected EOF"},
		{"short body", append(head(Magic, 10), 1, 2), 2, true, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := socketPair(t)
			before := openFDs(t)
			var fds []int
			for range tc.fds {
				fds = append(fds, int(os.Stdout.Fd()))
			}
			var oob []byte
			if len(fds) > 0 {
				oob = unix.UnixRights(fds...)
			}
			if _, _, err := client.WriteMsgUnix(tc.msg, oob, nil); err != nil {
				t.Fatal(err)
			}
			if tc.close {
				client.CloseWrite()
			}
			_, _, _, err := ReadRequest(server)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open after the refusal, %d before", after, before)
			}
		})
	}
}

func TestStatusRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteStatus(&buf, FlagBrokenPipe, []byte("status")); err != nil {
		t.Fatal(err)
	}
	flags, st, err := ReadStatus(bytes.NewReader(buf.Bytes()))
	if err != nil || flags != FlagBrokenPipe || string(st) != "status" {
		t.Fatalf("ReadStatus = %d %q %v", flags, st, err)
	}
	for n := range buf.Len() { // cut anywhere: the connection closed early
		if _, _, err := ReadStatus(bytes.NewReader(buf.Bytes()[:n])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: err = %v, want ErrUnexpectedEOF", n, err)
		}
	}
}

func TestMatchesIsNotGRPC(t *testing.T) {
	if !Matches(Magic[0]) || Matches("PRI * HTTP/2.0"[0]) {
		t.Fatal("Matches must tell outfd from an HTTP/2 preface by the first byte")
	}
}
