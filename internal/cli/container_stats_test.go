package cli

import (
	"testing"
	"time"

	"github.com/berth/container/client"
)

func TestNewStatsRow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		prev, cur client.ContainerStats
		host      uint64
		want      statsRow
	}{
		{
			name: "half a CPU, limited memory",
			prev: client.ContainerStats{CPUUsage: time.Second, ReadAt: t0},
			cur:  client.ContainerStats{CPUUsage: 1500 * time.Millisecond, MemoryUsage: 16 << 20, MemoryLimit: 64 << 20, Pids: 3, ReadAt: t0.Add(time.Second)},
			host: 1 << 30,
			want: statsRow{ID: "c", CPUPercent: 50, MemoryUsage: 16 << 20, MemoryLimit: 64 << 20, MemoryPercent: 25, Pids: 3},
		},
		{
			name: "two CPUs busy, no limit: host memory",
			prev: client.ContainerStats{ReadAt: t0},
			cur:  client.ContainerStats{CPUUsage: time.Second, MemoryUsage: 1 << 20, ReadAt: t0.Add(500 * time.Millisecond)},
			host: 4 << 20,
			want: statsRow{ID: "c", CPUPercent: 200, MemoryUsage: 1 << 20, MemoryLimit: 4 << 20, MemoryPercent: 25},
		},
		{
			name: "one sample only",
			prev: client.ContainerStats{CPUUsage: time.Second, MemoryUsage: 1, ReadAt: t0},
			cur:  client.ContainerStats{CPUUsage: time.Second, MemoryUsage: 1, ReadAt: t0},
			want: statsRow{ID: "c", MemoryUsage: 1},
		},
		{
			name: "cgroup limit above host memory (v1 unlimited)",
			prev: client.ContainerStats{ReadAt: t0},
			cur:  client.ContainerStats{MemoryUsage: 2 << 20, MemoryLimit: 1 << 62, ReadAt: t0.Add(time.Second)},
			host: 8 << 20,
			want: statsRow{ID: "c", MemoryUsage: 2 << 20, MemoryLimit: 8 << 20, MemoryPercent: 25},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newStatsRow("c", tc.prev, tc.cur, tc.host); got != tc.want {
				t.Errorf("newStatsRow = %+v, want %+v", got, tc.want)
			}
		})
	}
}
