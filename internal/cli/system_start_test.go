package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeInstall returns roots whose bin/container-apiserver is script.
func fakeInstall(t *testing.T, script string) roots {
	t.Helper()
	dir := t.TempDir()
	r := roots{App: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"),
		Log: filepath.Join(dir, "logs"), Install: filepath.Join(dir, "install")}
	bin := filepath.Join(r.Install, "bin", apiserverBinary)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSystemStartFailures(t *testing.T) {
	t.Setenv("CONTAINER_NO_SYSTEMD", "1")
	for _, tc := range []struct {
		name    string
		script  string
		timeout time.Duration
		want    []string
	}{
		{
			name:    "never ready",
			script:  "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid\"\necho \"booting $1\" >&2\nexec sleep 30\n",
			timeout: time.Second,
			want:    []string{"apiserver not ready after 1s", "booting start"},
		},
		{
			name:    "exits",
			script:  "#!/bin/sh\necho $$ > \"$(dirname \"$0\")/pid\"\necho 'config: bad key' >&2\nexit 3\n",
			timeout: 30 * time.Second,
			want:    []string{"apiserver exited before it was ready: exit status 3", "config: bad key"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeInstall(t, tc.script)
			var stdout, stderr bytes.Buffer
			a := &App{Stdout: &stdout, Stderr: &stderr, Host: filepath.Join(r.State, socketName)}
			start := time.Now()
			err := a.systemStart(t.Context(), r, tc.timeout)
			if err == nil {
				t.Fatal("systemStart succeeded")
			}
			if el := time.Since(start); el > tc.timeout+5*time.Second {
				t.Errorf("took %s", el)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			data, _ := os.ReadFile(filepath.Join(r.Install, "bin", "pid"))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			if pid == 0 {
				t.Fatal("fake apiserver did not run")
			}
			if alive(pid) {
				t.Errorf("fake apiserver %d still running", pid)
			}
		})
	}
}

func TestSystemStartMissingBinary(t *testing.T) {
	t.Setenv("CONTAINER_NO_SYSTEMD", "1")
	dir := t.TempDir()
	r := roots{App: dir, State: dir, Log: dir, Install: filepath.Join(dir, "nowhere")}
	a := &App{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Host: filepath.Join(dir, socketName)}
	err := a.systemStart(t.Context(), r, time.Second)
	if err == nil || !strings.Contains(err.Error(), "install-root") {
		t.Fatalf("systemStart without a binary: %v", err)
	}
}
