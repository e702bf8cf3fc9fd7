package containers

import (
	"fmt"
	"time"

	"github.com/berth/container/errdefs"
)

// Status is where a container is in its life.
type Status string

// The states of a container.
//
//	created ──Start──► running ──exit──► stopped ──Start──► running
//	   │                  │                 │
//	   └──────────────────┴──Delete─────────┴──► removing ──► (gone)
const (
	StatusCreated  Status = "created"
	StatusRunning  Status = "running"
	StatusStopped  Status = "stopped"
	StatusRemoving Status = "removing"
)

var transitions = map[Status][]Status{
	StatusCreated:  {StatusRunning, StatusStopped, StatusRemoving},
	StatusRunning:  {StatusStopped, StatusRemoving},
	StatusStopped:  {StatusRunning, StatusRemoving},
	StatusRemoving: {StatusRemoving},
}

// CanTransition reports whether a container may move from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

func transition(c *Container, to Status) error {
	if !CanTransition(c.State.Status, to) {
		return fmt.Errorf("container %q is %s, cannot become %s: %w", c.ID, c.State.Status, to, errdefs.ErrFailedPrecondition)
	}
	c.State.Status = to
	return nil
}

// Container is the record of one container.
type Container struct {
	ID string
	// Name equals ID: the --name given, or the generated id.
	Name      string
	Image     Image
	Spec      Spec
	CreatedAt time.Time
	// Runtime is the runtime plugin that runs the container.
	Runtime string
	State   State
}

// Image is what a container keeps of the image it was created from, so it
// can start again even if the image is deleted.
type Image struct {
	Name string
	// Digest is what Name pointed at (a manifest or an index); Manifest is
	// the platform manifest used.
	Digest   string
	Manifest string
	ChainID  string
	OS       string
	Arch     string
	Config   ImageConfig
}

// ImageConfig is the part of the image config that decides how the process runs.
type ImageConfig struct {
	Env        []string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	User       string
	StopSignal string
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name string
	Soft uint64
	Hard uint64
}

// Spec is what the user asked for at create time.
type Spec struct {
	Image              string
	Args               []string
	OverrideEntrypoint bool
	Entrypoint         []string
	Env                []string
	Workdir            string
	User               string
	// UID and GID override the resolved user when >= 0.
	UID      int64
	GID      int64
	Hostname string
	Labels   map[string]string
	CPUs     float64
	Memory   int64
	Ulimits  []Ulimit
	CapAdd   []string
	CapDrop  []string
	ReadOnly bool
	// Tmpfs entries are "/path" or "/path:opt,opt".
	Tmpfs   []string
	ShmSize int64
	Init    bool
	// Network is "" / "none" / "default" (a namespace with loopback only until
	// networks exist) or "host".
	Network    string
	Runtime    string
	Restart    string
	StopSignal string
	// StopTimeout < 0 means the default (5 s).
	StopTimeout time.Duration
	AutoRemove  bool
	Platform    string
	// Stdin keeps the container's stdin open for Attach; TTY gives it a
	// pseudo-terminal.
	Stdin bool
	TTY   bool
	// Ephemeral: the container is thrown away after it runs (--rm), so the
	// runtime mounts its writable layer without durability (no host
	// filesystem sync at unmount; lost in a host crash).
	Ephemeral bool
}

// State is the observed state of a container.
type State struct {
	Status     Status
	Pid        int
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
	OOMKilled  bool
	// Error says why the last start failed or why the exit is unknown.
	Error        string
	RestartCount int
	// StoppedByUser is set by Stop, Kill and Delete and cleared by Start: a
	// container the user stopped is not restarted by its policy.
	StoppedByUser bool
}

// Mount is one mount as the snapshotter and the supervisor describe it.
type Mount struct {
	Type    string
	Source  string
	Target  string
	Options []string
}

// Exit is how a container's process ended.
type Exit struct {
	Code      int
	Signal    int
	ExitedAt  time.Time
	OOMKilled bool
	// Error is set when the exit status could not be known (the supervisor died).
	Error string
}

// LogEntry is container output: one line, or consecutive lines of one
// stream that share a time.
type LogEntry struct {
	Stream string // "stdout" or "stderr"
	// Data is valid only during the callback that receives it (the reader
	// reuses its buffer); copy it to keep it.
	Data []byte
	Time time.Time
}

// LogOptions selects log lines.
type LogOptions struct {
	Follow bool
	// Tail is the number of last lines; < 0 means all.
	Tail  int
	Since time.Time
	Until time.Time
}
