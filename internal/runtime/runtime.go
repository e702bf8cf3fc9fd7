// Package runtime is the apiserver's side of the per-container supervisors:
// it spawns a runtime plugin (container-runtime-linux by default) for a
// container, talks api/runtime/v1 to it over
// <state>/containers/<id>/supervisor.sock, reconnects to it after an
// apiserver restart, and cleans up after a supervisor that died (runc
// state, rootfs mount, cgroups, leftover processes).
//
// It satisfies containers.Runtime. A supervisor outlives the apiserver, so
// nothing here ties a container's supervisor's life to the apiserver's;
// connections are cached and re-made on demand. Only the idle supervisor
// kept ready to adopt the next container (idle.go) ends with the apiserver.
package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	runtimev1 "github.com/berth/container/api/runtime/v1"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/bundle"
	"github.com/berth/container/internal/containers"
)

// Opt configures a Runtime.
type Opt struct {
	// Root is the apiserver's root; bundles live in <Root>/containers/<id>.
	Root string
	// State is the apiserver's state dir; supervisor sockets live in
	// <State>/containers/<id>, runc state in <State>/runc.
	State string
	// InstallRoot locates built-in plugins when Lookup is nil.
	InstallRoot string
	// Lookup returns the binary of the runtime plugin called name.
	Lookup func(name string) (string, error)
	// OCIRuntime is the OCI runtime the supervisor drives; default "runc".
	OCIRuntime string
	// LogMaxSize and LogMaxFiles bound each container's log (config
	// logs.maxSize, logs.maxFiles); zero means the supervisor's defaults.
	LogMaxSize  int64
	LogMaxFiles int
	// HibernateAfter is how long a supervisor serves nothing but Wait
	// before it hibernates (hibernate.go): 0 means
	// DefaultHibernateAfter, negative never.
	HibernateAfter time.Duration
	Log            *slog.Logger
}

// Runtime manages supervisors. It is safe for concurrent use.
type Runtime struct {
	root, state, install string
	lookup               func(string) (string, error)
	oci                  string
	logMax               *runtimev1.LogConfig
	hibernateAfter       time.Duration
	log                  *slog.Logger

	mu    sync.Mutex
	conns map[string]*supervisor
	// deleted: ids whose last Delete left nothing behind (no supervisor,
	// runc state, cgroup or mount), so Remove need not do it again.
	deleted map[string]bool
	// exiting: ids whose supervisor answered Wait with exiting (it was
	// created with exit_after and ends by itself after the exit), so
	// Delete only waits for its process to end.
	exiting map[string]bool

	idle idlePool // idle.go
}

type supervisor struct {
	conn *grpc.ClientConn
	api  runtimev1.RuntimeClient
}

