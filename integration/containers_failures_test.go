package integration

import (
	"strings"
	"testing"

	"github.com/berth/container/client"
)

// TestContainerFailedRun checks that a run that fails before or at its
// start exits with docker's codes (125 the CLI or daemon failed, 126 the
// command cannot be invoked, 127 not found), says why, and with --rm
// leaves nothing behind and the name free.
func TestContainerFailedRun(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{name: "missing binary", args: []string{img, "/nosuch"}, code: 127, msg: "nosuch"},
		{name: "missing binary in path", args: []string{img, "nosuch"}, code: 127, msg: "nosuch"},
		{name: "not executable", args: []string{img, "/etc/passwd"}, code: 126, msg: "passwd"},
		{name: "directory", args: []string{img, "/etc"}, code: 126, msg: "etc"},
		{name: "unknown user", args: []string{"--user", "nosuchuser", img, "true"}, code: 125, msg: "nosuchuser"},
		{name: "workdir is a file", args: []string{"--workdir", "/etc/passwd", img, "true"}, code: 125, msg: "passwd"},
		{name: "bad ulimit", args: []string{"--ulimit", "nofile=abc", img, "true"}, code: 125, msg: "nofile"},
		{name: "bad tmpfs", args: []string{"--tmpfs", "relative", img, "true"}, code: 125, msg: "relative"},
		{name: "unknown cap", args: []string{"--cap-add", "NOSUCH", img, "true"}, code: 125, msg: "NOSUCH"},
		{name: "unknown runtime", args: []string{"--runtime", "nosuch", img, "true"}, code: 125, msg: "nosuch"},
		{name: "missing image", args: []string{strings.SplitN(img, "/", 2)[0] + "/test/nosuch:latest", "true"}, code: 125, msg: "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "failed-" + strings.ReplaceAll(tc.name, " ", "-")
			args := append([]string{"run", "--rm", "--name", name}, tc.args...)
			_, errOut, code := d.CLI(t, args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("run %v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
			}
			if _, err := d.Client.GetContainer(t.Context(), name); err == nil {
				t.Errorf("container %s left behind", name)
			}
			assertNoLeftovers(t, d, []client.Container{{ID: name}})
			cli(t, d, 0, "create", "--name", name, img)
			cli(t, d, 0, "rm", name)
		})
	}
}
