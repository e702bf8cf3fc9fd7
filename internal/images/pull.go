package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/berth/container/errdefs"
)

// Auth is a registry credential sent with a request (the CLI resolves it
// from the user's docker config.json or credential helper).
type Auth struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
}

func (a *Auth) authenticator() authn.Authenticator {
	if a == nil || *a == (Auth{}) {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: a.Username, Password: a.Password,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	})
}

// Progress statuses.
const (
	StatusResolved    = "resolved"    // the manifest was fetched
	StatusWaiting     = "waiting"     // queued behind the download limit
	StatusDownloading = "downloading" // Current of Total bytes so far
	StatusExists      = "exists"      // already in the content store
	StatusDownloaded  = "downloaded"
	StatusUnpacking   = "unpacking"
	StatusDone        = "done"    // the whole image is stored and unpacked
	StatusPushing     = "pushing" // Current of Total bytes pushed (whole image)
	StatusPushed      = "pushed"
)

// Progress is one progress event of a pull or a push. Digest is empty for
// events about the whole image.
type Progress struct {
	Digest  digest.Digest
	Status  string
	Current int64
	Total   int64
}

// PullOptions tune Pull.
type PullOptions struct {
	// Platform to pull from an index; nil means the host's.
	Platform *ocispec.Platform
	Scheme   string // SchemeAuto (default), SchemeHTTP or SchemeHTTPS
	Auth     *Auth
	// Progress, if set, receives events; it is called from several
	// goroutines, never concurrently.
	Progress func(Progress)
	// MaxConcurrentDownloads overrides the service's limit when > 0.
	MaxConcurrentDownloads int
}

func remoteOptions(ctx context.Context, scheme string, auth *Auth) []remote.Option {
	var rt http.RoundTripper = remote.DefaultTransport
	if scheme == SchemeHTTPS {
		rt = httpsOnly{next: rt}
	}
	return []remote.Option{
		remote.WithContext(ctx), remote.WithAuth(auth.authenticator()),
		remote.WithTransport(rt), remote.WithUserAgent("container"),
	}
}

// registryError adds a kind to errors from the registry.
func registryError(what string, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: %v: %w", what, err, errdefs.ErrPermissionDenied)
		case http.StatusNotFound:
			return fmt.Errorf("%s: %v: %w", what, err, errdefs.ErrNotFound)
		}
		return fmt.Errorf("%s: %v: %w", what, err, errdefs.ErrUnavailable)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if errdefs.IsInvalidArgument(err) || errdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %v: %w", what, err, errdefs.ErrUnavailable)
}

// Pull fetches ref from its registry, stores every blob the chosen platform
// needs, unpacks its layers and records the name. It returns the image.
func (s *Service) Pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	r, n, err := s.parse(ref, opts.Scheme)
	if err != nil {
		return Image{}, err
	}
	progress := serialize(opts.Progress)
	want := HostPlatform()
	if opts.Platform != nil {
		want = *opts.Platform
	}
	ropts := remoteOptions(ctx, opts.Scheme, opts.Auth)
	desc, err := remote.Get(r, append(ropts, remote.WithPlatform(v1.Platform{OS: want.OS, Architecture: want.Architecture, Variant: want.Variant}))...)
	if err != nil {
		return Image{}, registryError(fmt.Sprintf("fetch manifest of %q", n), err)
	}
	target := ocispec.Descriptor{MediaType: string(desc.MediaType), Digest: digest.Digest(desc.Digest.String()), Size: desc.Size}
	progress(Progress{Digest: target.Digest, Status: StatusResolved, Total: target.Size})

	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	var img v1.Image
	var indexRaw []byte
	if desc.MediaType.IsIndex() {
		indexRaw = desc.Manifest
		idx, err := desc.ImageIndex()
		if err != nil {
			return Image{}, registryError(fmt.Sprintf("read index of %q", n), err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return Image{}, registryError(fmt.Sprintf("read index of %q", n), err)
		}
		var child *v1.Descriptor
		for i, m := range im.Manifests {
			if m.MediaType.IsImage() && m.Platform != nil &&
				platformMatch(want, &ocispec.Platform{OS: m.Platform.OS, Architecture: m.Platform.Architecture, Variant: m.Platform.Variant}) {
				child = &im.Manifests[i]
				break
			}
		}
		if child == nil {
			return Image{}, fmt.Errorf("image %q has no manifest for platform %s: %w", n, FormatPlatform(want), errdefs.ErrNotFound)
		}
		if img, err = idx.Image(child.Digest); err != nil {
			return Image{}, registryError(fmt.Sprintf("fetch manifest of %q", n), err)
		}
	} else {
		if img, err = desc.Image(); err != nil {
			return Image{}, registryError(fmt.Sprintf("fetch manifest of %q", n), err)
		}
	}
	limit := s.maxDL
	if opts.MaxConcurrentDownloads > 0 {
		limit = opts.MaxConcurrentDownloads
	}
	if err := s.storeImage(ctx, img, limit, progress); err != nil {
		return Image{}, registryError(fmt.Sprintf("pull %q", n), err)
	}
	if indexRaw != nil {
		if err := s.content.Write(ctx, target.Digest, target.Size, bytes.NewReader(indexRaw)); err != nil {
			return Image{}, err
		}
	}
	rec := Record{Name: n, Target: target, Created: time.Now().UTC(), Updated: time.Now().UTC()}
	image, err := s.resolve(rec, &want)
	if err != nil {
		return Image{}, err
	}
	progress(Progress{Status: StatusUnpacking})
	if err := s.unpack(ctx, image); err != nil {
		return Image{}, err
	}
	if err := s.store.Put(ctx, rec); err != nil {
		return Image{}, err
	}
	progress(Progress{Digest: target.Digest, Status: StatusDone})
	s.log.InfoContext(ctx, "image pulled", "image", n, "digest", target.Digest)
	return image, nil
}

