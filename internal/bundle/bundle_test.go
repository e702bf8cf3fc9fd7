package bundle

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/berth/container/errdefs"
)

func TestExitRoundTrip(t *testing.T) {
	b := Bundle{Dir: t.TempDir()}
	if _, err := b.ReadExit(); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("ReadExit on empty bundle: %v, want ErrNotFound", err)
	}
	want := ExitStatus{Code: 137, Signal: 9, ExitedAt: time.Now().UTC().Round(0), OOMKilled: true}
	if err := b.WriteExit(want); err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadExit()
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExitedAt.Equal(want.ExitedAt) || got.Code != want.Code || got.Signal != want.Signal || !got.OOMKilled {
		t.Fatalf("ReadExit = %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(b.Dir)
	if len(entries) != 1 {
		t.Fatalf("bundle holds %d files after WriteExit, want 1 (no temporary files)", len(entries))
	}
}

// TestExitVolatileRoundTrip: the exit record of a volatile container is
// written atomically like any other (no fsync, same file, no temporaries).
func TestExitVolatileRoundTrip(t *testing.T) {
	b := Bundle{Dir: t.TempDir()}
	want := ExitStatus{Code: 6, ExitedAt: time.Now().UTC().Round(0)}
	if err := b.WriteExit(ExitStatus{Code: 1, ExitedAt: want.ExitedAt}); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteExitVolatile(want); err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadExit()
	if err != nil || got.Code != 6 || !got.ExitedAt.Equal(want.ExitedAt) {
		t.Fatalf("ReadExit = %+v, %v; want %+v", got, err, want)
	}
	if entries, _ := os.ReadDir(b.Dir); len(entries) != 1 {
		t.Fatalf("bundle holds %d files, want 1", len(entries))
	}
}

func TestReadExitCorrupt(t *testing.T) {
	b := Bundle{Dir: t.TempDir()}
	if err := os.WriteFile(b.Exit(), []byte(`{"code":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadExit(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("ReadExit of corrupt file: %v, want ErrInvalidArgument", err)
	}
	if _, err := os.Stat(b.Exit()); err != nil {
		t.Fatalf("corrupt exit.json was removed: %v", err)
	}
}

func FuzzParseExit(f *testing.F) {
	for _, s := range []string{
		`{"code":0,"exited_at":"2026-01-02T03:04:05Z"}`,
		`{"code":137,"signal":9,"exited_at":"2026-01-02T03:04:05.123456789Z","oom_killed":true}`,
		`{"code":-1,"exited_at":"2026-01-02T03:04:05Z"}`,
		`{}`, ``, `null`, `{"code":1}{"code":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseExit(data)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseExit(%q): error %v is not ErrInvalidArgument", data, err)
			}
			return
		}
		b := Bundle{Dir: t.TempDir()}
		if err := b.WriteExit(st); err != nil {
			t.Fatal(err)
		}
		again, err := b.ReadExit()
		if err != nil || again.Code != st.Code || again.Signal != st.Signal ||
			again.OOMKilled != st.OOMKilled || !again.ExitedAt.Equal(st.ExitedAt) {
			t.Fatalf("round trip %+v -> %+v, %v", st, again, err)
		}
	})
}

// A huge exit.json (a damaged disk, a bug) is refused without being read
// into memory whole.
func TestReadExitHugeFileBounded(t *testing.T) {
	b := Bundle{Dir: t.TempDir()}
	f, err := os.Create(b.Exit())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := b.ReadExit(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("ReadExit of a 256 MiB file: %v, want ErrInvalidArgument", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("ReadExit allocated %d bytes for a 256 MiB file; want it bounded", grew)
	}
}