// New returns a Runtime.
func New(opt Opt) *Runtime {
	r := &Runtime{
		root: opt.Root, state: opt.State, install: opt.InstallRoot,
		lookup: opt.Lookup, oci: opt.OCIRuntime, log: opt.Log, hibernateAfter: opt.HibernateAfter,
		logMax: &runtimev1.LogConfig{MaxSize: opt.LogMaxSize, MaxFiles: int32(opt.LogMaxFiles)},
		conns:  map[string]*supervisor{},
		idle:   newIdlePool(),
	}
	r.deleted = map[string]bool{}
	r.exiting = map[string]bool{}
	if r.oci == "" {
		r.oci = "runc"
	}
	if r.hibernateAfter == 0 {
		r.hibernateAfter = DefaultHibernateAfter
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// BundleDir is where the container's bundle (config.json, exit.json, log) lives.
func (r *Runtime) BundleDir(id string) string { return filepath.Join(r.root, "containers", id) }

// StateDir is where the container's supervisor socket lives.
func (r *Runtime) StateDir(id string) string { return filepath.Join(r.state, "containers", id) }

func (r *Runtime) runcRoot() string { return filepath.Join(r.state, "runc") }

func (r *Runtime) socket(id string) string { return filepath.Join(r.StateDir(id), "supervisor.sock") }

func (r *Runtime) binary(name string) (string, error) {
	if r.lookup != nil {
		return r.lookup(name)
	}
	bin := filepath.Join(r.install, "libexec", "container", "plugins", name, "bin", name)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("runtime plugin %q: %w", name, errdefs.ErrNotFound)
	}
	return bin, nil
}

// Check reports whether the runtime plugin called name can be spawned.
func (r *Runtime) Check(name string) error {
	_, err := r.binary(name)
	return err
}

// Create spawns the supervisor for id and creates the container in it.
func (r *Runtime) Create(ctx context.Context, id string, ts containers.TaskSpec) error {
	_, err := r.create(ctx, id, ts, false)
	return err
}

// Run is Create and Start in one step: the supervisor runs `runc run
// --detach`, one exec instead of two. It returns the container's pid.
func (r *Runtime) Run(ctx context.Context, id string, ts containers.TaskSpec) (int, error) {
	return r.create(ctx, id, ts, true)
}

func (r *Runtime) create(ctx context.Context, id string, ts containers.TaskSpec, start bool) (_ int, retErr error) {
	bin, err := r.binary(ts.Runtime)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	delete(r.deleted, id)
	delete(r.exiting, id)
	r.mu.Unlock()
	b := bundle.New(r.root, id)
	if err := os.MkdirAll(b.Dir, 0o711); err != nil {
		return 0, fmt.Errorf("bundle of %q: %w", id, err)
	}
	if err := os.MkdirAll(r.StateDir(id), 0o711); err != nil {
		return 0, fmt.Errorf("state dir of %q: %w", id, err)
	}
	// A previous run's exit must not be taken for this run's.
	if err := os.Remove(b.Exit()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("clear exit status of %q: %w", id, err)
	}
	// A supervisor left from a previous run (its Delete failed) goes first.
	if _, err := os.Stat(r.socket(id)); err == nil {
		if err := r.Delete(ctx, id); err != nil {
			return 0, err
		}
	}
	// The next idle supervisor is spawned once this create is done, not
	// while runc runs, and once the container is removed if that comes
	// soon (refillLater): on a small machine they would share the CPUs.
	defer r.refillLater(bin)
	spec := toSpec(ts)
	spec.Log = r.logMax
	// An ephemeral container is removed at its exit: its supervisor ends
	// by itself then (exit_after), and Delete just waits for that.
	req := &runtimev1.CreateRequest{Spec: spec, Rootfs: toMounts(rootfsMounts(ts)), Start: start,
		ExitAfter: ts.Spec.Ephemeral}
	var resp *runtimev1.CreateResponse
	var cerr error
	adopted := false
	if is := r.takeIdle(ctx, bin); is != nil {
		// An idle supervisor adopts the container and creates it in one
		// call (CreateRequest.adopt): Adopt's round trip was ≈ 1 ms.
		req.Adopt = &runtimev1.AdoptRequest{Id: id, Bundle: b.Dir, State: r.StateDir(id)}
		var trailer metadata.MD
		resp, cerr = is.api.Create(ctx, req, grpc.Trailer(&trailer))
		req.Adopt = nil
		if adopted = len(trailer.Get(runtimev1.AdoptedTrailer)) > 0; adopted {
			r.adopted(is, id)
		} else {
			r.adoptFailed(ctx, is, id, cerr)
		}
	}
	if !adopted {
		if err := r.spawn(ctx, bin, id, b.Dir); err != nil {
			return 0, err
		}
	}
	defer func() {
		if retErr != nil {
			if err := r.Delete(context.WithoutCancel(ctx), id); err != nil {
				r.log.WarnContext(ctx, "clean up after failed create", "container", id, "err", err)
			}
		}
	}()
	if !adopted {
		s, err := r.connect(id)
		if err != nil {
			return 0, err
		}
		resp, cerr = s.api.Create(ctx, req)
	}
	if cerr != nil {
		return 0, r.withSupervisorLog(id, errgrpc.ToNative(cerr))
	}
	return int(resp.GetPid()), nil
}

// readyEnv tells container-runtime-linux that it is already detached and
// names the fd of its readiness pipe (the variable its own daemonizing
// sets for its child).
const readyEnv = "_CONTAINER_SUPERVISOR_READY_FD"

// spawn starts `<bin> serve ...` detached, as the binary's own daemonizing
// would (new session, stdio on /dev/null, stderr appended to
// supervisor.log), with a readiness pipe on fd 3, and returns once the
// supervisor reports that its socket listens: one exec instead of two. A
// plugin that ignores the pipe and daemonizes itself is ready when the
// spawned process exits 0. The spawned process is reaped when it exits.
func (r *Runtime) spawn(ctx context.Context, bin, id, bundleDir string) error {
	args := []string{"serve", "--id", id, "--bundle", bundleDir, "--state", r.StateDir(id),
		"--runtime", r.oci, "--runtime-root", r.runcRoot()}
	logf, err := os.OpenFile(filepath.Join(r.StateDir(id), "supervisor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("supervisor log of %q: %w", id, err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CONTAINER_STATE_ROOT="+r.state, "CONTAINER_APP_ROOT="+r.root, readyEnv+"=3", r.hibernateEnv())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, logf
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return fmt.Errorf("spawn supervisor for %q: %w", id, err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	fail := func(err error) error {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return r.withSupervisorLog(id, err)
	}
	select {
	case l := <-line:
		switch {
		case l == "ok":
			go func() { _ = cmd.Wait() }() // reaps the supervisor when it exits
			return nil
		case l != "":
			return fail(fmt.Errorf("spawn supervisor for %q: %s", id, l))
		}
		// No line: the plugin daemonized itself (or died); its exit says which.
		if err := cmd.Wait(); err != nil {
			return r.withSupervisorLog(id, fmt.Errorf("spawn supervisor for %q: %w", id, err))
		}
		return nil
	case <-time.After(30 * time.Second):
		return fail(fmt.Errorf("spawn supervisor for %q: not ready after 30s: %w", id, errdefs.ErrUnavailable))
	case <-ctx.Done():
		return fail(fmt.Errorf("spawn supervisor for %q: %w", id, context.Cause(ctx)))
	}
}

// connect returns the cached connection to id's supervisor, dialing one if needed.
func (r *Runtime) connect(id string) (*supervisor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.conns[id]; ok {
		return s, nil
	}
	sock := r.socket(id)
	if _, err := os.Stat(sock); err != nil {
		return nil, fmt.Errorf("supervisor of %q: no socket: %w", id, errdefs.ErrNotFound)
	}
	conn, err := grpc.NewClient("passthrough:///supervisor",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return dialUnix(ctx, sock) }),
		grpc.WithChainUnaryInterceptor(retryHibernating),
	)
	if err != nil {
		return nil, fmt.Errorf("supervisor of %q: %w", id, err)
	}
	s := &supervisor{conn: conn, api: runtimev1.NewRuntimeClient(conn)}
	r.conns[id] = s
	return s, nil
}

func (r *Runtime) disconnect(id string) {
	r.mu.Lock()
	s, ok := r.conns[id]
	delete(r.conns, id)
	r.mu.Unlock()
	if ok {
		_ = s.conn.Close()
	}
}

// dialUnix connects to a unix socket whose path may exceed the 108-byte
// sun_path limit (the supervisor binds such a socket the same way), by
// going through /proc/self/fd of its directory.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	if len(path) < 100 {
		return d.DialContext(ctx, "unix", path)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return d.DialContext(ctx, "unix", "/proc/self/fd/"+strconv.Itoa(int(dir.Fd()))+"/"+filepath.Base(path))
}

