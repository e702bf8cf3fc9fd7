package integration

import (
	"bytes"
	"crypto/sha256"
	"io"
	"strings"
	"testing"
)

// TestContainerRunLargeOutput checks that foreground run relays a large
// output completely and in order, stdout and stderr apart, and passes the
// exit code through.
func TestContainerRunLargeOutput(t *testing.T) {
	requireIntegration(t)
	d, img := startContainersDaemon(t)

	const outSize, errSize = 20 << 20, 3<<20 + 7 // neither ends on a line boundary
	outLine, errLine := strings.Repeat("o", 999), "e"+strings.Repeat("\tE", 40)
	script := "(yes " + outLine + " | head -c 20971520) & (yes '" + errLine + "' | head -c 3145735 >&2); wait; exit 7"
	cmd := d.CLICommand(t, "run", "--rm", "--network", "none", img, "sh", "-c", script)
	outSum, errSum := &summer{h: sha256.New()}, &summer{h: sha256.New()}
	cmd.Stdout, cmd.Stderr = outSum, errSum
	if code := runExit(t, cmd); code != 7 {
		t.Fatalf("run exited %d, want 7", code)
	}
	for _, s := range []struct {
		name string
		got  *summer
		line string
		size int
	}{{"stdout", outSum, outLine, outSize}, {"stderr", errSum, errLine, errSize}} {
		want := sha256.New()
		full := bytes.Repeat([]byte(s.line+"\n"), s.size/(len(s.line)+1)+1)
		want.Write(full[:s.size])
		if s.got.n != int64(s.size) || !bytes.Equal(s.got.h.Sum(nil), want.Sum(nil)) {
			t.Errorf("%s: %d bytes, checksum match %v; want %d bytes of %q lines",
				s.name, s.got.n, bytes.Equal(s.got.h.Sum(nil), want.Sum(nil)), s.size, s.line[:3])
		}
	}
}

// summer counts and hashes what is written to it.
type summer struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (s *summer) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	return s.h.Write(p)
}
