package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/console"
	"github.com/spf13/cobra"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

func (a *App) newRegistryCommand() *cobra.Command {
	cmd := newGroupCommand("registry", "Log in to and out of registries", "r")
	cmd.GroupID = groupImages
	cmd.AddCommand(a.newRegistryLoginCommand(), a.newRegistryLogoutCommand(), a.newRegistryListCommand())
	return cmd
}

func (a *App) newRegistryLoginCommand() *cobra.Command {
	var rf registryFlags
	var username string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] SERVER",
		Short: "Check credentials against a registry and store them (docker config.json)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := rf.check(); err != nil {
				return err
			}
			in := bufio.NewReader(a.Stdin)
			if username == "" {
				if passwordStdin {
					return &usageError{err: errors.New("--password-stdin needs --username"), command: cmd.CommandPath()}
				}
				fmt.Fprint(a.Stderr, "Username: ")
				line, err := in.ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("read username: %w", err)
				}
				username = strings.TrimSpace(line)
			}
			password, err := a.readPassword(in, passwordStdin)
			if err != nil {
				return err
			}
			if username == "" || password == "" {
				return fmt.Errorf("username and password are required: %w", errdefs.ErrInvalidArgument)
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			auth := client.RegistryAuth{Username: username, Password: password}
			if err := c.RegistryLogin(cmd.Context(), args[0], rf.scheme, auth); err != nil {
				return err
			}
			where, err := client.SaveCredentials(args[0], auth)
			if err != nil {
				return err
			}
			a.debugf("credentials stored in %s", where)
			fmt.Fprintln(a.Stdout, "Login succeeded")
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVarP(&username, "username", "u", "", "user name")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

// readPassword reads the password: all of stdin with --password-stdin,
// else one line from the terminal with echo off.
func (a *App) readPassword(in *bufio.Reader, fromStdin bool) (string, error) {
	if !fromStdin {
		f, ok := a.Stdin.(*os.File)
		if !ok || !isTerminal(f) {
			return "", fmt.Errorf("no terminal to ask for the password; use --password-stdin: %w", errdefs.ErrInvalidArgument)
		}
		fmt.Fprint(a.Stderr, "Password: ")
		if con, err := console.ConsoleFromFile(f); err == nil {
			if err := con.DisableEcho(); err == nil {
				defer con.Reset()
			}
		}
		line, err := in.ReadString('\n')
		fmt.Fprintln(a.Stderr)
		if err != nil && line == "" {
			return "", fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	var sb strings.Builder
	if _, err := in.WriteTo(&sb); err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(sb.String(), "\r\n"), nil
}

func (a *App) newRegistryLogoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout SERVER",
		Short: "Remove the stored credentials of a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := client.RemoveCredentials(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "Removed credentials for %s\n", args[0])
			return nil
		},
	}
}

func (a *App) newRegistryListCommand() *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "list [OPTIONS]",
		Aliases: []string{"ls"},
		Short:   "List registries with stored credentials",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			logins, err := client.ListCredentials()
			if err != nil {
				return err
			}
			return printList(a.Stdout, lf, logins, []column[client.RegistryLogin]{
				{Header: "SERVER", Value: func(l client.RegistryLogin) string { return l.Server }},
				{Header: "USERNAME", Value: func(l client.RegistryLogin) string { return l.Username }},
			}, func(l client.RegistryLogin) string { return l.Server })
		},
	}
	lf.register(cmd)
	return cmd
}