// Start runs the created container.
func (r *Runtime) Start(ctx context.Context, id string) (int, error) {
	s, err := r.connect(id)
	if err != nil {
		return 0, err
	}
	resp, err := s.api.Start(ctx, &runtimev1.StartRequest{})
	if err != nil {
		return 0, r.withSupervisorLog(id, errgrpc.ToNative(err))
	}
	return int(resp.GetPid()), nil
}

// Kill signals the container.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	s, err := r.connectLive(id)
	if err != nil {
		return err
	}
	_, err = s.api.Kill(ctx, &runtimev1.KillRequest{Signal: int32(sig), All: all})
	return r.liveErr(ctx, id, err)
}

// connectLive connects to the supervisor for a call that needs its
// container running (Kill, Exec, Attach, Stats). Once Wait has said the
// supervisor is exiting (exit_after), the container has exited: such a
// call gets FailedPrecondition, as the supervisor itself would answer.
func (r *Runtime) connectLive(id string) (*supervisor, error) {
	if r.isExiting(id) {
		return nil, exitedError(id)
	}
	return r.connect(id)
}

// liveErr maps the error of a call made through connectLive. Wait's
// exiting answer closes the connection to the ending supervisor, so a call
// in flight then fails with "the client connection is closing": the
// container has exited (a stop racing a --rm container's exit).
func (r *Runtime) liveErr(ctx context.Context, id string, err error) error {
	if err != nil && ctx.Err() == nil && r.isExiting(id) {
		return exitedError(id)
	}
	return errgrpc.ToNative(err)
}

func exitedError(id string) error {
	return fmt.Errorf("container %q has exited: %w", id, errdefs.ErrFailedPrecondition)
}

// isExiting reports whether id's supervisor answered Wait with exiting:
// its container has exited and it ends by itself.
func (r *Runtime) isExiting(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exiting[id]
}

