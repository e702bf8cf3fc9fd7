package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth/container/errdefs"
)

func (a *App) newImageSaveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE...",
		Short: "Write images to an OCI image layout tar (stdout unless --output)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (retErr error) {
			var w io.Writer = a.Stdout
			if output == "" && isTerminal(a.Stdout) {
				return fmt.Errorf("refusing to write an archive to a terminal; use --output or redirect: %w", errdefs.ErrInvalidArgument)
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if output != "" {
				f, err := os.CreateTemp(filepath.Dir(output), ".save-*")
				if err != nil {
					return fmt.Errorf("save: %w", err)
				}
				defer func() {
					if retErr != nil {
						f.Close()
						os.Remove(f.Name())
					}
				}()
				w = f
				if err := c.SaveImages(cmd.Context(), args, f); err != nil {
					return err
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("save: %w", err)
				}
				if err := os.Chmod(f.Name(), 0o644); err != nil {
					return fmt.Errorf("save: %w", err)
				}
				return os.Rename(f.Name(), output)
			}
			return c.SaveImages(cmd.Context(), args, w)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write")
	return cmd
}

// openInput opens path, or returns stdin for "" and "-".
func (a *App) openInput(path string) (io.ReadCloser, error) {
	if path == "" || path == "-" {
		if isTerminal(a.Stdin) {
			return nil, fmt.Errorf("refusing to read an archive from a terminal; use --input or redirect: %w", errdefs.ErrInvalidArgument)
		}
		return io.NopCloser(a.Stdin), nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("file %q: %w", path, errdefs.ErrNotFound)
	}
	return f, err
}

func (a *App) newImageLoadCommand() *cobra.Command {
	var input string
	var force bool
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from an OCI layout or docker-archive tar (stdin unless --input)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openInput(input)
			if err != nil {
				return err
			}
			defer r.Close()
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			names, err := c.LoadImages(cmd.Context(), r, force)
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintf(a.Stdout, "Loaded %s\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "archive to read")
	cmd.Flags().BoolVar(&force, "force", false, "load what can be read from a damaged archive")
	return cmd
}

func (a *App) newImageImportCommand() *cobra.Command {
	var platform string
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REFERENCE]",
		Short: "Create a one-layer image from a root filesystem tar",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.openInput(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			c, err := a.Client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			img, err := c.ImportImage(cmd.Context(), r, ref, platform)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, img.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&platform, "platform", "", "platform of the image, os/arch[/variant] (default: the host's)")
	return cmd
}
