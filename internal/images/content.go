package images

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth/container/errdefs"
)

// Content is the blob store under <root>/content, laid out like an OCI
// image layout: blobs/sha256/<hex>. Blobs are written into ingest/ first,
// verified against their digest, fsynced, and only then renamed into
// blobs/, so a blob that exists is always complete and correct.
type Content struct {
	root string

	mu    sync.Mutex
	locks map[digest.Digest]*refLock
}

type refLock struct {
	mu   sync.Mutex
	refs int
}

// NewContent opens the content store at root, creating it if needed, and
// removes partial downloads left in ingest/ by a previous run.
func NewContent(root string) (*Content, error) {
	for _, d := range []string{filepath.Join(root, "blobs", "sha256"), filepath.Join(root, "ingest")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("content store %q: %w", root, err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(root, "ingest"))
	if err != nil {
		return nil, fmt.Errorf("content store %q: %w", root, err)
	}
	for _, e := range ents {
		_ = os.RemoveAll(filepath.Join(root, "ingest", e.Name()))
	}
	return &Content{root: root, locks: make(map[digest.Digest]*refLock)}, nil
}

// Path returns where the blob d lives (whether or not it exists).
func (c *Content) Path(d digest.Digest) string {
	return filepath.Join(c.root, "blobs", d.Algorithm().String(), d.Encoded())
}

// Has reports whether blob d is in the store.
func (c *Content) Has(d digest.Digest) bool {
	if d.Validate() != nil {
		return false
	}
	_, err := os.Stat(c.Path(d))
	return err == nil
}

// Size returns the size of blob d.
func (c *Content) Size(d digest.Digest) (int64, error) {
	if err := d.Validate(); err != nil {
		return 0, fmt.Errorf("digest %q: %w", d, errdefs.ErrInvalidArgument)
	}
	fi, err := os.Stat(c.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Open opens blob d for reading.
func (c *Content) Open(d digest.Digest) (*os.File, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("digest %q: %w", d, errdefs.ErrInvalidArgument)
	}
	f, err := os.Open(c.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return f, err
}

// ReadAll returns the content of blob d (for manifests and configs).
func (c *Content) ReadAll(d digest.Digest) ([]byte, error) {
	f, err := c.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Lock serialises work on blob d across goroutines (two pulls sharing a
// layer download it once). Call the returned function to unlock.
func (c *Content) Lock(d digest.Digest) func() {
	c.mu.Lock()
	l, ok := c.locks[d]
	if !ok {
		l = &refLock{}
		c.locks[d] = l
	}
	l.refs++
	c.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		c.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(c.locks, d)
		}
		c.mu.Unlock()
	}
}

// Write stores the blob d read from r. size is the expected size, or -1.
// The data is verified against d (and size) before the blob appears; on any
// error nothing is left behind. Writing a blob that exists is a no-op that
// does not read r. The caller should hold Lock(d) if it wants concurrent
// writers of the same blob to wait for each other instead of racing.
func (c *Content) Write(ctx context.Context, d digest.Digest, size int64, r io.Reader) (retErr error) {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w", d, errdefs.ErrInvalidArgument)
	}
	if c.Has(d) {
		return nil
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(c.root, "ingest", d.Encoded()+"-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("ingest blob %s: %w", d, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if retErr != nil {
			os.Remove(tmp)
		}
	}()
	verifier := d.Verifier()
	n, err := io.Copy(io.MultiWriter(f, verifier), ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("write blob %s: %w", d, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob %s: got %d bytes, want %d: %w", d, n, size, errdefs.ErrInvalidArgument)
	}
	if !verifier.Verified() {
		return fmt.Errorf("blob %s: content does not match its digest: %w", d, errdefs.ErrInvalidArgument)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync blob %s: %w", d, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close blob %s: %w", d, err)
	}
	f = nil
	if err := os.Rename(tmp, c.Path(d)); err != nil {
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	return syncDir(filepath.Dir(c.Path(d)))
}

// WriteBytes stores b as a blob and returns its digest.
func (c *Content) WriteBytes(ctx context.Context, b []byte) (digest.Digest, error) {
	d := digest.FromBytes(b)
	return d, c.Write(ctx, d, int64(len(b)), bytes.NewReader(b))
}

// Delete removes blob d; a missing blob is not an error.
func (c *Content) Delete(d digest.Digest) error {
	if err := os.Remove(c.Path(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// Walk returns the digests of every blob in the store.
func (c *Content) Walk() ([]digest.Digest, error) {
	ents, err := os.ReadDir(filepath.Join(c.root, "blobs", "sha256"))
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	var out []digest.Digest
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// IngestDir is where partial blobs live; tools use it for scratch files
// that must be on the same filesystem as the store.
func (c *Content) IngestDir() string { return filepath.Join(c.root, "ingest") }

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
