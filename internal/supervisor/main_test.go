package supervisor

import (
	"bytes"
	"strings"
	"testing"
)

// A hibernation delay that does not parse is a usage error, not a
// supervisor that silently never hibernates.
func TestMainBadHibernateEnv(t *testing.T) {
	t.Setenv(hibernateEnv, "soon")
	var stderr bytes.Buffer
	code := Main([]string{"serve", "--id", "x", "--bundle", "/nonexistent/b", "--state", "/nonexistent/s"}, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), hibernateEnv) || !strings.Contains(stderr.String(), "invalid argument") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
