package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	// One listing of the hierarchies and a stat each: filepath.Glob of
	// <root>/*/container/<id> would list every hierarchy's root and its
	// container/ dir too (≈ 25 cgroupfs listings on v1).
	hs, _ := os.ReadDir(cgroupRoot)
	for _, h := range hs {
		// Hierarchies are directories; files (the v2 root's cgroup.*,
		// memory.*, …) and v1's alias symlinks (cpu -> cpu,cpuacct)
		// are skipped without a stat.
		if !h.IsDir() {
			continue
		}
		m := filepath.Join(cgroupRoot, h.Name(), rel)
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
	dirs := cgroupDirs(id)
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, dir := range dirs {
		// One hierarchy's rmdir does not wait for another's (≈ 0.1 ms
		// each, a dozen on v1).
		wg.Go(func() {
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
				errs[i] = fmt.Errorf("remove cgroup %q: %w", dir, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stats is a cgroup usage sample.
type stats struct {
	cpuNs, memUsage, memLimit, pids uint64
}

// readStats reads the container's usage from whichever hierarchy has it:
// pure v2 (cpu.stat, memory.current, memory.max, pids.current) or v1
// (cpuacct.usage, memory.usage_in_bytes, memory.limit_in_bytes, pids.current).
func readStats(id string) (stats, error) {
	rel := filepath.Join("container", id)
	if cgroup2() {
		dir := filepath.Join(cgroupRoot, rel)
		if _, err := os.Stat(dir); err != nil {
			return stats{}, fmt.Errorf("cgroup of %q: %w", id, err)
		}
		var st stats
		if us, ok := counter(filepath.Join(dir, "cpu.stat"), "usage_usec"); ok {
			st.cpuNs = us * 1000
		}
		st.memUsage, _ = readUintFile(filepath.Join(dir, "memory.current"))
		st.memLimit, _ = readUintFile(filepath.Join(dir, "memory.max")) // "max" reads as 0
		st.pids, _ = readUintFile(filepath.Join(dir, "pids.current"))
		return st, nil
	}
	var st stats
	var err error
	if st.cpuNs, err = readUintFile(filepath.Join(cgroupRoot, "cpuacct", rel, "cpuacct.usage")); err != nil {
		return stats{}, fmt.Errorf("cgroup of %q: %w", id, err)
	}
	st.memUsage, _ = readUintFile(filepath.Join(cgroupRoot, "memory", rel, "memory.usage_in_bytes"))
	st.memLimit, _ = readUintFile(filepath.Join(cgroupRoot, "memory", rel, "memory.limit_in_bytes"))
	if st.memLimit >= 1<<62 {
		st.memLimit = 0 // v1 writes "unlimited" as a page-rounded max int64
	}
	st.pids, _ = readUintFile(filepath.Join(cgroupRoot, "pids", rel, "pids.current"))
	return st, nil
}

func readUintFile(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}
