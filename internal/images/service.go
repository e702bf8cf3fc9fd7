// Package images owns the images: the content store under <root>/content,
// the name → manifest records (through Store), pulling from and pushing to
// registries with go-containerregistry, save/load/import of archives, and
// garbage collection of blobs and layer snapshots nothing references.
//
// A blob in the content store is always complete and verified (see
// Content). A pull downloads each blob at most once even when several pulls
// share it, unpacks each layer once (internal/snapshots, keyed by chain
// ID), and records the name only after everything it points at is stored
// and unpacked, so an interrupted pull leaves at worst unreferenced blobs
// that the next GC removes.
//
// It knows nothing about gRPC or bbolt. Registry credentials come with each
// request; the daemon stores none.
package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/snapshots"
)

// Docker media types we read alongside the OCI ones.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
)

// DefaultMaxConcurrentDownloads is used when Config.MaxConcurrentDownloads is 0.
const DefaultMaxConcurrentDownloads = 3

// Config lists what a Service needs.
type Config struct {
	Content   *Content               // required
	Store     Store                  // required
	Snapshots *snapshots.Snapshotter // required
	// Containers tells whether a container uses an image; nil means none does.
	Containers UsageChecker
	// MaxConcurrentDownloads bounds parallel layer downloads per pull (default 3).
	MaxConcurrentDownloads int
	// DefaultRegistry completes names without a registry host (default docker.io).
	DefaultRegistry string
	Log             *slog.Logger // required
}

// Service implements the image operations. It is safe for concurrent use.
type Service struct {
	content    *Content
	store      Store
	snapshots  *snapshots.Snapshotter
	containers UsageChecker
	maxDL      int
	log        *slog.Logger
	// defaultRegistry completes short names; "" means docker.io.
	defaultRegistry string

	// gcMu: GC holds it exclusively; operations that write content and then
	// record a name hold it shared, so GC never deletes blobs a pull in
	// progress has just written.
	gcMu sync.RWMutex
}

// NewService returns a Service using the dependencies in cfg.
func NewService(cfg Config) (*Service, error) {
	if cfg.Content == nil || cfg.Store == nil || cfg.Snapshots == nil || cfg.Log == nil {
		return nil, errors.New("images: NewService: Content, Store, Snapshots and Log are required")
	}
	if cfg.MaxConcurrentDownloads <= 0 {
		cfg.MaxConcurrentDownloads = DefaultMaxConcurrentDownloads
	}
	return &Service{
		content: cfg.Content, store: cfg.Store, snapshots: cfg.Snapshots, containers: cfg.Containers,
		maxDL: cfg.MaxConcurrentDownloads, log: cfg.Log.With("component", "images"),
		defaultRegistry: cfg.DefaultRegistry,
	}, nil
}

// Image is a resolved, runnable image: one platform's manifest and config.
type Image struct {
	Name      string
	Digest    digest.Digest // what Name points at: a manifest or an index
	MediaType string
	Created   time.Time // when the name was first recorded
	// Manifest is the platform manifest chosen (equal to Digest for a
	// single-platform image).
	Manifest     digest.Digest
	ConfigDigest digest.Digest
	Platform     ocispec.Platform
	Config       ocispec.ImageConfig
	Layers       []ocispec.Descriptor
	DiffIDs      []digest.Digest
	// ChainID identifies the top layer's snapshot ("" for an image with no layers).
	ChainID digest.Digest
	Size    int64 // manifest + config + compressed layers
}

// PlatformInfo describes one platform of an image (one row of list -v).
type PlatformInfo struct {
	Platform ocispec.Platform
	Manifest digest.Digest
	Size     int64 // manifest + config + layers, as the registry reports them
	Present  bool  // all its blobs are in the content store
	Config   *ocispec.Image
}

// Detail is what list and inspect report about an image.
type Detail struct {
	Record
	Platforms []PlatformInfo
}

