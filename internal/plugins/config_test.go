package plugins

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/berth/container/errdefs"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Config
		err  error
	}{
		{name: "cli plugin", in: `abstract = "say hello"`, want: Config{Abstract: "say hello"}},
		{name: "cli plugin with author", in: "abstract = \"x\"\nauthor = \"me\"\n", want: Config{Abstract: "x", Author: "me"}},
		{
			name: "core plugin",
			in: `abstract = "core"
[servicesConfig]
loadAtBoot = true
runAtLoad = true
defaultArguments = ["serve", "--v"]
[[servicesConfig.services]]
type = "core"
description = "the core"
[[servicesConfig.services]]
type = "auxiliary"
`,
			want: Config{Abstract: "core", ServicesConfig: &ServicesConfig{
				LoadAtBoot: true, RunAtLoad: true, DefaultArguments: []string{"serve", "--v"},
				Services: []Service{{Type: ServiceCore, Description: "the core"}, {Type: ServiceAuxiliary}},
			}},
		},
		{
			name: "runtime plugin",
			in:   "abstract = \"rt\"\n[servicesConfig]\n[[servicesConfig.services]]\ntype = \"runtime\"\n",
			want: Config{Abstract: "rt", ServicesConfig: &ServicesConfig{Services: []Service{{Type: ServiceRuntime}}}},
		},
		{name: "empty", in: "", err: errdefs.ErrInvalidArgument},
		{name: "blank abstract", in: `abstract = "  "`, err: errdefs.ErrInvalidArgument},
		{name: "unknown top-level key", in: "abstract = \"x\"\nauthr = \"typo\"\n", err: errdefs.ErrInvalidArgument},
		{name: "unknown nested key", in: "abstract = \"x\"\n[servicesConfig]\nloadAtBot = true\n[[servicesConfig.services]]\ntype = \"core\"\n", err: errdefs.ErrInvalidArgument},
		{name: "unknown service type", in: "abstract = \"x\"\n[servicesConfig]\n[[servicesConfig.services]]\ntype = \"daemon\"\n", err: errdefs.ErrInvalidArgument},
		{name: "no services", in: "abstract = \"x\"\n[servicesConfig]\nloadAtBoot = true\n", err: errdefs.ErrInvalidArgument},
		{name: "wrong value type", in: "abstract = \"x\"\n[servicesConfig]\nloadAtBoot = \"yes\"\n", err: errdefs.ErrInvalidArgument},
		{name: "syntax error", in: "abstract = \n", err: errdefs.ErrInvalidArgument},
		{name: "too large", in: "abstract = \"x\"\n#" + string(make([]byte, maxConfigSize)), err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfig([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseConfig error = %v, want %v", err, tc.err)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseConfig = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseConfigNamesUnknownKey(t *testing.T) {
	_, err := ParseConfig([]byte("abstract = \"x\"\nauthr = \"typo\"\n"))
	if err == nil || !strings.Contains(err.Error(), "authr") {
		t.Fatalf("error %v does not name the unknown key", err)
	}
}

func TestParseConfigTypeErrorInTOMLTerms(t *testing.T) {
	_, err := ParseConfig([]byte("abstract = \"x\"\n[servicesConfig]\nloadAtBoot = \"yes\"\n"))
	want := "line 3 column 14: servicesConfig.loadAtBoot: want a boolean, got string"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`abstract = "x"`,
		"abstract = \"core\"\n[servicesConfig]\nloadAtBoot = true\ndefaultArguments = [\"a\"]\n[[servicesConfig.services]]\ntype = \"core\"\n",
		"abstract = \"x\"\nbogus = 1\n",
		"[servicesConfig]\n[[servicesConfig.services]]\ntype = \"network\"\n",
		"abstract = 'x'\n[servicesConfig.services]\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig([]byte(s))
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseConfig(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		out, err := toml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal %+v: %v", c, err)
		}
		again, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("round trip %q -> %q: %v", s, out, err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(c)) {
			t.Fatalf("round trip %q -> %q -> %+v, want %+v", s, out, again, c)
		}
	})
}

// normalize makes empty and nil slices compare equal.
func normalize(c Config) Config {
	if sc := c.ServicesConfig; sc != nil {
		cp := *sc
		if len(cp.DefaultArguments) == 0 {
			cp.DefaultArguments = nil
		}
		c.ServicesConfig = &cp
	}
	return c
}
