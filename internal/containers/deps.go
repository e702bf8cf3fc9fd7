package containers

import (
	"context"
	"syscall"
)

// Store keeps container records (internal/metadata).
type Store interface {
	// Create stores a new record; ErrAlreadyExists if the id is taken.
	Create(ctx context.Context, c Container) error
	// Get returns ErrNotFound for an unknown id.
	Get(ctx context.Context, id string) (Container, error)
	// List returns every record it can read; a damaged one is reported
	// in the error (ErrFailedPrecondition) while the rest are returned.
	List(ctx context.Context) ([]Container, error)
	Update(ctx context.Context, c Container) error
	// Delete is idempotent.
	Delete(ctx context.Context, id string) error
}

// Images resolves image references to local images (internal/images).
type Images interface {
	// Get returns ErrNotFound when the image is not present locally.
	Get(ctx context.Context, ref string) (Image, error)
}

// Snapshots owns writable layers (internal/snapshots).
type Snapshots interface {
	Prepare(ctx context.Context, key, parent string) ([]Mount, error)
	Mounts(ctx context.Context, key string) ([]Mount, error)
	// Remove returns ErrNotFound when there is no such snapshot.
	Remove(ctx context.Context, key string) error
	// List returns the keys of the writable snapshots starting with prefix.
	List(ctx context.Context, prefix string) ([]string, error)
}

// TaskSpec is everything a supervisor needs to create the container.
type TaskSpec struct {
	// Runtime is the runtime plugin's name.
	Runtime  string
	Image    ImageConfig
	Spec     Spec
	Hostname string
	// Mounts are the container's extra mounts (tmpfs).
	Mounts []Mount
	// Rootfs are the writable snapshot's mounts.
	Rootfs []Mount
}

// TaskState is what the supervisor reports about a container.
type TaskState struct {
	Running bool
	// Created: Running, but its program has not been started yet.
	Created bool
	Pid     int
	// Exit is set when the container has stopped.
	Exit *Exit
}

// Runtime drives per-container supervisors (internal/runtime).
type Runtime interface {
	// Check reports whether the runtime plugin called name can be used
	// (ErrNotFound when there is no such plugin).
	Check(name string) error
	// Create spawns the supervisor for id and creates the container in it.
	Create(ctx context.Context, id string, spec TaskSpec) error
	// Start runs the created container and returns its pid.
	Start(ctx context.Context, id string) (int, error)
	// Run is Create and Start in one step (nothing attaches in between),
	// which the runtime may do faster; it returns the pid.
	Run(ctx context.Context, id string, spec TaskSpec) (int, error)
	Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error
	// Wait blocks until the container exits. If the supervisor dies the
	// exit comes from the bundle, or carries an Error when it is unknown.
	Wait(ctx context.Context, id string) (Exit, error)
	// State reconnects to the supervisor if needed. ErrNotFound: there is no
	// supervisor and no recorded exit.
	State(ctx context.Context, id string) (TaskState, error)
	// Delete removes the container from its supervisor (killing it if
	// needed) and ends the supervisor; if the supervisor is gone it cleans
	// up mounts, cgroups and leftover processes itself. The bundle (with
	// the log) is kept. Idempotent.
	Delete(ctx context.Context, id string) error
	// Remove does Delete and removes the bundle and state directories.
	Remove(ctx context.Context, id string) error
	// Leftovers lists the ids that have a bundle or state directory.
	Leftovers() ([]string, error)
	// Logs reads the container log, calling fn for each entry. With
	// opts.Follow it keeps reading until stopped is closed, then drains.
	Logs(ctx context.Context, id string, opts LogOptions, stopped <-chan struct{}, fn func(LogEntry) error) error
}
