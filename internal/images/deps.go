package images

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// Store persists image records by name. internal/metadata implements it.
type Store interface {
	Get(ctx context.Context, name string) (Record, error)
	List(ctx context.Context) ([]Record, error)
	// Put creates or replaces the records of rs: all of them or none.
	Put(ctx context.Context, rs ...Record) error
	// Delete removes the record; ErrNotFound when there is none.
	Delete(ctx context.Context, name string) error
}

// UsageChecker tells whether a container uses an image. The container
// records in internal/metadata implement it, so it exists before images. InUse is called with the image's Digest (the name's target)
// and with its platform manifest digest; either being in use protects it.
type UsageChecker interface {
	InUse(ctx context.Context, d digest.Digest) (bool, error)
}
