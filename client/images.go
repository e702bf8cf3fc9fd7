package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	imagesv1 "github.com/berth/container/api/services/images/v1"
	"github.com/berth/container/errdefs"
)

// Image is an image the apiserver stores under a name.
type Image struct {
	Name      string // normalised, e.g. docker.io/library/busybox:latest; "sha256:..." when unnamed
	Digest    string // what the name points at (manifest or index)
	MediaType string
	Size      int64
	Created   time.Time
	Platforms []ImagePlatform
}

// ImagePlatform is one platform of an image.
type ImagePlatform struct {
	OS           string
	Architecture string
	Variant      string
	Manifest     string
	Size         int64
	Present      bool            // all its blobs are stored locally
	Config       json.RawMessage // the OCI image config, when present
}

// String formats the platform as os/arch[/variant].
func (p ImagePlatform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ImageProgress is one progress event of a pull or a push. Digest is empty
// for events about the whole image. Status is one of resolved, waiting,
// downloading, exists, downloaded, unpacking, done, pushing, pushed.
type ImageProgress struct {
	Digest  string
	Status  string
	Current int64
	Total   int64
}

// PullOptions tune PullImage and PushImage.
type PullOptions struct {
	Platform string // os/arch[/variant]; empty: the apiserver's
	Scheme   string // auto (default), http or https
	// Auth is sent to the registry; nil means anonymous. Use ResolveAuth
	// to find the user's stored credential.
	Auth     *RegistryAuth
	Progress func(ImageProgress)
	// MaxConcurrentDownloads bounds parallel layer downloads of a pull;
	// 0 means the apiserver's configured default.
	MaxConcurrentDownloads int
}

func (c *Client) images() imagesv1.ImagesClient { return imagesv1.NewImagesClient(c.conn) }

func authToProto(a *RegistryAuth) *imagesv1.Auth {
	if a == nil {
		return nil
	}
	return &imagesv1.Auth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
}

func platformToProto(s string) (*imagesv1.Platform, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("platform %q (want os/arch[/variant]): %w", s, errdefs.ErrInvalidArgument)
	}
	p := &imagesv1.Platform{Os: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func imageFromProto(m *imagesv1.Image) Image {
	img := Image{Name: m.GetName(), Digest: m.GetDigest(), MediaType: m.GetMediaType(), Size: m.GetSize(),
		Created: containerTime(m.GetCreated())}
	for _, p := range m.GetPlatforms() {
		ip := ImagePlatform{
			OS: p.GetPlatform().GetOs(), Architecture: p.GetPlatform().GetArchitecture(), Variant: p.GetPlatform().GetVariant(),
			Manifest: p.GetManifestDigest(), Size: p.GetSize(), Present: p.GetPresent(),
		}
		if len(p.GetConfig()) > 0 {
			ip.Config = json.RawMessage(p.GetConfig())
		}
		img.Platforms = append(img.Platforms, ip)
	}
	return img
}

func progressFromProto(p *imagesv1.Progress) ImageProgress {
	return ImageProgress{Digest: p.GetDigest(), Status: p.GetStatus(), Current: p.GetCurrent(), Total: p.GetTotal()}
}

// PullImage pulls ref into the apiserver's store.
func (c *Client) PullImage(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	p, err := platformToProto(opts.Platform)
	if err != nil {
		return Image{}, err
	}
	if opts.MaxConcurrentDownloads < 0 || opts.MaxConcurrentDownloads > math.MaxInt32 {
		return Image{}, fmt.Errorf("max concurrent downloads %d: %w", opts.MaxConcurrentDownloads, errdefs.ErrInvalidArgument)
	}
	stream, err := c.images().Pull(ctx, &imagesv1.PullImageRequest{
		Reference: ref, Platform: p, Scheme: opts.Scheme, Auth: authToProto(opts.Auth),
		MaxConcurrentDownloads: int32(opts.MaxConcurrentDownloads),
	})
	if err != nil {
		return Image{}, err
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return Image{}, fmt.Errorf("pull %q: stream ended without a result: %w", ref, errdefs.ErrUnavailable)
		}
		if err != nil {
			return Image{}, err
		}
		if m.GetProgress() != nil && opts.Progress != nil {
			opts.Progress(progressFromProto(m.GetProgress()))
		}
		if m.GetImage() != nil {
			return imageFromProto(m.GetImage()), nil
		}
	}
}

// PushImage pushes the image named ref to its registry and returns the
// digest pushed. opts.Platform is ignored.
func (c *Client) PushImage(ctx context.Context, ref string, opts PullOptions) (string, error) {
	stream, err := c.images().Push(ctx, &imagesv1.PushImageRequest{Reference: ref, Scheme: opts.Scheme, Auth: authToProto(opts.Auth)})
	if err != nil {
		return "", err
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("push %q: stream ended without a result: %w", ref, errdefs.ErrUnavailable)
		}
		if err != nil {
			return "", err
		}
		if m.GetProgress() != nil && opts.Progress != nil {
			opts.Progress(progressFromProto(m.GetProgress()))
		}
		if m.GetDigest() != "" {
			return m.GetDigest(), nil
		}
	}
}

