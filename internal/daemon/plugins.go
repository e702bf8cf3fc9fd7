package daemon

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/berth/container/internal/plugins"
	"github.com/berth/container/internal/server"
)

// errStopping is the cause given to background loops when the apiserver
// shuts down.
var errStopping = errors.New("apiserver stopping")

// wirePlugins discovers the plugins under the install root, registers the
// Plugins harness, and boots the loadAtBoot plugins. The returned func
// stops every supervised plugin process and waits for them.
func wirePlugins(ctx context.Context, srv *grpc.Server, cfg Config, log *slog.Logger) (*plugins.Manager, func() error, error) {
	pm, err := plugins.New(plugins.Opt{
		InstallRoot: cfg.InstallRoot, LogRoot: cfg.LogRoot, StateRoot: cfg.State,
		Log: log.With("component", "plugins"),
	})
	if err != nil {
		return nil, nil, err
	}
	server.RegisterPlugins(srv, pm)
	// The plugins outlive the request context's cancellation until the
	// daemon stops them, after the gRPC server has drained.
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- pm.Run(runCtx) }()
	return pm, func() error {
		cancel(errStopping)
		return <-done
	}, nil
}

// runtimeLookup returns the binary of the runtime plugin called name.
func runtimeLookup(pm *plugins.Manager) func(name string) (string, error) {
	return func(name string) (string, error) {
		p, err := pm.Lookup(string(plugins.ServiceRuntime), name)
		if err != nil {
			return "", err
		}
		return p.Binary, nil
	}
}
