package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTailFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apiserver.log")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		from int64
		n    int
		want string
	}{
		{"last two", 0, 2, "b\nc"},
		{"from offset", 2, 10, "b\nc"},
		// The log was truncated after the offset was taken.
		{"offset past the end", 1 << 20, 10, "a\nb\nc"},
		{"negative offset", -5, 1, "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tailFile(path, tc.from, tc.n); got != tc.want {
				t.Errorf("tailFile(from %d, n %d) = %q, want %q", tc.from, tc.n, got, tc.want)
			}
		})
	}
	if got := tailFile(filepath.Join(t.TempDir(), "nosuch"), 0, 5); got != "" {
		t.Errorf("tailFile of a missing file = %q", got)
	}
}
