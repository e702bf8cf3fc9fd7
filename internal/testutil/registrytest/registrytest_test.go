package registrytest

import (
	"errors"
	"net/http"
	"testing"

	"github.com/berth/container/internal/testutil/imagetest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestPushPull(t *testing.T) {
	r := New(t, WithBasicAuth("u", "p"))
	d := r.Push(t, "busybox:latest", imagetest.Busybox(t))
	r.PushIndex(t, "multi:latest", imagetest.MultiPlatform(t))
	ref, _ := name.ParseReference(r.Ref("busybox:latest"))
	desc, err := remote.Get(ref, remote.WithAuth(r.Auth()))
	if err != nil || desc.Digest != d {
		t.Fatalf("get = %v, %v; want %v", desc, err, d)
	}
	_, err = remote.Get(ref, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "u", Password: "bad"})))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("get with bad password: %v, want 401", err)
	}
}
