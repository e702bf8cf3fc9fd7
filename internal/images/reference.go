package images

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/container/errdefs"
)

// Schemes for talking to a registry.
const (
	SchemeAuto  = "auto"  // plain HTTP for localhost, 127.0.0.0/8 and private ranges, else HTTPS
	SchemeHTTP  = "http"  // always plain HTTP
	SchemeHTTPS = "https" // always HTTPS
)

// ParseReference parses s the way docker does: a short name gets the
// docker.io registry and the library/ namespace, a missing tag becomes
// :latest. It returns the reference and its normalised string, in which
// Docker Hub is spelled "docker.io".
func ParseReference(s, scheme string) (name.Reference, string, error) {
	return parseReference(s, scheme, "")
}

// parse is ParseReference with the service's default registry.
func (s *Service) parse(ref, scheme string) (name.Reference, string, error) {
	return parseReference(ref, scheme, s.defaultRegistry)
}

func parseReference(s, scheme, defaultRegistry string) (name.Reference, string, error) {
	var opts []name.Option
	if defaultRegistry != "" && defaultRegistry != "docker.io" && defaultRegistry != name.DefaultRegistry {
		opts = append(opts, name.WithDefaultRegistry(defaultRegistry))
	}
	switch scheme {
	case "", SchemeAuto, SchemeHTTPS:
	case SchemeHTTP:
		opts = append(opts, name.Insecure)
	default:
		return nil, "", fmt.Errorf("scheme %q (want http, https or auto): %w", scheme, errdefs.ErrInvalidArgument)
	}
	if s == "" || strings.TrimSpace(s) != s {
		return nil, "", fmt.Errorf("image reference %q: %w", s, errdefs.ErrInvalidArgument)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("image reference %q: %v: %w", s, err, errdefs.ErrInvalidArgument)
	}
	n := NormalizeName(ref)
	// The normalised name must parse too (docker's 255-character limit
	// applies to the name with its registry and namespace).
	if _, err := name.ParseReference(n, opts...); err != nil {
		return nil, "", fmt.Errorf("image reference %q: %v: %w", s, err, errdefs.ErrInvalidArgument)
	}
	return ref, n, nil
}

// NormalizeName returns ref's full name with Docker Hub spelled "docker.io".
func NormalizeName(ref name.Reference) string {
	repo := ref.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry || reg == "docker.io" {
		reg = "docker.io"
	}
	n := reg + "/" + repo.RepositoryStr()
	switch r := ref.(type) {
	case name.Digest:
		return n + "@" + r.DigestStr()
	case name.Tag:
		return n + ":" + r.TagStr()
	}
	return n
}

// SplitName splits a normalised name into repository and tag or digest
// ("<none>" when absent), for listing.
func SplitName(n string) (repo, tag, dgst string) {
	if strings.HasPrefix(n, "sha256:") {
		return "<none>", "<none>", n
	}
	if i := strings.Index(n, "@"); i >= 0 {
		return n[:i], "<none>", n[i+1:]
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:], ""
	}
	return n, "<none>", ""
}

// httpsOnly forces HTTPS even for hosts go-containerregistry would reach
// over plain HTTP (--scheme https).
type httpsOnly struct{ next http.RoundTripper }

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		req = req.Clone(req.Context())
		req.URL.Scheme = "https"
	}
	return t.next.RoundTrip(req)
}

// HostPlatform is linux/<GOARCH> (with variant v8 on arm64 left empty, as
// docker matches it).
func HostPlatform() ocispec.Platform {
	return ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q (want os/arch[/variant]): %w", s, errdefs.ErrInvalidArgument)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// FormatPlatform is the inverse of ParsePlatform.
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platformMatch reports whether have satisfies want (an empty variant in
// want matches any; arm64's "v8" equals no variant).
func platformMatch(want ocispec.Platform, have *ocispec.Platform) bool {
	if have == nil {
		return false
	}
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	norm := func(p ocispec.Platform) string {
		if p.Architecture == "arm64" && p.Variant == "v8" {
			return ""
		}
		return p.Variant
	}
	return want.Variant == "" || norm(want) == norm(*have)
}
