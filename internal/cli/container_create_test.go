package cli

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// TestCreateFlagsSpec checks the flags that internal/opts parses reach the
// client spec; opts' own tests cover the value syntax.
func TestCreateFlagsSpec(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		memory  int64
		shm     int64
		ulimits []client.Ulimit
		err     error
	}{
		{args: []string{"-m", "1.5g", "--shm-size", "64MB", "--ulimit", "nofile=1024:2048", "--ulimit", "RLIMIT_CORE=unlimited", "img"},
			memory: 3 << 29, shm: 64 << 20,
			ulimits: []client.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: 1<<64 - 1, Hard: 1<<64 - 1}}},
		{args: []string{"--memory", "64m", "--ulimit", "nproc=64", "img"}, memory: 64 << 20, ulimits: []client.Ulimit{{Name: "nproc", Soft: 64, Hard: 64}}},
		{args: []string{"--memory", "lots", "img"}, err: errdefs.ErrInvalidArgument},
		{args: []string{"--shm-size", "-1m", "img"}, err: errdefs.ErrInvalidArgument},
		{args: []string{"--ulimit", "nofile", "img"}, err: errdefs.ErrInvalidArgument},
		{args: []string{"--ulimit", "bogus=1", "img"}, err: errdefs.ErrInvalidArgument},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var f createFlags
			cmd := &cobra.Command{Use: "create"}
			f.register(cmd)
			if err := cmd.Flags().Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			sp, err := f.spec(cmd.Flags(), cmd.Flags().Args())
			if !errors.Is(err, tc.err) {
				t.Fatalf("spec error = %v, want %v", err, tc.err)
			}
			if err == nil && (sp.Memory != tc.memory || sp.ShmSize != tc.shm || !slices.Equal(sp.Ulimits, tc.ulimits)) {
				t.Errorf("spec memory %d shm %d ulimits %v; want %d %d %v", sp.Memory, sp.ShmSize, sp.Ulimits, tc.memory, tc.shm, tc.ulimits)
			}
		})
	}
}

// TestCreateEnv: -e KEY and a bare KEY in an --env-file take the value from
// the CLI's environment, and are left out when it has none (as docker does);
// KEY= sets an empty value.
func TestCreateEnv(t *testing.T) {
	t.Setenv("CT_SET", "from-cli")
	t.Setenv("CT_EMPTY", "")
	file := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(file, []byte("CT_FILE=1\nCT_SET\nCT_UNSET_IN_FILE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var f createFlags
	cmd := &cobra.Command{Use: "create"}
	f.register(cmd)
	args := []string{"--env-file", file, "-e", "CT_SET", "-e", "CT_EMPTY", "-e", "CT_UNSET", "-e", "CT_BLANK=", "img"}
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	sp, err := f.spec(cmd.Flags(), cmd.Flags().Args())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CT_FILE=1", "CT_SET=from-cli", "CT_SET=from-cli", "CT_EMPTY=", "CT_BLANK="}
	if !slices.Equal(sp.Env, want) {
		t.Fatalf("env %q, want %q", sp.Env, want)
	}
}

func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{"A=1\n# c\n\nB=2", "=x", "A B=1", strings.Repeat("x", 70000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		env, err := parseEnvFile(strings.NewReader(s), "f")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("parseEnvFile: error %v is not ErrInvalidArgument", err)
			}
			return
		}
		for _, e := range env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				t.Fatalf("parseEnvFile(%q) gave entry %q", s, e)
			}
		}
	})
}
