package ctrlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func readAll(t *testing.T, path string, opts ReadOptions) []Entry {
	t.Helper()
	var out []Entry
	err := Read(t.Context(), path, opts, func(e Entry) error {
		e.Line = bytes.Clone(e.Line)
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out
}

func TestCopyAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := NewWriter(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Copy(Stdout, strings.NewReader("one\ntwo \"quoted\"\ttab\nno newline")); err != nil {
		t.Fatal(err)
	}
	if err := w.Copy(Stderr, strings.NewReader("err \x01\xff é\n")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got := readAll(t, path, ReadOptions{})
	want := []struct{ stream, line string }{
		{Stdout, "one\n"}, {Stdout, "two \"quoted\"\ttab\n"}, {Stdout, "no newline"}, {Stderr, "err \x01\uFFFD é\n"},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Stream != w.stream || string(got[i].Line) != w.line || got[i].Time.IsZero() {
			t.Errorf("entry %d = %s %q %v, want %s %q", i, got[i].Stream, got[i].Line, got[i].Time, w.stream, w.line)
		}
	}
	if tail := readAll(t, path, ReadOptions{Tail: 2}); len(tail) != 2 || string(tail[1].Line) != want[3].line {
		t.Errorf("tail 2 = %+v", tail)
	}
	if none := readAll(t, path, ReadOptions{Tail: -1}); len(none) != 0 {
		t.Errorf("tail -1 = %+v", none)
	}
}

func TestLongLineSplit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, _ := NewWriter(path, 0, 0)
	long := strings.Repeat("x", MaxLine*2+10) + "\n"
	if err := w.Copy(Stdout, strings.NewReader(long)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got := readAll(t, path, ReadOptions{})
	var joined string
	for _, e := range got {
		joined += string(e.Line)
	}
	if len(got) != 3 || joined != long {
		t.Fatalf("long line read back as %d entries, %d bytes", len(got), len(joined))
	}
}

func TestSinceUntil(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, _ := NewWriter(path, 0, 0)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 10 {
		if err := w.Write(Stdout, base.Add(time.Duration(i)*time.Second), fmt.Appendf(nil, "%d\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	got := readAll(t, path, ReadOptions{Since: base.Add(3 * time.Second), Until: base.Add(5 * time.Second)})
	if len(got) != 3 || string(got[0].Line) != "3\n" || string(got[2].Line) != "5\n" {
		t.Fatalf("since/until = %+v", got)
	}
}

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, _ := NewWriter(path, 1000, 3)
	for i := range 100 {
		if err := w.Write(Stdout, time.Now(), fmt.Appendf(nil, "line %03d\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	got := readAll(t, path, ReadOptions{})
	if len(got) == 0 || len(got) >= 100 {
		t.Fatalf("rotation kept %d entries", len(got))
	}
	if string(got[len(got)-1].Line) != "line 099\n" {
		t.Fatalf("last entry %q", got[len(got)-1].Line)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Line[7] != got[i-1].Line[7]+1 && got[i].Line[7] != '0' {
			t.Fatalf("entries out of order at %d: %q after %q", i, got[i].Line, got[i-1].Line)
		}
	}
	total := 0
	for _, p := range []string{path, path + ".1", path + ".2"} {
		n := len(readFileEntries(t, p))
		total += n
	}
	if total != len(got) {
		t.Fatalf("files hold %d entries, Read returned %d", total, len(got))
	}
}

func readFileEntries(t *testing.T, p string) []Entry {
	var out []Entry
	f, err := readFile(p, false, func(*Entry) (bool, error) { return true, nil }, func(e Entry) error { out = append(out, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return out
}

func TestFollow(t *testing.T) {
	for _, files := range []int{2, 1} {
		t.Run(fmt.Sprint(files, "files"), func(t *testing.T) { testFollow(t, files) })
	}
}

func testFollow(t *testing.T, files int) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, _ := NewWriter(path, 300, files)
	defer w.Close()
	_ = w.Write(Stdout, time.Now(), []byte("before\n"))
	stop := make(chan struct{})
	got := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, ReadOptions{Follow: true, Stop: stop, PollInterval: 10 * time.Millisecond},
			func(e Entry) error { got <- string(e.Line); return nil })
	}()
	if l := <-got; l != "before\n" {
		t.Fatalf("first line %q", l)
	}
	for i := range 20 { // crosses several rotations
		_ = w.Write(Stderr, time.Now(), fmt.Appendf(nil, "after %d\n", i))
		select {
		case l := <-got:
			if want := fmt.Sprintf("after %d\n", i); l != want {
				t.Fatalf("followed %q, want %q", l, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("follow did not see line %d", i)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("follow returned %v", err)
	}
}

// TestFollowBusy checks that a follower whose idle poll is long still
// sees data promptly while data keeps coming.
func TestFollowBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := NewWriter(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- Read(ctx, path, ReadOptions{Tail: -1, Follow: true, PollInterval: time.Hour},
			func(e Entry) error { got <- string(e.Line); return nil })
	}()
	for i := range 5 {
		time.Sleep(10 * time.Millisecond)
		_ = w.Write(Stdout, time.Now(), fmt.Appendf(nil, "line %d\n", i))
		select {
		case l := <-got:
			if want := fmt.Sprintf("line %d\n", i); l != want {
				t.Fatalf("followed %q, want %q", l, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("follow did not see line %d within 5s (idle poll 1h)", i)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("follow returned %v, want context.Canceled", err)
	}
}

// TestFollowRotatedTwice checks that a follower that falls two rotations
// behind reads the file in between instead of skipping it.
func TestFollowRotatedTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := NewWriter(path, 1<<10, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_ = w.Write(Stdout, time.Now(), []byte("line 0\n"))
	held, gate := make(chan struct{}), make(chan struct{})
	stop := make(chan struct{})
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- Read(t.Context(), path, ReadOptions{Follow: true, Stop: stop}, func(e Entry) error {
			if len(got) == 0 {
				close(held)
				<-gate // hold the follower while the log rotates
			}
			got = append(got, string(e.Line))
			return nil
		})
	}()
	<-held
	const n = 35 // ~70 bytes each: two rotations of 1 KiB, not three
	for i := 1; i < n; i++ {
		_ = w.Write(Stdout, time.Now(), fmt.Appendf(nil, "line %d\n", i))
	}
	if _, err := os.Stat(path + ".2"); err != nil {
		t.Fatalf("the log did not rotate twice: %v", err)
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Fatalf("the log rotated three times: the oldest file may be gone")
	}
	close(gate)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("line %d\n", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("followed %d lines %q, want %d lines in order", len(got), got, n)
	}
}

// TestFollowHeldUp checks that a follower held up in its callback (a slow
// client) while the log rotates many times over, deleting files it has not
// read, still gets every line in order: it holds each generation open from
// when it appears.
func TestFollowHeldUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := NewWriter(path, 1<<10, 2) // a file is deleted two rotations on
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_ = w.Write(Stdout, time.Now(), []byte("line 0\n"))
	fds := openFDs(t)
	held, gate := make(chan struct{}), make(chan struct{})
	stop := make(chan struct{})
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- Read(t.Context(), path, ReadOptions{Follow: true, Stop: stop, PollInterval: 5 * time.Millisecond}, func(e Entry) error {
			if len(got) == 0 {
				close(held)
				<-gate
			}
			got = append(got, string(e.Line))
			return nil
		})
	}()
	<-held
	// Bursts of about one file each, far enough apart for the holder to
	// see each generation: eight rotations, six files deleted unread.
	n := 1
	for range 8 {
		for range 15 {
			_ = w.Write(Stdout, time.Now(), fmt.Appendf(nil, "line %d\n", n))
			n++
		}
		time.Sleep(4 * holdInterval)
	}
	close(gate)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := settledFDs(t, fds); n != fds {
		t.Errorf("%d descriptors open after the follow, %d before", n, fds)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("line %d\n", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("followed %d lines, want %d in order; got %q", len(got), n, got)
	}
}

// TestFollowWakesOnCreate checks that an idle follower (an hour between
// looks) is woken when the log is created and rotated, so a burst that
// rotates through more files than the log keeps is not lost while it
// sleeps.
func TestFollowWakesOnCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	fds := openFDs(t)
	stop := make(chan struct{})
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- Read(t.Context(), path, ReadOptions{Follow: true, Stop: stop, PollInterval: time.Hour}, func(e Entry) error {
			got = append(got, string(e.Line))
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond) // the follower has no file and waits
	w, err := NewWriter(path, 1<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	n := 0
	for range 6 { // six rotations, each file deleted two rotations on
		for range 15 {
			_ = w.Write(Stdout, time.Now(), fmt.Appendf(nil, "line %d\n", n))
			n++
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.Close()
	if n := settledFDs(t, fds); n != fds {
		t.Errorf("%d descriptors open after the follow, %d before", n, fds)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("line %d\n", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("followed %d lines, want %d in order; got %q", len(got), n, got)
	}
}

// TestFollowWatchBudget checks that followers beyond maxWatches poll
// instead of taking more inotify instances, and that all are given back.
func TestFollowWatchBudget(t *testing.T) {
	const n = maxWatches + 8
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, n)
	done := make(chan error, n)
	var writers []*Writer
	for range n {
		path := filepath.Join(t.TempDir(), "container.log")
		w, err := NewWriter(path, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		writers = append(writers, w)
		go func() {
			done <- Read(ctx, path, ReadOptions{Tail: -1, Follow: true, PollInterval: 10 * time.Millisecond},
				func(e Entry) error { got <- string(e.Line); return nil })
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if w := watches.Load(); w > maxWatches {
		t.Errorf("%d inotify instances, want at most %d", w, maxWatches)
	}
	for i, w := range writers {
		_ = w.Write(Stdout, time.Now(), fmt.Appendf(nil, "%d\n", i))
	}
	for range n {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("a follower did not see its line")
		}
	}
	cancel()
	for range n {
		<-done
	}
	// The instances are closed in the background (holder.close).
	deadline := time.Now().Add(5 * time.Second)
	for watches.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if w := watches.Load(); w != 0 {
		t.Errorf("%d inotify instances held after the followers ended", w)
	}
}

// settledFDs waits up to 5 s for the process's open descriptors to come
// down to want (a follower's inotify instance is closed in the background,
// holder.close) and returns the count then.
func settledFDs(t *testing.T, want int) int {
	t.Helper()
	n := openFDs(t)
	for deadline := time.Now().Add(5 * time.Second); n > want && time.Now().Before(deadline); n = openFDs(t) {
		time.Sleep(time.Millisecond)
	}
	return n
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func FuzzDecodeEntry(f *testing.F) {
	for _, s := range []string{
		`{"log":"hi\n","stream":"stdout","time":"2026-01-02T03:04:05.1Z"}`,
		`{"log":"\ud83d\ude00 \u00e9","stream":"stderr","time":"2026-01-02T03:04:05Z"}`,
		`{"stream":"stdout","log":"x","time":"2026-01-02T03:04:05Z"}`, `{"log":"\`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Entry
		if !DecodeEntry(line, &e) {
			return
		}
		if e.Stream != Stdout && e.Stream != Stderr || !utf8.Valid(e.Line) {
			return
		}
		enc := AppendEntry(nil, e.Stream, e.Time, e.Line)
		var again Entry
		if !DecodeEntry(enc[:len(enc)-1], &again) || !bytes.Equal(again.Line, e.Line) || again.Stream != e.Stream {
			t.Fatalf("round trip %q -> %q -> %+v", line, enc, again)
		}
	})
}

func BenchmarkCopy(b *testing.B) {
	line := strings.Repeat("0123456789", 10) + "\n"
	data := []byte(strings.Repeat(line, (8<<20)/len(line)))
	path := filepath.Join(b.TempDir(), "container.log")
	w, _ := NewWriter(path, 1<<30, 1)
	defer w.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := w.Copy(Stdout, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	line := []byte(strings.Repeat("0123456789", 10) + "\n")
	path := filepath.Join(b.TempDir(), "container.log")
	w, _ := NewWriter(path, 1<<30, 1)
	var buf []byte
	now := time.Now()
	for range (8 << 20) / len(line) {
		buf = AppendEntry(buf, Stdout, now, line)
	}
	w.write(buf)
	w.Close()
	b.SetBytes(8 << 20)
	for b.Loop() {
		if err := Read(context.Background(), path, ReadOptions{}, func(Entry) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadMerge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "container.log")
	w, err := NewWriter(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	t1 := t0.Add(time.Second)
	for _, l := range []struct {
		stream string
		t      time.Time
		line   string
	}{
		{Stdout, t0, "a\n"}, {Stdout, t0, "b\n"}, {Stderr, t0, "c\n"}, {Stdout, t0, "d\n"},
		{Stdout, t1, "e\n"}, {Stdout, t1, "f"},
	} {
		if err := w.Write(l.stream, l.t, []byte(l.line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	type got struct {
		stream, lines string
		t             time.Time
	}
	read := func(opts ReadOptions) []got {
		var out []got
		if err := Read(t.Context(), path, opts, func(e Entry) error {
			out = append(out, got{e.Stream, string(e.Line), e.Time})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := []got{{Stdout, "a\nb\n", t0}, {Stderr, "c\n", t0}, {Stdout, "d\n", t0}, {Stdout, "e\nf", t1}}
	if g := read(ReadOptions{Merge: true}); !slices.Equal(g, want) {
		t.Errorf("merged read = %+v, want %+v", g, want)
	}
	// Until ends the read; what was merged before it is still emitted.
	if g := read(ReadOptions{Merge: true, Until: t0}); !slices.Equal(g, want[:3]) {
		t.Errorf("merged read until t0 = %+v, want %+v", g, want[:3])
	}
	// Tail counts lines: no merging.
	if g := read(ReadOptions{Merge: true, Tail: 2}); len(g) != 2 || g[0].lines != "e\n" {
		t.Errorf("merged read tail 2 = %+v, want two single lines", g)
	}
}

// BenchmarkReadMerge reads what `run` streams: 1 KiB lines, merged.
func BenchmarkReadMerge(b *testing.B) {
	line := []byte(strings.Repeat("x", 1023) + "\n")
	path := filepath.Join(b.TempDir(), "container.log")
	w, _ := NewWriter(path, 1<<30, 1)
	var buf []byte
	now := time.Now()
	for i := range (16 << 20) / len(line) {
		buf = AppendEntry(buf, Stdout, now.Add(time.Duration(i/64)), line) // one stamp per 64 KiB read
	}
	w.write(buf)
	w.Close()
	b.SetBytes(16 << 20)
	for b.Loop() {
		if err := Read(context.Background(), path, ReadOptions{Merge: true}, func(Entry) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEntry(b *testing.B) {
	line := []byte(strings.Repeat("x", 1023) + "\n")
	ts := []byte("2026-01-02T03:04:05.123456789Z")
	var buf []byte
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		buf = appendEntry(buf[:0], Stdout, ts, line)
	}
}

// TestSafeRun checks the 8-bytes-at-a-time scan against the byte loop, for
// every special byte at every position of runs around the word size.
func TestSafeRun(t *testing.T) {
	naive := func(s []byte) int {
		i := 0
		for i < len(s) && s[i] < utf8.RuneSelf && safe[s[i]] {
			i++
		}
		return i
	}
	for n := range 40 {
		for pos := range n {
			for _, c := range []byte{0, 0x1f, '"', '\\', 0x7f, 0x80, 0xff, 'a', ' ', 0x21, 0x5b, 0x5d} {
				s := bytes.Repeat([]byte("x"), n)
				s[pos] = c
				if got, want := safeRun(s), naive(s); got != want {
					t.Fatalf("safeRun(%q) = %d, want %d", s, got, want)
				}
			}
		}
	}
	for b := range 256 { // every byte value in every lane, after safe bytes of all kinds
		for lane := range 8 {
			s := []byte(" !#[]~az09xxxxxx")
			s[lane+8] = byte(b)
			if got, want := safeRun(s), naive(s); got != want {
				t.Fatalf("safeRun(%q) = %d, want %d", s, got, want)
			}
		}
	}
}
