// Package ctrlog writes and reads a container's log: docker json-file lines
//
//	{"log":"hello\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}
//
// one per line of output, stdout and stderr kept apart by the stream field,
// with a timestamp taken when the supervisor read the line. The log is
// rotated by size: container.log is the current file, container.log.1 the
// previous one, and so on up to MaxFiles files in all.
//
// The supervisor owns the Writer; the apiserver reads with Read (all, tail,
// since/until, follow). A line longer than MaxLine is split into several
// entries, the first ones without a trailing newline (docker does the same).
package ctrlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Defaults for a log with no explicit bounds.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 3
	// MaxLine is the longest chunk of output recorded as one entry.
	MaxLine = 16 << 10
)

// Streams.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Writer appends entries to a rotating log file. It is safe for concurrent
// use: stdout and stderr copiers share one Writer.
type Writer struct {
	path     string
	maxSize  int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// NewWriter opens (or creates) the log at path for appending. maxSize <= 0
// and maxFiles <= 0 select the defaults.
func NewWriter(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if maxFiles <= 0 {
		maxFiles = DefaultMaxFiles
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return &Writer{path: path, maxSize: maxSize, maxFiles: maxFiles, f: f, size: fi.Size()}, nil
}

// Close closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Write records one entry: line is the output (with its trailing newline if
// it had one), t the time it was read.
func (w *Writer) Write(stream string, t time.Time, line []byte) error {
	return w.write(AppendEntry(nil, stream, t, line))
}

// Copy reads r until EOF and records every line as an entry of stream. A
// trailing partial line is recorded at EOF. It returns the first write error
// (after which it keeps draining r so the writer never blocks).
func (w *Writer) Copy(stream string, r io.Reader) error {
	buf := make([]byte, 64<<10)
	var out, ts []byte
	var werr error
	start := 0 // buf[start:end] is pending (an incomplete line)
	end := 0
	for {
		n, err := r.Read(buf[end:])
		end += n
		ts = time.Now().UTC().AppendFormat(ts[:0], time.RFC3339Nano)
		out = out[:0]
		for {
			i := bytes.IndexByte(buf[start:end], '\n')
			if i >= 0 && i < MaxLine {
				out = appendEntry(out, stream, ts, buf[start:start+i+1])
				start += i + 1
				continue
			}
			if end-start >= MaxLine {
				out = appendEntry(out, stream, ts, buf[start:start+MaxLine])
				start += MaxLine
				continue
			}
			if err != nil && end > start {
				out = appendEntry(out, stream, ts, buf[start:end])
				start = end
			}
			break
		}
		if len(out) > 0 && werr == nil {
			werr = w.write(out)
		}
		if start == end {
			start, end = 0, 0
		} else if end == len(buf) || start > len(buf)/2 {
			end = copy(buf, buf[start:end])
			start = 0
		}
		if err != nil {
			if err == io.EOF {
				return werr
			}
			if werr != nil {
				return werr
			}
			return fmt.Errorf("read %s: %w", stream, err)
		}
	}
}

func (w *Writer) write(data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("write container log: %w", os.ErrClosed)
	}
	if w.size > 0 && w.size+int64(len(data)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(data)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("write container log: %w", err)
	}
	return nil
}

// rotate shifts container.log.N-1 → .N, ..., container.log → .1 and starts
// an empty container.log. With maxFiles 1 it truncates.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("rotate container log: %w", err)
	}
	w.f = nil
	if w.maxFiles > 1 {
		_ = os.Remove(w.path + "." + strconv.Itoa(w.maxFiles-1))
		for i := w.maxFiles - 2; i >= 1; i-- {
			_ = os.Rename(w.path+"."+strconv.Itoa(i), w.path+"."+strconv.Itoa(i+1))
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return fmt.Errorf("rotate container log: %w", err)
		}
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate container log: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

const hexDigits = "0123456789abcdef"

// AppendEntry appends one encoded log line (with its newline) to dst.
func AppendEntry(dst []byte, stream string, t time.Time, line []byte) []byte {
	return appendEntry(dst, stream, t.UTC().AppendFormat(nil, time.RFC3339Nano), line)
}

// appendEntry is AppendEntry with the time already formatted.
func appendEntry(dst []byte, stream string, ts, line []byte) []byte {
	dst = append(dst, `{"log":"`...)
	dst = appendJSONString(dst, line)
	dst = append(dst, `","stream":"`...)
	dst = append(dst, stream...)
	dst = append(dst, `","time":"`...)
	dst = append(dst, ts...)
	return append(dst, "\"}\n"...)
}

// safe[c] is true for the ASCII bytes copied unescaped.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// safeRun returns the length of the longest prefix of s that is copied
// unescaped. It looks at 8 bytes at a time: the byte-by-byte loop was the
// supervisor's largest cost for a stream of long lines.
func safeRun(s []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := binary.LittleEndian.Uint64(s[i:])
		q := v ^ ('"' * ones)  // zero where a byte is '"'
		b := v ^ ('\\' * ones) // zero where a byte is '\\'
		// A byte >= 0x80, < 0x20, or zero in q or b.
		if (v|(v-0x20*ones)|(q-ones)&^q|(b-ones)&^b)&highs != 0 {
			break
		}
	}
	for i < len(s) && s[i] < utf8.RuneSelf && safe[s[i]] {
		i++
	}
	return i
}

func appendJSONString(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		j := i + safeRun(s[i:])
		dst = append(dst, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
