package server

import (
	"context"

	"google.golang.org/grpc"

	systemv1 "github.com/berth/container/api/services/system/v1"
)

// failingSystem answers Version with fail's error (or panic).
type failingSystem struct {
	systemv1.UnimplementedSystemServer
	fail func(context.Context) error
}

func (f *failingSystem) Version(ctx context.Context, _ *systemv1.VersionRequest) (*systemv1.VersionResponse, error) {
	return nil, f.fail(ctx)
}

func registerFailing(s *grpc.Server, fail func(context.Context) error) {
	systemv1.RegisterSystemServer(s, &failingSystem{fail: fail})
}
