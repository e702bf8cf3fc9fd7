package supervisor

import (
	"context"
	"fmt"
	"slices"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/ctrlog"
	"github.com/containerd/console"
)

// chunk is a piece of container output for attached clients.
type chunk struct {
	stream string
	data   []byte
}

// broadcast hands a copy of data to every attached client that has room;
// the container never waits for a client.
func (s *supervisor) broadcast(stream string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.subs) == 0 {
		return
	}
	c := chunk{stream: stream, data: slices.Clone(data)}
	for ch := range s.subs {
		select {
		case ch <- c:
		default:
		}
	}
}

func (s *supervisor) subscribe() (chan chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != runtimev1.Status_STATUS_CREATED && s.status != runtimev1.Status_STATUS_RUNNING {
		return nil, fmt.Errorf("container %q is %s: %w", s.id, statusName(s.status), errdefs.ErrFailedPrecondition)
	}
	ch := make(chan chunk, 256)
	s.subs[ch] = struct{}{}
	return ch, nil
}

func (s *supervisor) unsubscribe(ch chan chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, ch)
}

func (s *supervisor) resize(w, h uint32) error {
	s.mu.Lock()
	con := s.console
	s.mu.Unlock()
	if con == nil {
		return fmt.Errorf("container %q has no terminal: %w", s.id, errdefs.ErrFailedPrecondition)
	}
	if w == 0 || h == 0 || w > 0xffff || h > 0xffff {
		return fmt.Errorf("terminal size %dx%d: %w", w, h, errdefs.ErrInvalidArgument)
	}
	if err := con.Resize(console.WinSize{Width: uint16(w), Height: uint16(h)}); err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	return nil
}

// writeStdin writes to the container's stdin; close closes it (a pipe).
func (s *supervisor) writeStdin(data []byte, closeIt bool) error {
	s.mu.Lock()
	w, con := s.stdin, s.console
	if closeIt && con == nil {
		s.stdin = nil
	}
	s.mu.Unlock()
	if w == nil {
		if len(data) == 0 {
			return nil
		}
		return fmt.Errorf("container %q has no open stdin: %w", s.id, errdefs.ErrFailedPrecondition)
	}
	if len(data) > 0 {
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("write stdin: %w", err)
		}
	}
	if closeIt && con == nil {
		if c, ok := w.(interface{ Close() error }); ok {
			return c.Close()
		}
	}
	return nil
}

func (h *server) Attach(stream runtimev1.Runtime_AttachServer) error {
	ctx := stream.Context()
	ch, err := h.s.subscribe()
	if err != nil {
		return err
	}
	defer h.s.unsubscribe(ch)
	// Headers tell the client it is subscribed (it may Start now).
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	inErr := make(chan error, 1)
	go func() {
		stdinGone := false
		for {
			m, err := stream.Recv()
			if err != nil {
				inErr <- nil // the client stopped sending; keep streaming output
				return
			}
			if m.GetWidth() > 0 && m.GetHeight() > 0 {
				if err := h.s.resize(m.GetWidth(), m.GetHeight()); err != nil && !errdefs.IsFailedPrecondition(err) {
					inErr <- err
					return
				}
			}
			if stdinGone {
				continue
			}
			if err := h.s.writeStdin(m.GetStdin(), m.GetCloseStdin()); err != nil {
				if errdefs.IsFailedPrecondition(err) {
					inErr <- err
					return
				}
				// The container closed its stdin or exited (EPIPE): not
				// the client's fault; its output still comes.
				stdinGone = true
			}
		}
	}()
	send := func(c chunk) error {
		m := &runtimev1.AttachOutput{}
		if c.stream == ctrlog.Stderr {
			m.Stderr = c.data
		} else {
			m.Stdout = c.data
		}
		return stream.Send(m)
	}
	for {
		select {
		case c := <-ch:
			if err := send(c); err != nil {
				return err
			}
		case err := <-inErr:
			if err != nil {
				return err
			}
			inErr = nil
		case <-h.s.outputDone:
			for {
				select {
				case c := <-ch:
					if err := send(c); err != nil {
						return err
					}
				default:
					return nil
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *server) ResizePty(_ context.Context, req *runtimev1.ResizePtyRequest) (*runtimev1.ResizePtyResponse, error) {
	if err := h.s.resize(req.GetWidth(), req.GetHeight()); err != nil {
		return nil, err
	}
	return &runtimev1.ResizePtyResponse{}, nil
}
