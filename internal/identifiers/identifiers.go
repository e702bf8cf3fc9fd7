// Package identifiers validates container names and generates container ids.
//
// A name matches ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ and is at most 63 characters
// (the longest DNS label), so every name is also a valid host name part and
// a safe path element. A generated id is 64 lower-case hex characters.
package identifiers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/berth/container/errdefs"
)

// MaxLength is the longest valid name.
const MaxLength = 63

// Validate reports whether s is a valid container name. The error is of
// kind errdefs.ErrInvalidArgument. A generated id (64 characters) is not a
// valid name; check ids with IsID.
func Validate(s string) error {
	if s == "" {
		return fmt.Errorf("name must not be empty: %w", errdefs.ErrInvalidArgument)
	}
	if len(s) > MaxLength {
		return fmt.Errorf("name %q: longer than %d characters: %w", truncate(s), MaxLength, errdefs.ErrInvalidArgument)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return fmt.Errorf("name %q: must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// NewID returns a random 64-character hex id.
func NewID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// IsID reports whether s has the shape of a generated id.
func IsID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > MaxLength {
		return s[:MaxLength] + "..."
	}
	return s
}
