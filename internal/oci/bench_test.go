package oci

import (
	"encoding/json"
	"testing"

	runtimev1 "github.com/berth/container/api/runtime/v1"
)

func BenchmarkBuild(b *testing.B) {
	root := b.TempDir()
	for b.Loop() {
		s, err := Build(Input{ID: "bench", Spec: &runtimev1.ContainerSpec{Args: []string{"true"}}, Rootfs: root})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}
