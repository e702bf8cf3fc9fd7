package ctrlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Entry is one decoded log line.
type Entry struct {
	// Stream is "stdout" or "stderr".
	Stream string
	Time   time.Time
	// Line is the output, with its trailing newline unless the line was
	// split or the process ended without one. Valid only during the
	// callback.
	Line []byte
}

// ReadOptions select entries.
type ReadOptions struct {
	// Tail > 0 returns only the last Tail entries of the history; 0 returns
	// all of it; < 0 none (with Follow: only new entries).
	Tail int
	// Since and Until, when non-zero, bound the entries' times (inclusive).
	Since, Until time.Time
	// Follow keeps reading new entries (across rotations) until ctx is
	// done, Stop is closed (then everything already written is read first),
	// or an entry later than Until arrives. A follower held up in fn (a
	// slow client) holds each new generation of the log open from when it
	// appears (up to 16 ahead), so files the writer rotates away and
	// deletes meanwhile are still read.
	Follow bool
	// Stop ends a Follow after draining what is in the file; typically
	// closed when the container has exited.
	Stop <-chan struct{}
	// PollInterval is how often an idle follower looks for new data;
	// default 100ms. A file created in the log's directory (a rotation)
	// wakes it at once. While data keeps coming it looks again after 1ms,
	// doubling up to PollInterval, so a busy stream is not held back.
	PollInterval time.Duration
	// Merge lets consecutive lines of one stream that carry the same time
	// (the writer stamps every line of one read alike) come as one Entry
	// of several lines, up to 256 KiB; a pending merge is emitted before
	// the reader waits for more data. It does not apply to Tail > 0.
	// One callback per 100 KiB instead of per line is what makes a large
	// log stream fast.
	Merge bool
}

// errUntil stops a read once entries pass Until.
var errUntil = errors.New("past until")

