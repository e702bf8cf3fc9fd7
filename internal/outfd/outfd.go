// Package outfd is the apiserver socket's second protocol: a client hands
// the apiserver its stdout and stderr (SCM_RIGHTS) together with a logs
// request, and the apiserver writes the container's output straight to
// them, so the bytes never pass through the client process or gRPC.
//
// A connection speaks it when its first byte is Magic[0]; every other
// connection is gRPC (an HTTP/2 client preface starts "PRI "), so both
// share one socket, its permissions and its peer-credential check.
//
// Client → apiserver, in one sendmsg: Magic, the request's length (4 bytes,
// big-endian) and the request (a marshaled containers.v1.LogsRequest), with
// exactly two file descriptors attached: stdout, then stderr.
// Apiserver → client, once the output is written: one flags byte, the
// length (4 bytes, big-endian) of a marshaled google.rpc.Status and the
// Status (code OK when the logs ended normally). Flags bit 0 says the error
// is a write to a descriptor that failed with EPIPE (its reader is gone),
// where a client writing itself would have died of SIGPIPE.
// The client ends the request early by closing the connection; the
// apiserver then stops writing at the next entry.
package outfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Magic opens every connection of this protocol.
const Magic = "CTROUT1\n"

// MaxRequest bounds a request; a LogsRequest is a few dozen bytes.
const MaxRequest = 64 << 10

// FlagBrokenPipe marks a status whose error is a write to the client's
// descriptors that failed with EPIPE.
const FlagBrokenPipe = 1

// Matches reports whether a connection whose first byte is b speaks this
// protocol.
func Matches(b byte) bool { return b == Magic[0] }

// SendRequest sends Magic and req over conn with stdout and stderr
// attached.
func SendRequest(conn *net.UnixConn, req []byte, stdout, stderr *os.File) error {
	if len(req) > MaxRequest {
		return fmt.Errorf("output request of %d bytes: too large", len(req))
	}
	msg := make([]byte, 0, len(Magic)+4+len(req))
	msg = append(msg, Magic...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(req)))
	msg = append(msg, req...)
	// The descriptors are read inside Control so that they stay open (and
	// are not switched to blocking mode, as Fd would) while they are sent.
	var n int
	var serr error
	err := control(stdout, func(out int) {
		serr = control(stderr, func(errFd int) {
			n, _, serr = conn.WriteMsgUnix(msg, unix.UnixRights(out, errFd), nil)
		})
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("send output request: %w", err)
	}
	if n < len(msg) { // the descriptors went with the first byte
		if _, err := conn.Write(msg[n:]); err != nil {
			return fmt.Errorf("send output request: %w", err)
		}
	}
	return nil
}

func control(f *os.File, fn func(fd int)) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// ReadRequest reads a request sent by SendRequest and returns it with the
// two descriptors as files (the caller closes them). On error no
// descriptor is left open.
func ReadRequest(conn *net.UnixConn) (req []byte, stdout, stderr *os.File, err error) {
	head := make([]byte, len(Magic)+4)
	// Room for more descriptors than allowed, so that extra ones are
	// received (and closed) rather than cut off unnoticed.
	oob := make([]byte, unix.CmsgSpace(16*4))
	var fds []int
	defer func() {
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}()
	got := 0
	for got < len(head) {
		n, oobn, flags, _, rerr := conn.ReadMsgUnix(head[got:], oob)
		if oobn > 0 {
			more, perr := parseRights(oob[:oobn])
			fds = append(fds, more...)
			if perr != nil {
				return nil, nil, nil, perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return nil, nil, nil, errors.New("output request: too many descriptors attached")
		}
		got += n
		if rerr != nil {
			if errors.Is(rerr, io.EOF) && got > 0 {
				rerr = io.ErrUnexpectedEOF
			}
			return nil, nil, nil, fmt.Errorf("read output request: %w", rerr)
		}
		if n == 0 {
			return nil, nil, nil, fmt.Errorf("read output request: %w", io.ErrUnexpectedEOF)
		}
	}
	if string(head[:len(Magic)]) != Magic {
		return nil, nil, nil, fmt.Errorf("output request: bad magic %q", head[:len(Magic)])
	}
	size := binary.BigEndian.Uint32(head[len(Magic):])
	if size > MaxRequest {
		return nil, nil, nil, fmt.Errorf("output request of %d bytes: too large", size)
	}
	if len(fds) != 2 {
		return nil, nil, nil, fmt.Errorf("output request: %d descriptors attached, want 2", len(fds))
	}
	req = make([]byte, size)
	if _, err := io.ReadFull(conn, req); err != nil {
		return nil, nil, nil, fmt.Errorf("read output request: %w", err)
	}
	return req, os.NewFile(uintptr(fds[0]), "stdout"), os.NewFile(uintptr(fds[1]), "stderr"), nil
}

// parseRights returns the descriptors in a control message, also when it
// is otherwise malformed (so that they can be closed).
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("output request: control message: %w", err)
	}
	var fds []int
	var errs []error
	for _, m := range msgs {
		more, err := unix.ParseUnixRights(&m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fds = append(fds, more...)
	}
	if len(errs) > 0 {
		return fds, fmt.Errorf("output request: control message: %w", errors.Join(errs...))
	}
	return fds, nil
}

// WriteStatus sends the final status (a marshaled google.rpc.Status).
func WriteStatus(w io.Writer, flags byte, status []byte) error {
	msg := make([]byte, 0, 5+len(status))
	msg = append(msg, flags)
	msg = binary.BigEndian.AppendUint32(msg, uint32(len(status)))
	msg = append(msg, status...)
	_, err := w.Write(msg)
	return err
}

// ReadStatus reads the final status. A connection closed before it came
// reports io.ErrUnexpectedEOF.
func ReadStatus(r io.Reader) (flags byte, status []byte, err error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(head[1:])
	if size > MaxRequest {
		return 0, nil, fmt.Errorf("output status of %d bytes: too large", size)
	}
	status = make([]byte, size)
	if _, err := io.ReadFull(r, status); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return head[0], status, nil
}
