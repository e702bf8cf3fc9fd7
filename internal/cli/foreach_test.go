package cli

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestForEach: the per-id loop of start, stop, kill, delete and wait
// prints successes in the order given, joins the errors, and runs at most
// parallel at once (start: one after the other).
func TestForEach(t *testing.T) {
	for _, parallel := range []int{1, perIDParallel} {
		var out bytes.Buffer
		a := &App{Stdout: &out}
		var running, most atomic.Int32
		err := a.forEach([]string{"a", "b", "bad", "c"}, parallel, func(id string) (string, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(10 * time.Millisecond)
			if id == "bad" {
				return id, fmt.Errorf("container %q: %w", id, errBad)
			}
			return "full-" + id, nil
		})
		if !errors.Is(err, errBad) || out.String() != "full-a\nfull-b\nfull-c\n" {
			t.Errorf("parallel %d: %v, stdout %q", parallel, err, out.String())
		}
		if got := int(most.Load()); got > parallel || (parallel == 1) != (got == 1) {
			t.Errorf("parallel %d: %d ran at once", parallel, got)
		}
	}
}

var errBad = errors.New("bad")
