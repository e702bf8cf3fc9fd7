package plugins

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Supervised instances run in their own process group, and the group id
// (the first process's pid) is recorded in <state>/plugins/<file>.pid while
// the instance runs. Pdeathsig takes the plugin's first process down with
// an apiserver that is killed outright, but not what that process forked;
// the next Run kills those leftovers before booting anything.

// pidDir is where the process group ids of running instances are recorded;
// "" when the manager has no state root.
func (m *Manager) pidDir() string {
	if m.stateRoot == "" {
		return ""
	}
	return filepath.Join(m.stateRoot, "plugins")
}

// pidFile is the record of instance id of plugin name.
func (m *Manager) pidFile(name, id string) string {
	if m.pidDir() == "" {
		return ""
	}
	base := name
	if id != "" {
		base += "-" + id
	}
	return filepath.Join(m.pidDir(), base+".pid")
}

// recordPID writes pid to path. It is best effort: without the record only
// the cleanup after a crash is lost.
func (m *Manager) recordPID(path string, pid int) {
	if path == "" {
		return
	}
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if err == nil {
		err = os.WriteFile(path, fmt.Appendf(nil, "%d\n", pid), 0o644)
	}
	if err != nil {
		m.log.Warn("record plugin pid", "path", path, "err", err)
	}
}

func removePID(path string) {
	if path != "" {
		_ = os.Remove(path)
	}
}

// killStale kills the processes left in the process groups recorded by a
// previous apiserver that did not stop its plugins. Only processes that
// carry this manager's CONTAINER_STATE_ROOT in their environment are
// killed, so a recycled group id never hits a stranger.
func (m *Manager) killStale() {
	dir := m.pidDir()
	if dir == "" {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.log.Warn("read plugin pid records", "path", dir, "err", err)
		}
		return
	}
	marker := []byte("CONTAINER_STATE_ROOT=" + m.stateRoot + "\x00")
	var groups map[int][]int // read from /proc once, at the first record
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".pid") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, _ := os.ReadFile(path)
		pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pgid > 1 {
			if groups == nil {
				groups = processGroups()
			}
			for _, pid := range groups[pgid] {
				env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
				if err != nil || !bytes.Contains(env, marker) {
					continue
				}
				if unix.Kill(pid, unix.SIGKILL) == nil {
					m.log.Warn("killed plugin process left by a previous apiserver",
						"plugin", strings.TrimSuffix(e.Name(), ".pid"), "pid", pid)
				}
			}
		}
		_ = os.Remove(path)
	}
}

// processGroups lists the live (non-zombie) processes by process group id.
func processGroups() map[int][]int {
	ents, _ := os.ReadDir("/proc")
	groups := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		i := bytes.LastIndexByte(stat, ')')
		if err != nil || i < 0 {
			continue
		}
		// After "(comm)": state ppid pgrp ...
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil {
			groups[g] = append(groups[g], pid)
		}
	}
	return groups
}
