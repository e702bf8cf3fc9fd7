package server

import (
	"errors"
	"io"
	"testing"

	"github.com/berth/container/errdefs"
)

func TestRecvFirst(t *testing.T) {
	type msg struct{ n int }
	if _, err := recvFirst(func() (*msg, error) { return nil, io.EOF }, "load"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("empty stream: %v, want ErrInvalidArgument", err)
	}
	boom := errors.New("boom")
	if _, err := recvFirst(func() (*msg, error) { return nil, boom }, "load"); !errors.Is(err, boom) {
		t.Fatalf("recv error: %v, want %v", err, boom)
	}
	if m, err := recvFirst(func() (*msg, error) { return &msg{1}, nil }, "load"); err != nil || m.n != 1 {
		t.Fatalf("recvFirst = %+v, %v", m, err)
	}
}
