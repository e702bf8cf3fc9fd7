package ctrlog

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Tail comes from the client (`logs -n`): a huge value on a small log
// must not allocate for the value, and the ring keeps the right order
// once it wraps.
func TestTailHugeAndWrapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := NewWriter(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 10 {
		fmt.Fprintf(&in, "line %d\n", i)
	}
	if err := w.Copy(Stdout, strings.NewReader(in.String())); err != nil {
		t.Fatal(err)
	}
	w.Close()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	all := readAll(t, path, ReadOptions{Tail: 1 << 30})
	runtime.ReadMemStats(&after)
	if len(all) != 10 {
		t.Fatalf("tail 1<<30 read %d entries, want 10", len(all))
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("tail 1<<30 of a 10-line log allocated %d bytes", grew)
	}
	for _, n := range []int{1, 3, 9, 10, 11} {
		got := readAll(t, path, ReadOptions{Tail: n})
		want := min(n, 10)
		if len(got) != want {
			t.Fatalf("tail %d read %d entries, want %d", n, len(got), want)
		}
		for i, e := range got {
			if w := fmt.Sprintf("line %d\n", 10-want+i); string(e.Line) != w {
				t.Errorf("tail %d entry %d = %q, want %q", n, i, e.Line, w)
			}
		}
	}
}
