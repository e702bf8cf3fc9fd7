package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/container/errdefs"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a.tar")
	if err := writeFileAtomic(out, func(w io.Writer) error { _, err := io.WriteString(w, "archive"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "archive" {
		t.Fatalf("output = %q, %v", b, err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o644 {
		t.Errorf("output mode %v, want 0644", fi.Mode().Perm())
	}
	// A failed write keeps the old file and leaves no temporary file.
	boom := errors.New("boom")
	if err := writeFileAtomic(out, func(w io.Writer) error { io.WriteString(w, "half"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed write: %v, want %v", err, boom)
	}
	if b, _ := os.ReadFile(out); string(b) != "archive" {
		t.Errorf("output after a failed save = %q, want the old content", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files after a failed save: %v, want only a.tar", ents)
	}
	called := false
	write := func(io.Writer) error { called = true; return nil }
	for _, tc := range []struct {
		name string
		path string
		kind error
	}{
		{"missing directory", filepath.Join(dir, "nosuch", "a.tar"), errdefs.ErrNotFound},
		{"directory", dir, errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := writeFileAtomic(tc.path, write); !errors.Is(err, tc.kind) {
				t.Fatalf("writeFileAtomic(%q) = %v, want %v", tc.path, err, tc.kind)
			}
			if called {
				t.Fatal("write ran for an unusable output")
			}
		})
	}
}

func TestOpenInput(t *testing.T) {
	dir := t.TempDir()
	a := &App{Stdin: strings.NewReader("")}
	for _, tc := range []struct {
		name string
		path string
		kind error
	}{
		{"missing", filepath.Join(dir, "nosuch.tar"), errdefs.ErrNotFound},
		{"directory", dir, errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.openInput(tc.path); !errors.Is(err, tc.kind) {
				t.Fatalf("openInput(%q) = %v, want %v", tc.path, err, tc.kind)
			}
		})
	}
	f := filepath.Join(dir, "a.tar")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := a.openInput(f)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}
