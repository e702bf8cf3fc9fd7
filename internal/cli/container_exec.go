package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

func (a *App) newContainerExecCommand() *cobra.Command {
	var (
		detach, interactive, tty bool
		user, workdir            string
		env                      []string
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] ID COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: "Exec runs a command in a running container and exits with its exit code.\n" +
			"With -i stdin is forwarded; with -t the command gets a terminal whose size follows the local\n" +
			"one (with -i as well, the local terminal goes into raw mode so keys like Ctrl-C reach the\n" +
			"command); with -d it runs in the background and its output goes to the container log.",
		GroupID: groupContainers,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			opts := client.ExecOptions{
				Args: args[1:], Workdir: workdir, User: user, TTY: tty, Detach: detach,
				Stdout: a.Stdout, Stderr: a.Stderr,
			}
			for _, e := range env {
				if kv, ok := expandEnv(e); ok {
					opts.Env = append(opts.Env, kv)
				}
			}
			if interactive && !detach {
				opts.Stdin = a.Stdin
			}
			if tty && !detach {
				t := a.openTerminal(interactive)
				defer t.restore()
				opts.Size, opts.Resize = t.size, t.resize
			}
			res, err := c.ExecContainer(ctx, args[0], opts)
			if err != nil {
				return execFailed(err) // 126/127 as docker when the command cannot run
			}
			if res.ExitCode != 0 {
				return &ExitError{Code: res.ExitCode}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false) // flags after ID belong to the command
	fs.BoolVarP(&detach, "detach", "d", false, "run the command in the background")
	fs.BoolVarP(&interactive, "interactive", "i", false, "forward stdin to the command")
	fs.BoolVarP(&tty, "tty", "t", false, "give the command a terminal")
	fs.StringVarP(&user, "user", "u", "", "user: name|uid[:group|gid]")
	fs.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to copy it)")
	return cmd
}
