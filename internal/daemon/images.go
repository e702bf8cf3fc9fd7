package daemon

import (
	"context"
	"log/slog"
	"path/filepath"

	"google.golang.org/grpc"

	"github.com/berth/container/internal/config"
	"github.com/berth/container/internal/images"
	"github.com/berth/container/internal/metadata"
	"github.com/berth/container/internal/server"
	"github.com/berth/container/internal/snapshots"
)

// wireImages opens the content store (<root>/content) and the overlay
// snapshotter (<root>/snapshots), builds the images service (records tells
// it which images containers use) and registers
// its harness, after collecting what interrupted pulls left. The returned
// func closes the snapshotter.
func wireImages(ctx context.Context, srv *grpc.Server, root string, db *metadata.DB, records *metadata.Containers, cfg config.ImagesConfig, log *slog.Logger) (*images.Service, *snapshots.Snapshotter, func() error, error) {
	content, err := images.NewContent(filepath.Join(root, "content"))
	if err != nil {
		return nil, nil, nil, err
	}
	sn, err := snapshots.New(ctx, filepath.Join(root, "snapshots"), log)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := images.NewService(images.Config{
		Content: content, Store: metadata.NewImages(db), Snapshots: sn, Containers: records,
		MaxConcurrentDownloads: cfg.MaxConcurrentDownloads, DefaultRegistry: cfg.DefaultRegistry, Log: log,
	})
	if err != nil {
		sn.Close()
		return nil, nil, nil, err
	}
	// Blobs and layers of pulls interrupted by a crash are unreferenced.
	if _, err := svc.GC(ctx); err != nil {
		log.Warn("image garbage collection at start", "err", err)
	}
	server.RegisterImages(srv, svc)
	return svc, sn, sn.Close, nil
}