// lookup finds the record for user input: a reference (normalised as
// docker does), or a digest / hex prefix (≥ 12 characters) of a target.
func (s *Service) lookup(ctx context.Context, ref string) (Record, error) {
	if _, n, err := s.parse(ref, ""); err == nil {
		if r, err := s.store.Get(ctx, n); err == nil {
			return r, nil
		} else if !errdefs.IsNotFound(err) {
			return Record{}, err
		}
	}
	if r, err := s.store.Get(ctx, ref); err == nil {
		return r, nil
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) >= 12 && strings.Trim(hex, "0123456789abcdef") == "" {
		recs, err := s.store.List(ctx)
		if err != nil {
			return Record{}, err
		}
		var found []Record
		for _, r := range recs {
			if strings.HasPrefix(r.Target.Digest.Encoded(), hex) {
				found = append(found, r)
			}
		}
		for _, r := range found[min(1, len(found)):] {
			if r.Target.Digest != found[0].Target.Digest {
				return Record{}, fmt.Errorf("image %q: prefix matches several images: %w", ref, errdefs.ErrInvalidArgument)
			}
		}
		if len(found) > 0 {
			return found[0], nil
		}
	}
	return Record{}, fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound)
}

// Get resolves ref to a runnable image: for an index, the manifest for the
// host's platform if it was pulled, else the one platform that was. Its
// layers are unpacked if they are not already, so ChainID can be passed to
// snapshots.Prepare.
func (s *Service) Get(ctx context.Context, ref string) (Image, error) {
	rec, err := s.lookup(ctx, ref)
	if err != nil {
		return Image{}, err
	}
	img, err := s.resolve(rec, nil)
	if err != nil {
		return Image{}, err
	}
	if err := s.unpack(ctx, img); err != nil {
		return Image{}, err
	}
	return img, nil
}

// resolve builds the Image of rec for platform want (nil: the host's, or
// else any platform present).
func (s *Service) resolve(rec Record, want *ocispec.Platform) (Image, error) {
	mdesc, err := s.pickManifest(rec.Target, want)
	if err != nil {
		return Image{}, fmt.Errorf("image %q: %w", rec.Name, err)
	}
	var m ocispec.Manifest
	if err := s.readJSON(mdesc.Digest, &m); err != nil {
		return Image{}, err
	}
	var cfg ocispec.Image
	if err := s.readJSON(m.Config.Digest, &cfg); err != nil {
		return Image{}, err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return Image{}, fmt.Errorf("image %q: config has %d diff IDs for %d layers: %w",
			rec.Name, len(cfg.RootFS.DiffIDs), len(m.Layers), errdefs.ErrInvalidArgument)
	}
	img := Image{
		Name: rec.Name, Digest: rec.Target.Digest, MediaType: rec.Target.MediaType, Created: rec.Created,
		Manifest: mdesc.Digest, ConfigDigest: m.Config.Digest, Platform: cfg.Platform, Config: cfg.Config,
		Layers: m.Layers, DiffIDs: cfg.RootFS.DiffIDs, Size: mdesc.Size + m.Config.Size,
	}
	for _, l := range m.Layers {
		img.Size += l.Size
	}
	if len(img.DiffIDs) > 0 {
		img.ChainID = snapshots.ChainID(img.DiffIDs)
	}
	return img, nil
}

func (s *Service) unpack(ctx context.Context, img Image) error {
	if img.ChainID == "" || s.snapshots.Exists(ctx, img.ChainID) {
		return nil
	}
	layers := make([]snapshots.Layer, len(img.Layers))
	for i, l := range img.Layers {
		d := l.Digest
		layers[i] = snapshots.Layer{DiffID: img.DiffIDs[i], Open: func() (io.ReadCloser, error) { return s.content.Open(d) }}
	}
	if _, err := s.snapshots.Unpack(ctx, layers); err != nil {
		return fmt.Errorf("unpack image %q: %w", img.Name, err)
	}
	return nil
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerManifestList
}

func (s *Service) readJSON(d digest.Digest, v any) error {
	b, err := s.content.ReadAll(d)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("blob %s: %v: %w", d, err, errdefs.ErrInvalidArgument)
	}
	return nil
}

