package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth/container/errdefs"
)

// FuzzParse checks that any config file either fails with
// ErrInvalidArgument or yields a configuration whose rendered properties
// parse back to the same configuration.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"[runtime]\ndefault = \"x\"\noci = \"crun\"\n",
		"[images]\nmaxConcurrentDownloads = 9\ndefaultRegistry = 'r.example'\n",
		"[logs]\nmaxSize = 1\nmaxFiles = 2\n[network]\nsubnet = \"10.1.0.0/24\"\n",
		"[dns]\ndomain = \"test\"\n[unknown]\nx = [1, 2]\n",
		"a.b.c = 1\n[[x]]\ny = 2\n",
		"[images]\nmaxConcurrentDownloads = 99999999999999999999\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse([]byte(s), "fuzz.toml")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Parse(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		loaded, err := Merge(l)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Merge(%q): error %v is not ErrInvalidArgument", s, err)
			}
			return
		}
		var doc strings.Builder
		for _, p := range loaded.Properties {
			doc.WriteString(p.Key + " = " + p.Value + "\n")
		}
		l2, err := Parse([]byte(doc.String()), "rendered.toml")
		if err != nil {
			t.Fatalf("rendered properties do not parse: %v\n%s", err, doc.String())
		}
		again, err := Merge(l2)
		if err != nil || again.Config != loaded.Config {
			t.Fatalf("round trip %q -> %+v -> %+v, %v", s, loaded.Config, again.Config, err)
		}
		if len(again.UnknownKeys) != 0 {
			t.Fatalf("rendered properties have unknown keys %v", again.UnknownKeys)
		}
	})
}
