package integration

import (
	"strings"
	"testing"

	"github.com/berth/container/errdefs"
)

// TestImageDeleteInUse: an image a container was created from cannot be
// deleted without force, through the client and the CLI; once the
// container is gone it can.
func TestImageDeleteInUse(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)
	cli(t, d, 0, "create", "--name", "user", img, "true")
	if _, err := d.Client.DeleteImage(t.Context(), img, false); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("delete of an image in use: %v, want FailedPrecondition", err)
	}
	if _, errOut, code := d.CLI(t, "image", "rm", img); code == 0 || !strings.Contains(errOut, "used by a container") {
		t.Fatalf("image rm of an image in use: exit %d, stderr %q", code, errOut)
	}
	if out := cli(t, d, 0, "image", "ls"); !strings.Contains(out, "busybox") {
		t.Fatalf("image gone after a refused delete: %q", out)
	}
	cli(t, d, 0, "rm", "user")
	cli(t, d, 0, "image", "rm", img)
}
