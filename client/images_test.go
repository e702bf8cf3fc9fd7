package client

import (
	"path/filepath"
	"testing"

	"github.com/berth/container/errdefs"
)

func TestPullImageBadConcurrency(t *testing.T) {
	c, err := Dial(t.Context(), filepath.Join(t.TempDir(), "nosuch.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{-1, 1 << 32} {
		if _, err := c.PullImage(t.Context(), "busybox", PullOptions{MaxConcurrentDownloads: n}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("PullImage with %d downloads: %v, want ErrInvalidArgument", n, err)
		}
	}
}
