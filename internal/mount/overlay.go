package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// volatileOption is overlayfs's "volatile": the upper (host) filesystem is
// never synced for this mount, not even at unmount (Linux 5.10+).
const volatileOption = "volatile"

// mountVolatile mounts an overlay with the "volatile" option. A previous
// volatile mount of the same layer leaves <workdir>/work/incompat/volatile
// behind, and the kernel refuses to mount the layer again while it exists:
// it is removed first (whoever asked for volatile gave up durability). A
// kernel without the option rejects it with EINVAL; the overlay is then
// mounted without it.
func (m Mount) mountVolatile(target string) error {
	for _, o := range m.Options {
		if w, ok := strings.CutPrefix(o, "workdir="); ok {
			if err := os.RemoveAll(filepath.Join(w, "work", "incompat", volatileOption)); err != nil {
				return fmt.Errorf("clear volatile marker of overlay at %q: %w", target, withKind(err))
			}
		}
	}
	err := m.mount(target)
	if errors.Is(err, unix.EINVAL) {
		plain := m
		plain.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == volatileOption })
		if perr := plain.mount(target); perr == nil {
			return nil
		}
	}
	return err
}
