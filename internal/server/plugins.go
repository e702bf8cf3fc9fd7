package server

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pluginsv1 "github.com/berth/container/api/services/plugins/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/plugins"
)

// RegisterPlugins registers the Plugins service backed by m.
func RegisterPlugins(s *grpc.Server, m *plugins.Manager) {
	pluginsv1.RegisterPluginsServer(s, &pluginsServer{m: m})
}

type pluginsServer struct {
	pluginsv1.UnimplementedPluginsServer
	m *plugins.Manager
}

func (s *pluginsServer) List(context.Context, *pluginsv1.ListRequest) (*pluginsv1.ListResponse, error) {
	ps := s.m.List()
	resp := &pluginsv1.ListResponse{Plugins: make([]*pluginsv1.Plugin, 0, len(ps))}
	for _, p := range ps {
		resp.Plugins = append(resp.Plugins, pluginToProto(p))
	}
	return resp, nil
}

func (s *pluginsServer) Get(_ context.Context, req *pluginsv1.GetRequest) (*pluginsv1.GetResponse, error) {
	if req.GetName() == "" {
		return nil, fmt.Errorf("get plugin: name is required: %w", errdefs.ErrInvalidArgument)
	}
	p, err := s.m.Get(req.GetName())
	if err != nil {
		return nil, err
	}
	return &pluginsv1.GetResponse{Plugin: pluginToProto(p)}, nil
}

func (s *pluginsServer) Restart(ctx context.Context, req *pluginsv1.RestartRequest) (*pluginsv1.RestartResponse, error) {
	if req.GetName() == "" {
		return nil, fmt.Errorf("restart plugin: name is required: %w", errdefs.ErrInvalidArgument)
	}
	p, err := s.m.Restart(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	return &pluginsv1.RestartResponse{Plugin: pluginToProto(p)}, nil
}

func pluginToProto(p plugins.Plugin) *pluginsv1.Plugin {
	out := &pluginsv1.Plugin{
		Name:     p.Name,
		Path:     p.Path,
		Abstract: p.Config.Abstract,
		Author:   p.Config.Author,
		Origin:   string(p.Origin),
		Broken:   p.Broken,
		Error:    p.Error,
		Shadows:  p.Shadows,
	}
	if sc := p.Config.ServicesConfig; sc != nil {
		out.LoadAtBoot = sc.LoadAtBoot
		out.RunAtLoad = sc.RunAtLoad
		out.DefaultArguments = sc.DefaultArguments
	}
	for _, t := range p.ServiceTypes() {
		out.ServiceTypes = append(out.ServiceTypes, string(t))
	}
	for _, in := range p.Instances {
		pi := &pluginsv1.Instance{
			Id:        in.ID,
			State:     string(in.State),
			Pid:       int32(in.PID),
			Restarts:  in.Restarts,
			LastError: in.LastError,
			LogPath:   in.LogPath,
		}
		if !in.StartedAt.IsZero() {
			pi.StartedAt = timestamppb.New(in.StartedAt)
		}
		out.Instances = append(out.Instances, pi)
	}
	return out
}
