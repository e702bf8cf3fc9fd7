package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/containers"
)

// bucketContainers holds one JSON-encoded containers.Container per id.
var bucketContainers = []byte("containers")

// Containers stores container records in the "containers" bucket. It
// satisfies containers.Store, and images.UsageChecker: it knows which
// images containers were created from.
type Containers struct{ db *DB }

// NewContainers returns the container store of db.
func NewContainers(db *DB) *Containers { return &Containers{db: db} }

// Create stores c; ErrAlreadyExists when its id is taken.
func (s *Containers) Create(_ context.Context, c containers.Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode container %q: %w", c.ID, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketContainers)
		if err != nil {
			return err
		}
		if b.Get([]byte(c.ID)) != nil {
			return fmt.Errorf("container %q: %w", c.ID, errdefs.ErrAlreadyExists)
		}
		return b.Put([]byte(c.ID), data)
	})
}

// Update replaces the record of c.ID; ErrNotFound when there is none.
func (s *Containers) Update(_ context.Context, c containers.Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode container %q: %w", c.ID, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		if b == nil || b.Get([]byte(c.ID)) == nil {
			return fmt.Errorf("container %q: %w", c.ID, errdefs.ErrNotFound)
		}
		return b.Put([]byte(c.ID), data)
	})
}

// Get returns the record of id; ErrNotFound when there is none.
func (s *Containers) Get(_ context.Context, id string) (containers.Container, error) {
	var c containers.Container
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		var data []byte
		if b != nil {
			data = b.Get([]byte(id))
		}
		if data == nil {
			return fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
		}
		return decodeContainer(id, data, &c)
	})
	return c, err
}

// List returns every record in id order. A record that does not decode
// is reported in the error (ErrFailedPrecondition, naming it) while the
// others are still returned, so that one damaged record neither hides nor
// blocks the rest.
func (s *Containers) List(_ context.Context) ([]containers.Container, error) {
	var out []containers.Container
	var damaged []error
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var c containers.Container
			if err := decodeContainer(string(k), v, &c); err != nil {
				damaged = append(damaged, err)
				return nil
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(damaged...)
}

// Delete removes the record of id; deleting a missing record is fine.
func (s *Containers) Delete(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(id))
	})
}

func decodeContainer(id string, data []byte, c *containers.Container) error {
	if err := json.Unmarshal(data, c); err != nil {
		return fmt.Errorf("decode container %q: %v: %w", id, err, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// InUse reports whether a container was created from the image or
// platform manifest with digest d (containers.Image's Digest or Manifest).
func (s *Containers) InUse(_ context.Context, d digest.Digest) (bool, error) {
	want := d.String()
	used := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContainers)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var c struct {
				Image struct{ Digest, Manifest string }
			}
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("decode container %q: %v: %w", k, err, errdefs.ErrFailedPrecondition)
			}
			if c.Image.Digest == want || c.Image.Manifest == want {
				used = true
			}
			return nil
		})
	})
	return used, err
}
