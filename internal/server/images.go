package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	imagesv1 "github.com/berth/container/api/services/images/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/images"
)

// RegisterImages registers the Images service backed by svc.
func RegisterImages(s *grpc.Server, svc *images.Service) {
	imagesv1.RegisterImagesServer(s, &imagesServer{svc: svc})
}

type imagesServer struct {
	imagesv1.UnimplementedImagesServer
	svc *images.Service
}

func authFromProto(a *imagesv1.Auth) *images.Auth {
	if a == nil {
		return nil
	}
	return &images.Auth{Username: a.GetUsername(), Password: a.GetPassword(), IdentityToken: a.GetIdentityToken(), RegistryToken: a.GetRegistryToken()}
}

func platformFromProto(p *imagesv1.Platform) (*ocispec.Platform, error) {
	if p == nil || (p.GetOs() == "" && p.GetArchitecture() == "") {
		return nil, nil
	}
	if p.GetOs() == "" || p.GetArchitecture() == "" {
		return nil, fmt.Errorf("platform needs os and architecture: %w", errdefs.ErrInvalidArgument)
	}
	return &ocispec.Platform{OS: p.GetOs(), Architecture: p.GetArchitecture(), Variant: p.GetVariant()}, nil
}

func progressToProto(p images.Progress) *imagesv1.Progress {
	return &imagesv1.Progress{Digest: p.Digest.String(), Status: p.Status, Current: p.Current, Total: p.Total}
}

func imageToProto(d images.Detail) *imagesv1.Image {
	out := &imagesv1.Image{
		Name: d.Name, Digest: d.Target.Digest.String(), MediaType: d.Target.MediaType,
		Size: d.Target.Size, Created: timestamppb.New(d.Created),
	}
	for _, p := range d.Platforms {
		ip := &imagesv1.ImagePlatform{
			Platform:       &imagesv1.Platform{Os: p.Platform.OS, Architecture: p.Platform.Architecture, Variant: p.Platform.Variant},
			ManifestDigest: p.Manifest.String(), Size: p.Size, Present: p.Present,
		}
		if p.Config != nil {
			ip.Config, _ = json.Marshal(p.Config)
		}
		out.Platforms = append(out.Platforms, ip)
	}
	return out
}

// streamSender serialises sends on a server stream (progress comes from
// several goroutines) and remembers the first send error.
type streamSender struct {
	mu  sync.Mutex
	err error
}

func (s *streamSender) send(fn func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = fn()
	}
}

func (s *imagesServer) Pull(req *imagesv1.PullImageRequest, stream grpc.ServerStreamingServer[imagesv1.PullImageResponse]) error {
	ctx := stream.Context()
	platform, err := platformFromProto(req.GetPlatform())
	if err != nil {
		return err
	}
	if n := req.GetMaxConcurrentDownloads(); n < 0 || n > 64 {
		return fmt.Errorf("max concurrent downloads %d (want 0 to 64): %w", n, errdefs.ErrInvalidArgument)
	}
	var ss streamSender
	img, err := s.svc.Pull(ctx, req.GetReference(), images.PullOptions{
		Platform: platform, Scheme: req.GetScheme(), Auth: authFromProto(req.GetAuth()),
		MaxConcurrentDownloads: int(req.GetMaxConcurrentDownloads()),
		Progress: func(p images.Progress) {
			ss.send(func() error { return stream.Send(&imagesv1.PullImageResponse{Progress: progressToProto(p)}) })
		},
	})
	if err != nil {
		return err
	}
	d, err := s.svc.Inspect(ctx, img.Name)
	if err != nil {
		return err
	}
	return stream.Send(&imagesv1.PullImageResponse{Image: imageToProto(d)})
}

func (s *imagesServer) Push(req *imagesv1.PushImageRequest, stream grpc.ServerStreamingServer[imagesv1.PushImageResponse]) error {
	var ss streamSender
	d, err := s.svc.Push(stream.Context(), req.GetReference(), images.PushOptions{
		Scheme: req.GetScheme(), Auth: authFromProto(req.GetAuth()),
		Progress: func(p images.Progress) {
			ss.send(func() error { return stream.Send(&imagesv1.PushImageResponse{Progress: progressToProto(p)}) })
		},
	})
	if err != nil {
		return err
	}
	return stream.Send(&imagesv1.PushImageResponse{Digest: d.String()})
}

func (s *imagesServer) List(ctx context.Context, _ *imagesv1.ListImagesRequest) (*imagesv1.ListImagesResponse, error) {
	ds, err := s.svc.List(ctx)
	if err != nil {
		return nil, err
	}
	resp := &imagesv1.ListImagesResponse{}
	for _, d := range ds {
		resp.Images = append(resp.Images, imageToProto(d))
	}
	return resp, nil
}

