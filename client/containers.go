package client

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	containersv1 "github.com/berth/container/api/services/containers/v1"
)

// Ulimit is one resource limit of a container.
type Ulimit struct {
	Name string `json:"name"` // lower-case rlimit name without RLIMIT_, e.g. "nofile"
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// ContainerSpec is what a container is created with.
type ContainerSpec struct {
	Image string `json:"image"`
	// Args replace the image's cmd when non-empty.
	Args []string `json:"args,omitempty"`
	// With OverrideEntrypoint, Entrypoint replaces the image's entrypoint.
	OverrideEntrypoint bool     `json:"overrideEntrypoint,omitempty"`
	Entrypoint         []string `json:"entrypoint,omitempty"`
	// Env entries are "KEY=value".
	Env      []string          `json:"env,omitempty"`
	Workdir  string            `json:"workdir,omitempty"`
	User     string            `json:"user,omitempty"`
	UID      *uint32           `json:"uid,omitempty"`
	GID      *uint32           `json:"gid,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	CPUs     float64           `json:"cpus,omitempty"`
	// Memory is in bytes.
	Memory   int64    `json:"memory,omitempty"`
	Ulimits  []Ulimit `json:"ulimits,omitempty"`
	CapAdd   []string `json:"capAdd,omitempty"`
	CapDrop  []string `json:"capDrop,omitempty"`
	ReadOnly bool     `json:"readOnly,omitempty"`
	// Tmpfs entries are "/path[:opts]".
	Tmpfs      []string `json:"tmpfs,omitempty"`
	ShmSize    int64    `json:"shmSize,omitempty"`
	Init       bool     `json:"init,omitempty"`
	Network    string   `json:"network,omitempty"`
	Runtime    string   `json:"runtime,omitempty"`
	Restart    string   `json:"restart,omitempty"`
	StopSignal string   `json:"stopSignal,omitempty"`
	// StopTimeout is used when non-nil; the default is 5 s.
	StopTimeout *time.Duration `json:"stopTimeout,omitempty"`
	AutoRemove  bool           `json:"autoRemove,omitempty"`
	Platform    string         `json:"platform,omitempty"`
	// Stdin keeps the container's stdin open for attaching (-i); TTY gives
	// it a pseudo-terminal (-t).
	Stdin bool `json:"stdin,omitempty"`
	TTY   bool `json:"tty,omitempty"`
	// Ephemeral marks a container thrown away after it runs (--rm): its
	// writable layer is mounted without durability (no host filesystem
	// sync when it is unmounted; lost in a host crash).
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// ContainerState is the observed state of a container.
type ContainerState struct {
	Status       string    `json:"status"` // created, running, stopped, removing
	Pid          int       `json:"pid,omitempty"`
	ExitCode     int       `json:"exitCode"`
	StartedAt    time.Time `json:"startedAt,omitzero"`
	FinishedAt   time.Time `json:"finishedAt,omitzero"`
	OOMKilled    bool      `json:"oomKilled"`
	Error        string    `json:"error,omitempty"`
	RestartCount int       `json:"restartCount"`
}

// Container is a container as the apiserver reports it.
type Container struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Image       string         `json:"image"`
	ImageDigest string         `json:"imageDigest"`
	OS          string         `json:"os"`
	Arch        string         `json:"arch"`
	Runtime     string         `json:"runtime"`
	CreatedAt   time.Time      `json:"createdAt"`
	State       ContainerState `json:"state"`
	Spec        ContainerSpec  `json:"spec"`
}

// ExitStatus is how a container's last run ended.
type ExitStatus struct {
	Code       int
	FinishedAt time.Time
	OOMKilled  bool
	Error      string
}

// StopOptions tune StopContainer; zero values use the container's settings.
type StopOptions struct {
	Signal  string
	Timeout *time.Duration
}

// LogOptions select log lines.
type LogOptions struct {
	Follow bool
	// Tail is the number of last lines; < 0 means all.
	Tail  int
	Since time.Time
	Until time.Time
}

// LogEntry is container output: one line, or several consecutive lines of
// one stream that share a time (the server merges them to stream large
// logs fast). Data keeps the lines' newlines.
type LogEntry struct {
	Stream string // "stdout" or "stderr"
	Data   []byte
	Time   time.Time
}

func (c *Client) containers() containersv1.ContainersClient {
	return containersv1.NewContainersClient(c.conn)
}

// CreateContainer creates a container; name may be empty.
func (c *Client) CreateContainer(ctx context.Context, name string, spec ContainerSpec) (Container, error) {
	resp, err := c.containers().Create(ctx, &containersv1.CreateRequest{Name: name, Spec: containerSpecToProto(spec)})
	if err != nil {
		return Container{}, err
	}
	return containerFromProto(resp.GetContainer()), nil
}

// StartContainer starts a created or stopped container.
func (c *Client) StartContainer(ctx context.Context, id string, opts ...StartOpt) (Container, error) {
	req := &containersv1.StartRequest{Id: id}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.containers().Start(ctx, req)
	if err != nil {
		return Container{}, err
	}
	return containerFromProto(resp.GetContainer()), nil
}

// StartOpt is an option of StartContainer.
type StartOpt func(*containersv1.StartRequest)

// WithFollower tells the apiserver that the caller follows the container's
// output (ContainerLogs or ContainerLogsTo with Follow, called around the
// start, as a foreground `run --rm` does): an auto-remove container then
// waits for that follower, for at most 10 s, before it is removed, so that
// the output of a quick exit is not lost to a follower that comes late.
func WithFollower() StartOpt {
	return func(r *containersv1.StartRequest) { r.Follow = true }
}

// StopContainer stops a container and returns once it has stopped.
func (c *Client) StopContainer(ctx context.Context, id string, opts StopOptions) (Container, error) {
	req := &containersv1.StopRequest{Id: id, Signal: opts.Signal}
	if opts.Timeout != nil {
		req.Timeout = durationpb.New(*opts.Timeout)
	}
	resp, err := c.containers().Stop(ctx, req)
	if err != nil {
		return Container{}, err
	}
	return containerFromProto(resp.GetContainer()), nil
}

// KillContainer sends signal (a name or number; "" means KILL).
func (c *Client) KillContainer(ctx context.Context, id, signal string) error {
	_, err := c.containers().Kill(ctx, &containersv1.KillRequest{Id: id, Signal: signal})
	return err
}

// DeleteContainer deletes a container and returns its full id.
func (c *Client) DeleteContainer(ctx context.Context, id string, force bool) (string, error) {
	resp, err := c.containers().Delete(ctx, &containersv1.DeleteRequest{Id: id, Force: force})
	if err != nil {
		return "", err
	}
	return resp.GetId(), nil
}

// ListContainers lists running containers, or all of them.
func (c *Client) ListContainers(ctx context.Context, all bool) ([]Container, error) {
	resp, err := c.containers().List(ctx, &containersv1.ListRequest{All: all})
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(resp.GetContainers()))
	for _, p := range resp.GetContainers() {
		out = append(out, containerFromProto(p))
	}
	return out, nil
}

// GetContainer returns the container named by id, name or id prefix.
func (c *Client) GetContainer(ctx context.Context, id string) (Container, error) {
	resp, err := c.containers().Get(ctx, &containersv1.GetRequest{Id: id})
	if err != nil {
		return Container{}, err
	}
	return containerFromProto(resp.GetContainer()), nil
}

// WaitContainer blocks until the container has stopped.
func (c *Client) WaitContainer(ctx context.Context, id string) (ExitStatus, error) {
	resp, err := c.containers().Wait(ctx, &containersv1.WaitRequest{Id: id})
	if err != nil {
		return ExitStatus{}, err
	}
	return ExitStatus{Code: int(resp.GetExitCode()), FinishedAt: containerTime(resp.GetFinishedAt()),
		OOMKilled: resp.GetOomKilled(), Error: resp.GetError()}, nil
}

// ContainerLogs calls fn for each selected log entry. With Follow it
// returns when the container stops, ctx ends, or fn fails.
func (c *Client) ContainerLogs(ctx context.Context, id string, opts LogOptions, fn func(LogEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.containers().Logs(ctx, logsRequest(id, opts))
	if err != nil {
		return err
	}
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(LogEntry{Stream: e.GetStream(), Data: e.GetData(), Time: containerTime(e.GetTime())}); err != nil {
			return err
		}
	}
}

// PruneContainers deletes every container that is not running.
func (c *Client) PruneContainers(ctx context.Context) ([]string, error) {
	resp, err := c.containers().Prune(ctx, &containersv1.PruneRequest{})
	if err != nil {
		return nil, err
	}
	return resp.GetDeleted(), nil
}

func containerSpecToProto(s ContainerSpec) *containersv1.Spec {
	p := &containersv1.Spec{
		Image: s.Image, Args: s.Args, OverrideEntrypoint: s.OverrideEntrypoint, Entrypoint: s.Entrypoint,
		Env: s.Env, Workdir: s.Workdir, User: s.User, Uid: s.UID, Gid: s.GID, Hostname: s.Hostname,
		Labels: s.Labels, Cpus: s.CPUs, Memory: s.Memory, CapAdd: s.CapAdd, CapDrop: s.CapDrop,
		ReadOnly: s.ReadOnly, Tmpfs: s.Tmpfs, ShmSize: s.ShmSize, Init: s.Init, Network: s.Network,
		Runtime: s.Runtime, Restart: s.Restart, StopSignal: s.StopSignal, AutoRemove: s.AutoRemove,
		Platform: s.Platform, Stdin: s.Stdin, Tty: s.TTY, Ephemeral: s.Ephemeral,
	}
	if s.StopTimeout != nil {
		p.StopTimeout = durationpb.New(*s.StopTimeout)
	}
	for _, u := range s.Ulimits {
		p.Ulimits = append(p.Ulimits, &containersv1.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	return p
}

func containerSpecFromProto(p *containersv1.Spec) ContainerSpec {
	s := ContainerSpec{
		Image: p.GetImage(), Args: p.GetArgs(), OverrideEntrypoint: p.GetOverrideEntrypoint(),
		Entrypoint: p.GetEntrypoint(), Env: p.GetEnv(), Workdir: p.GetWorkdir(), User: p.GetUser(),
		UID: p.Uid, GID: p.Gid, Hostname: p.GetHostname(), Labels: p.GetLabels(), CPUs: p.GetCpus(),
		Memory: p.GetMemory(), CapAdd: p.GetCapAdd(), CapDrop: p.GetCapDrop(), ReadOnly: p.GetReadOnly(),
		Tmpfs: p.GetTmpfs(), ShmSize: p.GetShmSize(), Init: p.GetInit(), Network: p.GetNetwork(),
		Runtime: p.GetRuntime(), Restart: p.GetRestart(), StopSignal: p.GetStopSignal(),
		AutoRemove: p.GetAutoRemove(), Platform: p.GetPlatform(), Stdin: p.GetStdin(), TTY: p.GetTty(),
		Ephemeral: p.GetEphemeral(),
	}
	if p.StopTimeout != nil {
		d := p.GetStopTimeout().AsDuration()
		s.StopTimeout = &d
	}
	for _, u := range p.GetUlimits() {
		s.Ulimits = append(s.Ulimits, Ulimit{Name: u.GetName(), Soft: u.GetSoft(), Hard: u.GetHard()})
	}
	return s
}

func containerFromProto(p *containersv1.Container) Container {
	st := p.GetState()
	return Container{
		ID: p.GetId(), Name: p.GetName(), Image: p.GetImage(), ImageDigest: p.GetImageDigest(),
		OS: p.GetOs(), Arch: p.GetArch(), Runtime: p.GetRuntime(), CreatedAt: containerTime(p.GetCreatedAt()),
		Spec: containerSpecFromProto(p.GetSpec()),
		State: ContainerState{
			Status: st.GetStatus(), Pid: int(st.GetPid()), ExitCode: int(st.GetExitCode()),
			StartedAt: containerTime(st.GetStartedAt()), FinishedAt: containerTime(st.GetFinishedAt()),
			OOMKilled: st.GetOomKilled(), Error: st.GetError(), RestartCount: int(st.GetRestartCount()),
		},
	}
}

// containerTime converts a timestamp that may be absent (zero time).
func containerTime(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}