// Wait blocks until the container exits. When the supervisor dies first,
// the exit comes from exit.json, or carries an Error when there is none.
// While the supervisor hibernates, Wait holds no call open (hibernate.go).
func (r *Runtime) Wait(ctx context.Context, id string) (containers.Exit, error) {
	s, err := r.connect(id)
	if err == nil {
		for {
			var resp *runtimev1.WaitResponse
			var trailer metadata.MD
			resp, err = s.api.Wait(ctx, &runtimev1.WaitRequest{}, grpc.Trailer(&trailer))
			if err == nil {
				if resp.GetExiting() {
					// The supervisor ends once its connections are closed.
					r.mu.Lock()
					r.exiting[id] = true
					r.mu.Unlock()
					r.disconnect(id)
				}
				return fromExit(resp.GetExit()), nil
			}
			if ctx.Err() != nil {
				return containers.Exit{}, context.Cause(ctx)
			}
			if pid, ok := hibernating(trailer); ok {
				if err := r.waitHibernated(ctx, id, pid); err != nil {
					return containers.Exit{}, err
				}
				continue
			}
			err = errgrpc.ToNative(err)
			if !errdefs.IsUnavailable(err) {
				return containers.Exit{}, err
			}
			// The connection broke: the supervisor died, or is busy dying.
			if st, serr := s.api.State(ctx, &runtimev1.StateRequest{}); serr == nil && st.GetStatus() == runtimev1.Status_STATUS_RUNNING {
				select {
				case <-time.After(50 * time.Millisecond):
				case <-ctx.Done():
					return containers.Exit{}, context.Cause(ctx)
				}
				continue
			}
			break
		}
	}
	e, _ := r.deadExit(id)
	return e, nil
}

// deadExit is the exit of a container whose supervisor is gone; recorded
// is false when the bundle holds no exit.json at all.
func (r *Runtime) deadExit(id string) (_ containers.Exit, recorded bool) {
	st, err := bundle.New(r.root, id).ReadExit()
	switch {
	case err == nil:
		return containers.Exit{Code: st.Code, Signal: st.Signal, ExitedAt: st.ExitedAt, OOMKilled: st.OOMKilled}, true
	case !errdefs.IsNotFound(err):
		// A damaged record is reported, not taken for a missing one.
		return containers.Exit{Code: 255, ExitedAt: time.Now().UTC(),
			Error: fmt.Sprintf("the container's supervisor died; its exit status is unreadable: %v", err)}, true
	}
	return containers.Exit{Code: 255, ExitedAt: time.Now().UTC(),
		Error: "the container's supervisor died; its exit status is unknown"}, false
}

// State reports the container's state from its supervisor, or from the
// bundle when the supervisor is gone.
func (r *Runtime) State(ctx context.Context, id string) (containers.TaskState, error) {
	s, err := r.connect(id)
	if err == nil {
		resp, serr := s.api.State(ctx, &runtimev1.StateRequest{})
		if serr == nil {
			switch resp.GetStatus() {
			case runtimev1.Status_STATUS_RUNNING, runtimev1.Status_STATUS_CREATED:
				created := resp.GetStatus() == runtimev1.Status_STATUS_CREATED
				return containers.TaskState{Running: true, Created: created, Pid: int(resp.GetPid())}, nil
			case runtimev1.Status_STATUS_STOPPED:
				e := fromExit(resp.GetExit())
				return containers.TaskState{Exit: &e}, nil
			}
		} else {
			r.disconnect(id)
		}
	}
	if e, recorded := r.deadExit(id); recorded {
		return containers.TaskState{Exit: &e}, nil
	}
	return containers.TaskState{}, fmt.Errorf("supervisor of %q is gone and recorded no exit: %w", id, errdefs.ErrNotFound)
}

