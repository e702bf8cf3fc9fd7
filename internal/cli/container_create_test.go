package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  error
	}{
		{in: "1024", want: 1024},
		{in: "512k", want: 512 << 10},
		{in: "64m", want: 64 << 20},
		{in: "64MB", want: 64 << 20},
		{in: "1.5g", want: 3 << 29},
		{in: "", err: errdefs.ErrInvalidArgument},
		{in: "-1m", err: errdefs.ErrInvalidArgument},
		{in: "lots", err: errdefs.ErrInvalidArgument},
		{in: "99999999999t", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseBytes(tc.in)
			if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
				t.Fatalf("parseBytes(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseUlimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want client.Ulimit
		err  error
	}{
		{in: "nofile=1024:2048", want: client.Ulimit{Name: "nofile", Soft: 1024, Hard: 2048}},
		{in: "nproc=64", want: client.Ulimit{Name: "nproc", Soft: 64, Hard: 64}},
		{in: "nofile", err: errdefs.ErrInvalidArgument},
		{in: "=1", err: errdefs.ErrInvalidArgument},
		{in: "nofile=x", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseUlimit(tc.in)
			if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
				t.Fatalf("parseUlimit(%q) = %+v, %v; want %+v, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n# c\n\nB=2", "=x", "A B=1", strings.Repeat("x", 70000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		env, err := parseEnvFile(strings.NewReader(s), "f")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("parseEnvFile: error %v is not ErrInvalidArgument", err)
			}
			return
		}
		for _, e := range env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				t.Fatalf("parseEnvFile(%q) gave entry %q", s, e)
			}
		}
	})
}
