package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

func (a *App) newImageCommand() *cobra.Command {
	cmd := newGroupCommand("image", "Manage images: pull, push, list, save, load", "i")
	cmd.GroupID = groupImages
	cmd.AddCommand(
		a.newImagePullCommand(),
		a.newImagePushCommand(),
		a.newImageListCommand(),
		a.newImageInspectCommand(),
		a.newImageTagCommand(),
		a.newImageDeleteCommand(),
		a.newImagePruneCommand(),
		a.newImageSaveCommand(),
		a.newImageLoadCommand(),
		a.newImageImportCommand(),
	)
	return cmd
}

// registryFlags are the flags of commands that talk to a registry.
type registryFlags struct {
	scheme string
}

func (f *registryFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.scheme, "scheme", "auto", "registry scheme: http, https, or auto (http for localhost and private addresses)")
}

func (f *registryFlags) check() error {
	switch f.scheme {
	case "auto", "http", "https":
		return nil
	}
	return fmt.Errorf("scheme %q: must be http, https or auto: %w", f.scheme, errdefs.ErrInvalidArgument)
}

// resolveAuth finds the user's stored credential for ref's registry;
// without one (or when the lookup fails) the request goes anonymous.
func (a *App) resolveAuth(ref string) *client.RegistryAuth {
	auth, err := client.ResolveAuth(ref)
	if err != nil {
		a.debugf("no credentials for %s: %v", ref, err)
		return nil
	}
	return auth
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// terminalWidth returns the column count of the terminal w (0 if unknown).
func terminalWidth(w any) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// shortDigest is the first 12 hex characters of a digest.
func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
