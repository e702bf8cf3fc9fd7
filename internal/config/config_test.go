package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth/container/errdefs"
)

func write(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func property(t *testing.T, l Loaded, key string) Property {
	t.Helper()
	for _, p := range l.Properties {
		if p.Key == key {
			return p
		}
	}
	t.Fatalf("no property %q in %+v", key, l.Properties)
	return Property{}
}

func TestDefaults(t *testing.T) {
	l, err := Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Runtime.Default != "container-runtime-linux" || c.Runtime.OCI != "runc" ||
		c.Images.MaxConcurrentDownloads != 3 || c.Images.DefaultRegistry != "docker.io" ||
		c.Network.Subnet != "10.88.0.0/16" || c.DNS.Domain != "" || c.Logs.MaxFiles != 3 ||
		c.Runtime.HibernateAfter != 5*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if c != Defaults() {
		t.Errorf("Load(nil) = %+v, Defaults() = %+v", c, Defaults())
	}
	for _, p := range l.Properties {
		if p.Source != SourceDefault || p.Description == "" {
			t.Errorf("property %+v: want source default and a description", p)
		}
	}
	if !slices.IsSortedFunc(l.Properties, func(a, b Property) int { return strings.Compare(a.Key, b.Key) }) {
		t.Error("properties are not sorted")
	}
	if p := property(t, l, "runtime.oci"); p.Value != `'runc'` && p.Value != `"runc"` {
		t.Errorf("runtime.oci rendered as %s", p.Value)
	}
	if p := property(t, l, "images.maxConcurrentDownloads"); p.Value != "3" {
		t.Errorf("images.maxConcurrentDownloads rendered as %s", p.Value)
	}
}

func TestLayeringFirstMatchWins(t *testing.T) {
	dir := t.TempDir()
	explicit := write(t, dir, "explicit.toml", "[images]\nmaxConcurrentDownloads = 7\n")
	user := write(t, dir, "user.toml", "[images]\nmaxConcurrentDownloads = 5\ndefaultRegistry = \"registry.example\"\n")
	system := write(t, dir, "system.toml", "[runtime]\noci = \"crun\"\n[images]\ndefaultRegistry = \"ignored.example\"\n")
	missing := filepath.Join(dir, "missing.toml")

	l, err := Load([]string{explicit, user, missing, system}, explicit)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, value, source string }{
		{"images.maxConcurrentDownloads", "7", explicit},
		{"images.defaultRegistry", "'registry.example'", user},
		{"runtime.oci", "'crun'", system},
		{"runtime.default", "'container-runtime-linux'", SourceDefault},
	} {
		p := property(t, l, tc.key)
		if strings.ReplaceAll(p.Value, `"`, "'") != tc.value || p.Source != tc.source {
			t.Errorf("%s = %s from %s, want %s from %s", tc.key, p.Value, p.Source, tc.value, tc.source)
		}
	}
	if l.Config.Images.MaxConcurrentDownloads != 7 || l.Config.Runtime.OCI != "crun" || l.Config.Images.DefaultRegistry != "registry.example" {
		t.Errorf("config = %+v", l.Config)
	}
	if want := []string{explicit, user, system}; !slices.Equal(l.Files, want) {
		t.Errorf("Files = %v, want %v", l.Files, want)
	}
}

func TestUnknownKeysReported(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "c.toml", "top = 1\n[runtime]\ndefualt = \"x\"\n[nosuch.deep]\nkey = true\n")
	l, err := Load([]string{p}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nosuch.deep.key (" + p + ")", "runtime.defualt (" + p + ")", "top (" + p + ")"}
	if !slices.Equal(l.UnknownKeys, want) {
		t.Errorf("UnknownKeys = %v, want %v", l.UnknownKeys, want)
	}
	if l.Config != Defaults() {
		t.Errorf("unknown keys changed the config: %+v", l.Config)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		data     string
		required bool
		err      error
		mention  string
	}{
		{name: "syntax", data: "[runtime\n", err: errdefs.ErrInvalidArgument},
		{name: "wrong type", data: "[images]\nmaxConcurrentDownloads = \"many\"\n", err: errdefs.ErrInvalidArgument, mention: "images.maxConcurrentDownloads"},
		{name: "invalid value", data: "[network]\nsubnet = \"10.88.0.1/16\"\n", err: errdefs.ErrInvalidArgument, mention: "network.subnet"},
		{name: "zero downloads", data: "[images]\nmaxConcurrentDownloads = 0\n", err: errdefs.ErrInvalidArgument},
		{name: "negative hibernation", data: "[runtime]\nhibernateAfter = \"-1s\"\n", err: errdefs.ErrInvalidArgument, mention: "runtime.hibernateAfter"},
		{name: "missing required", required: true, err: errdefs.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".toml")
			if !tc.required {
				write(t, dir, tc.name+".toml", tc.data)
			}
			req := ""
			if tc.required {
				req = p
			}
			_, err := Load([]string{p}, req)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Load: %v, want %v", err, tc.err)
			}
			if tc.mention != "" && !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %s", err, tc.mention)
			}
			if tc.data != "" && !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if got, want := Paths("/x.toml"), []string{"/x.toml", "/xdg/container/config.toml", SystemFile}; !slices.Equal(got, want) {
		t.Errorf("Paths = %v, want %v", got, want)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got, want := Paths(""), []string{"/home/u/.config/container/config.toml", SystemFile}; !slices.Equal(got, want) {
		t.Errorf("Paths = %v, want %v", got, want)
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, required := range []string{"", dir} {
		if _, err := Load([]string{dir}, required); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("Load of a directory (required %q): %v, want ErrInvalidArgument", required, err)
		}
	}
}
