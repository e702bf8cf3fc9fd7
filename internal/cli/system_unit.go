package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	unitName = "container-apiserver.service"
	unitDir  = "/etc/systemd/system"
)

// apiserverArgs are the arguments of `container-apiserver start` for roots
// r and socket sock, as both the systemd unit and the detached start use
// them.
func apiserverArgs(r roots, sock string, debug bool) []string {
	args := []string{"start",
		"--root", r.App,
		"--state", r.State,
		"--socket", sock,
		"--log-root", r.Log,
		"--install-root", r.Install,
	}
	if debug {
		args = append(args, "--log-level", "debug")
	}
	return args
}

// apiserverUnit is the text of container-apiserver.service, the unit
// `system start` writes when systemd is the init system. The apiserver
// tells systemd it is ready (Type=notify). KillMode=process stops only the
// apiserver: the per-container supervisors it spawned keep their
// containers running and the next apiserver reconnects to them.
// Delegate=yes leaves the cgroup subtree to us.
func apiserverUnit(bin string, args []string) string {
	var b strings.Builder
	b.WriteString(`[Unit]
Description=container API server
Documentation=man:container(1)
After=network-online.target local-fs.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
`)
	fmt.Fprintf(&b, "ExecStart=%s\n", unitCommandLine(append([]string{bin}, args...)))
	b.WriteString(`KillMode=process
Delegate=yes
Restart=always
RestartSec=2
LimitNOFILE=1048576
TasksMax=infinity
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
`)
	return b.String()
}

// unitCommandLine quotes words for a systemd Exec line: every word in
// double quotes when it needs them, with the specifier character % and
// the variable character $ doubled.
func unitCommandLine(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		w = strings.ReplaceAll(w, "%", "%%")
		w = strings.ReplaceAll(w, "$", "$$")
		if strings.ContainsAny(w, " \t\"'\\;") || w == "" {
			w = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}

func unitPath() string { return filepath.Join(unitDir, unitName) }

// useSystemd reports whether `system start` hands the apiserver to
// systemd: systemd is the init system and CONTAINER_NO_SYSTEMD is not set
// (tests and private instances set it to get a detached apiserver).
func useSystemd() bool {
	return systemdRunning() && os.Getenv("CONTAINER_NO_SYSTEMD") == ""
}

// unitServes reports whether systemd runs the apiserver for socket sock:
// systemd is the init system and the installed unit was written for sock.
func unitServes(sock string) bool {
	if !systemdRunning() {
		return false
	}
	data, err := os.ReadFile(unitPath())
	return err == nil && unitForSocket(string(data), sock)
}

// unitForSocket reports whether unit text runs the apiserver on sock.
func unitForSocket(unit, sock string) bool {
	return strings.Contains(unit, " --socket "+unitCommandLine([]string{sock})+" ")
}
