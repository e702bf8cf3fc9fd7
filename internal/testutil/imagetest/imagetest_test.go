package imagetest

import (
	"runtime"
	"testing"
)

func TestFixtures(t *testing.T) {
	for name, img := range map[string]interface {
		RawManifest() ([]byte, error)
	}{
		"busybox": Busybox(t), "whiteout": WhiteoutImage(t), "multi": MultiPlatform(t),
	} {
		if _, err := img.RawManifest(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	im, err := MultiPlatform(t).IndexManifest()
	if err != nil || len(im.Manifests) != 2 {
		t.Fatalf("multi-platform index: %v, %+v", err, im)
	}
	cfg, err := WhiteoutImage(t).ConfigFile()
	if err != nil || cfg.Architecture != runtime.GOARCH || len(cfg.RootFS.DiffIDs) != 3 {
		t.Fatalf("whiteout config: %v, %+v", err, cfg)
	}
	for _, k := range HostileKinds {
		if _, err := HostileLayer(t, k, "/tmp/x").Digest(); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
}
