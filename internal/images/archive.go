package images

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/container/errdefs"
)

// annotationImageName carries the full image name in index.json, as
// containerd writes it; the OCI ref.name annotation carries the tag.
const annotationImageName = "io.containerd.image.name"

// Save writes the images refs name to w as an OCI image layout tar. An
// index is saved whole when all its platforms are present, otherwise the
// platform manifest that is.
func (s *Service) Save(ctx context.Context, refs []string, w io.Writer) error {
	if len(refs) == 0 {
		return fmt.Errorf("save: no image given: %w", errdefs.ErrInvalidArgument)
	}
	var index ocispec.Index
	index.SchemaVersion = 2
	index.MediaType = ocispec.MediaTypeImageIndex
	var blobs []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	add := func(d ocispec.Descriptor) {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			blobs = append(blobs, d)
		}
	}
	for _, ref := range refs {
		rec, err := s.lookup(ctx, ref)
		if err != nil {
			return err
		}
		target := rec.Target
		if isIndex(target.MediaType) && s.indexComplete(target) {
			add(target)
		} else if target, err = s.pickManifest(target, nil); err != nil {
			return fmt.Errorf("image %q: %w", rec.Name, err)
		}
		ms, err := s.manifestsOf(target)
		if err != nil {
			return err
		}
		for _, md := range ms {
			var m ocispec.Manifest
			if err := s.readJSON(md.Digest, &m); err != nil {
				return err
			}
			add(md)
			add(m.Config)
			for _, l := range m.Layers {
				add(l)
			}
		}
		desc := ocispec.Descriptor{MediaType: target.MediaType, Digest: target.Digest, Size: target.Size, Platform: target.Platform}
		if !strings.HasPrefix(rec.Name, "sha256:") {
			desc.Annotations = map[string]string{annotationImageName: rec.Name}
			if _, tag, _ := SplitName(rec.Name); tag != "<none>" {
				desc.Annotations[ocispec.AnnotationRefName] = tag
			}
		}
		index.Manifests = append(index.Manifests, desc)
	}
	tw := tar.NewWriter(w)
	writeBytes := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := writeBytes(ocispec.ImageLayoutFile, layout); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	idx, _ := json.Marshal(index)
	if err := writeBytes("index.json", idx); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("write archive: %w", err)
		}
	}
	for _, b := range blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := s.content.Open(b.Digest)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + b.Digest.Encoded(), Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
		}
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("write archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

// Load reads an OCI image layout tar or a docker-archive tar ("docker
// save") from r, stores its images and records their names (or, for an
// image without one, "sha256:<manifest hex>"). A malformed archive is
// ErrInvalidArgument and records nothing; with force, the images that can
// be read are loaded and the others skipped.
func (s *Service) Load(ctx context.Context, r io.Reader, force bool) (_ []string, retErr error) {
	// Registered before gcMu is taken so that it runs after its release.
	defer func() {
		if retErr != nil || force {
			s.collectAfter(ctx, "load")
		}
	}()
	f, err := os.CreateTemp(s.content.IngestDir(), "load-*.tar")
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return nil, fmt.Errorf("load: read archive: %w", err)
	}
	entries := map[string]bool{}
	if err := walkTar(f, func(h *tar.Header, _ io.Reader) error {
		entries[path.Clean(h.Name)] = true
		return nil
	}); err != nil && (!force || len(entries) == 0) {
		return nil, fmt.Errorf("load: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	switch {
	case entries["index.json"]:
		return s.loadOCI(ctx, f, force)
	case entries["manifest.json"]:
		return s.loadDocker(ctx, f, force)
	}
	return nil, fmt.Errorf("load: neither an OCI image layout nor a docker archive (no index.json or manifest.json): %w", errdefs.ErrInvalidArgument)
}

func walkTar(f *os.File, fn func(*tar.Header, io.Reader) error) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}

