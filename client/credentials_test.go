package client

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/container/errdefs"
)

func TestCredentialsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	file, err := SaveCredentials("registry.example.com:5000", RegistryAuth{Username: "alice", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if file != filepath.Join(dir, "config.json") {
		t.Errorf("saved to %q, want %q", file, filepath.Join(dir, "config.json"))
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("files in the config dir after save: %v, want only config.json", ents)
	}
	auth, err := ResolveAuth("registry.example.com:5000/app:1")
	if err != nil || auth == nil || auth.Username != "alice" || auth.Password != "s3cret" {
		t.Fatalf("ResolveAuth = %+v, %v", auth, err)
	}
	logins, err := ListCredentials()
	if err != nil || len(logins) != 1 || logins[0].Username != "alice" {
		t.Fatalf("ListCredentials = %+v, %v", logins, err)
	}
	if err := RemoveCredentials("registry.example.com:5000"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveCredentials("registry.example.com:5000"); !errdefs.IsNotFound(err) {
		t.Fatalf("remove twice: %v, want ErrNotFound", err)
	}
	if auth, err := ResolveAuth("registry.example.com:5000/app:1"); err != nil || auth != nil {
		t.Fatalf("ResolveAuth after remove = %+v, %v", auth, err)
	}
}

// A symlinked config.json (dotfile managers do this) stays a symlink.
func TestCredentialsSymlinkedConfig(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	if err := os.WriteFile(real, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgDir := filepath.Join(dir, "docker")
	if err := os.Mkdir(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(cfgDir, "config.json")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)
	if _, err := SaveCredentials("registry.example.com", RegistryAuth{Username: "bob", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(cfgDir, "config.json")); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Fatalf("config.json is no longer a symlink: %v, %v", fi, err)
	}
	if auth, err := ResolveAuth("registry.example.com/app:1"); err != nil || auth == nil || auth.Username != "bob" {
		t.Fatalf("ResolveAuth = %+v, %v", auth, err)
	}
}

func TestSaveCredentialsBadServer(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if _, err := SaveCredentials("", RegistryAuth{Username: "a"}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("empty server: %v, want ErrInvalidArgument", err)
	}
}
