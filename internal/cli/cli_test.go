package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

func TestPluginCall(t *testing.T) {
	app := &App{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	root := app.newRootCommand()
	for _, tc := range []struct {
		args      []string
		name      string
		pre, rest []string
		ok        bool
	}{
		{args: []string{"hello", "a", "--b"}, name: "hello", pre: []string{}, rest: []string{"a", "--b"}, ok: true},
		{args: []string{"--debug", "--host", "/x.sock", "hello"}, name: "hello", pre: []string{"--debug", "--host", "/x.sock"}, rest: []string{}, ok: true},
		{args: []string{"--host=/x.sock", "hello", "-h"}, name: "hello", pre: []string{"--host=/x.sock"}, rest: []string{"-h"}, ok: true},
		{args: []string{"system", "status"}},
		{args: []string{"s", "status"}},
		// "system" is --host's value, so "status" is the command: not ours.
		{args: []string{"--host", "system", "status"}, name: "status", pre: []string{"--host", "system"}, rest: []string{}, ok: true},
		{args: []string{"help"}},
		{args: []string{"--version"}},
		{args: []string{}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			name, pre, rest, ok := pluginCall(root, tc.args)
			if ok != tc.ok || name != tc.name {
				t.Fatalf("pluginCall(%q) = %q, %v; want %q, %v", tc.args, name, ok, tc.name, tc.ok)
			}
			if ok && (!slices.Equal(pre, tc.pre) || !slices.Equal(rest, tc.rest)) {
				t.Errorf("pluginCall(%q): pre %q rest %q, want %q %q", tc.args, pre, rest, tc.pre, tc.rest)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{name: "nil", err: nil, code: 0, stderr: ""},
		{name: "not found", err: fmt.Errorf("container %q: %w", "x", errdefs.ErrNotFound), code: 1,
			stderr: "Error: container \"x\": not found\n"},
		{name: "exit code passed on", err: &ExitError{Code: 42}, code: 42, stderr: ""},
		{name: "rpc jargon removed", err: errors.New("pull: rpc error: code = NotFound desc = image \"x\": not found"), code: 1,
			stderr: "Error: pull: image \"x\": not found\n"},
		{name: "not running", err: &connectError{socket: "/s", kind: errdefs.ErrUnavailable, cause: os.ErrNotExist, notRunning: true}, code: 1,
			stderr: "Error: apiserver is not running at /s (start it with `container system start`)\n"},
		{name: "older server", err: fmt.Errorf("unknown service x.v1.Plugins: %w", errdefs.ErrNotImplemented), code: 1,
			stderr: "Error: the apiserver does not support this request (unknown service x.v1.Plugins: not implemented); is it older than this CLI?\n"},
		{name: "run: command not found", err: runFailed(errors.New(`start container "x": runc run failed: exec: "nosuch": executable file not found in $PATH: failed precondition`)), code: 127,
			stderr: "Error: start container \"x\": runc run failed: exec: \"nosuch\": executable file not found in $PATH: failed precondition\n"},
		{name: "run: no such file", err: runFailed(errors.New(`exec: "/x": stat /x: no such file or directory`)), code: 127,
			stderr: "Error: exec: \"/x\": stat /x: no such file or directory\n"},
		{name: "run: cannot invoke", err: runFailed(errors.New(`exec: "/etc": permission denied`)), code: 126,
			stderr: "Error: exec: \"/etc\": permission denied\n"},
		{name: "run: daemon failed", err: runFailed(fmt.Errorf("open /x/cid: no such file or directory: %w", errdefs.ErrNotFound)), code: 125,
			stderr: "Error: open /x/cid: no such file or directory: not found\n"},
		{name: "run: container exit code", err: runFailed(&ExitError{Code: 3}), code: 3, stderr: ""},
		{name: "run: usage", err: runFailed(&usageError{err: errors.New("bad"), command: "container run"}), code: 125,
			stderr: "Error: bad\nRun 'container run --help' for usage.\n"},
		{name: "exec: command not found", err: execFailed(errors.New(`runtime exec: exec: "nosuch": executable file not found in $PATH: not found`)), code: 127,
			stderr: "Error: runtime exec: exec: \"nosuch\": executable file not found in $PATH: not found\n"},
		{name: "exec: other failure", err: execFailed(fmt.Errorf("container %q is not running: %w", "x", errdefs.ErrFailedPrecondition)), code: 1,
			stderr: "Error: container \"x\" is not running: failed precondition\n"},
		{name: "usage", err: &usageError{err: errors.New("unknown flag: --x"), command: "container system"}, code: 1,
			stderr: "Error: unknown flag: --x\nRun 'container system --help' for usage.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			a := &App{Stderr: &stderr}
			if code := a.exitCode(tc.err); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if stderr.String() != tc.stderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
		})
	}
}

func TestPrintList(t *testing.T) {
	type item struct {
		ID   string `json:"id"`
		Size int    `json:"size"`
	}
	items := []item{{"abc", 1}, {"defghi", 22}}
	cols := []column[item]{
		{"ID", func(i item) string { return i.ID }},
		{"SIZE", func(i item) string { return fmt.Sprint(i.Size) }},
	}
	id := func(i item) string { return i.ID }
	for _, tc := range []struct {
		name  string
		flags listFlags
		items []item
		want  string
		err   error
	}{
		{name: "table", flags: listFlags{format: "table"}, items: items, want: "ID       SIZE\nabc      1\ndefghi   22\n"},
		{name: "json", flags: listFlags{format: "json"}, items: items, want: `[{"id":"abc","size":1},{"id":"defghi","size":22}]` + "\n"},
		{name: "json empty", flags: listFlags{format: "json"}, items: nil, want: "[]\n"},
		{name: "quiet", flags: listFlags{format: "table", quiet: true}, items: items, want: "abc\ndefghi\n"},
		{name: "bad format", flags: listFlags{format: "yaml"}, items: items, err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := printList(&out, tc.flags, tc.items, cols, id)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestPrintLogSince(t *testing.T) {
	now := time.Now()
	line := func(ago time.Duration, msg string) string {
		return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":%q}`+"\n", now.Add(-ago).Format(time.RFC3339Nano), msg)
	}
	content := line(time.Hour, "old") + "panic: not json, goes with old\n" + line(time.Minute, "new") + "trailer\n" + "partial"
	path := filepath.Join(t.TempDir(), "apiserver.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var all, recent bytes.Buffer
	if err := printLog(t.Context(), &all, path, time.Time{}, false); err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(content, "partial"); all.String() != want {
		t.Errorf("all lines: got %q, want %q", all.String(), want)
	}
	if err := printLog(t.Context(), &recent, path, now.Add(-5*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if want := line(time.Minute, "new") + "trailer\n"; recent.String() != want {
		t.Errorf("recent lines: got %q, want %q", recent.String(), want)
	}
	if err := printLog(t.Context(), &recent, filepath.Join(t.TempDir(), "none.log"), time.Time{}, false); !errdefs.IsNotFound(err) {
		t.Errorf("missing log: error %v, want not found", err)
	}
}

func TestRootsFromEnv(t *testing.T) {
	t.Setenv("CONTAINER_APP_ROOT", "/tmp/app")
	t.Setenv("CONTAINER_STATE_ROOT", "/tmp/state")
	t.Setenv("CONTAINER_LOG_ROOT", "")
	t.Setenv("CONTAINER_INSTALL_ROOT", "/tmp/install")
	t.Setenv("CONTAINER_HOST", "")
	r, err := (&rootFlags{}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	want := roots{App: "/tmp/app", State: "/tmp/state", Log: "/tmp/app/logs", Install: "/tmp/install"}
	if r != want {
		t.Errorf("roots %+v, want %+v", r, want)
	}
	if h := defaultHost(); h != "/tmp/state/apiserver.sock" {
		t.Errorf("default host %q", h)
	}
	r, err = (&rootFlags{log: "/l", app: "/a"}).resolve()
	if err != nil || r.Log != "/l" || r.App != "/a" {
		t.Errorf("flags ignored: %+v, %v", r, err)
	}
}

func TestPrintLogFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apiserver.log")
	if err := os.WriteFile(path, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- printLog(ctx, pw, path, time.Time{}, true)
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	expect := func(want string) {
		t.Helper()
		got, err := r.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	expect("one\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "tw")
	fmt.Fprint(f, "o\n")
	f.Close()
	expect("two\n")
	// Truncated and rewritten (rotation): start over.
	if err := os.WriteFile(path, []byte("three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("three\n")
	cancel()
	go io.Copy(io.Discard, r)
	if err := <-done; err != nil {
		t.Fatalf("printLog: %v", err)
	}
}

func TestPluginState(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    client.Plugin
		want string
	}{
		{"broken", client.Plugin{Broken: true, Error: "x"}, "broken"},
		{"boot instance", client.Plugin{Instances: []client.PluginInstance{{ID: "", State: "backoff"}}}, "backoff"},
		{"per owner", client.Plugin{Instances: []client.PluginInstance{{ID: "a", State: "running"}, {ID: "b", State: "running"}, {ID: "c", State: "failed"}}}, "2 running"},
		{"idle", client.Plugin{}, "available"},
	} {
		if got := pluginState(tc.p); got != tc.want {
			t.Errorf("%s: pluginState = %q, want %q", tc.name, got, tc.want)
		}
	}
}
