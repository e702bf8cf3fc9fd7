package plugins

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	builtin, user := BuiltinDir(root), UserDir(root)

	writePlugin(t, builtin, "hello", cliConfig, sleeper)
	writePlugin(t, builtin, "core1", coreConfig, sleeper)
	writePlugin(t, builtin, "noconfig", "", sleeper)
	writePlugin(t, builtin, "nobin", cliConfig, "")
	noexec := writePlugin(t, builtin, "noexec", cliConfig, sleeper)
	if err := os.Chmod(filepath.Join(noexec, "bin", "noexec"), 0o644); err != nil {
		t.Fatal(err)
	}
	writePlugin(t, builtin, "badkey", "abstract = \"x\"\nloadAtBoot = true\n", sleeper)
	writePlugin(t, builtin, "badtype", "abstract = \"x\"\n[servicesConfig]\n[[servicesConfig.services]]\ntype = \"vm\"\n", sleeper)
	writePlugin(t, builtin, "noabstract", "author = \"x\"\n", sleeper)
	writePlugin(t, builtin, "bad name", cliConfig, sleeper)
	shadowed := writePlugin(t, builtin, "shadow", cliConfig, sleeper)
	writePlugin(t, builtin, ".hidden", cliConfig, sleeper)
	if err := os.WriteFile(filepath.Join(builtin, "README"), []byte("not a plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	userShadow := writePlugin(t, user, "shadow", coreConfig, sleeper)
	writePlugin(t, user, "mine", cliConfig, sleeper)

	got := map[string]Plugin{}
	var names []string
	for _, p := range Discover(root) {
		got[p.Name] = p
		names = append(names, p.Name)
	}
	wantNames := []string{"bad name", "badkey", "badtype", "core1", "hello", "mine", "noabstract", "nobin", "noconfig", "noexec", "shadow"}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("Discover names = %q, want %q", names, wantNames)
	}

	for _, tc := range []struct {
		name    string
		broken  string // substring of Error; "" means usable
		cli     bool
		boot    bool
		origin  Origin
		shadows []string
	}{
		{name: "hello", cli: true, origin: OriginBuiltin},
		{name: "core1", boot: true, origin: OriginBuiltin},
		{name: "mine", cli: true, origin: OriginUser},
		{name: "shadow", boot: true, origin: OriginUser, shadows: []string{shadowed}},
		{name: "noconfig", broken: "config.toml: not found", origin: OriginBuiltin},
		{name: "nobin", broken: "bin/nobin: not found", origin: OriginBuiltin},
		{name: "noexec", broken: "not executable", origin: OriginBuiltin},
		{name: "badkey", broken: "unknown keys loadAtBoot", origin: OriginBuiltin},
		{name: "badtype", broken: `unknown type "vm"`, origin: OriginBuiltin},
		{name: "noabstract", broken: "abstract is required", origin: OriginBuiltin},
		{name: "bad name", broken: "plugin name", origin: OriginBuiltin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := got[tc.name]
			if p.Broken != (tc.broken != "") || !strings.Contains(p.Error, tc.broken) {
				t.Errorf("Broken = %v, Error = %q, want broken containing %q", p.Broken, p.Error, tc.broken)
			}
			if p.CLI() != tc.cli {
				t.Errorf("CLI() = %v, want %v", p.CLI(), tc.cli)
			}
			if p.LoadAtBoot() != tc.boot {
				t.Errorf("LoadAtBoot() = %v, want %v", p.LoadAtBoot(), tc.boot)
			}
			if p.Origin != tc.origin {
				t.Errorf("Origin = %q, want %q", p.Origin, tc.origin)
			}
			if !slices.Equal(p.Shadows, tc.shadows) {
				t.Errorf("Shadows = %q, want %q", p.Shadows, tc.shadows)
			}
			if p.Binary != filepath.Join(p.Path, "bin", p.Name) {
				t.Errorf("Binary = %q, Path = %q", p.Binary, p.Path)
			}
		})
	}
	if got["shadow"].Path != userShadow {
		t.Errorf("shadow Path = %q, want the user plugin %q", got["shadow"].Path, userShadow)
	}
}

func TestDiscoverMissingDirs(t *testing.T) {
	if ps := Discover(filepath.Join(t.TempDir(), "nothing")); len(ps) != 0 {
		t.Fatalf("Discover on an empty root = %+v, want none", ps)
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"hello", true}, {"container-runtime-linux", true}, {"a.b_c", true}, {"A1", true},
		{"", false}, {"-x", false}, {".x", false}, {"a/b", false}, {"a b", false},
		{strings.Repeat("a", 63), true}, {strings.Repeat("a", 64), false},
	} {
		if err := ValidateName(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
