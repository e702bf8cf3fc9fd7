package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/container/client"
)

// splitImageName splits a normalised name into repository and tag
// ("<none>" when the name has none).
func splitImageName(n string) (repo, tag string) {
	if strings.HasPrefix(n, "sha256:") {
		return "<none>", "<none>"
	}
	if i := strings.Index(n, "@"); i >= 0 {
		return n[:i], "<none>"
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:]
	}
	return n, "<none>"
}

// imageRow is one row of `image list`; with -v, one per platform.
type imageRow struct {
	img client.Image
	pl  *client.ImagePlatform
}

func (a *App) newImageListCommand() *cobra.Command {
	var lf listFlags
	var verbose bool
	cmd := &cobra.Command{
		Use:     "list [OPTIONS]",
		Aliases: []string{"ls"},
		Short:   "List images",
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
			imgs, err := c.ListImages(cmd.Context())
			if err != nil {
				return err
			}
			if lf.format == "json" || lf.quiet {
				return printList(a.Stdout, lf, imgs, nil, func(i client.Image) string { return i.Name })
			}
			var rows []imageRow
			for _, img := range imgs {
				if !verbose {
					rows = append(rows, imageRow{img: img})
					continue
				}
				for i := range img.Platforms {
					rows = append(rows, imageRow{img: img, pl: &img.Platforms[i]})
				}
			}
			cols := []column[imageRow]{
				{Header: "NAME", Value: func(r imageRow) string { n, _ := splitImageName(r.img.Name); return n }},
				{Header: "TAG", Value: func(r imageRow) string { _, t := splitImageName(r.img.Name); return t }},
				{Header: "DIGEST", Value: func(r imageRow) string { return shortDigest(r.img.Digest) }},
			}
			if verbose {
				cols = append(cols,
					column[imageRow]{Header: "PLATFORM", Value: func(r imageRow) string { return r.pl.String() }},
					column[imageRow]{Header: "MANIFEST", Value: func(r imageRow) string { return shortDigest(r.pl.Manifest) }},
					column[imageRow]{Header: "SIZE", Value: func(r imageRow) string { return humanBytes(r.pl.Size) }},
					column[imageRow]{Header: "PULLED", Value: func(r imageRow) string {
						if r.pl.Present {
							return "yes"
						}
						return "no"
					}},
				)
			}
			return writeTable(a.Stdout, rows, cols)
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "one row per platform")
	lf.register(cmd)
	return cmd
}

func (a *App) newImageInspectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect IMAGE...",
		Short: "Show images as JSON: config, platforms, sizes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			out := make([]client.Image, 0, len(args))
			for _, ref := range args {
				img, err := c.GetImage(cmd.Context(), ref)
				if err != nil {
					return err
				}
				out = append(out, img)
			}
			return writeJSON(a.Stdout, out, true)
		},
	}
}
