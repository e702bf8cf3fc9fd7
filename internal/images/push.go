package images

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/container/errdefs"
)

// PushOptions tune Push.
type PushOptions struct {
	Scheme   string
	Auth     *Auth
	Progress func(Progress)
}

// Push uploads the image ref names to its registry. An index is pushed
// whole when every platform is present locally; otherwise the platform
// manifest that is present is pushed alone. It returns the digest pushed.
func (s *Service) Push(ctx context.Context, ref string, opts PushOptions) (digest.Digest, error) {
	rec, err := s.lookup(ctx, ref)
	if err != nil {
		return "", err
	}
	r, n, err := s.parse(rec.Name, opts.Scheme)
	if err != nil {
		return "", fmt.Errorf("image %q has no registry name to push to: %w", rec.Name, errdefs.ErrInvalidArgument)
	}
	progress := serialize(opts.Progress)
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			progress(Progress{Status: StatusPushing, Current: u.Complete, Total: u.Total})
		}
	}()
	ropts := append(remoteOptions(ctx, opts.Scheme, opts.Auth), remote.WithProgress(updates))

	target := rec.Target
	var pushErr error
	if isIndex(target.MediaType) && s.indexComplete(target) {
		pushErr = remote.WriteIndex(r, &localIndex{s: s, desc: target}, ropts...)
	} else {
		var md ocispec.Descriptor
		md, err = s.pickManifest(target, nil)
		if err != nil {
			close(updates)
			<-done
			return "", err
		}
		target = md
		var img v1.Image
		if img, pushErr = s.localV1Image(md); pushErr == nil {
			pushErr = remote.Write(r, img, ropts...)
		} else {
			close(updates)
		}
	}
	<-done // remote closes updates when it is done
	if pushErr != nil {
		return "", registryError(fmt.Sprintf("push %q", n), pushErr)
	}
	progress(Progress{Digest: target.Digest, Status: StatusPushed})
	s.log.InfoContext(ctx, "image pushed", "image", n)
	return target.Digest, nil
}

func (s *Service) indexComplete(target ocispec.Descriptor) bool {
	ms, err := s.manifestsOf(target)
	if err != nil {
		return false
	}
	for _, md := range ms {
		if !s.content.Has(md.Digest) {
			return false
		}
		var m ocispec.Manifest
		if s.readJSON(md.Digest, &m) != nil || !s.content.Has(m.Config.Digest) {
			return false
		}
		for _, l := range m.Layers {
			if !s.content.Has(l.Digest) {
				return false
			}
		}
	}
	return true
}

// localV1Image returns a v1.Image over the manifest desc in the content store.
func (s *Service) localV1Image(desc ocispec.Descriptor) (v1.Image, error) {
	core, err := newLocalImage(s, desc)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(core)
}

// localImage implements partial.CompressedImageCore over the content store.
type localImage struct {
	s      *Service
	raw    []byte
	mt     types.MediaType
	layers map[string]ocispec.Descriptor
	config ocispec.Descriptor
}

func newLocalImage(s *Service, desc ocispec.Descriptor) (*localImage, error) {
	raw, err := s.content.ReadAll(desc.Digest)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := s.readJSON(desc.Digest, &m); err != nil {
		return nil, err
	}
	mt := desc.MediaType
	if m.MediaType != "" {
		mt = m.MediaType
	}
	li := &localImage{s: s, raw: raw, mt: types.MediaType(mt), layers: map[string]ocispec.Descriptor{}, config: m.Config}
	for _, l := range m.Layers {
		li.layers[l.Digest.String()] = l
	}
	return li, nil
}

func (l *localImage) RawConfigFile() ([]byte, error)      { return l.s.content.ReadAll(l.config.Digest) }
func (l *localImage) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *localImage) RawManifest() ([]byte, error)        { return l.raw, nil }
func (l *localImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h.String() == l.config.Digest.String() {
		return &localBlob{s: l.s, desc: l.config}, nil
	}
	d, ok := l.layers[h.String()]
	if !ok {
		return nil, fmt.Errorf("layer %s: %w", h, errdefs.ErrNotFound)
	}
	return &localBlob{s: l.s, desc: d}, nil
}

type localBlob struct {
	s    *Service
	desc ocispec.Descriptor
}

func (b *localBlob) Digest() (v1.Hash, error)           { return v1.NewHash(b.desc.Digest.String()) }
func (b *localBlob) Compressed() (io.ReadCloser, error) { return b.s.content.Open(b.desc.Digest) }
func (b *localBlob) Size() (int64, error)               { return b.desc.Size, nil }
func (b *localBlob) MediaType() (types.MediaType, error) {
	return types.MediaType(b.desc.MediaType), nil
}

// localIndex is a v1.ImageIndex over an index in the content store.
type localIndex struct {
	s    *Service
	desc ocispec.Descriptor
}

func (x *localIndex) MediaType() (types.MediaType, error) {
	return types.MediaType(x.desc.MediaType), nil
}
func (x *localIndex) Digest() (v1.Hash, error)     { return v1.NewHash(x.desc.Digest.String()) }
func (x *localIndex) Size() (int64, error)         { return x.desc.Size, nil }
func (x *localIndex) RawManifest() ([]byte, error) { return x.s.content.ReadAll(x.desc.Digest) }
func (x *localIndex) IndexManifest() (*v1.IndexManifest, error) {
	raw, err := x.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseIndexManifest(bytes.NewReader(raw))
}
func (x *localIndex) Image(h v1.Hash) (v1.Image, error) {
	ms, err := x.s.manifestsOf(x.desc)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.Digest.String() == h.String() {
			return x.s.localV1Image(m)
		}
	}
	return nil, fmt.Errorf("manifest %s: %w", h, errdefs.ErrNotFound)
}
func (x *localIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("nested index %s: %w", h, errdefs.ErrNotImplemented)
}
