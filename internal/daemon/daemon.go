// Package daemon is the apiserver's composition root: it locks the state
// directory, loads the configuration, opens the metadata file, builds the
// services, serves gRPC on the unix socket, and stops everything in
// reverse order. It is imported only by cmd/container-apiserver.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"google.golang.org/grpc"

	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/config"
	"github.com/berth/container/internal/metadata"
	"github.com/berth/container/internal/rpcbuf"
	"github.com/berth/container/internal/server"
	"github.com/berth/container/internal/version"
)

// Config is what Run needs. Paths must be absolute; Defaults fills them.
type Config struct {
	Root        string // persistent state: metadata.db, content, containers
	State       string // runtime state: lock, pid file, supervisor sockets
	Socket      string // the apiserver's unix socket
	LogRoot     string // plugin logs
	InstallRoot string // holds libexec/container/plugins
	ConfigFile  string // --config: read before the user and system files
	Log         *slog.Logger
}

// shutdownTimeout bounds the graceful stop of in-flight calls.
const shutdownTimeout = 10 * time.Second

// Run serves until ctx is done, then stops gracefully. It returns an error
// if the daemon could not start or did not stop cleanly.
func Run(ctx context.Context, cfg Config) (retErr error) {
	log := cfg.Log
	started := time.Now()

	for _, dir := range []string{cfg.Root, cfg.State, cfg.LogRoot, filepath.Dir(cfg.Socket)} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
	}

	// Shutdown steps, run in reverse order of construction.
	var closers []func() error
	defer func() {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i](); err != nil {
				errs = append(errs, err)
			}
		}
		retErr = errors.Join(append([]error{retErr}, errs...)...)
	}()

	lock, err := lockState(filepath.Join(cfg.State, "apiserver.lock"))
	if err != nil {
		return err
	}
	closers = append(closers, lock.release)

	// Take systemd's socket (if any) before anything is spawned: it marks
	// the fd close-on-exec and unsets LISTEN_FDS, so plugins inherit neither.
	ln, err := activatedListener()
	if err != nil {
		return err
	}
	if ln != nil {
		// srv.Serve owns ln once serving; closing it twice is harmless.
		closers = append(closers, func() error { _ = ln.Close(); return nil })
	}

	loaded, err := config.Load(config.Paths(cfg.ConfigFile), cfg.ConfigFile)
	if err != nil {
		return err
	}
	for _, k := range loaded.UnknownKeys {
		log.Warn("unknown config key ignored", "key", k)
	}

	db, err := metadata.Open(filepath.Join(cfg.Root, "metadata.db"), metadata.Options{Log: log})
	if err != nil {
		return err
	}
	closers = append(closers, db.Close)

	gid := groupGID(GroupName)
	policy := server.PeerPolicy{OwnUID: os.Geteuid(), GroupGID: gid, GroupName: GroupName}
	srv := grpc.NewServer(append(append(server.Interceptors(log), rpcbuf.ServerOptions()...), grpc.Creds(&server.PeerCredentials{Policy: policy}))...)
	hs := server.RegisterHealth(srv)
	server.RegisterSystem(srv, server.SystemInfo{
		AppRoot: cfg.Root, InstallRoot: cfg.InstallRoot, LogRoot: cfg.LogRoot, StateRoot: cfg.State,
		PID: os.Getpid(), StartedAt: started,
	}, loaded)

	// Services register here, each with one line (see ARCHITECTURE.md).
	pm, closePlugins, err := wirePlugins(ctx, srv, cfg, log)
	if err != nil {
		return err
	}
	closers = append(closers, closePlugins)
	records := metadata.NewContainers(db)
	imgs, snaps, closeImages, err := wireImages(ctx, srv, cfg.Root, db, records, loaded.Config.Images, log)
	if err != nil {
		return err
	}
	closers = append(closers, closeImages)
	ctrs, closeContainers, err := wireContainers(ctx, srv, cfg, containersDeps{Records: records, Images: imgs, Snapshots: snaps,
		LookupRuntime: runtimeLookup(pm), Runtime: loaded.Config.Runtime, Logs: loaded.Config.Logs}, log)
	if err != nil {
		return err
	}
	closers = append(closers, closeContainers)

	if ln != nil {
		log.Info("using systemd socket", "path", ln.Addr().String())
	} else {
		ln, err = listenSocket(cfg.Socket, gid, log)
		if err != nil {
			return err
		}
		// srv.Serve owns ln from here; closing it twice is harmless.
		closers = append(closers, func() error { _ = ln.Close(); return nil })
	}
	// Output requests (package outfd) share the socket with gRPC.
	ln = server.OutputListener(ln, server.OutputOpt{Containers: ctrs, Policy: policy, Log: log})

	pidFile := filepath.Join(cfg.State, "apiserver.pid")
	// Atomic: `container system stop` may read it while it is written.
	if err := bundle.WriteFileAtomic(pidFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	closers = append(closers, func() error { return ignoreNotExist(os.Remove(pidFile)) })

	server.MarkServing(srv, hs)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	closers = append(closers, func() error {
		hs.Shutdown()
		_, _ = sddaemon.SdNotify(false, sddaemon.SdNotifyStopping)
		stopGracefully(srv, shutdownTimeout)
		return nil
	})

	if _, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady); err != nil {
		log.Warn("sd_notify ready failed", "err", err)
	}
	log.Info("apiserver started", "pid", os.Getpid(), "socket", cfg.Socket, "root", cfg.Root,
		"state", cfg.State, "version", version.Version)

	select {
	case <-ctx.Done():
		log.Info("apiserver stopping", "reason", context.Cause(ctx).Error())
		return nil
	case err := <-serveErr:
		return fmt.Errorf("serve on %s: %w", cfg.Socket, err)
	}
}

// stopGracefully lets in-flight calls finish for up to timeout, then
// closes every connection.
func stopGracefully(srv *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		srv.Stop()
		<-done
	}
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