// Read calls fn for each selected entry of the log at path (the current
// file; rotated files path.1, path.2, ... are read first, oldest first). A
// missing log reads as empty. Lines that do not decode are skipped.
func Read(ctx context.Context, path string, opts ReadOptions, fn func(Entry) error) error {
	var files []string
	for i := 1; ; i++ {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		files = append(files, p)
	}
	slices.Reverse(files) // oldest first

	keep := func(e *Entry) (bool, error) {
		if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
			return false, nil
		}
		if !opts.Until.IsZero() && e.Time.After(opts.Until) {
			return false, errUntil
		}
		return true, nil
	}

	var held *holder
	if opts.Follow {
		held = newHolder(path)
		defer held.close()
		fn = held.wrap(fn)
	}
	emit := fn
	var ring []ringEntry
	var ringStart, ringLen int
	if opts.Tail != 0 {
		n := max(opts.Tail, 0)
		// The ring grows with the entries actually read: Tail comes from
		// the client and may be far larger than the log.
		emit = func(e Entry) error {
			if n == 0 {
				return nil
			}
			var slot *ringEntry
			if len(ring) < n { // not full yet: ringStart is still 0
				ring = append(ring, ringEntry{})
				slot = &ring[len(ring)-1]
				ringLen++
			} else {
				slot = &ring[ringStart]
				ringStart = (ringStart + 1) % n
			}
			slot.stream, slot.time = e.Stream, e.Time
			slot.line = append(slot.line[:0], e.Line...)
			return nil
		}
	}

	merge := opts.Merge && opts.Tail == 0
	var err error
	// The newest rotated file read stays open while there is no current
	// file: a follower then takes what was written after it.
	var anchor *os.File
	defer func() {
		if anchor != nil {
			anchor.Close()
		}
	}()
	for _, p := range files {
		if anchor != nil {
			anchor.Close()
		}
		anchor, err = readFile(p, merge, keep, emit)
		if err != nil {
			break
		}
	}
	// The current file: keep it open for following.
	f, ferr := os.Open(path)
	if ferr != nil && !errors.Is(ferr, fs.ErrNotExist) {
		return fmt.Errorf("open container log: %w", ferr)
	}
	// The file followed when Read returns (also one opened later).
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var lr *lineReader
	if f != nil {
		anchor.Close()
		anchor = nil
		held.reset(f)
		lr = &lineReader{f: f, merge: merge}
		if err == nil {
			err = lr.each(keep, emit, true)
		}
	}
	if err != nil && !errors.Is(err, errUntil) {
		return err
	}
	for i := range ringLen {
		r := &ring[(ringStart+i)%len(ring)]
		if e := fn(Entry{Stream: r.stream, Time: r.time, Line: r.line}); e != nil {
			return e
		}
	}
	if !opts.Follow || errors.Is(err, errUntil) {
		return nil
	}
	if lr != nil {
		lr.merge = opts.Merge
	}

	poll := opts.PollInterval
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	wait := min(time.Millisecond, poll)
	t := time.NewTimer(wait)
	defer t.Stop()
	stopped := false
	for {
		var off int64
		if lr != nil {
			off = lr.off
			if err := lr.each(keep, fn, false); err != nil {
				if errors.Is(err, errUntil) {
					return nil
				}
				return err
			}
		}
		// Rotated, truncated or created since we opened it?
		if fi, err := os.Stat(path); err == nil {
			switch {
			case f != nil && sameFile(f, fi) && fi.Size() < lr.off:
				// Truncated in place (a log of one file): start over.
				if _, err := f.Seek(0, io.SeekStart); err == nil {
					lr = &lineReader{f: f, merge: opts.Merge}
					continue
				}
			case f == nil || !sameFile(f, fi):
				from := anchor // no file yet: what came after the rotated ones read
				if lr != nil {
					if err := lr.each(keep, fn, true); err != nil {
						if errors.Is(err, errUntil) {
							return nil
						}
						return err
					}
					from = f
				}
				// Rotated, maybe more than once, or created: read the
				// files written since, oldest first, then follow the
				// newest. None found (renamed away as we looked): keep
				// the file read and look again.
				newer := held.newer(path, from)
				if len(newer) == 0 {
					break
				}
				if f != nil {
					f.Close()
				}
				if anchor != nil {
					anchor.Close()
					anchor = nil
				}
				f, lr = nil, nil
				for i, nf := range newer {
					if i == len(newer)-1 {
						f, lr = nf, &lineReader{f: nf, merge: opts.Merge}
						break
					}
					err := (&lineReader{f: nf, merge: opts.Merge}).each(keep, fn, true)
					nf.Close()
					if err != nil {
						for _, rest := range newer[i+1:] {
							rest.Close()
						}
						if errors.Is(err, errUntil) {
							return nil
						}
						return err
					}
				}
				if f != nil {
					continue
				}
			}
		}
		if stopped {
			if lr != nil {
				if err := lr.each(keep, fn, true); err != nil && !errors.Is(err, errUntil) {
					return err
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-opts.Stop:
			stopped = true
		case <-t.C:
		case <-held.wake: // a file was created: look now
			t.Stop()
			off = -1
		}
		if lr != nil && lr.off != off {
			wait = min(time.Millisecond, poll)
		} else {
			wait = min(2*wait, poll)
		}
		t.Reset(wait)
	}
}

// walkNewer opens, newest first, the log's files written after the one
// whose id is stop, with their ids. It walks from the current name to
// older ones; a rotation meanwhile shows up as a file seen twice (skipped)
// or a name briefly missing, so no file is missed unless the writer
// deleted it (a follower more than MaxFiles-1 files behind). Two names
// missing in a row end the walk.
func walkNewer(path string, stop fileID) ([]*os.File, []fileID) {
	var files []*os.File
	var ids []fileID
	for i, missing := 0, 0; missing < 2; i++ {
		p := path
		if i > 0 {
			p = path + "." + strconv.Itoa(i)
		}
		f, err := os.Open(p)
		if err != nil {
			missing++
			continue
		}
		missing = 0
		id, ok := idOf(f)
		if !ok || id == stop {
			f.Close()
			break
		}
		if slices.Contains(ids, id) {
			f.Close() // seen twice: renamed while we walked
			continue
		}
		files, ids = append(files, f), append(ids, id)
	}
	return files, ids
}

// holdInterval is how often the log's names are looked at while the
// follower's callback is held up (a slow client). A generation lives for
// MaxFiles rotations (a 4 MiB file at full speed: ≈ 10 ms per rotation);
// a look is a few opens.
const holdInterval = 2 * time.Millisecond

// maxHeld bounds the generations held open ahead of the follower: each
// can be a whole rotated file the writer has deleted.
const maxHeld = 16

// holder keeps open each generation of a followed log (each file that was
// the current one) from the moment it is seen, so that a follower held up
// in its callback longer than the writer keeps its files still reads the
// files rotated away and deleted meanwhile. It looks when a file is
// created in the log's directory (inotify, which also wakes a sleeping
// follower), every holdInterval while a callback keeps running, and when
// the follower asks (newer); an idle follower costs nothing. Without
// inotify a generation that lives less than holdInterval while the
// follower is held up, or that comes and goes while it sleeps, can still
// be missed.
type holder struct {
	path string

	mu      sync.Mutex
	started bool       // the follower has a file (reset)
	last    fileID     // the newest generation seen (held, or the follower's)
	files   []*os.File // generations newer than the follower's file, oldest first
	closed  bool

	in     atomic.Bool   // a callback is running
	timer  *time.Timer   // runs heldUp; armed while a callback runs
	wake   chan struct{} // a file was created in the log's directory
	notify *os.File      // inotify, or nil
}

type fileID struct{ dev, ino uint64 }

func idOf(f *os.File) (fileID, bool) {
	var st syscall.Stat_t
	if f == nil || syscall.Fstat(int(f.Fd()), &st) != nil {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}

func newHolder(path string) *holder {
	h := &holder{path: path, wake: make(chan struct{}, 1)}
	h.timer = time.AfterFunc(time.Hour, h.heldUp)
	h.timer.Stop()
	h.notify = watchCreate(filepath.Dir(path), h.created)
	return h
}

// created runs when a file appears in the log's directory.
func (h *holder) created() {
	h.scan()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// maxWatches bounds the inotify instances this process holds for
// followers: the kernel's limit (fs.inotify.max_user_instances, 128 by
// default) is shared by every process of the user, root's system daemons
// among them.
const maxWatches = 32

// watches counts the inotify instances held (see maxWatches).
var watches atomic.Int32

// watchCreate calls fn after files are created in (or moved into) dir,
// until the returned file is closed (then decrement watches). It returns nil
// when inotify is not available or maxWatches are in use (the follower
// then only polls; see holder).
func watchCreate(dir string, fn func()) *os.File {
	if watches.Add(1) > maxWatches {
		watches.Add(-1)
		return nil
	}
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		watches.Add(-1)
		return nil
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		syscall.Close(fd)
		watches.Add(-1)
		return nil
	}
	f := os.NewFile(uintptr(fd), "inotify")
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := f.Read(buf); err != nil {
				return // closed
			}
			fn()
		}
	}()
	return f
}

