package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

func (a *App) newContainerListCommand() *cobra.Command {
	var lf listFlags
	var all bool
	cmd := &cobra.Command{
		Use:     "list [OPTIONS]",
		Aliases: []string{"ls"},
		Short:   "List containers (running ones unless --all)",
		GroupID: groupContainers,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(lf.format); err != nil {
				return err
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			cs, err := c.ListContainers(cmd.Context(), all)
			if err != nil {
				return err
			}
			return printList(a.Stdout, lf, cs, containerColumns, func(c client.Container) string { return c.ID })
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include containers that are not running")
	lf.register(cmd)
	return cmd
}

var containerColumns = []column[client.Container]{
	{Header: "ID", Value: func(c client.Container) string { return c.ID }},
	{Header: "IMAGE", Value: func(c client.Container) string { return c.Image }},
	{Header: "OS", Value: func(c client.Container) string { return c.OS }},
	{Header: "ARCH", Value: func(c client.Container) string { return c.Arch }},
	{Header: "STATE", Value: func(c client.Container) string { return c.State.Status }},
	{Header: "IP", Value: func(c client.Container) string { return "" }},
	{Header: "CPUS", Value: func(c client.Container) string {
		if c.Spec.CPUs == 0 {
			return "-"
		}
		return strconv.FormatFloat(c.Spec.CPUs, 'f', -1, 64)
	}},
	{Header: "MEMORY", Value: func(c client.Container) string {
		if c.Spec.Memory == 0 {
			return "-"
		}
		return humanBytes(c.Spec.Memory)
	}},
	{Header: "STARTED", Value: func(c client.Container) string {
		if c.State.StartedAt.IsZero() {
			return ""
		}
		return c.State.StartedAt.Local().Format(time.DateTime)
	}},
}

func humanBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 40, "T"}, {1 << 30, "G"}, {1 << 20, "M"}, {1 << 10, "K"}} {
		if n >= u.size {
			return strings.TrimSuffix(strconv.FormatFloat(float64(n)/float64(u.size), 'f', 1, 64), ".0") + u.name
		}
	}
	return fmt.Sprintf("%dB", n)
}

func (a *App) newContainerInspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "inspect ID...",
		Short:   "Show containers as a JSON array",
		GroupID: groupContainers,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			out := []client.Container{}
			var errs []error
			for _, id := range args {
				ctr, err := c.GetContainer(cmd.Context(), id)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, ctr)
			}
			if len(out) > 0 || len(errs) == 0 {
				if err := writeJSON(a.Stdout, out, true); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
}
