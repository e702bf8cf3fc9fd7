package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
	"github.com/berth/container/internal/opts"
)

// createFlags are the options shared by `create` and `run`.
type createFlags struct {
	name        string
	env         []string
	envFiles    []string
	workdir     string
	user        string
	uid, gid    uint32
	entrypoint  string
	labels      []string
	cpus        float64
	memory      string
	ulimits     []string
	capAdd      []string
	capDrop     []string
	readOnly    bool
	tmpfs       []string
	shmSize     string
	init        bool
	cidfile     string
	network     string
	runtime     string
	restart     string
	stopSignal  string
	stopTimeout int
	platform    string
	rm          bool
	interactive bool
	tty         bool
}

// notYet are create flags from PRODUCT.md that later issues implement.
var notYet = []struct{ name, short, usage string }{
	{"volume", "v", "mount a volume (not supported yet)"},
	{"mount", "", "add a mount (not supported yet)"},
	{"publish", "p", "publish a port (not supported yet)"},
	{"dns", "", "DNS server (not supported yet)"},
	{"dns-search", "", "DNS search domain (not supported yet)"},
	{"dns-option", "", "DNS option (not supported yet)"},
	{"dns-domain", "", "DNS domain (not supported yet)"},
	{"no-dns", "", "do not configure DNS (not supported yet)"},
}

func (f *createFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SetInterspersed(false) // flags after IMAGE belong to the command
	fs.StringVar(&f.name, "name", "", "container name (also its ID)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to copy it)")
	fs.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "user: name|uid[:group|gid]")
	fs.Uint32Var(&f.uid, "uid", 0, "user ID of the process")
	fs.Uint32Var(&f.gid, "gid", 0, "group ID of the process")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "override the image's entrypoint")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "add a label (KEY=VALUE)")
	fs.Float64VarP(&f.cpus, "cpus", "c", 0, "CPU limit (e.g. 0.5, 2)")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 512m, 1g)")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "resource limit NAME=SOFT[:HARD]")
	fs.StringSliceVar(&f.capAdd, "cap-add", nil, "add a Linux capability")
	fs.StringSliceVar(&f.capDrop, "cap-drop", nil, "drop a Linux capability")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the root filesystem read-only")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs at PATH[:OPTIONS]")
	fs.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	fs.BoolVar(&f.init, "init", false, "run an init process that reaps zombies and forwards signals")
	fs.StringVar(&f.cidfile, "cidfile", "", "write the container ID to this file")
	fs.StringVar(&f.network, "network", "", "network: none or default (loopback only for now), or host")
	fs.StringVar(&f.runtime, "runtime", "", "runtime plugin (default container-runtime-linux)")
	fs.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container (default SIGTERM or the image's)")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 5, "seconds to wait for the stop signal before SIGKILL")
	fs.StringVar(&f.platform, "platform", "", "image platform os/arch[/variant]")
	fs.BoolVar(&f.rm, "rm", false, "delete the container when it stops")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep stdin open (run: forward ours)")
	fs.BoolVarP(&f.tty, "tty", "t", false, "give the container a terminal")
	for _, n := range notYet {
		fs.StringArrayP(n.name, n.short, nil, n.usage)
		fs.Lookup(n.name).Hidden = true
	}
	fs.Lookup("no-dns").NoOptDefVal = "true"
}

