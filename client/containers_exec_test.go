package client

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCopyStdin(t *testing.T) {
	var got bytes.Buffer
	eofs := 0
	copyStdin(t.Context(), iotest.OneByteReader(strings.NewReader("abc")), func(data []byte, eof bool) error {
		if eofs > 0 {
			t.Fatalf("send after eof")
		}
		got.Write(data)
		if eof {
			eofs++
		}
		return nil
	})
	if got.String() != "abc" || eofs != 1 {
		t.Fatalf("copied %q with %d eofs, want %q and 1", got.String(), eofs, "abc")
	}

	// A failing send stops the copy without an eof.
	calls := 0
	copyStdin(t.Context(), iotest.OneByteReader(strings.NewReader("abc")), func([]byte, bool) error {
		calls++
		return errors.New("stream gone")
	})
	if calls != 1 {
		t.Fatalf("%d sends after the first failed, want none", calls-1)
	}

	// A cancelled context stops it too.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	copyStdin(ctx, strings.NewReader("abc"), func([]byte, bool) error {
		t.Fatal("send after cancel")
		return nil
	})
}

func TestForwardResizes(t *testing.T) {
	ch := make(chan TermSize, 3)
	ch <- TermSize{Width: 80, Height: 24}
	ch <- TermSize{} // not a size: skipped
	ch <- TermSize{Width: 100, Height: 30}
	close(ch)
	var got []TermSize
	forwardResizes(t.Context(), ch, func(sz TermSize) error {
		got = append(got, sz)
		return nil
	})
	if len(got) != 2 || got[0] != (TermSize{80, 24}) || got[1] != (TermSize{100, 30}) {
		t.Fatalf("forwarded %v", got)
	}
}