// Delete removes the container from its supervisor and ends the
// supervisor; whatever a dead supervisor left behind is cleaned up here.
// The bundle is kept.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	var errs []error
	clean := true
	r.mu.Lock()
	exiting := r.exiting[id]
	delete(r.exiting, id)
	r.mu.Unlock()
	if exiting {
		// The supervisor cleans up and ends by itself after the exit
		// (Wait said so): wait for its process, then check what it did.
		r.disconnect(id)
		if proc := r.openSupervisor(id); proc != nil {
			if err := proc.stop(supervisorSelfExitTimeout); err != nil {
				errs = append(errs, fmt.Errorf("supervisor of %q: %w", id, err))
			}
			proc.close()
		}
		if _, err := os.Stat(r.socket(id)); err == nil {
			clean = false // killed before its end, or not the supervisor Wait heard
		}
	} else if s, err := r.connect(id); err == nil {
		// The supervisor removes its pid file on the way out: take a
		// handle on the process first, so its exit can be waited for.
		proc := r.openSupervisor(id)
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, derr := s.api.Delete(cctx, &runtimev1.DeleteRequest{Force: true})
		if derr == nil {
			_, serr := s.api.Shutdown(cctx, &runtimev1.ShutdownRequest{Force: true})
			if serr != nil && !errdefs.IsUnavailable(errgrpc.ToNative(serr)) {
				r.log.WarnContext(ctx, "shut down supervisor", "container", id, "err", serr)
			}
		} else {
			clean = false
			r.log.WarnContext(ctx, "delete through supervisor", "container", id, "err", errgrpc.ToNative(derr))
		}
		cancel()
		r.disconnect(id) // the supervisor's graceful stop waits for connections
		if proc != nil {
			// Shutdown answers before the process is gone; Delete
			// returns only once it is (killed if it overstays).
			if derr == nil {
				if err := proc.stop(supervisorExitTimeout); err != nil {
					errs = append(errs, fmt.Errorf("supervisor of %q: %w", id, err))
				}
			}
			proc.close()
		}
	} else {
		clean = false
	}
	if !clean {
		errs = append(errs, r.cleanup(ctx, id))
	} else if err := r.checkCleanup(id); err != nil {
		errs = append(errs, r.cleanup(ctx, id))
	}
	_ = os.Remove(r.socket(id))
	err := errors.Join(errs...)
	if err == nil {
		r.mu.Lock()
		r.deleted[id] = true
		r.mu.Unlock()
	}
	return err
}

// Remove deletes the container and its bundle and state directories.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	// After a Delete that left nothing (the one at the container's exit),
	// a second would only look again (a dial, the cgroup globs).
	r.mu.Lock()
	done := r.deleted[id]
	delete(r.deleted, id)
	r.mu.Unlock()
	if !done {
		if err := r.Delete(ctx, id); err != nil {
			return err
		}
	}
	var errs []error
	if err := os.RemoveAll(r.BundleDir(id)); err != nil {
		errs = append(errs, fmt.Errorf("remove bundle of %q: %w", id, err))
	}
	if err := os.RemoveAll(r.StateDir(id)); err != nil {
		errs = append(errs, fmt.Errorf("remove state of %q: %w", id, err))
	}
	r.refillPending()
	return errors.Join(errs...)
}

// Leftovers lists the ids that have a bundle or state directory.
func (r *Runtime) Leftovers() ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	for _, dir := range []string{filepath.Join(r.root, "containers"), filepath.Join(r.state, "containers")} {
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("list container dirs: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() && !seen[e.Name()] {
				seen[e.Name()] = true
				ids = append(ids, e.Name())
			}
		}
	}
	return ids, nil
}

func toSpec(ts containers.TaskSpec) *runtimev1.ContainerSpec {
	sp := ts.Spec
	out := &runtimev1.ContainerSpec{
		Image: &runtimev1.ImageConfig{
			Env: ts.Image.Env, Entrypoint: ts.Image.Entrypoint, Cmd: ts.Image.Cmd,
			WorkingDir: ts.Image.WorkingDir, User: ts.Image.User, StopSignal: ts.Image.StopSignal,
		},
		Args: sp.Args, OverrideEntrypoint: sp.OverrideEntrypoint, Entrypoint: sp.Entrypoint,
		Env: sp.Env, Workdir: sp.Workdir, User: sp.User, Hostname: ts.Hostname, Labels: sp.Labels,
		ReadOnly: sp.ReadOnly, ShmSize: sp.ShmSize, CapAdd: sp.CapAdd, CapDrop: sp.CapDrop,
		Cpus: sp.CPUs, Memory: sp.Memory, Init: sp.Init, Mounts: toMounts(ts.Mounts),
		Terminal: sp.TTY, Stdin: sp.Stdin,
	}
	if sp.UID >= 0 {
		u := uint32(sp.UID)
		out.Uid = &u
	}
	if sp.GID >= 0 {
		g := uint32(sp.GID)
		out.Gid = &g
	}
	for _, u := range sp.Ulimits {
		out.Ulimits = append(out.Ulimits, &runtimev1.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	switch sp.Network {
	case "host":
		out.Network = "host"
	default:
		out.Network = "none" // networks come with the networks service
	}
	return out
}

func toMounts(ms []containers.Mount) []*runtimev1.Mount {
	out := make([]*runtimev1.Mount, 0, len(ms))
	for _, m := range ms {
		out = append(out, &runtimev1.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options})
	}
	return out
}

func fromExit(e *runtimev1.ExitStatus) containers.Exit {
	return containers.Exit{
		Code: int(e.GetCode()), Signal: int(e.GetSignal()),
		ExitedAt: e.GetExitedAt().AsTime(), OOMKilled: e.GetOomKilled(),
	}
}