func (s *imagesServer) Get(ctx context.Context, req *imagesv1.GetImageRequest) (*imagesv1.GetImageResponse, error) {
	d, err := s.svc.Inspect(ctx, req.GetReference())
	if err != nil {
		return nil, err
	}
	return &imagesv1.GetImageResponse{Image: imageToProto(d)}, nil
}

func (s *imagesServer) Tag(ctx context.Context, req *imagesv1.TagImageRequest) (*imagesv1.TagImageResponse, error) {
	r, err := s.svc.Tag(ctx, req.GetSource(), req.GetTarget())
	if err != nil {
		return nil, err
	}
	d, err := s.svc.Inspect(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	return &imagesv1.TagImageResponse{Image: imageToProto(d)}, nil
}

func (s *imagesServer) Delete(ctx context.Context, req *imagesv1.DeleteImageRequest) (*imagesv1.DeleteImageResponse, error) {
	r, err := s.svc.Delete(ctx, req.GetReference(), req.GetForce())
	if err != nil {
		return nil, err
	}
	return &imagesv1.DeleteImageResponse{Name: r.Name}, nil
}

func (s *imagesServer) Prune(ctx context.Context, req *imagesv1.PruneImagesRequest) (*imagesv1.PruneImagesResponse, error) {
	deleted, err := s.svc.Prune(ctx, req.GetAll())
	if err != nil {
		return nil, err
	}
	return &imagesv1.PruneImagesResponse{Deleted: deleted}, nil
}

// chunkWriter sends what is written to it as stream messages.
type chunkWriter struct {
	send func([]byte) error
}

func (w chunkWriter) Write(b []byte) (int, error) {
	const max = 1 << 20
	n := 0
	for len(b) > 0 {
		c := min(max, len(b))
		if err := w.send(b[:c]); err != nil {
			return n, err
		}
		n += c
		b = b[c:]
	}
	return n, nil
}

func (s *imagesServer) Save(req *imagesv1.SaveImagesRequest, stream grpc.ServerStreamingServer[imagesv1.SaveImagesResponse]) error {
	w := chunkWriter{send: func(b []byte) error {
		return stream.Send(&imagesv1.SaveImagesResponse{Data: append([]byte(nil), b...)})
	}}
	return s.svc.Save(stream.Context(), req.GetReferences(), w)
}

// streamReader reads the data fields of a client stream; first is the
// first message, already received.
type streamReader struct {
	first []byte
	recv  func() ([]byte, error)
	buf   []byte
}

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.first != nil {
			r.buf, r.first = r.first, nil
			continue
		}
		b, err := r.recv()
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		r.buf = b
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// recvFirst receives the first message of a client stream; a stream that
// ends before it is a request without an archive.
func recvFirst[T any](recv func() (*T, error), what string) (*T, error) {
	m, err := recv()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: no archive sent: %w", what, errdefs.ErrInvalidArgument)
	}
	return m, err
}

func (s *imagesServer) Load(stream grpc.ClientStreamingServer[imagesv1.LoadImagesRequest, imagesv1.LoadImagesResponse]) error {
	first, err := recvFirst(stream.Recv, "load")
	if err != nil {
		return err
	}
	r := &streamReader{first: first.GetData(), recv: func() ([]byte, error) {
		m, err := stream.Recv()
		return m.GetData(), err
	}}
	names, err := s.svc.Load(stream.Context(), r, first.GetForce())
	if err != nil {
		return err
	}
	return stream.SendAndClose(&imagesv1.LoadImagesResponse{Names: names})
}

func (s *imagesServer) Import(stream grpc.ClientStreamingServer[imagesv1.ImportImageRequest, imagesv1.ImportImageResponse]) error {
	first, err := recvFirst(stream.Recv, "import")
	if err != nil {
		return err
	}
	platform, err := platformFromProto(first.GetPlatform())
	if err != nil {
		return err
	}
	r := &streamReader{first: first.GetData(), recv: func() ([]byte, error) {
		m, err := stream.Recv()
		return m.GetData(), err
	}}
	rec, err := s.svc.Import(stream.Context(), r, first.GetReference(), platform)
	if err != nil {
		return err
	}
	d, err := s.svc.Inspect(stream.Context(), rec.Name)
	if err != nil {
		return err
	}
	return stream.SendAndClose(&imagesv1.ImportImageResponse{Image: imageToProto(d)})
}

func (s *imagesServer) Login(ctx context.Context, req *imagesv1.LoginRequest) (*imagesv1.LoginResponse, error) {
	if err := s.svc.Login(ctx, req.GetServer(), req.GetScheme(), authFromProto(req.GetAuth())); err != nil {
		return nil, err
	}
	return &imagesv1.LoginResponse{}, nil
}
