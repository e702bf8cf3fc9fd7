// Package snapshots owns the overlay snapshots under <root>/snapshots: one
// read-only snapshot per image layer, keyed by the layer's chain ID, and one
// writable snapshot per container (key "container/<id>").
//
// It wraps containerd v2's overlay snapshotter and unpacks layers with
// containerd's pkg/archive, converting OCI whiteouts to overlay whiteouts.
// A layer is unpacked at most once, even by concurrent callers. Unpacking is
// safe against hostile layers: pkg/archive resolves every path, symlink and
// hardlink inside the snapshot; device nodes are skipped (see Unpack).
//
// It does not know about registries, image manifests or metadata; callers
// pass layers as (diffID, opener) pairs.
package snapshots

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	ctdsnapshots "github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay"
	ctderrdefs "github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"golang.org/x/sys/unix"

	"github.com/berth/container/errdefs"
)

// extractPrefix names the temporary active snapshots layers are unpacked
// into; leftovers from a crash are removed by New.
const extractPrefix = "extract-"

// Layer is one image layer to unpack, bottom first.
type Layer struct {
	// DiffID is the digest of the uncompressed tar (from the image config).
	DiffID digest.Digest
	// Open returns the layer blob, compressed (gzip, zstd) or not.
	Open func() (io.ReadCloser, error)
}

// Snapshotter manages the overlay snapshots. Create one with New; it is safe
// for concurrent use.
type Snapshotter struct {
	sn  ctdsnapshots.Snapshotter
	log *slog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per chain ID unpack lock
}

// New opens (or creates) the snapshotter rooted at root and removes active
// snapshots left by an interrupted unpack.
func New(ctx context.Context, root string, log *slog.Logger) (*Snapshotter, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("snapshots root %q: %w", root, err)
	}
	sn, err := overlay.NewSnapshotter(root)
	if err != nil {
		return nil, fmt.Errorf("overlay snapshotter at %q: %w", root, err)
	}
	s := &Snapshotter{sn: sn, log: log, locks: make(map[string]*sync.Mutex)}
	var stale []string
	_ = sn.Walk(ctx, func(_ context.Context, info ctdsnapshots.Info) error {
		if info.Kind == ctdsnapshots.KindActive && strings.HasPrefix(info.Name, extractPrefix) {
			stale = append(stale, info.Name)
		}
		return nil
	})
	for _, k := range stale {
		if err := sn.Remove(ctx, k); err != nil {
			log.WarnContext(ctx, "remove stale unpack snapshot", "snapshot", k, "err", err)
		} else {
			log.WarnContext(ctx, "removed stale unpack snapshot", "snapshot", k)
		}
	}
	return s, nil
}

// Close releases the snapshotter's metadata store.
func (s *Snapshotter) Close() error { return s.sn.Close() }

// ChainID returns the chain ID of the topmost of layers (their diffIDs, bottom first).
func ChainID(diffIDs []digest.Digest) digest.Digest { return identity.ChainID(diffIDs) }

// Exists reports whether a committed snapshot for chainID exists.
func (s *Snapshotter) Exists(ctx context.Context, chainID digest.Digest) bool {
	info, err := s.sn.Stat(ctx, chainID.String())
	return err == nil && info.Kind == ctdsnapshots.KindCommitted
}

