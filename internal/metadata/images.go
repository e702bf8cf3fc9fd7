package metadata

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/images"
)

// bucketImages holds one JSON-encoded images.Record per image name.
var bucketImages = []byte("images")

// Images stores image records in the "images" bucket. It satisfies
// images.Store.
type Images struct{ db *DB }

var _ images.Store = (*Images)(nil)

// NewImages returns the image store of db.
func NewImages(db *DB) *Images { return &Images{db: db} }

// Get returns the record of name; ErrNotFound when there is none.
func (s *Images) Get(_ context.Context, name string) (images.Record, error) {
	var r images.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketImages)
		var data []byte
		if b != nil {
			data = b.Get([]byte(name))
		}
		if data == nil {
			return fmt.Errorf("image %q: %w", name, errdefs.ErrNotFound)
		}
		return decodeImage(name, data, &r)
	})
	return r, err
}

// List returns every record, sorted by name.
func (s *Images) List(_ context.Context) ([]images.Record, error) {
	var out []images.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketImages)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r images.Record
			if err := decodeImage(string(k), v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Put creates or replaces the records of rs, all in one transaction (all
// or none), keeping a replaced record's original creation time.
func (s *Images) Put(_ context.Context, rs ...images.Record) error {
	for _, r := range rs {
		if r.Name == "" {
			return fmt.Errorf("image record without a name: %w", errdefs.ErrInvalidArgument)
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketImages)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if old := b.Get([]byte(r.Name)); old != nil {
				var prev images.Record
				if err := decodeImage(r.Name, old, &prev); err == nil && !prev.Created.IsZero() {
					r.Created = prev.Created
				}
			}
			data, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encode image %q: %w", r.Name, err)
			}
			if err := b.Put([]byte(r.Name), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Delete removes the record of name; ErrNotFound when there is none.
func (s *Images) Delete(_ context.Context, name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketImages)
		if b == nil || b.Get([]byte(name)) == nil {
			return fmt.Errorf("image %q: %w", name, errdefs.ErrNotFound)
		}
		return b.Delete([]byte(name))
	})
}

func decodeImage(name string, data []byte, r *images.Record) error {
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("decode image %q: %v: %w", name, err, errdefs.ErrFailedPrecondition)
	}
	return nil
}
