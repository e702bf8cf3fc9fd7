package runtime

import (
	"slices"
	"testing"

	"github.com/berth/container/internal/containers"
)

func TestRootfsMounts(t *testing.T) {
	overlay := containers.Mount{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l", "upperdir=/u", "workdir=/w"}}
	readOnly := containers.Mount{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l:/m"}}
	bind := containers.Mount{Type: "bind", Source: "/s", Options: []string{"rbind", "rw"}}
	for _, tc := range []struct {
		name      string
		ephemeral bool
		in        containers.Mount
		volatile  bool
	}{
		{name: "ephemeral overlay", ephemeral: true, in: overlay, volatile: true},
		{name: "kept overlay", in: overlay},
		{name: "ephemeral without upper", ephemeral: true, in: readOnly},
		{name: "ephemeral bind", ephemeral: true, in: bind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := containers.TaskSpec{Spec: containers.Spec{Ephemeral: tc.ephemeral}, Rootfs: []containers.Mount{tc.in}}
			got := rootfsMounts(ts)
			if v := slices.Contains(got[0].Options, volatileOption); v != tc.volatile {
				t.Errorf("options %v: volatile = %v, want %v", got[0].Options, v, tc.volatile)
			}
			if slices.Contains(ts.Rootfs[0].Options, volatileOption) {
				t.Errorf("input mounts modified: %v", ts.Rootfs[0].Options)
			}
		})
	}
}