// pickManifest returns the manifest descriptor under target for want (see resolve).
func (s *Service) pickManifest(target ocispec.Descriptor, want *ocispec.Platform) (ocispec.Descriptor, error) {
	if !isIndex(target.MediaType) {
		return target, nil
	}
	var idx ocispec.Index
	if err := s.readJSON(target.Digest, &idx); err != nil {
		return ocispec.Descriptor{}, err
	}
	p := HostPlatform()
	if want != nil {
		p = *want
	}
	var present []ocispec.Descriptor
	for _, m := range idx.Manifests {
		if isIndex(m.MediaType) || !s.content.Has(m.Digest) {
			continue
		}
		if platformMatch(p, m.Platform) {
			return m, nil
		}
		present = append(present, m)
	}
	if want == nil && len(present) > 0 {
		return present[0], nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("no manifest for platform %s: %w", FormatPlatform(p), errdefs.ErrNotFound)
}

// manifestsOf lists the platform manifests under target, present or not.
func (s *Service) manifestsOf(target ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	if !isIndex(target.MediaType) {
		return []ocispec.Descriptor{target}, nil
	}
	var idx ocispec.Index
	if err := s.readJSON(target.Digest, &idx); err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	for _, m := range idx.Manifests {
		if !isIndex(m.MediaType) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *Service) detail(rec Record) (Detail, error) {
	d := Detail{Record: rec}
	ms, err := s.manifestsOf(rec.Target)
	if err != nil {
		return d, err
	}
	for _, md := range ms {
		pi := PlatformInfo{Manifest: md.Digest, Size: md.Size}
		if md.Platform != nil {
			pi.Platform = *md.Platform
		}
		var m ocispec.Manifest
		if s.content.Has(md.Digest) && s.readJSON(md.Digest, &m) == nil {
			pi.Size += m.Config.Size
			pi.Present = s.content.Has(m.Config.Digest)
			for _, l := range m.Layers {
				pi.Size += l.Size
				pi.Present = pi.Present && s.content.Has(l.Digest)
			}
			var cfg ocispec.Image
			if s.readJSON(m.Config.Digest, &cfg) == nil {
				pi.Config = &cfg
				pi.Platform = cfg.Platform
			}
		}
		d.Platforms = append(d.Platforms, pi)
	}
	return d, nil
}

// Inspect returns the detail of ref.
func (s *Service) Inspect(ctx context.Context, ref string) (Detail, error) {
	rec, err := s.lookup(ctx, ref)
	if err != nil {
		return Detail{}, err
	}
	return s.detail(rec)
}

// List returns every image, sorted by name.
func (s *Service) List(ctx context.Context) ([]Detail, error) {
	recs, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Detail, 0, len(recs))
	for _, r := range recs {
		d, err := s.detail(r)
		if err != nil {
			s.log.WarnContext(ctx, "unreadable image", "image", r.Name, "err", err)
			d = Detail{Record: r}
		}
		out = append(out, d)
	}
	return out, nil
}

// Tag makes target (a reference) name the same image as src.
func (s *Service) Tag(ctx context.Context, src, target string) (Record, error) {
	rec, err := s.lookup(ctx, src)
	if err != nil {
		return Record{}, err
	}
	tr, n, err := s.parse(target, "")
	if err != nil {
		return Record{}, err
	}
	if _, ok := tr.(name.Digest); ok {
		// The name would claim a digest its image does not have.
		return Record{}, fmt.Errorf("tag %q: a tag cannot be a digest reference: %w", target, errdefs.ErrInvalidArgument)
	}
	now := time.Now().UTC()
	nr := Record{Name: n, Target: rec.Target, Created: now, Updated: now}
	if err := s.store.Put(ctx, nr); err != nil {
		return Record{}, err
	}
	return nr, nil
}

// inUse reports whether a container uses the image rec names.
func (s *Service) inUse(ctx context.Context, rec Record) (bool, error) {
	if s.containers == nil {
		return false, nil
	}
	ds := []digest.Digest{rec.Target.Digest}
	if ms, err := s.manifestsOf(rec.Target); err == nil && isIndex(rec.Target.MediaType) {
		for _, m := range ms {
			ds = append(ds, m.Digest)
		}
	}
	for _, d := range ds {
		used, err := s.containers.InUse(ctx, d)
		if err != nil || used {
			return used, err
		}
	}
	return false, nil
}

// Delete removes the name ref. If it was the last name of an image that a
// container uses, Delete refuses with ErrFailedPrecondition unless force.
// Blobs and snapshots nothing references any more are garbage-collected.
func (s *Service) Delete(ctx context.Context, ref string, force bool) (Record, error) {
	rec, err := s.lookup(ctx, ref)
	if err != nil {
		return Record{}, err
	}
	if !force {
		others := false
		recs, err := s.store.List(ctx)
		if err != nil {
			return Record{}, err
		}
		for _, r := range recs {
			if r.Name != rec.Name && r.Target.Digest == rec.Target.Digest {
				others = true
			}
		}
		if !others {
			used, err := s.inUse(ctx, rec)
			if err != nil {
				return Record{}, err
			}
			if used {
				return Record{}, fmt.Errorf("image %q is used by a container (use force): %w", rec.Name, errdefs.ErrFailedPrecondition)
			}
		}
	}
	if err := s.store.Delete(ctx, rec.Name); err != nil {
		return Record{}, err
	}
	s.log.InfoContext(ctx, "image deleted", "image", rec.Name)
	if _, err := s.GC(ctx); err != nil {
		return rec, err
	}
	return rec, nil
}

// Prune deletes untagged images (loaded without a name) that no container
// uses; with all, every image no container uses. It returns the names deleted.
func (s *Service) Prune(ctx context.Context, all bool) ([]string, error) {
	recs, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	var deleted []string
	for _, r := range recs {
		if !all && !strings.HasPrefix(r.Name, "sha256:") {
			continue
		}
		used, err := s.inUse(ctx, r)
		if err != nil {
			return deleted, err
		}
		if used {
			continue
		}
		if err := s.store.Delete(ctx, r.Name); err != nil && !errdefs.IsNotFound(err) {
			return deleted, err
		}
		deleted = append(deleted, r.Name)
	}
	if _, err := s.GC(ctx); err != nil {
		return deleted, err
	}
	return deleted, nil
}

// GCResult counts what a GC removed.
type GCResult struct {
	Blobs     int
	Snapshots int
}

// GC removes every blob no image record reaches and every layer snapshot
// no image or container needs. If an image's blobs do not read or parse,
// what it reaches is unknown and GC removes nothing (logged at Warn).
func (s *Service) GC(ctx context.Context) (GCResult, error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	var res GCResult
	recs, err := s.store.List(ctx)
	if err != nil {
		return res, err
	}
	keepBlobs := map[digest.Digest]bool{}
	keepChains := map[digest.Digest]bool{}
	// What an image references is only known if its blobs read and parse.
	// If one does not, GC deletes nothing: deleting the blobs and layers
	// of an image because its index or config is damaged would turn a
	// repairable image (pull it again) into a lost one.
	var unreadable []error
	for _, r := range recs {
		keepBlobs[r.Target.Digest] = true
		ms, err := s.manifestsOf(r.Target)
		if err != nil {
			unreadable = append(unreadable, fmt.Errorf("image %q: %w", r.Name, err))
			continue
		}
		for _, md := range ms {
			keepBlobs[md.Digest] = true
			var m ocispec.Manifest
			if err := s.readJSON(md.Digest, &m); err != nil {
				// An index lists platforms that were never pulled.
				if !isIndex(r.Target.MediaType) || !errdefs.IsNotFound(err) {
					unreadable = append(unreadable, fmt.Errorf("image %q: %w", r.Name, err))
				}
				continue
			}
			keepBlobs[m.Config.Digest] = true
			for _, l := range m.Layers {
				keepBlobs[l.Digest] = true
			}
			var cfg ocispec.Image
			if err := s.readJSON(m.Config.Digest, &cfg); err != nil {
				unreadable = append(unreadable, fmt.Errorf("image %q: %w", r.Name, err))
				continue
			}
			for i := range cfg.RootFS.DiffIDs {
				keepChains[snapshots.ChainID(cfg.RootFS.DiffIDs[:i+1])] = true
			}
		}
	}
	if len(unreadable) > 0 {
		s.log.WarnContext(ctx, "garbage collection skipped: an image's blobs do not read", "err", errors.Join(unreadable...))
		return res, nil
	}
	blobs, err := s.content.Walk()
	if err != nil {
		return res, err
	}
	for _, b := range blobs {
		if keepBlobs[b] {
			continue
		}
		if err := s.content.Delete(b); err != nil {
			return res, err
		}
		res.Blobs++
	}
	n, err := s.snapshots.GC(ctx, keepChains)
	res.Snapshots = n
	if res.Blobs+res.Snapshots > 0 {
		s.log.InfoContext(ctx, "garbage collected", "blobs", res.Blobs, "snapshots", res.Snapshots)
	}
	return res, err
}
