package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/container/internal/version"
)

// Command groups, as in `container --help`. A top-level command sets its
// GroupID to one of these.
const (
	groupContainers = "containers"
	groupImages     = "images"
	groupSystem     = "system"
)

// commands returns the top-level commands. To add one, write its
// constructor in <noun>_<verb>.go (or <noun>.go for a noun with
// subcommands) and add one line here. Nouns carry the aliases from
// PRODUCT.md: image=i, network=n, volume=v, system=s, registry=r; verbs
// list=ls, delete=rm.
func (a *App) commands() []*cobra.Command {
	return []*cobra.Command{
		a.newContainerRunCommand(),
		a.newContainerCreateCommand(),
		a.newContainerStartCommand(),
		a.newContainerStopCommand(),
		a.newContainerKillCommand(),
		a.newContainerDeleteCommand(),
		a.newContainerListCommand(),
		a.newContainerInspectCommand(),
		a.newContainerLogsCommand(),
		a.newContainerWaitCommand(),
		a.newContainerPruneCommand(),
		a.newContainerExecCommand(),
		a.newContainerAttachCommand(),
		a.newContainerStatsCommand(),
		a.newImageCommand(),
		a.newRegistryCommand(),
		a.newSystemCommand(),
		a.newPluginCommand(),
	}
}

// newRootCommand builds the whole command tree.
func (a *App) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "container",
		Short: "Run Linux containers through container-apiserver",
		Long: "container runs Linux containers through a long-lived API server, container-apiserver.\n" +
			"Start the server with `container system start`.",
		Version:           version.Version,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		Args:              cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(args[0])
			}
			return cmd.Help()
		},
	}
	root.SetVersionTemplate(fmt.Sprintf("container version %s (commit %s, built %s)\n",
		version.Version, version.Commit, version.BuildDate))
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: err, command: cmd.CommandPath()}
	})

	pf := root.PersistentFlags()
	pf.StringVar(&a.Host, "host", defaultHost(), "apiserver socket (env CONTAINER_HOST)")
	pf.BoolVar(&a.Debug, "debug", false, "print debug output")
	root.Flags().Bool("version", false, "print the version and exit")

	root.AddGroup(
		&cobra.Group{ID: groupContainers, Title: "Container commands:"},
		&cobra.Group{ID: groupImages, Title: "Image commands:"},
		&cobra.Group{ID: groupSystem, Title: "System commands:"},
	)
	root.AddCommand(a.commands()...)
	return root
}

// newGroupCommand returns a noun command (`system`, `image`, ...) that only
// holds subcommands: with no arguments it prints its help, with an unknown
// one it fails.
func newGroupCommand(use, short string, aliases ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Aliases: aliases,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), command: cmd.CommandPath()}
			}
			return cmd.Help()
		},
	}
}

func unknownCommand(name string) error {
	return &usageError{err: fmt.Errorf("unknown command %q", name), command: "container"}
}

// run executes args and returns the exit code.
func (a *App) run(ctx context.Context, args []string) int {
	root := a.newRootCommand()
	if name, pre, rest, ok := pluginCall(root, args); ok {
		if err := root.ParseFlags(pre); err != nil {
			return a.exitCode(&usageError{err: err, command: "container"})
		}
		return a.exitCode(a.runPlugin(ctx, name, rest))
	}
	root.SetArgs(args)
	return a.exitCode(root.ExecuteContext(ctx))
}

// pluginCall reports whether args name a command the tree does not know,
// which may be a CLI plugin: `container [global flags] NAME ARGS...`. It
// returns the plugin name, the global flags before it and the arguments
// after it.
func pluginCall(root *cobra.Command, args []string) (name string, pre, rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return "", nil, nil, false
		case strings.HasPrefix(arg, "-"):
			// A global flag; skip its value when it takes one separately.
			flagName := strings.TrimLeft(arg, "-")
			if strings.Contains(flagName, "=") {
				continue
			}
			f := root.PersistentFlags().Lookup(flagName)
			if f == nil && len(flagName) == 1 {
				f = root.PersistentFlags().ShorthandLookup(flagName)
			}
			if f != nil && f.NoOptDefVal == "" {
				i++
			}
		default:
			if arg == "help" || strings.HasPrefix(arg, "__complete") || arg == "completion" {
				return "", nil, nil, false
			}
			for _, c := range root.Commands() {
				if c.Name() == arg || c.HasAlias(arg) {
					return "", nil, nil, false
				}
			}
			return arg, args[:i], args[i+1:], true
		}
	}
	return "", nil, nil, false
}