func (s *Snapshotter) lock(chainID string) func() {
	s.mu.Lock()
	l, ok := s.locks[chainID]
	if !ok {
		l = &sync.Mutex{}
		s.locks[chainID] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Unpack makes sure every layer has a committed snapshot, unpacking those
// that do not, and returns the chain ID of the top layer. Each layer's
// uncompressed content is checked against its DiffID; a mismatch is
// ErrInvalidArgument and leaves nothing behind.
//
// Device nodes (character and block) in a layer are skipped with a warning:
// a layer must not be able to plant a device node on the host's filesystem,
// and a container gets its /dev from the runtime anyway.
func (s *Snapshotter) Unpack(ctx context.Context, layers []Layer) (digest.Digest, error) {
	var diffIDs []digest.Digest
	parent := ""
	for _, l := range layers {
		diffIDs = append(diffIDs, l.DiffID)
		chainID := identity.ChainID(diffIDs).String()
		if err := s.unpackOne(ctx, chainID, parent, l); err != nil {
			return "", err
		}
		parent = chainID
	}
	return digest.Digest(parent), nil
}

func (s *Snapshotter) unpackOne(ctx context.Context, chainID, parent string, l Layer) (retErr error) {
	unlock := s.lock(chainID)
	defer unlock()
	if s.Exists(ctx, digest.Digest(chainID)) {
		return nil
	}
	key := fmt.Sprintf("%s%d-%s", extractPrefix, time.Now().UnixNano(), chainID)
	mounts, err := s.sn.Prepare(ctx, key, parent)
	if err != nil {
		return fmt.Errorf("prepare snapshot for layer %s: %w", l.DiffID, mapErr(err))
	}
	defer func() {
		if retErr != nil {
			if err := s.sn.Remove(context.WithoutCancel(ctx), key); err != nil {
				s.log.WarnContext(ctx, "remove failed unpack snapshot", "snapshot", key, "err", err)
			}
		}
	}()
	dir, parents, err := applyTarget(mounts)
	if err != nil {
		return err
	}
	rc, err := l.Open()
	if err != nil {
		return fmt.Errorf("open layer %s: %w", l.DiffID, err)
	}
	defer rc.Close()
	dr, err := compression.DecompressStream(rc)
	if err != nil {
		return fmt.Errorf("decompress layer %s: %w", l.DiffID, err)
	}
	defer dr.Close()
	verifier := l.DiffID.Verifier()
	r := io.TeeReader(dr, verifier)
	opts := []archive.ApplyOpt{
		archive.WithConvertWhiteout(archive.OverlayConvertWhiteout),
		archive.WithFilter(func(h *tar.Header) (bool, error) {
			if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
				s.log.WarnContext(ctx, "device node in layer skipped", "snapshot", chainID, "path", h.Name)
				return false, nil
			}
			return true, nil
		}),
	}
	if len(parents) > 0 {
		opts = append(opts, archive.WithParents(parents))
	}
	if _, err := archive.Apply(ctx, dir, r, opts...); err != nil {
		if ctx.Err() != nil || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EIO) || errors.Is(err, unix.EDQUOT) {
			return fmt.Errorf("unpack layer %s: %w", l.DiffID, err)
		}
		// Anything else is the layer's fault: a link to nowhere, a broken tar.
		return fmt.Errorf("unpack layer %s: %v: %w", l.DiffID, err, errdefs.ErrInvalidArgument)
	}
	// Drain trailing bytes (tar padding) so the digest covers the whole stream.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("read layer %s: %w", l.DiffID, err)
	}
	if !verifier.Verified() {
		return fmt.Errorf("layer %s: content does not match its diff ID: %w", l.DiffID, errdefs.ErrInvalidArgument)
	}
	if err := syncFS(dir); err != nil {
		return err
	}
	if err := s.sn.Commit(ctx, chainID, key); err != nil {
		if ctderrdefs.IsAlreadyExists(err) {
			return s.sn.Remove(ctx, key)
		}
		return fmt.Errorf("commit snapshot %s: %w", chainID, mapErr(err))
	}
	return nil
}

// applyTarget returns the directory a layer is unpacked into (the upper dir
// of the prepared snapshot) and its parents' directories.
func applyTarget(mounts []mount.Mount) (string, []string, error) {
	if len(mounts) != 1 {
		return "", nil, fmt.Errorf("unexpected snapshot mounts %v: %w", mounts, errdefs.ErrInternal)
	}
	m := mounts[0]
	switch m.Type {
	case "bind":
		return m.Source, nil, nil
	case "overlay":
		var upper string
		var lower []string
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				upper = v
			} else if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
				lower = strings.Split(v, ":")
			}
		}
		if upper != "" {
			return upper, lower, nil
		}
	}
	return "", nil, fmt.Errorf("unexpected snapshot mount %+v: %w", m, errdefs.ErrInternal)
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %q: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %q: %w", dir, err)
	}
	return nil
}

