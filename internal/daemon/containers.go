package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc"

	"github.com/berth/container/internal/config"
	"github.com/berth/container/internal/containers"
	"github.com/berth/container/internal/images"
	"github.com/berth/container/internal/metadata"
	"github.com/berth/container/internal/runtime"
	"github.com/berth/container/internal/server"
	"github.com/berth/container/internal/snapshots"
)

// containersDeps is what the containers service is built from.
type containersDeps struct {
	// Records is the container store; images was built over it too.
	Records   *metadata.Containers
	Images    *images.Service
	Snapshots *snapshots.Snapshotter
	// LookupRuntime returns the binary of a runtime plugin; nil falls back
	// to <install>/libexec/container/plugins/<name>/bin/<name>.
	LookupRuntime func(name string) (string, error)
	// Runtime and Logs are the config file's [runtime] and [logs].
	Runtime config.RuntimeConfig
	Logs    config.LogsConfig
}

// hibernateAfter maps runtime.hibernateAfter to runtime.Opt's: there 0
// means the default and a negative value never.
func hibernateAfter(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// wireContainers builds the containers service over metadata, images,
// snapshots and the supervisors, reattaches to the containers that ran
// before this apiserver started, registers the harness, and starts the
// service's background loop. It returns the service (the apiserver socket's
// outfd requests use it) and a func that stops the loop and the idle
// supervisors (containers keep running).
func wireContainers(ctx context.Context, srv *grpc.Server, cfg Config, deps containersDeps, log *slog.Logger) (*containers.Service, func() error, error) {
	rt := runtime.New(runtime.Opt{
		Root: cfg.Root, State: cfg.State, InstallRoot: cfg.InstallRoot,
		Lookup: deps.LookupRuntime, OCIRuntime: deps.Runtime.OCI,
		LogMaxSize: deps.Logs.MaxSize, LogMaxFiles: deps.Logs.MaxFiles, Log: log,
		HibernateAfter: hibernateAfter(deps.Runtime.HibernateAfter),
	})
	rt.CleanupIdle() // idle supervisors a crashed apiserver left
	svc := containers.New(containers.Opt{
		Store:     deps.Records,
		Images:    imagesAdapter{deps.Images},
		Snapshots: snapshotsAdapter{deps.Snapshots},
		Runtime:   rt,
		Log:       log,
	})
	if err := svc.Recover(ctx); err != nil {
		log.Warn("recover containers", "err", err)
	}
	server.RegisterContainers(srv, svc)
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = svc.Run(runCtx)
	}()
	return svc, func() error {
		cancel(errStopping)
		<-done
		return rt.Close() // the idle supervisors; containers keep running
	}, nil
}

type imagesAdapter struct{ s *images.Service }

func (a imagesAdapter) Get(ctx context.Context, ref string) (containers.Image, error) {
	img, err := a.s.Get(ctx, ref)
	if err != nil {
		return containers.Image{}, err
	}
	c := img.Config
	return containers.Image{
		Name: img.Name, Digest: img.Digest.String(), Manifest: img.Manifest.String(),
		ChainID: img.ChainID.String(), OS: img.Platform.OS, Arch: img.Platform.Architecture,
		Config: containers.ImageConfig{
			Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir,
			User: c.User, StopSignal: c.StopSignal,
		},
	}, nil
}

type snapshotsAdapter struct{ s *snapshots.Snapshotter }

func (a snapshotsAdapter) Prepare(ctx context.Context, key, parent string) ([]containers.Mount, error) {
	ms, err := a.s.Prepare(ctx, key, digest.Digest(parent))
	return fromMounts(ms), err
}

func (a snapshotsAdapter) Mounts(ctx context.Context, key string) ([]containers.Mount, error) {
	ms, err := a.s.Mounts(ctx, key)
	return fromMounts(ms), err
}

func (a snapshotsAdapter) Remove(ctx context.Context, key string) error { return a.s.Remove(ctx, key) }

func (a snapshotsAdapter) List(ctx context.Context, prefix string) ([]string, error) {
	return a.s.List(ctx, prefix)
}

func fromMounts(ms []mount.Mount) []containers.Mount {
	out := make([]containers.Mount, 0, len(ms))
	for _, m := range ms {
		out = append(out, containers.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options})
	}
	return out
}