// storeImage writes img's layers, config and manifest into the content
// store (manifest last), downloading at most limit layers at once. Blobs
// already present are not read again.
func (s *Service) storeImage(ctx context.Context, img v1.Image, limit int, progress func(Progress)) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	if s.content.Has(digest.FromBytes(raw)) && s.hasAll(m) {
		for _, l := range m.Layers {
			progress(Progress{Digest: digest.Digest(l.Digest.String()), Status: StatusExists, Current: l.Size, Total: l.Size})
		}
		return nil
	}
	for _, l := range m.Layers {
		progress(Progress{Digest: digest.Digest(l.Digest.String()), Status: StatusWaiting, Total: l.Size})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, l := range m.Layers {
		g.Go(func() error {
			d := digest.Digest(l.Digest.String())
			unlock := s.content.Lock(d)
			defer unlock()
			if s.content.Has(d) {
				progress(Progress{Digest: d, Status: StatusExists, Current: l.Size, Total: l.Size})
				return nil
			}
			layer, err := img.LayerByDigest(l.Digest)
			if err != nil {
				return err
			}
			rc, err := layer.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			pr := &progressReader{r: rc, d: d, total: l.Size, fn: progress}
			if err := s.content.Write(gctx, d, l.Size, pr); err != nil {
				return err
			}
			progress(Progress{Digest: d, Status: StatusDownloaded, Current: l.Size, Total: l.Size})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	if digest.FromBytes(cfg).String() != m.Config.Digest.String() {
		return fmt.Errorf("config does not match manifest: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := s.content.WriteBytes(ctx, cfg); err != nil {
		return err
	}
	_, err = s.content.WriteBytes(ctx, raw)
	return err
}

// hasAll reports whether the config and every layer of m are in the
// content store. A pull writes the manifest last, but a load writes blobs
// in archive order, so a failed load may have left a manifest without them.
func (s *Service) hasAll(m *v1.Manifest) bool {
	if !s.content.Has(digest.Digest(m.Config.Digest.String())) {
		return false
	}
	for _, l := range m.Layers {
		if !s.content.Has(digest.Digest(l.Digest.String())) {
			return false
		}
	}
	return true
}

type progressReader struct {
	r     io.Reader
	d     digest.Digest
	total int64
	n     int64
	last  time.Time
	fn    func(Progress)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond {
		p.last = now
		p.fn(Progress{Digest: p.d, Status: StatusDownloading, Current: p.n, Total: p.total})
	}
	return n, err
}

// serialize wraps fn so that concurrent callers never overlap; nil becomes a no-op.
func serialize(fn func(Progress)) func(Progress) {
	if fn == nil {
		return func(Progress) {}
	}
	ch := make(chan struct{}, 1)
	return func(p Progress) {
		ch <- struct{}{}
		defer func() { <-ch }()
		fn(p)
	}
}
