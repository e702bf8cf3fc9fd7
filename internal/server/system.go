package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	systemv1 "github.com/berth/container/api/services/system/v1"
	"github.com/berth/container/internal/config"
	"github.com/berth/container/internal/version"
)

// SystemInfo is what System.Status reports besides the build.
type SystemInfo struct {
	AppRoot     string
	InstallRoot string
	LogRoot     string
	StateRoot   string
	PID         int
	StartedAt   time.Time
}

// RegisterSystem registers the System service, answering from info and
// the loaded configuration.
func RegisterSystem(s *grpc.Server, info SystemInfo, cfg config.Loaded) {
	systemv1.RegisterSystemServer(s, &systemServer{info: info, cfg: cfg})
}

type systemServer struct {
	systemv1.UnimplementedSystemServer
	info SystemInfo
	cfg  config.Loaded
}

func (s *systemServer) Status(context.Context, *systemv1.StatusRequest) (*systemv1.StatusResponse, error) {
	return &systemv1.StatusResponse{
		Status:      "running",
		AppRoot:     s.info.AppRoot,
		InstallRoot: s.info.InstallRoot,
		LogRoot:     s.info.LogRoot,
		StateRoot:   s.info.StateRoot,
		Version:     versionResponse(),
		Pid:         int32(s.info.PID),
		StartedAt:   timestamppb.New(s.info.StartedAt),
	}, nil
}

func (s *systemServer) Version(context.Context, *systemv1.VersionRequest) (*systemv1.VersionResponse, error) {
	return versionResponse(), nil
}

func (s *systemServer) ListProperties(context.Context, *systemv1.ListPropertiesRequest) (*systemv1.ListPropertiesResponse, error) {
	resp := &systemv1.ListPropertiesResponse{UnknownKeys: s.cfg.UnknownKeys}
	for _, p := range s.cfg.Properties {
		resp.Properties = append(resp.Properties, &systemv1.Property{
			Key: p.Key, Value: p.Value, Source: p.Source, Description: p.Description,
		})
	}
	return resp, nil
}

func versionResponse() *systemv1.VersionResponse {
	return &systemv1.VersionResponse{
		Version:   version.Version,
		Commit:    version.Commit,
		BuildDate: version.BuildDate,
		AppName:   version.AppName,
		GoVersion: version.GoVersion(),
	}
}
