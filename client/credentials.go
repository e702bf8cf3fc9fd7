package client

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/berth/container/errdefs"
)

// Registry credentials live on the client side, in docker's config.json
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json, mode 0600), or
// in the credential helper (docker-credential-*) it names, exactly as the
// docker CLI keeps them. The CLI resolves them and sends them with each
// pull or push; the apiserver stores none.

// dockerHubKey is the key docker uses for Docker Hub in config.json.
const dockerHubKey = "https://index.docker.io/v1/"

// RegistryAuth is a credential for one registry.
type RegistryAuth struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
}

// serverHost returns the registry host of a server name as users type it
// ("docker.io", "localhost:5000", "https://host/v2/").
func serverHost(server string) (string, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	reg, err := name.NewRegistry(s)
	if s == "" || err != nil {
		return "", fmt.Errorf("registry %q: %w", server, errdefs.ErrInvalidArgument)
	}
	return reg.RegistryStr(), nil
}

// ResolveAuth returns the stored credential for the registry of ref (an
// image reference), or nil when there is none.
func ResolveAuth(ref string) (*RegistryAuth, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	reg := r.Context().Registry
	host := reg.RegistryStr()
	a, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", host, err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", host, err)
	}
	if cfg == nil || *cfg == (authn.AuthConfig{}) {
		return nil, nil
	}
	return &RegistryAuth{Username: cfg.Username, Password: cfg.Password, IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken}, nil
}

func configKey(host string) string {
	if host == name.DefaultRegistry {
		return dockerHubKey
	}
	return host
}

// dockerConfigDir is $DOCKER_CONFIG, else ~/.docker, read on every call
// as go-containerregistry's keychain (ResolveAuth) does; docker's own
// config.Dir() caches it for the life of the process.
func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	return dockerconfig.Dir()
}

func loadDockerConfig() (*configfile.ConfigFile, error) {
	dir := dockerConfigDir()
	cf, err := dockerconfig.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("docker config in %s: %w", dir, err)
	}
	return cf, nil
}

// usesHelper reports whether credentials for host go to a credential helper.
func usesHelper(cf *configfile.ConfigFile, host string) bool {
	return cf.CredentialHelpers[host] != "" || cf.CredentialsStore != ""
}

// SaveCredentials stores a credential for server (a registry host; Docker
// Hub names are accepted in any docker spelling) in docker's config.json or
// its credential helper. It returns the file or helper used.
func SaveCredentials(server string, auth RegistryAuth) (string, error) {
	host, err := serverHost(server)
	if err != nil {
		return "", err
	}
	cf, err := loadDockerConfig()
	if err != nil {
		return "", err
	}
	key := configKey(host)
	ac := types.AuthConfig{ServerAddress: key, Username: auth.Username, Password: auth.Password, IdentityToken: auth.IdentityToken}
	if usesHelper(cf, key) {
		if err := cf.GetCredentialsStore(key).Store(ac); err != nil {
			return "", fmt.Errorf("store credentials for %s: %w", host, err)
		}
		return "credential helper", nil
	}
	cf.AuthConfigs[key] = ac
	if err := saveConfig(cf); err != nil {
		return "", err
	}
	return cf.Filename, nil
}

// RemoveCredentials forgets the credential for server. ErrNotFound when
// there was none.
func RemoveCredentials(server string) error {
	host, err := serverHost(server)
	if err != nil {
		return err
	}
	cf, err := loadDockerConfig()
	if err != nil {
		return err
	}
	key := configKey(host)
	if !usesHelper(cf, key) {
		if _, ok := cf.AuthConfigs[key]; !ok {
			return fmt.Errorf("credentials for %s: %w", host, errdefs.ErrNotFound)
		}
		delete(cf.AuthConfigs, key)
		return saveConfig(cf)
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return fmt.Errorf("erase credentials for %s: %w", host, err)
	}
	return nil
}

// saveConfig writes cf to its file crash-safely: into a temporary file in
// the same directory (mode 0600), fsynced, renamed over the file (or over
// the target of a symlink to it), and the directory fsynced. docker's own
// ConfigFile.Save renames without fsync, so a crash could leave an empty
// config.json that docker and this CLI then refuse to read.
func saveConfig(cf *configfile.ConfigFile) (retErr error) {
	path := cf.Filename
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	defer func() {
		_ = tmp.Close()
		if retErr != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := cf.SaveToWriter(tmp); err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save %s: %w", cf.Filename, err)
	}
	return nil
}

// RegistryLogin is one stored credential, without its secret.
type RegistryLogin struct {
	Server   string
	Username string
}

// ListCredentials lists the registries with a stored credential.
func ListCredentials() ([]RegistryLogin, error) {
	cf, err := loadDockerConfig()
	if err != nil {
		return nil, err
	}
	all, err := cf.GetAllCredentials()
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	var out []RegistryLogin
	for server, ac := range all {
		out = append(out, RegistryLogin{Server: server, Username: ac.Username})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out, nil
}
