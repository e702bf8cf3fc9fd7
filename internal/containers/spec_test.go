package containers

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berth/container/errdefs"
)

func FuzzParseRestartPolicy(f *testing.F) {
	for _, s := range []string{"", "no", "always", "unless-stopped", "on-failure", "on-failure:3", "on-failure:x", "always:1", "on-failure:99999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseRestartPolicy(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseRestartPolicy(%q): %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		text := p.Name
		if p.MaxRetries > 0 {
			text = fmt.Sprintf("%s:%d", p.Name, p.MaxRetries)
		}
		again, err := ParseRestartPolicy(text)
		if err != nil || again != p {
			t.Fatalf("round trip %q -> %q -> %+v, %v", s, text, again, err)
		}
	})
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"TERM", "SIGKILL", "hup", "9", "0", "65", "SIGNOPE", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseSignal(%q): %v is not ErrInvalidArgument", s, err)
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

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{"/run", "/run:size=64m,mode=1777", "rel", "/", "/x:", "/x:a,,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseTmpfs(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseTmpfs(%q): %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		if m.Type != "tmpfs" || !strings.HasPrefix(m.Target, "/") || m.Target == "/" {
			t.Fatalf("ParseTmpfs(%q) = %+v", s, m)
		}
	})
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Image: "busybox", StopTimeout: -1, UID: -1, GID: -1}
	for _, tc := range []struct {
		name string
		mod  func(*Spec)
		err  error
	}{
		{name: "ok", mod: func(*Spec) {}},
		{name: "no image", mod: func(s *Spec) { s.Image = "" }, err: errdefs.ErrInvalidArgument},
		{name: "relative workdir", mod: func(s *Spec) { s.Workdir = "tmp" }, err: errdefs.ErrInvalidArgument},
		{name: "tiny memory", mod: func(s *Spec) { s.Memory = 1024 }, err: errdefs.ErrInvalidArgument},
		{name: "unknown ulimit", mod: func(s *Spec) { s.Ulimits = []Ulimit{{Name: "bogus"}} }, err: errdefs.ErrInvalidArgument},
		{name: "soft over hard", mod: func(s *Spec) { s.Ulimits = []Ulimit{{Name: "nofile", Soft: 2, Hard: 1}} }, err: errdefs.ErrInvalidArgument},
		{name: "empty env key", mod: func(s *Spec) { s.Env = []string{"=x"} }, err: errdefs.ErrInvalidArgument},
		{name: "bridge network", mod: func(s *Spec) { s.Network = "mynet" }, err: errdefs.ErrInvalidArgument},
		{name: "rm with restart", mod: func(s *Spec) { s.AutoRemove, s.Restart = true, "always" }, err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := ok
			tc.mod(&sp)
			if err := sp.Validate(""); !errors.Is(err, tc.err) {
				t.Fatalf("Validate = %v, want %v", err, tc.err)
			}
		})
	}
}
