package images

import (
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Record is a stored image reference: a name pointing at a manifest or an
// index in the content store. internal/metadata persists records.
type Record struct {
	// Name is the normalised reference, e.g. "docker.io/library/busybox:latest",
	// or "sha256:<hex>" for an image loaded without a name.
	Name string `json:"name"`
	// Target is the manifest or index the name points at.
	Target  ocispec.Descriptor `json:"target"`
	Created time.Time          `json:"created"`
	Updated time.Time          `json:"updated"`
}
