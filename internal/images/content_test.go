package images

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth/container/errdefs"
)

func TestContentWrite(t *testing.T) {
	root := t.TempDir()
	// A partial download from a previous run is removed on open.
	if err := os.MkdirAll(filepath.Join(root, "ingest"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ingest", "stale"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewContent(root)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(c.IngestDir()); len(ents) != 0 {
		t.Fatalf("ingest not cleaned: %v", ents)
	}
	data := []byte("hello blob")
	d := digest.FromBytes(data)
	for _, tc := range []struct {
		name string
		dgst digest.Digest
		size int64
		body []byte
		err  error
	}{
		{name: "wrong content", dgst: d, size: -1, body: []byte("hello blub"), err: errdefs.ErrInvalidArgument},
		{name: "short", dgst: d, size: int64(len(data)), body: data[:3], err: errdefs.ErrInvalidArgument},
		{name: "bad digest", dgst: "sha256:xyz", size: -1, body: data, err: errdefs.ErrInvalidArgument},
		{name: "ok", dgst: d, size: int64(len(data)), body: data},
		{name: "again", dgst: d, size: int64(len(data)), body: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Write(t.Context(), tc.dgst, tc.size, bytes.NewReader(tc.body))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Write = %v, want %v", err, tc.err)
			}
			if ents, _ := os.ReadDir(c.IngestDir()); len(ents) != 0 {
				t.Fatalf("ingest left behind: %v", ents)
			}
			if tc.err != nil && tc.dgst == d && c.Has(d) {
				t.Fatal("a rejected blob was stored")
			}
		})
	}
	got, err := c.ReadAll(d)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if _, err := c.Open(digest.FromString("missing")); !errdefs.IsNotFound(err) {
		t.Fatalf("Open missing: %v", err)
	}
	if all, _ := c.Walk(); len(all) != 1 || all[0] != d {
		t.Fatalf("Walk = %v", all)
	}
	if err := c.Delete(d); err != nil || c.Has(d) {
		t.Fatalf("Delete: %v", err)
	}
}
