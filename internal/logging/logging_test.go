package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/berth/container/errdefs"
)

func TestWithAddsContextAttrs(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug)
	ctx := With(t.Context(), slog.String("request_id", "r1"))
	ctx2 := With(ctx, slog.String("method", "/x.Y/Z"))
	log.With("component", "test").InfoContext(ctx2, "hello")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("decode %q: %v", buf.String(), err)
	}
	for k, want := range map[string]string{"request_id": "r1", "method": "/x.Y/Z", "component": "test", "msg": "hello"} {
		if rec[k] != want {
			t.Errorf("record[%q] = %v, want %q", k, rec[k], want)
		}
	}
	// The parent context must not see the child's attributes.
	if got := Attrs(ctx); len(got) != 1 {
		t.Errorf("parent attrs = %v, want 1", got)
	}
}

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want slog.Level
		err  error
	}{
		{in: "debug", want: slog.LevelDebug},
		{in: "INFO", want: slog.LevelInfo},
		{in: "warning", want: slog.LevelWarn},
		{in: "error", want: slog.LevelError},
		{in: "loud", err: errdefs.ErrInvalidArgument},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLevel(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseLevel(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Errorf("ParseLevel(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
