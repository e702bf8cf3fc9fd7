package images

import (
	"errors"
	"testing"

	"github.com/berth/container/errdefs"
)

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest",
		"localhost:5000/a/b:c", "127.0.0.1:5000/x@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"", "UPPER", "a:b:c", " x", "x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, n, err := ParseReference(s, "")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseReference(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		_, again, err := ParseReference(n, "")
		if err != nil || again != n {
			t.Fatalf("round trip %q -> %q -> %q, %v", s, n, again, err)
		}
	})
}

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm64/v8", "linux", "", "/", "a/b/c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParsePlatform(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		again, err := ParsePlatform(FormatPlatform(p))
		if err != nil || again.OS != p.OS || again.Architecture != p.Architecture || again.Variant != p.Variant {
			t.Fatalf("round trip %q -> %+v -> %+v, %v", s, p, again, err)
		}
	})
}

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36"},
		{in: "index.docker.io/library/busybox", want: "docker.io/library/busybox:latest"},
		{in: "me/app:v1", want: "docker.io/me/app:v1"},
		{in: "localhost:5000/app", want: "localhost:5000/app:latest"},
		{in: "ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			want: "ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{in: "", err: errdefs.ErrInvalidArgument},
		{in: "Busybox", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, got, err := ParseReference(tc.in, "")
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseReference(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("ParseReference(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if _, _, err := ParseReference("busybox", "ftp"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad scheme: %v", err)
	}
}