// Prepare creates the writable snapshot key on top of the committed
// snapshot parentChainID ("" for an empty rootfs) and returns the mounts
// that assemble it (an overlay, or a bind mount when there is no parent).
func (s *Snapshotter) Prepare(ctx context.Context, key string, parentChainID digest.Digest) ([]mount.Mount, error) {
	if key == "" || strings.HasPrefix(key, extractPrefix) || strings.HasPrefix(key, "sha256:") {
		return nil, fmt.Errorf("snapshot key %q: %w", key, errdefs.ErrInvalidArgument)
	}
	m, err := s.sn.Prepare(ctx, key, parentChainID.String())
	if err != nil {
		return nil, fmt.Errorf("prepare snapshot %q: %w", key, mapErr(err))
	}
	return m, nil
}

// View creates a read-only snapshot key of parentChainID, for inspection.
func (s *Snapshotter) View(ctx context.Context, key string, parentChainID digest.Digest) ([]mount.Mount, error) {
	m, err := s.sn.View(ctx, key, parentChainID.String())
	if err != nil {
		return nil, fmt.Errorf("view snapshot %q: %w", key, mapErr(err))
	}
	return m, nil
}

// Mounts returns the mounts of the active snapshot key.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	m, err := s.sn.Mounts(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("snapshot %q mounts: %w", key, mapErr(err))
	}
	return m, nil
}

// Remove deletes the snapshot key. Removing a missing snapshot is not an error.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	if err := s.sn.Remove(ctx, key); err != nil && !ctderrdefs.IsNotFound(err) {
		return fmt.Errorf("remove snapshot %q: %w", key, mapErr(err))
	}
	return nil
}

// List returns the keys of the active (writable) snapshots that start
// with prefix, e.g. "container/" for every container's layer.
func (s *Snapshotter) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.sn.Walk(ctx, func(_ context.Context, info ctdsnapshots.Info) error {
		if info.Kind == ctdsnapshots.KindActive && strings.HasPrefix(info.Name, prefix) {
			keys = append(keys, info.Name)
		}
		return nil
	})
	if ctderrdefs.IsNotFound(err) {
		return nil, nil // a new store has no snapshots bucket yet
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", mapErr(err))
	}
	return keys, nil
}

// GC removes every committed layer snapshot whose chain ID is not in keep
// and that no other snapshot (a container's, or a kept layer's) builds on.
// It returns how many snapshots it removed.
func (s *Snapshotter) GC(ctx context.Context, keep map[digest.Digest]bool) (int, error) {
	removed := 0
	for {
		parents := map[string]bool{}
		var candidates []string
		if err := s.sn.Walk(ctx, func(_ context.Context, info ctdsnapshots.Info) error {
			if info.Parent != "" {
				parents[info.Parent] = true
			}
			if info.Kind == ctdsnapshots.KindCommitted && !keep[digest.Digest(info.Name)] {
				candidates = append(candidates, info.Name)
			}
			return nil
		}); err != nil {
			if ctderrdefs.IsNotFound(err) {
				break // a new store: its buckets appear with the first snapshot
			}
			return removed, fmt.Errorf("walk snapshots: %w", err)
		}
		progress := false
		for _, c := range candidates {
			if parents[c] {
				continue
			}
			unlock := s.lock(c)
			err := s.sn.Remove(ctx, c)
			unlock()
			if err != nil {
				s.log.WarnContext(ctx, "remove unused snapshot", "snapshot", c, "err", err)
				continue
			}
			removed++
			progress = true
		}
		if !progress {
			break
		}
	}
	if c, ok := s.sn.(interface{ Cleanup(context.Context) error }); ok {
		if err := c.Cleanup(ctx); err != nil && !ctderrdefs.IsNotFound(err) {
			return removed, fmt.Errorf("clean up snapshots: %w", err)
		}
	}
	return removed, nil
}

func mapErr(err error) error {
	switch {
	case ctderrdefs.IsNotFound(err):
		return errors.Join(err, errdefs.ErrNotFound)
	case ctderrdefs.IsAlreadyExists(err):
		return errors.Join(err, errdefs.ErrAlreadyExists)
	case ctderrdefs.IsFailedPrecondition(err):
		return errors.Join(err, errdefs.ErrFailedPrecondition)
	case ctderrdefs.IsInvalidArgument(err):
		return errors.Join(err, errdefs.ErrInvalidArgument)
	}
	return err
}

// MountAll mounts ms on target (for tests and tools); unmount with
// mount.UnmountAll(target, 0).
func MountAll(ms []mount.Mount, target string) error {
	if err := mount.All(ms, target); err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	return nil
}