// ListImages returns every image, sorted by name.
func (c *Client) ListImages(ctx context.Context) ([]Image, error) {
	resp, err := c.images().List(ctx, &imagesv1.ListImagesRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(resp.GetImages()))
	for _, m := range resp.GetImages() {
		out = append(out, imageFromProto(m))
	}
	return out, nil
}

// GetImage returns the image ref names (a reference, or a digest or its
// 12+ character hex prefix).
func (c *Client) GetImage(ctx context.Context, ref string) (Image, error) {
	resp, err := c.images().Get(ctx, &imagesv1.GetImageRequest{Reference: ref})
	if err != nil {
		return Image{}, err
	}
	return imageFromProto(resp.GetImage()), nil
}

// TagImage makes target name the image source names.
func (c *Client) TagImage(ctx context.Context, source, target string) (Image, error) {
	resp, err := c.images().Tag(ctx, &imagesv1.TagImageRequest{Source: source, Target: target})
	if err != nil {
		return Image{}, err
	}
	return imageFromProto(resp.GetImage()), nil
}

// DeleteImage removes the name ref and returns the full name removed.
// ErrFailedPrecondition when a container uses the image and force is false.
func (c *Client) DeleteImage(ctx context.Context, ref string, force bool) (string, error) {
	resp, err := c.images().Delete(ctx, &imagesv1.DeleteImageRequest{Reference: ref, Force: force})
	if err != nil {
		return "", err
	}
	return resp.GetName(), nil
}

// PruneImages deletes unnamed images no container uses (with all, every
// image no container uses) and returns the names deleted.
func (c *Client) PruneImages(ctx context.Context, all bool) ([]string, error) {
	resp, err := c.images().Prune(ctx, &imagesv1.PruneImagesRequest{All: all})
	if err != nil {
		return nil, err
	}
	return resp.GetDeleted(), nil
}

// SaveImages writes an OCI image layout tar of refs to w.
func (c *Client) SaveImages(ctx context.Context, refs []string, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx) // a failed write ends the call on the apiserver too
	defer cancel()
	stream, err := c.images().Save(ctx, &imagesv1.SaveImagesRequest{References: refs})
	if err != nil {
		return err
	}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(m.GetData()); err != nil {
			return fmt.Errorf("write archive: %w", err)
		}
	}
}

const chunkSize = 1 << 20

// sendChunks reads r and calls send with each chunk (at least once).
func sendChunks(r io.Reader, send func(first bool, b []byte) error) error {
	buf := make([]byte, chunkSize)
	first := true
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 || first {
			if serr := send(first, append([]byte(nil), buf[:n]...)); serr != nil {
				return serr
			}
			first = false
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
	}
}

// LoadImages sends an OCI layout or docker-archive tar read from r and
// returns the names loaded. A malformed archive is ErrInvalidArgument
// unless force, which loads what can be read.
func (c *Client) LoadImages(ctx context.Context, r io.Reader, force bool) ([]string, error) {
	// Cancelling on return ends the call on the apiserver too when reading
	// r fails half-way; otherwise it would wait for the rest of the archive.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.images().Load(ctx)
	if err != nil {
		return nil, err
	}
	if err := sendChunks(r, func(first bool, b []byte) error {
		return stream.Send(&imagesv1.LoadImagesRequest{Force: force, Data: b})
	}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return resp.GetNames(), nil
}

// ImportImage turns the root filesystem tar read from r into a one-layer
// image named ref ("" leaves it unnamed) for platform ("" = the apiserver's).
func (c *Client) ImportImage(ctx context.Context, r io.Reader, ref, platform string) (Image, error) {
	p, err := platformToProto(platform)
	if err != nil {
		return Image{}, err
	}
	ctx, cancel := context.WithCancel(ctx) // see LoadImages
	defer cancel()
	stream, err := c.images().Import(ctx)
	if err != nil {
		return Image{}, err
	}
	if err := sendChunks(r, func(first bool, b []byte) error {
		m := &imagesv1.ImportImageRequest{Data: b}
		if first {
			m.Reference, m.Platform = ref, p
		}
		return stream.Send(m)
	}); err != nil && !errors.Is(err, io.EOF) {
		return Image{}, err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return Image{}, err
	}
	return imageFromProto(resp.GetImage()), nil
}

// RegistryLogin has the apiserver check auth against server; nothing is
// stored (see SaveCredentials). Wrong credentials are ErrPermissionDenied.
func (c *Client) RegistryLogin(ctx context.Context, server, scheme string, auth RegistryAuth) error {
	_, err := c.images().Login(ctx, &imagesv1.LoginRequest{Server: server, Scheme: scheme, Auth: authToProto(&auth)})
	return err
}
