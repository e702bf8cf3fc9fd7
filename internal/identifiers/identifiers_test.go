package identifiers

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/berth/container/errdefs"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err error
	}{
		{in: "web", err: nil},
		{in: "a", err: nil},
		{in: "A1_b.c-d", err: nil},
		{in: strings.Repeat("x", 63), err: nil},
		{in: strings.Repeat("x", 64), err: errdefs.ErrInvalidArgument},
		{in: "", err: errdefs.ErrInvalidArgument},
		{in: "-web", err: errdefs.ErrInvalidArgument},
		{in: ".web", err: errdefs.ErrInvalidArgument},
		{in: "we b", err: errdefs.ErrInvalidArgument},
		{in: "we/b", err: errdefs.ErrInvalidArgument},
		{in: "wéb", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if err := Validate(tc.in); !errors.Is(err, tc.err) {
				t.Fatalf("Validate(%q) = %v, want %v", tc.in, err, tc.err)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || !IsID(a) || !IsID(b) {
		t.Fatalf("NewID gave %q and %q", a, b)
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"web", "", "-x", "a.b_c-d", strings.Repeat("a", 64), "\x00", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Validate(s)
		want := nameRE.MatchString(s) && len(s) <= MaxLength
		if want != (err == nil) {
			t.Fatalf("Validate(%q) = %v, regexp match+length = %v", s, err, want)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("Validate(%q): error %v is not ErrInvalidArgument", s, err)
		}
	})
}

// Names and generated ids never collide: an id is longer than any name.
func TestIDIsNotAName(t *testing.T) {
	if err := Validate(NewID()); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Validate(NewID()) = %v, want ErrInvalidArgument", err)
	}
}
