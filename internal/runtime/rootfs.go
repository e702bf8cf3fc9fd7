package runtime

import (
	"slices"
	"strings"

	"github.com/berth/container/internal/containers"
)

// volatileOption is overlayfs's "volatile" mount option: no sync of the
// upper (host) filesystem, not even at unmount. internal/mount drops it on
// kernels older than 5.10 and clears the marker a previous volatile mount
// leaves, so the layer can be mounted again.
const volatileOption = "volatile"

// rootfsMounts returns the rootfs mounts of ts. An ephemeral container's
// (--rm) writable overlay is mounted volatile: unmounting a normal overlay
// syncs the whole host filesystem (≈ 1–10 ms on the run --rm path, more on
// a busy host), and its layer is thrown away right after anyway. A host
// crash while it runs may lose what it wrote, which --rm discards too.
func rootfsMounts(ts containers.TaskSpec) []containers.Mount {
	if !ts.Spec.Ephemeral {
		return ts.Rootfs
	}
	out := slices.Clone(ts.Rootfs)
	for i, m := range out {
		if m.Type == "overlay" && slices.ContainsFunc(m.Options, func(o string) bool { return strings.HasPrefix(o, "upperdir=") }) && !slices.Contains(m.Options, volatileOption) {
			out[i].Options = append(slices.Clone(m.Options), volatileOption)
		}
	}
	return out
}
