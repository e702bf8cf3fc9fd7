package runtime

import (
	"context"

	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/containers"
	"github.com/berth/container/internal/ctrlog"
)

// Logs reads the container's log (rotated files included).
func (r *Runtime) Logs(ctx context.Context, id string, opts containers.LogOptions, stopped <-chan struct{}, fn func(containers.LogEntry) error) error {
	// Merged entries: one gRPC message per run of lines rather than per line.
	ro := ctrlog.ReadOptions{Since: opts.Since, Until: opts.Until, Follow: opts.Follow, Stop: stopped, Merge: true}
	switch {
	case opts.Tail < 0:
		ro.Tail = 0 // all
	case opts.Tail == 0:
		ro.Tail = -1 // none
	default:
		ro.Tail = opts.Tail
	}
	path := bundle.New(r.root, id).Log()
	return ctrlog.Read(ctx, path, ro, func(e ctrlog.Entry) error {
		// No copy: Data, like e.Line, is valid only during fn.
		return fn(containers.LogEntry{Stream: e.Stream, Time: e.Time, Data: e.Line})
	})
}
