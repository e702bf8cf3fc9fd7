package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/containerd/console"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth/container/client"
	"github.com/berth/container/errdefs"
)

// statsRow is one line of `container stats`.
type statsRow struct {
	ID            string  `json:"id"`
	CPUPercent    float64 `json:"cpuPercent"`
	MemoryUsage   uint64  `json:"memoryUsage"`
	MemoryLimit   uint64  `json:"memoryLimit"`
	MemoryPercent float64 `json:"memoryPercent"`
	Pids          uint64  `json:"pids"`
}

var statsColumns = []column[statsRow]{
	{Header: "ID", Value: func(r statsRow) string { return shortID(r.ID) }},
	{Header: "CPU %", Value: func(r statsRow) string { return strconv.FormatFloat(r.CPUPercent, 'f', 2, 64) + "%" }},
	{Header: "MEM USAGE / LIMIT", Value: func(r statsRow) string {
		return humanBytes(int64(min(r.MemoryUsage, 1<<62))) + " / " + humanBytes(int64(min(r.MemoryLimit, 1<<62)))
	}},
	{Header: "MEM %", Value: func(r statsRow) string { return strconv.FormatFloat(r.MemoryPercent, 'f', 2, 64) + "%" }},
	{Header: "PIDS", Value: func(r statsRow) string { return strconv.FormatUint(r.Pids, 10) }},
}

// shortID shortens a generated 64-hex id to 12 characters, as list does.
func shortID(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}

// newStatsRow computes a row from two samples of one container: CPU % is
// the CPU time used between them over the wall time between them (100% is
// one CPU busy), memory % is usage over the limit, or over hostMemory when
// the container has none.
func newStatsRow(id string, prev, cur client.ContainerStats, hostMemory uint64) statsRow {
	r := statsRow{ID: id, MemoryUsage: cur.MemoryUsage, MemoryLimit: cur.MemoryLimit, Pids: cur.Pids}
	if r.MemoryLimit == 0 || (hostMemory > 0 && r.MemoryLimit > hostMemory) {
		r.MemoryLimit = hostMemory
	}
	if r.MemoryLimit > 0 {
		r.MemoryPercent = float64(r.MemoryUsage) / float64(r.MemoryLimit) * 100
	}
	wall := cur.ReadAt.Sub(prev.ReadAt)
	if cpu := cur.CPUUsage - prev.CPUUsage; wall > 0 && cpu > 0 {
		r.CPUPercent = float64(cpu) / float64(wall) * 100
	}
	return r
}

func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

func (a *App) newContainerStatsCommand() *cobra.Command {
	var noStream bool
	var f formatFlag
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [ID...]",
		Short: "Show containers' resource usage",
		Long: "Stats shows CPU, memory and process counts of running containers (all of them when no ID\n" +
			"is given), refreshed every second until interrupted, or once with --no-stream.",
		GroupID: groupContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(f.format); err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := a.Client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			return a.stats(ctx, c, args, noStream, f.format)
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print the usage once and exit")
	f.register(cmd)
	return cmd
}

func (a *App) stats(ctx context.Context, c *client.Client, refs []string, noStream bool, format string) error {
	mem := hostMemory()
	// Named containers are resolved once; without names, the running set is
	// listed again at every refresh.
	var ids []string
	for _, ref := range refs {
		ctr, err := c.GetContainer(ctx, ref)
		if err != nil {
			return err
		}
		ids = append(ids, ctr.ID)
	}
	current := func() ([]string, error) {
		if len(refs) > 0 {
			return ids, nil
		}
		cs, err := c.ListContainers(ctx, false)
		if err != nil {
			return nil, err
		}
		out := make([]string, 0, len(cs))
		for _, ctr := range cs {
			out = append(out, ctr.ID)
		}
		return out, nil
	}
	// sample reads every container; one that stopped meanwhile is skipped,
	// unless it was named and this is the only sample to be shown.
	sample := func(ids []string, strict bool) (map[string]client.ContainerStats, error) {
		out := map[string]client.ContainerStats{}
		for _, id := range ids {
			st, err := c.ContainerStats(ctx, id)
			if err != nil {
				if !strict && (errdefs.IsFailedPrecondition(err) || errdefs.IsNotFound(err)) {
					continue
				}
				return nil, err
			}
			out[id] = st
		}
		return out, nil
	}
	clear := false
	if f, ok := a.Stdout.(*os.File); ok && format == "table" && !noStream {
		if _, err := console.ConsoleFromFile(f); err == nil {
			clear = true
		}
	}
	interval := time.Second
	if noStream {
		interval = 500 * time.Millisecond // enough for a CPU figure
	}
	cur, err := current()
	if err != nil {
		return err
	}
	prev, err := sample(cur, noStream && len(refs) > 0)
	if err != nil {
		return err
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		next, err := sample(cur, noStream && len(refs) > 0)
		if err != nil {
			return err
		}
		rows := make([]statsRow, 0, len(cur))
		for _, id := range cur {
			s, ok := next[id]
			if !ok {
				continue
			}
			p, ok := prev[id]
			if !ok {
				p = s
			}
			rows = append(rows, newStatsRow(id, p, s, mem))
		}
		if clear {
			fmt.Fprint(a.Stdout, "\033[2J\033[H")
		}
		if err := printList(a.Stdout, listFlags{format: format}, rows, statsColumns, func(r statsRow) string { return r.ID }); err != nil {
			return err
		}
		if noStream {
			return nil
		}
		if len(refs) > 0 && len(next) == 0 {
			return errors.New("no named container is running any more")
		}
		if cur, err = current(); err != nil {
			return err
		}
		prev = next
		timer.Reset(interval)
	}
}
