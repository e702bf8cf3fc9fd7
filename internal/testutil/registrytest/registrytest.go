// Package registrytest runs an in-process OCI registry (go-containerregistry's
// pkg/registry) on 127.0.0.1 for tests, optionally behind basic auth or a
// slow blob handler, and pushes fixture images to it.
package registrytest

import (
	"crypto/subtle"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a running in-process registry.
type Registry struct {
	// Host is "127.0.0.1:port"; references are Host + "/repo:tag".
	Host string
	// Username and Password are the basic-auth credentials, if any.
	Username, Password string

	srv *httptest.Server
}

type options struct {
	user, pass string
	blobDelay  time.Duration
}

// Option configures New.
type Option func(*options)

// WithBasicAuth requires these credentials on every request.
func WithBasicAuth(user, pass string) Option {
	return func(o *options) { o.user, o.pass = user, pass }
}

// WithSlowBlobs makes every blob GET stream its body in small chunks with
// delay between them, so a test can interrupt a pull in the middle.
func WithSlowBlobs(delay time.Duration) Option {
	return func(o *options) { o.blobDelay = delay }
}

// New starts a registry on 127.0.0.1:0 and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if o.blobDelay > 0 {
		h = slowBlobs(h, o.blobDelay)
	}
	if o.user != "" {
		h = basicAuth(h, o.user, o.pass)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), Username: o.user, Password: o.pass, srv: srv}
}

// Ref returns Host/repo (repo may carry :tag or @digest).
func (r *Registry) Ref(repo string) string { return r.Host + "/" + repo }

// Auth returns the registry's credentials for go-containerregistry.
func (r *Registry) Auth() authn.Authenticator {
	if r.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.Username, Password: r.Password}
}

func (r *Registry) ref(t testing.TB, repo string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.Ref(repo), name.Insecure)
	if err != nil {
		t.Fatalf("parse reference %q: %v", repo, err)
	}
	return ref
}

// Push writes img to Host/repo (repo like "busybox:latest") and returns its
// manifest digest.
func (r *Registry) Push(t testing.TB, repo string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(r.ref(t, repo), img, remote.WithAuth(r.Auth())); err != nil {
		t.Fatalf("push %s: %v", repo, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("digest %s: %v", repo, err)
	}
	return d
}

// PushIndex writes idx to Host/repo and returns its digest.
func (r *Registry) PushIndex(t testing.TB, repo string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	if err := remote.WriteIndex(r.ref(t, repo), idx, remote.WithAuth(r.Auth())); err != nil {
		t.Fatalf("push index %s: %v", repo, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatalf("digest %s: %v", repo, err)
	}
	return d
}

func basicAuth(next http.Handler, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func slowBlobs(next http.Handler, delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/blobs/sha256:") {
			next.ServeHTTP(w, req)
			return
		}
		next.ServeHTTP(&slowWriter{ResponseWriter: w, delay: delay, ctx: req}, req)
	})
}

type slowWriter struct {
	http.ResponseWriter
	delay time.Duration
	ctx   *http.Request
}

func (s *slowWriter) Write(b []byte) (int, error) {
	const chunk = 32 << 10
	n := 0
	for len(b) > 0 {
		c := min(chunk, len(b))
		m, err := s.ResponseWriter.Write(b[:c])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		b = b[c:]
		select {
		case <-s.ctx.Context().Done():
			return n, s.ctx.Context().Err()
		case <-time.After(s.delay):
		}
	}
	return n, nil
}