// reset tells the holder the follower now reads f, the current file it
// has just opened: whatever it held is older. A nil holder does nothing.
func (h *holder) reset(f *os.File) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hf := range h.files {
		hf.Close()
	}
	h.files = nil
	h.last, _ = idOf(f)
	h.started = true
}

// wrap runs fn with the holder's timer armed: a callback still running
// after holdInterval (a slow client) makes the holder look, and again
// every holdInterval until it returns. A fast callback costs a timer's
// reset and stop, no wake-up.
func (h *holder) wrap(fn func(Entry) error) func(Entry) error {
	return func(e Entry) error {
		h.in.Store(true)
		h.timer.Reset(holdInterval)
		err := fn(e)
		h.in.Store(false)
		h.timer.Stop()
		return err
	}
}

// heldUp runs when a callback has run for holdInterval.
func (h *holder) heldUp() {
	if !h.in.Load() {
		return
	}
	h.scan()
	if h.in.Load() {
		h.timer.Reset(holdInterval)
	}
}

// scan opens the generations written since the newest one seen: the
// current file and the rotated ones back to it (a generation can be born
// and rotated within one interval, but it stays as .1 for another).
func (h *holder) scan() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || !h.started || len(h.files) >= maxHeld {
		return
	}
	found, ids := walkNewer(h.path, h.last) // newest first
	if len(found) == 0 {
		return
	}
	// Too far ahead: the oldest are kept, they go first.
	drop := len(found) - min(maxHeld-len(h.files), len(found))
	for _, f := range found[:drop] {
		f.Close()
	}
	h.last = ids[drop] // the newest kept
	found = found[drop:]
	slices.Reverse(found)
	h.files = append(h.files, found...)
}

// newer returns, oldest first, the files written after f (which the
// follower has read to its end): the held generations the writer has
// deleted since, then the rotated files newer than f and the current file
// (last), found by name (walkNewer; when f itself is gone, every file found
// is newer). The caller owns them; the newest is the one it follows next.
func (h *holder) newer(path string, f *os.File) []*os.File {
	cur, _ := idOf(f)
	byName, ids := walkNewer(path, cur) // newest first
	h.mu.Lock()
	defer h.mu.Unlock()
	// A deleted generation is older than every file still there: the
	// writer removes only the oldest.
	var out []*os.File
	for _, hf := range h.files {
		id, ok := idOf(hf)
		if !ok || id == cur || slices.Contains(ids, id) {
			hf.Close()
			continue
		}
		out = append(out, hf)
	}
	h.files = nil
	switch {
	case len(byName) > 0:
		h.last = ids[0]
	case len(out) > 0:
		h.last, _ = idOf(out[len(out)-1])
	}
	slices.Reverse(byName)
	out = append(out, byName...)
	if len(out) > 0 {
		h.started = true
	}
	return out
}