// spec turns the flags and IMAGE [CMD...] into a container spec.
func (f *createFlags) spec(fs *pflag.FlagSet, args []string) (client.ContainerSpec, error) {
	for _, n := range notYet {
		if fs.Changed(n.name) {
			return client.ContainerSpec{}, fmt.Errorf("--%s is not supported yet: %w", n.name, errdefs.ErrNotImplemented)
		}
	}
	sp := client.ContainerSpec{
		Image: args[0], Args: args[1:], Workdir: f.workdir, User: f.user, CPUs: f.cpus,
		CapAdd: f.capAdd, CapDrop: f.capDrop, ReadOnly: f.readOnly, Tmpfs: f.tmpfs, Init: f.init,
		Network: f.network, Runtime: f.runtime, Restart: f.restart, StopSignal: f.stopSignal,
		Platform: f.platform, Stdin: f.interactive, TTY: f.tty,
	}
	if fs.Changed("uid") {
		sp.UID = &f.uid
	}
	if fs.Changed("gid") {
		sp.GID = &f.gid
	}
	if fs.Changed("entrypoint") {
		sp.OverrideEntrypoint = true
		if f.entrypoint != "" {
			sp.Entrypoint = []string{f.entrypoint}
		}
	}
	if fs.Changed("stop-timeout") {
		if f.stopTimeout < 0 {
			return sp, fmt.Errorf("--stop-timeout %d must not be negative: %w", f.stopTimeout, errdefs.ErrInvalidArgument)
		}
		d := time.Duration(f.stopTimeout) * time.Second
		sp.StopTimeout = &d
	}
	for _, file := range f.envFiles {
		env, err := readEnvFile(file)
		if err != nil {
			return sp, err
		}
		sp.Env = append(sp.Env, env...)
	}
	for _, e := range f.env {
		if kv, ok := expandEnv(e); ok {
			sp.Env = append(sp.Env, kv)
		}
	}
	if len(f.labels) > 0 {
		sp.Labels = map[string]string{}
		for _, l := range f.labels {
			k, v, _ := strings.Cut(l, "=")
			if k == "" {
				return sp, fmt.Errorf("label %q: empty key: %w", l, errdefs.ErrInvalidArgument)
			}
			sp.Labels[k] = v
		}
	}
	var err error
	if f.memory != "" {
		if sp.Memory, err = opts.ParseSize(f.memory); err != nil {
			return sp, fmt.Errorf("--memory: %w", err)
		}
	}
	if f.shmSize != "" {
		if sp.ShmSize, err = opts.ParseSize(f.shmSize); err != nil {
			return sp, fmt.Errorf("--shm-size: %w", err)
		}
	}
	for _, u := range f.ulimits {
		ul, err := opts.ParseUlimit(u)
		if err != nil {
			return sp, err
		}
		sp.Ulimits = append(sp.Ulimits, client.Ulimit{Name: ul.Name, Soft: ul.Soft, Hard: ul.Hard})
	}
	return sp, nil
}

// expandEnv turns "KEY" into "KEY=<value from our environment>"; a KEY
// our environment does not have is left out (ok false), as docker does.
func expandEnv(e string) (string, bool) {
	if strings.Contains(e, "=") {
		return e, true
	}
	v, ok := os.LookupEnv(e)
	return e + "=" + v, ok
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped,
// a bare KEY takes our environment's value (and is left out without one).
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("env file %q: %w", path, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("env file %q: %w", path, err)
	}
	defer f.Close()
	return parseEnvFile(f, path)
}

func parseEnvFile(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, _, _ := strings.Cut(line, "="); k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("env file %q line %d: bad variable %q: %w", name, n, line, errdefs.ErrInvalidArgument)
		}
		if kv, ok := expandEnv(line); ok {
			out = append(out, kv)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("env file %q: %v: %w", name, err, errdefs.ErrInvalidArgument)
	}
	return out, nil
}

// createContainer creates the container described by the flags and args,
// and writes --cidfile.
func (a *App) createContainer(ctx context.Context, c *client.Client, f *createFlags, fs *pflag.FlagSet, args []string, autoRemove bool) (client.Container, error) {
	sp, err := f.spec(fs, args)
	if err != nil {
		return client.Container{}, err
	}
	sp.AutoRemove = autoRemove
	// --rm: the layer is thrown away, so it need not be synced to disk at
	// unmount, and the apiserver keeps the container's state changes in
	// memory.
	sp.Ephemeral = f.rm
	cid, err := openCIDFile(f.cidfile)
	if err != nil {
		return client.Container{}, err
	}
	ctr, err := c.CreateContainer(ctx, f.name, sp)
	if errdefs.IsNotFound(err) {
		// Pull a missing image, as docker does, then try once more.
		if _, gerr := c.GetImage(ctx, sp.Image); errdefs.IsNotFound(gerr) {
			fmt.Fprintf(a.Stderr, "Image %s not found locally, pulling it\n", sp.Image)
			if _, perr := c.PullImage(ctx, sp.Image, client.PullOptions{Platform: f.platform, Auth: a.resolveAuth(sp.Image)}); perr != nil {
				err = perr
			} else {
				ctr, err = c.CreateContainer(ctx, f.name, sp)
			}
		}
	}
	if err != nil {
		cid.abort()
		return client.Container{}, err
	}
	if err := cid.commit(ctr.ID); err != nil {
		// Nothing half-made: the container nobody can find by the file goes.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := c.DeleteContainer(dctx, ctr.ID, true); derr != nil {
			err = errors.Join(err, fmt.Errorf("remove container %s: %w", ctr.ID, derr))
		}
		return client.Container{}, err
	}
	return ctr, err
}

func (a *App) newContainerCreateCommand() *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:     "create [OPTIONS] IMAGE [COMMAND [ARG...]]",
		Short:   "Create a container",
		GroupID: groupContainers,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ctr, err := a.createContainer(cmd.Context(), c, &f, cmd.Flags(), args, f.rm)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, ctr.ID)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
