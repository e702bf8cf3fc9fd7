package images

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/container/errdefs"
)

// NormalizeServer turns what a user types for a registry ("docker.io",
// "https://host:5000/v2/", "localhost:5000") into the host[:port] used as
// the key in docker's config.json; Docker Hub becomes "index.docker.io".
func NormalizeServer(server string) (string, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	if s == "" {
		return "", fmt.Errorf("registry %q: %w", server, errdefs.ErrInvalidArgument)
	}
	reg, err := name.NewRegistry(s)
	if err != nil {
		return "", fmt.Errorf("registry %q: %v: %w", server, err, errdefs.ErrInvalidArgument)
	}
	return reg.RegistryStr(), nil
}

// Login checks auth against the registry server (GET /v2/ with the
// credentials). Wrong credentials are ErrPermissionDenied.
func (s *Service) Login(ctx context.Context, server, scheme string, auth *Auth) error {
	host, err := NormalizeServer(server)
	if err != nil {
		return err
	}
	var opts []name.Option
	switch scheme {
	case "", SchemeAuto, SchemeHTTPS:
	case SchemeHTTP:
		opts = append(opts, name.Insecure)
	default:
		return fmt.Errorf("scheme %q (want http, https or auto): %w", scheme, errdefs.ErrInvalidArgument)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return fmt.Errorf("registry %q: %v: %w", server, err, errdefs.ErrInvalidArgument)
	}
	var rt http.RoundTripper = remote.DefaultTransport
	if scheme == SchemeHTTPS {
		rt = httpsOnly{next: rt}
	}
	tr, err := transport.NewWithContext(ctx, reg, auth.authenticator(), rt, nil)
	if err != nil {
		return registryError(fmt.Sprintf("log in to %s", host), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return registryError(fmt.Sprintf("log in to %s", host), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("log in to %s: wrong username or password: %w", host, errdefs.ErrPermissionDenied)
	case resp.StatusCode >= 300:
		return fmt.Errorf("log in to %s: registry answered %s: %w", host, resp.Status, errdefs.ErrUnavailable)
	}
	return nil
}
