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
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminal(a.Stdout) {
				return fmt.Errorf("refusing to write an archive to a terminal; use --output or redirect: %w", errdefs.ErrInvalidArgument)
			}
			if output == "" {
				c, err := a.Client(cmd.Context())
				if err != nil {
					return err
				}
				defer c.Close()
				return c.SaveImages(cmd.Context(), args, a.Stdout)
			}
			return writeFileAtomic(output, func(w io.Writer) error {
				c, err := a.Client(cmd.Context())
				if err != nil {
					return err
				}
				defer c.Close()
				return c.SaveImages(cmd.Context(), args, w)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "file to write")
	return cmd
}

// writeFileAtomic creates path (mode 0644) with what write writes: into a
// temporary file next to it, renamed into place only when write and the
// fsync succeed, so a failed save leaves neither a partial archive nor a
// temporary file. A missing directory is ErrNotFound and a directory at
// path ErrInvalidArgument, both reported before write runs.
func writeFileAtomic(path string, write func(io.Writer) error) (retErr error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("output %q is a directory: %w", path, errdefs.ErrInvalidArgument)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".save-*")
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("output %q: directory %q: %w", path, filepath.Dir(path), errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("output %q: %w", path, err)
	}
	return nil
}

// openInput opens path, or returns stdin for "" and "-". A missing file is
// ErrNotFound, a directory ErrInvalidArgument.
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
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", path, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("file %q is a directory: %w", path, errdefs.ErrInvalidArgument)
	}
	return f, nil
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