func (h *holder) close() {
	h.timer.Stop()
	if h.notify != nil {
		// Closing an inotify instance waits for the kernel's fsnotify
		// SRCU grace period: 6-21 ms measured here, in 7 of 15 `run --rm
		// true`, between the container's exit and the end of the CLI's
		// output. The follower returns without waiting for it.
		n := h.notify
		go func() {
			n.Close()
			watches.Add(-1)
		}()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, f := range h.files {
		f.Close()
	}
	h.files = nil
}

type ringEntry struct {
	stream string
	time   time.Time
	line   []byte
}

func sameFile(f *os.File, fi os.FileInfo) bool {
	cur, err := f.Stat()
	if err != nil {
		return false
	}
	a, ok1 := cur.Sys().(*syscall.Stat_t)
	b, ok2 := fi.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return os.SameFile(cur, fi)
	}
	return a.Ino == b.Ino && a.Dev == b.Dev
}

// readFile reads the file at path to its end and returns it, open (nil
// when it is gone).
func readFile(path string, merge bool, keep func(*Entry) (bool, error), emit func(Entry) error) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // rotated away while we looked
		}
		return nil, fmt.Errorf("open container log: %w", err)
	}
	if err := (&lineReader{f: f, merge: merge}).each(keep, emit, true); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// lineReader reads whole lines from a growing file, keeping a partial last
// line until the rest arrives.
type lineReader struct {
	f          *os.File
	buf        []byte
	start, end int
	off        int64 // bytes read from f
	ts         tsCache
	merge      bool
	pending    Entry // merged lines not emitted yet (merge only)
}

// maxMerge bounds one merged entry (a gRPC message carries it).
const maxMerge = 256 << 10

// flush emits the pending merged entry.
func (r *lineReader) flush(emit func(Entry) error) error {
	if len(r.pending.Line) == 0 {
		return nil
	}
	err := emit(r.pending)
	r.pending.Line = r.pending.Line[:0]
	return err
}

// tsCache remembers the last parsed timestamp: the writer stamps every
// line of one read with the same time, so runs of lines share it.
type tsCache struct {
	raw []byte
	t   time.Time
}

func (c *tsCache) parse(b []byte) (time.Time, bool) {
	if len(c.raw) > 0 && bytes.Equal(b, c.raw) {
		return c.t, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false
	}
	c.raw, c.t = append(c.raw[:0], b...), t
	return t, true
}

// each decodes every complete line available now. With final, a trailing
// partial line is decoded too.
func (r *lineReader) each(keep func(*Entry) (bool, error), emit func(Entry) error, final bool) error {
	if r.buf == nil {
		r.buf = make([]byte, 256<<10)
	}
	var e Entry
	for {
		for {
			i := bytes.IndexByte(r.buf[r.start:r.end], '\n')
			if i < 0 {
				break
			}
			line := r.buf[r.start : r.start+i]
			r.start += i + 1
			if err := r.decodeEmit(line, &e, keep, emit); err != nil {
				return err
			}
		}
		if err := r.flush(emit); err != nil {
			return err
		}
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
		if r.end == len(r.buf) {
			if len(r.buf) >= 16<<20 {
				r.end = 0 // an absurd line: drop it
			} else {
				r.buf = append(r.buf, make([]byte, len(r.buf))...)
			}
		}
		n, err := r.f.Read(r.buf[r.end:])
		r.end += n
		r.off += int64(n)
		if n > 0 {
			continue
		}
		if err == nil || err == io.EOF {
			if final && r.end > 0 {
				line := r.buf[:r.end]
				r.end = 0
				if err := r.decodeEmit(line, &e, keep, emit); err != nil {
					return err
				}
				return r.flush(emit)
			}
			return nil
		}
		return fmt.Errorf("read container log: %w", err)
	}
}

// decodeEmit decodes one line and emits it if keep takes it. A reader that
// does not merge has nothing pending: merge is only ever turned on.
func (r *lineReader) decodeEmit(line []byte, e *Entry, keep func(*Entry) (bool, error), emit func(Entry) error) error {
	if r.merge {
		return r.mergeDecodeEmit(line, keep, emit)
	}
	e.Line = e.Line[:0]
	if !decodeEntry(line, e, &r.ts) {
		return nil
	}
	ok, err := keep(e)
	if err != nil || !ok {
		return err
	}
	return emit(*e)
}

