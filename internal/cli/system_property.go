package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

func (a *App) newSystemPropertyCommand() *cobra.Command {
	cmd := newGroupCommand("property", "Show the apiserver's effective configuration")
	cmd.AddCommand(a.newSystemPropertyListCommand())
	return cmd
}

// property is one row of `system property list`.
type property struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Source      string `json:"source"`
	Description string `json:"description,omitempty"`
}

func (a *App) newSystemPropertyListCommand() *cobra.Command {
	var lf listFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List effective configuration values and where each comes from",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(lf.format); err != nil {
				return err
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			props, err := c.Properties(cmd.Context())
			if err != nil {
				return err
			}
			if len(props.UnknownKeys) > 0 {
				fmt.Fprintf(a.Stderr, "Warning: unknown configuration keys ignored: %s\n", strings.Join(props.UnknownKeys, ", "))
			}
			rows := make([]property, 0, len(props.Properties))
			for _, p := range props.Properties {
				rows = append(rows, newProperty(p))
			}
			return printList(a.Stdout, lf, rows, []column[property]{
				{"KEY", func(p property) string { return p.Key }},
				{"VALUE", func(p property) string { return p.Value }},
				{"SOURCE", func(p property) string { return p.Source }},
				{"DESCRIPTION", func(p property) string { return p.Description }},
			}, func(p property) string { return p.Key })
		},
	}
	lf.register(cmd)
	return cmd
}

func newProperty(p client.Property) property {
	return property{Key: p.Key, Value: p.Value, Source: p.Source, Description: p.Description}
}
