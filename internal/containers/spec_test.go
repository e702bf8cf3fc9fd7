package containers

import (
	"errors"
	"fmt"
	"slices"
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

func FuzzTmpfsMount(f *testing.F) {
	for _, s := range []string{"/run", "/run:size=64m,mode=1777", "/x:exec", "rel", "/", "/x:", "/x:a,,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := tmpfsMount(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("tmpfsMount(%q): %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		if m.Type != "tmpfs" || !strings.HasPrefix(m.Target, "/") || m.Target == "/" || len(m.Options) < 3 {
			t.Fatalf("tmpfsMount(%q) = %+v", s, m)
		}
	})
}

func TestTmpfsMount(t *testing.T) {
	for in, want := range map[string]Mount{
		"/run":               {Type: "tmpfs", Source: "tmpfs", Target: "/run", Options: []string{"noexec", "nosuid", "nodev"}},
		"/a/../b/:size=1m":   {Type: "tmpfs", Source: "tmpfs", Target: "/b", Options: []string{"size=1m", "noexec", "nosuid", "nodev"}},
		"/x:exec,mode=1777":  {Type: "tmpfs", Source: "tmpfs", Target: "/x", Options: []string{"exec", "mode=1777", "nosuid", "nodev"}},
		"/x:suid,dev,noexec": {Type: "tmpfs", Source: "tmpfs", Target: "/x", Options: []string{"suid", "dev", "noexec"}},
	} {
		got, err := tmpfsMount(in)
		if err != nil || got.Type != want.Type || got.Source != want.Source || got.Target != want.Target || !slices.Equal(got.Options, want.Options) {
			t.Errorf("tmpfsMount(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
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
		{name: "nofile over nr_open", mod: func(s *Spec) { s.Ulimits = []Ulimit{{Name: "nofile", Soft: 1, Hard: 1 << 40}} }, err: errdefs.ErrInvalidArgument},
		{name: "unlimited core", mod: func(s *Spec) { s.Ulimits = []Ulimit{{Name: "core", Soft: 1<<64 - 1, Hard: 1<<64 - 1}} }},
		{name: "stop signal", mod: func(s *Spec) { s.StopSignal = "SIGRTMIN+2" }},
		{name: "bad stop signal", mod: func(s *Spec) { s.StopSignal = "SIGNOPE" }, err: errdefs.ErrInvalidArgument},
		{name: "tmpfs", mod: func(s *Spec) { s.Tmpfs = []string{"/run:size=64m,exec"} }},
		{name: "tmpfs on root", mod: func(s *Spec) { s.Tmpfs = []string{"/"} }, err: errdefs.ErrInvalidArgument},
		{name: "tmpfs bad option", mod: func(s *Spec) { s.Tmpfs = []string{"/run:bogus"} }, err: errdefs.ErrInvalidArgument},
		{name: "empty env key", mod: func(s *Spec) { s.Env = []string{"=x"} }, err: errdefs.ErrInvalidArgument},
		{name: "cap add", mod: func(s *Spec) { s.CapAdd, s.CapDrop = []string{"sys_admin", "CAP_NET_ADMIN"}, []string{"ALL"} }},
		{name: "unknown cap add", mod: func(s *Spec) { s.CapAdd = []string{"NOSUCH"} }, err: errdefs.ErrInvalidArgument},
		{name: "unknown cap drop", mod: func(s *Spec) { s.CapDrop = []string{"CAP_"} }, err: errdefs.ErrInvalidArgument},
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
