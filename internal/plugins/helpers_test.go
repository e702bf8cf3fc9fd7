package plugins

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testWriter routes log output to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

const (
	cliConfig  = "abstract = \"a cli plugin\"\n"
	coreConfig = "abstract = \"a core plugin\"\n[servicesConfig]\nloadAtBoot = true\n[[servicesConfig.services]]\ntype = \"core\"\n"
	sleeper    = "#!/bin/sh\nexec sleep 600\n"
)

// writePlugin creates <dir>/<name>/config.toml and, unless script is
// empty, an executable bin/<name> holding script.
func writePlugin(t *testing.T, dir, name, config, script string) string {
	t.Helper()
	pd := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Join(pd, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(pd, "config.toml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if script != "" {
		if err := os.WriteFile(filepath.Join(pd, "bin", name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return pd
}
