package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestApiserverUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	install := filepath.Join(dir, "install root") // a space, to exercise quoting
	bin := filepath.Join(install, "bin", apiserverBinary)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := roots{App: "/var/lib/container", State: "/run/container", Log: "/var/lib/container/logs%1", Install: install}
	unit := apiserverUnit(bin, apiserverArgs(r, "/run/container/apiserver.sock", true))
	for _, want := range []string{"Type=notify", "NotifyAccess=main", "KillMode=process", "Delegate=yes", "Restart=always",
		"WantedBy=multi-user.target", `ExecStart="` + bin + `" start --root /var/lib/container`, "--log-root /var/lib/container/logs%%1"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if !unitForSocket(unit, "/run/container/apiserver.sock") || unitForSocket(unit, "/run/container/apiserver.so") {
		t.Errorf("unitForSocket does not recognise the unit's socket")
	}
	path := filepath.Join(dir, unitName)
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, out, unit)
	}
}

func TestUnitCommandLine(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"/usr/bin/x", "start"}, "/usr/bin/x start"},
		{[]string{"/opt/my dir/x", "--a", "b c"}, `"/opt/my dir/x" --a "b c"`},
		{[]string{"/x", "100%", "$HOME", `q"uote`}, `/x 100%% $$HOME "q\"uote"`},
		{[]string{"/x", ""}, `/x ""`},
	} {
		if got := unitCommandLine(tc.in); got != tc.want {
			t.Errorf("unitCommandLine(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
