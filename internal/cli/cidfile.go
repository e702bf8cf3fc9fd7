package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// cidFile is --cidfile: opened before anything is created (the file must
// not exist and its directory must take a file), written atomically once
// the container exists (a temporary file linked into place, so a reader
// never sees a partial id and nothing that appeared meanwhile is
// overwritten).
type cidFile struct {
	path string
	tmp  *os.File
}

// openCIDFile checks path does not exist and prepares the temporary file
// next to it. A "" path gives a nil *cidFile, whose methods do nothing.
func openCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return nil, nil
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("cidfile %q: the file exists; remove it if no other container uses it: %w", path, errdefs.ErrAlreadyExists)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cidfile %q: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return nil, fmt.Errorf("cidfile %q: %w", path, err)
	}
	return &cidFile{path: path, tmp: tmp}, nil
}

// commit writes id and links the file into place.
func (f *cidFile) commit(id string) error {
	if f == nil {
		return nil
	}
	defer os.Remove(f.tmp.Name())
	_, err := f.tmp.WriteString(id)
	if err == nil {
		err = f.tmp.Sync()
	}
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.tmp.Name(), f.path)
	}
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("cidfile %q: created by someone else meanwhile: %w", f.path, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("cidfile %q: %w", f.path, err)
	}
	return nil
}

// abort drops the temporary file when no container was created.
func (f *cidFile) abort() {
	if f == nil {
		return
	}
	_ = f.tmp.Close()
	_ = os.Remove(f.tmp.Name())
}

// removeCIDFileOfGone removes --cidfile after a failed run when the
// container it names no longer exists (run --rm removed it).
func removeCIDFileOfGone(c *client.Client, path, id string) {
	if path == "" || id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.GetContainer(ctx, id); !errdefs.IsNotFound(err) {
		return
	}
	if data, err := os.ReadFile(path); err == nil && string(data) == id {
		_ = os.Remove(path)
	}
}