func (s *Service) loadOCI(ctx context.Context, f *os.File, force bool) ([]string, error) {
	var indexRaw []byte
	var bad []error
	var storeErr error // the content store failing is never the archive's fault
	err := walkTar(f, func(h *tar.Header, r io.Reader) error {
		n := path.Clean(h.Name)
		if n == "index.json" {
			b, err := io.ReadAll(io.LimitReader(r, 16<<20))
			indexRaw = b
			return err
		}
		hex, ok := strings.CutPrefix(n, "blobs/sha256/")
		if !ok || h.Typeflag != tar.TypeReg {
			return nil
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, hex)
		if d.Validate() != nil {
			bad = append(bad, fmt.Errorf("blob name %q", n))
			return nil
		}
		unlock := s.content.Lock(d)
		defer unlock()
		ar := &readErrRecorder{r: r}
		if err := s.content.Write(ctx, d, h.Size, ar); err != nil {
			if errdefs.IsInvalidArgument(err) || ar.err != nil {
				bad = append(bad, err)
				return nil
			}
			storeErr = err
			return err
		}
		return nil
	})
	if storeErr != nil {
		return nil, fmt.Errorf("load: %w", storeErr)
	}
	if err != nil && !force {
		return nil, fmt.Errorf("load: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if len(bad) > 0 && !force {
		return nil, fmt.Errorf("load: %v: %w", errors.Join(bad...), errdefs.ErrInvalidArgument)
	}
	var index ocispec.Index
	if err := json.Unmarshal(indexRaw, &index); err != nil {
		return nil, fmt.Errorf("load: index.json: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	var recs []Record
	for _, desc := range index.Manifests {
		if err := s.checkComplete(desc); err != nil {
			if force {
				s.log.WarnContext(ctx, "skipped incomplete image in archive", "image", desc.Digest, "err", err)
				continue
			}
			return nil, fmt.Errorf("load: %w", err)
		}
		n := desc.Annotations[annotationImageName]
		if n == "" {
			n = desc.Annotations[ocispec.AnnotationRefName]
		}
		if n != "" {
			if _, norm, err := s.parse(n, ""); err == nil {
				n = norm
			} else {
				n = ""
			}
		}
		if n == "" {
			n = desc.Digest.String()
		}
		recs = append(recs, Record{Name: n, Target: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}})
	}
	return s.recordLoaded(ctx, recs)
}

// checkComplete verifies that every blob under desc is in the store and
// parses.
func (s *Service) checkComplete(desc ocispec.Descriptor) error {
	if !s.content.Has(desc.Digest) {
		return fmt.Errorf("blob %s missing from archive: %w", desc.Digest, errdefs.ErrInvalidArgument)
	}
	if isIndex(desc.MediaType) {
		if !s.indexComplete(desc) {
			return fmt.Errorf("index %s: a blob is missing from archive: %w", desc.Digest, errdefs.ErrInvalidArgument)
		}
		return nil
	}
	var m ocispec.Manifest
	if err := s.readJSON(desc.Digest, &m); err != nil {
		return err
	}
	if m.Config.Digest == "" {
		return fmt.Errorf("manifest %s has no config: %w", desc.Digest, errdefs.ErrInvalidArgument)
	}
	for _, b := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if !s.content.Has(b.Digest) {
			return fmt.Errorf("blob %s missing from archive: %w", b.Digest, errdefs.ErrInvalidArgument)
		}
	}
	var cfg ocispec.Image
	if err := s.readJSON(m.Config.Digest, &cfg); err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("manifest %s: %d layers but %d diff IDs: %w", desc.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	return nil
}

// recordLoaded unpacks every image of recs and only then records their
// names, so an archive with one image that cannot be unpacked records none.
func (s *Service) recordLoaded(ctx context.Context, recs []Record) ([]string, error) {
	for _, r := range recs {
		img, err := s.resolve(r, nil)
		if err != nil {
			return nil, err
		}
		if err := s.unpack(ctx, img); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(recs))
	now := time.Now().UTC()
	for i := range recs {
		recs[i].Created, recs[i].Updated = now, now
		names = append(names, recs[i].Name)
	}
	// One transaction: an archive's images are recorded all or none.
	if err := s.store.Put(ctx, recs...); err != nil {
		return nil, err
	}
	for _, n := range names {
		s.log.InfoContext(ctx, "image loaded", "image", n)
	}
	return names, nil
}

// collectAfter garbage-collects what a failed (or forced) load or import
// left in the content store and the snapshotter: blobs written before the
// archive turned out to be unusable, and layers unpacked before one failed.
// It runs even when ctx was cancelled, bounded by a minute. The operation's
// own error is what its caller needs, so a GC failure is only logged.
func (s *Service) collectAfter(ctx context.Context, op string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := s.GC(ctx); err != nil {
		s.log.WarnContext(ctx, "garbage collection after "+op, "err", err)
	}
}

func (s *Service) loadDocker(ctx context.Context, f *os.File, force bool) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(f.Name()) }
	mf, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("load: manifest.json: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	var recs []Record
	for _, entry := range mf {
		var tag *name.Tag
		if len(entry.RepoTags) > 0 {
			t, err := name.NewTag(entry.RepoTags[0])
			if err == nil {
				tag = &t
			}
		}
		err := func() error {
			if tag == nil && len(mf) > 1 {
				return fmt.Errorf("untagged image among several: %w", errdefs.ErrInvalidArgument)
			}
			img, err := tarball.Image(opener, tag)
			if err != nil {
				return fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
			}
			if err := s.storeImage(ctx, img, s.maxDL, func(Progress) {}); err != nil {
				if errdefs.IsInvalidArgument(err) || errors.Is(err, context.Canceled) {
					return err
				}
				return fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
			}
			raw, _ := img.RawManifest()
			mt, _ := img.MediaType()
			target := ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
			names := entry.RepoTags
			if len(names) == 0 {
				names = []string{target.Digest.String()}
			}
			for _, n := range names {
				if _, norm, err := s.parse(n, ""); err == nil {
					n = norm
				}
				recs = append(recs, Record{Name: n, Target: target})
			}
			return nil
		}()
		if err != nil {
			if force {
				s.log.WarnContext(ctx, "skipped unreadable image in archive", "image", entry.Config, "err", err)
				continue
			}
			return nil, fmt.Errorf("load: image %s: %w", entry.Config, err)
		}
	}
	return s.recordLoaded(ctx, recs)
}

// Import turns a root filesystem tar (optionally compressed) into a
// one-layer image for platform (nil: the host's) named ref ("" records it
// as "sha256:<manifest hex>").
func (s *Service) Import(ctx context.Context, r io.Reader, ref string, platform *ocispec.Platform) (_ Record, retErr error) {
	n := ""
	if ref != "" {
		var err error
		if _, n, err = s.parse(ref, ""); err != nil {
			return Record{}, err
		}
	}
	p := HostPlatform()
	if platform != nil {
		p = *platform
	}
	dr, err := compression.DecompressStream(ctxReader{ctx, r})
	if err != nil {
		return Record{}, fmt.Errorf("import: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	defer dr.Close()
	tmp, err := os.CreateTemp(s.content.IngestDir(), "import-*.tar.gz")
	if err != nil {
		return Record{}, fmt.Errorf("import: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	diffDigester := digest.SHA256.Digester()
	compDigester := digest.SHA256.Digester()
	cw := &countWriter{w: io.MultiWriter(tmp, compDigester.Hash())}
	gz, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	// Check it is a tar while copying it.
	tr := tar.NewReader(io.TeeReader(dr, io.MultiWriter(gz, diffDigester.Hash())))
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Record{}, fmt.Errorf("import: not a tar archive: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	if _, err := io.Copy(io.MultiWriter(gz, diffDigester.Hash()), dr); err != nil {
		return Record{}, fmt.Errorf("import: %w", err)
	}
	if err := gz.Close(); err != nil {
		return Record{}, fmt.Errorf("import: %w", err)
	}
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: compDigester.Digest(), Size: cw.n}
	cfg := ocispec.Image{
		Created:  ptr(time.Now().UTC()),
		Platform: p,
		Config:   ocispec.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffDigester.Digest()}},
		History:  []ocispec.History{{Created: ptr(time.Now().UTC()), CreatedBy: "container image import"}},
	}
	cfgRaw, _ := json.Marshal(cfg)
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfgRaw), Size: int64(len(cfgRaw))},
		Layers:    []ocispec.Descriptor{layer},
	}
	mRaw, _ := json.Marshal(m)
	// Registered before gcMu is taken so that it runs after its release.
	defer func() {
		if retErr != nil {
			s.collectAfter(ctx, "import")
		}
	}()
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Record{}, err
	}
	if err := s.content.Write(ctx, layer.Digest, layer.Size, tmp); err != nil {
		return Record{}, err
	}
	if _, err := s.content.WriteBytes(ctx, cfgRaw); err != nil {
		return Record{}, err
	}
	md, err := s.content.WriteBytes(ctx, mRaw)
	if err != nil {
		return Record{}, err
	}
	if n == "" {
		n = md.String()
	}
	names, err := s.recordLoaded(ctx, []Record{{Name: n, Target: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(mRaw))}}})
	if err != nil {
		return Record{}, err
	}
	s.log.InfoContext(ctx, "image imported", "image", names[0])
	return s.store.Get(ctx, names[0])
}

// readErrRecorder remembers the error reading r returned, to tell a
// damaged archive from a failing content store.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func ptr[T any](v T) *T { return &v }
