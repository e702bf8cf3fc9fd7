package opts

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/berth/container/errdefs"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  error
	}{
		{in: "1024", want: 1024},
		{in: "512k", want: 512 << 10},
		{in: "64m", want: 64 << 20},
		{in: "64MB", want: 64 << 20},
		{in: "64mib", want: 64 << 20},
		{in: "1.5g", want: 3 << 29},
		{in: "2t", want: 2 << 40},
		{in: "", err: errdefs.ErrInvalidArgument},
		{in: "-1m", err: errdefs.ErrInvalidArgument},
		{in: "lots", err: errdefs.ErrInvalidArgument},
		{in: "64i", err: errdefs.ErrInvalidArgument},
		{in: "64ib", err: errdefs.ErrInvalidArgument},
		{in: "0x10", err: errdefs.ErrInvalidArgument},
		{in: "inf", err: errdefs.ErrInvalidArgument},
		{in: "99999999999t", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseUlimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ulimit
		err  error
	}{
		{in: "nofile=1024:2048", want: Ulimit{"nofile", 1024, 2048}},
		{in: "nproc=64", want: Ulimit{"nproc", 64, 64}},
		{in: "NOFILE=5", want: Ulimit{"nofile", 5, 5}},
		{in: "RLIMIT_CORE=unlimited", want: Ulimit{"core", Unlimited, Unlimited}},
		{in: "core=-1", want: Ulimit{"core", Unlimited, Unlimited}},
		{in: "nofile=2048:1024", err: errdefs.ErrInvalidArgument},
		{in: "bogus=1", err: errdefs.ErrInvalidArgument},
		{in: "=1", err: errdefs.ErrInvalidArgument},
		{in: "nofile", err: errdefs.ErrInvalidArgument},
		{in: "nofile=x", err: errdefs.ErrInvalidArgument},
		{in: "nofile=1:", err: errdefs.ErrInvalidArgument},
		{in: "", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseUlimit(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseUlimit(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("ParseUlimit(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidateUlimit(t *testing.T) {
	for _, tc := range []struct {
		u   Ulimit
		err error
	}{
		{u: Ulimit{"nofile", 100, 200}},
		{u: Ulimit{"core", Unlimited, Unlimited}},
		{u: Ulimit{"bogus", 1, 1}, err: errdefs.ErrInvalidArgument},
		{u: Ulimit{"NOFILE", 1, 1}, err: errdefs.ErrInvalidArgument},
		{u: Ulimit{"nofile", 2, 1}, err: errdefs.ErrInvalidArgument},
		{u: Ulimit{"nofile", 1, 1 << 40}, err: errdefs.ErrInvalidArgument}, // above fs.nr_open
	} {
		if err := ValidateUlimit(tc.u); !errors.Is(err, tc.err) {
			t.Errorf("ValidateUlimit(%+v) = %v, want %v", tc.u, err, tc.err)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		opt []string
	}{
		{in: "/run", ok: true},
		{in: "/x:", ok: true},
		{in: "/run:size=64m,mode=1777", ok: true, opt: []string{"size=64m", "mode=1777"}},
		{in: "/run:exec,size=50%", ok: true, opt: []string{"exec", "size=50%"}},
		{in: "run", ok: false},
		{in: "/", ok: false},
		{in: "/..", ok: false},
		{in: "/run:bogus", ok: false},
		{in: "/x:rw,,ro", ok: false},
		{in: "/run:mode=99999999", ok: false},
		{in: "/run:size=", ok: false},
	} {
		got, err := ParseTmpfs(tc.in)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errdefs.ErrInvalidArgument)) {
			t.Errorf("ParseTmpfs(%q) error = %v", tc.in, err)
			continue
		}
		if err == nil && !slices.Equal(got.Options, tc.opt) {
			t.Errorf("ParseTmpfs(%q) options = %v, want %v", tc.in, got.Options, tc.opt)
		}
	}
}

func TestTmpfsMountOptions(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{in: nil, want: []string{"noexec", "nosuid", "nodev"}},
		{in: []string{"size=1m"}, want: []string{"size=1m", "noexec", "nosuid", "nodev"}},
		{in: []string{"exec"}, want: []string{"exec", "nosuid", "nodev"}},
		{in: []string{"suid", "dev", "noexec"}, want: []string{"suid", "dev", "noexec"}},
	} {
		got := TmpfsMountOptions(tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("TmpfsMountOptions(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if again := TmpfsMountOptions(got); !slices.Equal(again, got) {
			t.Errorf("TmpfsMountOptions is not idempotent: %v -> %v", got, again)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"SIGTERM": 15, "term": 15, "hup": 1, "9": 9, "SIGQUIT": 3, "RTMIN+1": 35, "SIGRTMAX-2": 62} {
		if got, err := ParseSignal(in); err != nil || int(got) != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "-1", "SIGFOO", "RTMIN+31"} {
		if _, err := ParseSignal(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseSignal(%q) error = %v", in, err)
		}
	}
}

func FuzzParseUlimit(f *testing.F) {
	for _, s := range []string{"nofile=1024:2048", "core=unlimited", "nproc=-1:5", "x=", "nofile=18446744073709551615", "=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUlimit(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseUlimit(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		again, err := ParseUlimit(u.String())
		if err != nil || again != u {
			t.Fatalf("round trip %q -> %q -> %+v, %v", s, u.String(), again, err)
		}
	})
}

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{"/run", "/run:size=64m,mode=1777", "/x:exec,size=10%", ":", "/a:b:c", "rel", "/", "/x:", "/x:a,,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTmpfs(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseTmpfs(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		again, err := ParseTmpfs(tm.String())
		if err != nil || again.String() != tm.String() {
			t.Fatalf("round trip %q -> %q -> %+v, %v", s, tm.String(), again, err)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64m", "1.5g", "512", "1kib", "-1", "1e400", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseSize(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"SIGTERM", "TERM", "hup", "9", "0", "65", "RTMAX-3", "SIGRTMIN+99", "SIGNOPE", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseSignal(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		if sig <= 0 || sig > 64 {
			t.Fatalf("ParseSignal(%q) = %d", s, sig)
		}
		if again, err := ParseSignal(fmt.Sprint(int(sig))); err != nil || again != sig {
			t.Fatalf("round trip %q -> %d -> %d, %v", s, sig, again, err)
		}
	})
}
