package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth/container/errdefs"
)

// listFlags are the output flags every list command shares:
// --format table|json and -q.
type listFlags struct {
	format string
	quiet  bool
}

func (f *listFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print only IDs")
}

// formatFlag is --format alone, for commands with no IDs to print.
type formatFlag struct{ format string }

func (f *formatFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table or json")
}

func checkFormat(format string) error {
	if format != "table" && format != "json" {
		return fmt.Errorf("format %q: must be table or json: %w", format, errdefs.ErrInvalidArgument)
	}
	return nil
}

// column is one column of a table of T.
type column[T any] struct {
	Header string
	Value  func(T) string
}

// printList writes items as a table (the default), as a JSON array
// (--format json; items are encoded as they are, so give them json tags)
// or, with -q, as the IDs alone, one a line.
func printList[T any](w io.Writer, f listFlags, items []T, columns []column[T], id func(T) string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	switch {
	case f.quiet:
		for _, it := range items {
			if _, err := fmt.Fprintln(w, id(it)); err != nil {
				return err
			}
		}
		return nil
	case f.format == "json":
		if items == nil {
			items = []T{}
		}
		return writeJSON(w, items, false)
	}
	return writeTable(w, items, columns)
}

// writeTable writes a header line and one line per item, in aligned columns.
func writeTable[T any](w io.Writer, items []T, columns []column[T]) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	headers := make([]string, len(columns))
	for i, c := range columns {
		headers[i] = c.Header
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, it := range items {
		vals := make([]string, len(columns))
		for i, c := range columns {
			vals[i] = c.Value(it)
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

// writeJSON writes v as JSON followed by a newline; pretty indents it
// (what inspect prints).
func writeJSON(w io.Writer, v any, pretty bool) error {
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// field is one row of a two-column KEY VALUE table, for commands that
// describe a single thing (system status, system version).
type field struct {
	Key   string
	Value string
}

func printFields(w io.Writer, fields []field) error {
	return writeTable(w, fields, []column[field]{
		{Header: "FIELD", Value: func(f field) string { return f.Key }},
		{Header: "VALUE", Value: func(f field) string { return f.Value }},
	})
}
