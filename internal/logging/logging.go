// Package logging builds the daemon's slog handlers and carries
// request-scoped attributes in a context.
//
// main builds one *slog.Logger with New and passes it down; library
// packages never use the slog default logger. Attributes added with With
// ride in the context and are appended to every record logged with that
// context by a logger whose handler is a Handler.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/berth/container/errdefs"
)

type attrsKey struct{}

// With returns a copy of ctx whose log records will carry attrs.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	return context.WithValue(ctx, attrsKey{}, append(slices.Clip(prev), attrs...))
}

// Attrs returns the attributes stored in ctx by With.
func Attrs(ctx context.Context) []slog.Attr {
	attrs, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	return slices.Clone(attrs)
}

// Handler adds the attributes stored by With to every record.
type Handler struct{ slog.Handler }

// Handle adds the context's attributes to r and passes it on.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if attrs, ok := ctx.Value(attrsKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the new handler.
func (h Handler) WithAttrs(as []slog.Attr) slog.Handler { return Handler{h.Handler.WithAttrs(as)} }

// WithGroup keeps the wrapper around the new handler.
func (h Handler) WithGroup(name string) slog.Handler { return Handler{h.Handler.WithGroup(name)} }

// New returns a logger writing JSON records at level or above to w, with
// the context attributes of With added to each record.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(Handler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// ParseLevel parses "debug", "info", "warn" (or "warning") and "error",
// case-insensitively.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q (want debug, info, warn or error): %w", s, errdefs.ErrInvalidArgument)
}

// Discard returns a logger that drops every record.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
