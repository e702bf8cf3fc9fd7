package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const cgroupRoot = "/sys/fs/cgroup"

// cgroup2 reports a pure cgroup v2 host (the unified hierarchy at the root).
func cgroup2() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// swapAccounting reports whether a swap limit can be set.
func swapAccounting(v2 bool) bool {
	p := filepath.Join(cgroupRoot, "memory", "memory.memsw.limit_in_bytes")
	if v2 {
		p = filepath.Join(cgroupRoot, "memory.swap.max")
		if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.subtree_control")); err == nil {
			// memory.swap.max exists only below the root; look for the controller.
			data, _ := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
			return strings.Contains(string(data), "memory") && swapEnabled()
		}
	}
	_, err := os.Stat(p)
	return err == nil
}

func swapEnabled() bool {
	data, err := os.ReadFile("/proc/swaps")
	return err == nil && strings.Count(string(data), "\n") > 1
}

// cgroupDirs returns the container's cgroup directories: the v2 one (pure
// or hybrid) and one per v1 hierarchy.
func cgroupDirs(id string) []string {
	var out []string
	rel := filepath.Join("container", id)
	if fi, err := os.Stat(filepath.Join(cgroupRoot, rel)); err == nil && fi.IsDir() {
		out = append(out, filepath.Join(cgroupRoot, rel))
	}
	matches, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", rel))
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			out = append(out, m)
		}
	}
	return out
}

// oomKilled reports whether the OOM killer fired in the container's cgroup:
// the oom_kill counter of v2 memory.events or v1 memory.oom_control.
func oomKilled(id string) bool {
	for _, p := range []string{
		filepath.Join(cgroupRoot, "container", id, "memory.events"),
		filepath.Join(cgroupRoot, "unified", "container", id, "memory.events"),
		filepath.Join(cgroupRoot, "memory", "container", id, "memory.oom_control"),
	} {
		if n, ok := counter(p, "oom_kill"); ok && n > 0 {
			return true
		}
	}
	return false
}

func counter(path, key string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// removeCgroups removes whatever cgroup directories of the container the
// runtime left (they must be empty of processes by then).
func removeCgroups(id string) error {
	var errs []error
	for _, dir := range cgroupDirs(id) {
		var err error
		for range 50 {
			if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			if !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %q: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}