// mergeDecodeEmit is decodeEmit for a merging reader: the line is decoded
// straight onto the end of the pending entry, which saves a copy when it
// joins it (the common case: the writer stamps a whole read alike).
func (r *lineReader) mergeDecodeEmit(line []byte, keep func(*Entry) (bool, error), emit func(Entry) error) error {
	p := &r.pending
	if len(p.Line) > 0 && len(p.Line)+len(line) > maxMerge { // line bounds its decoded size
		if err := r.flush(emit); err != nil {
			return err
		}
	}
	n := len(p.Line)
	e := Entry{Line: p.Line}
	if !decodeEntry(line, &e, &r.ts) {
		return nil
	}
	p.Line = e.Line[:n] // the pending entry as it was; e.Line[n:] is the new line
	ok, err := keep(&e)
	if err != nil {
		// Past Until: what was merged before still counts.
		return errors.Join(r.flush(emit), err)
	}
	if !ok {
		return nil
	}
	switch {
	case n == 0:
		p.Stream, p.Time, p.Line = e.Stream, e.Time, e.Line
	case p.Stream == e.Stream && p.Time.Equal(e.Time):
		p.Line = e.Line
	default:
		// A new run: emit the pending one, then move the line down.
		if err := r.flush(emit); err != nil {
			return err
		}
		p.Stream, p.Time = e.Stream, e.Time
		p.Line = append(p.Line[:0], e.Line[n:]...)
	}
	return nil
}

// DecodeEntry decodes one log line (without its newline) into e, reusing
// e.Line's storage. It reports false for a line that is not a log entry.
func DecodeEntry(line []byte, e *Entry) bool {
	e.Line = e.Line[:0]
	return decodeEntry(line, e, &tsCache{})
}

// decodeEntry is DecodeEntry appending the output to e.Line.
func decodeEntry(line []byte, e *Entry, ts *tsCache) bool {
	// Fast path for the exact form AppendEntry writes.
	const prefix = `{"log":"`
	if bytes.HasPrefix(line, []byte(prefix)) {
		rest := line[len(prefix):]
		out, n, ok := unquote(e.Line, rest)
		if ok {
			rest = rest[n:]
			var stream string
			switch {
			case bytes.HasPrefix(rest, []byte(`,"stream":"stdout","time":"`)):
				stream = Stdout
			case bytes.HasPrefix(rest, []byte(`,"stream":"stderr","time":"`)):
				stream = Stderr
			}
			if stream != "" {
				rest = rest[len(`,"stream":"stdout","time":"`):]
				if len(rest) > 2 && bytes.HasSuffix(rest, []byte(`"}`)) {
					if t, ok := ts.parse(rest[:len(rest)-2]); ok {
						e.Stream, e.Time, e.Line = stream, t, out
						return true
					}
				}
			}
		}
	}
	var j struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if err := json.Unmarshal(line, &j); err != nil || j.Stream == "" {
		return false
	}
	e.Stream, e.Time, e.Line = j.Stream, j.Time, append(e.Line, j.Log...)
	return true
}

// unquote decodes a JSON string body (after the opening quote) up to its
// closing quote, appending to dst. It returns the bytes consumed including
// the closing quote.
func unquote(dst, s []byte) ([]byte, int, bool) {
	for i := 0; i < len(s); {
		// Copy the run up to the next quote or backslash in one append
		// (IndexByte is vectorized). A raw control character in the run,
		// which strict JSON forbids and no writer produces, is kept: checking
		// every byte cost more than the rest of the decoding.
		j := len(s)
		if q := bytes.IndexByte(s[i:], '"'); q >= 0 {
			j = i + q
		}
		if k := bytes.IndexByte(s[i:j], '\\'); k >= 0 {
			j = i + k
		}
		dst = append(dst, s[i:j]...)
		i = j
		if i == len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '"':
			return dst, i + 1, true
		case c == '\\':
			if i+1 >= len(s) {
				return dst, 0, false
			}
			switch s[i+1] {
			case '"', '\\', '/':
				dst = append(dst, s[i+1])
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'u':
				r, ok := hex4(s[i+2:])
				if !ok {
					return dst, 0, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2, ok = hex4(s[i+2:])
					}
					if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, 0, false
			}
			i += 2
		case c < 0x20:
			return dst, 0, false
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst, 0, false
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
