package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupDirs returns the container's cgroup directories that exist, on
// cgroup v1 (one per hierarchy) and v2 (unified or hybrid).
func cgroupDirs(id string) []string {
	var out []string
	rel := filepath.Join("container", id)
	if fi, err := os.Stat(filepath.Join("/sys/fs/cgroup", rel)); err == nil && fi.IsDir() {
		out = append(out, filepath.Join("/sys/fs/cgroup", rel))
	}
	// One listing of the hierarchies and a stat each (filepath.Glob would
	// list every hierarchy's root and container/ dir as well).
	hs, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hs {
		// Hierarchies are directories; files (the v2 root's cgroup.*,
		// memory.*, …) and v1's alias symlinks (cpu -> cpu,cpuacct)
		// are skipped without a stat.
		if !h.IsDir() {
			continue
		}
		m := filepath.Join("/sys/fs/cgroup", h.Name(), rel)
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			out = append(out, m)
		}
	}
	return out
}

// rootfsMounted reports whether <bundle>/rootfs is a mount point.
func (r *Runtime) rootfsMounted(id string) bool {
	rootfs := filepath.Join(r.BundleDir(id), "rootfs")
	var st, parent unix.Stat_t
	if unix.Stat(rootfs, &st) != nil || unix.Stat(r.BundleDir(id), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev || st.Ino == parent.Ino
}

// checkCleanup returns an error when the container left a cgroup or a
// rootfs mount behind.
func (r *Runtime) checkCleanup(id string) error {
	if dirs := cgroupDirs(id); len(dirs) > 0 {
		return fmt.Errorf("cgroups of %q left behind: %v", id, dirs)
	}
	if r.rootfsMounted(id) {
		return fmt.Errorf("rootfs of %q still mounted", id)
	}
	return nil
}

// cleanup removes what a dead supervisor left: the supervisor process if
// it lingers, the runc state, every process in the container's cgroups,
// the cgroups themselves, and the rootfs mount.
func (r *Runtime) cleanup(ctx context.Context, id string) error {
	var errs []error
	r.killSupervisor(id)
	if _, err := os.Stat(filepath.Join(r.runcRoot(), id)); err == nil {
		cmd := exec.CommandContext(ctx, r.oci, "--root", r.runcRoot(), "delete", "--force", id)
		if out, err := cmd.CombinedOutput(); err != nil && !bytes.Contains(out, []byte("does not exist")) {
			r.log.WarnContext(ctx, "runc delete", "container", id, "err", fmt.Errorf("%w: %s", err, bytes.TrimSpace(out)))
		}
		_ = os.RemoveAll(filepath.Join(r.runcRoot(), id))
	}
	for _, dir := range cgroupDirs(id) {
		if err := removeCgroup(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	rootfs := filepath.Join(r.BundleDir(id), "rootfs")
	for i := 0; i < 16 && r.rootfsMounted(id); i++ {
		if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount rootfs of %q: %w", id, err))
			break
		}
	}
	return errors.Join(errs...)
}

// killSupervisor SIGKILLs a supervisor of id that is still alive but no
// longer answers, and waits (bounded) until it is gone.
func (r *Runtime) killSupervisor(id string) {
	proc := r.openSupervisor(id)
	if proc == nil {
		return // gone, or the pid was reused
	}
	defer proc.close()
	if err := proc.stop(0); err != nil {
		r.log.Warn("kill supervisor", "container", id, "err", err)
	}
}

// removeCgroup kills every process in dir (and its children) and removes it.
func removeCgroup(ctx context.Context, dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Children first, deepest last in the walk.
		var dirs []string
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		// Freeze nothing: SIGKILL is enough for processes that cannot escape.
		for _, d := range dirs {
			data, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		var err error
		for i := len(dirs) - 1; i >= 0; i-- {
			if rerr := os.Remove(dirs[i]); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = rerr
			}
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
