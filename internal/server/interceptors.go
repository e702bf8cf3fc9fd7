package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"

	"github.com/berth/container/errdefs"
	"github.com/berth/container/errdefs/errgrpc"
	"github.com/berth/container/internal/logging"
)

// Interceptors returns the server options that install the standard
// interceptor chains, outermost first: errors (maps to gRPC once),
// logging (so refused calls are logged too), peer check, recover.
func Interceptors(log *slog.Logger) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ErrorsUnary, LogUnary(log), PeerUnary, RecoverUnary(log)),
		grpc.ChainStreamInterceptor(ErrorsStream, LogStream(log), PeerStream, RecoverStream(log)),
	}
}

// ErrorsUnary maps the handler's error to a gRPC status by its errdefs kind.
func ErrorsUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, errgrpc.ToGRPC(err)
}

// ErrorsStream maps the stream handler's error to a gRPC status.
func ErrorsStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return errgrpc.ToGRPC(handler(srv, ss))
}

// LogUnary adds request_id and method to the call's context and logs the
// call's start and end at Debug.
func LogUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx = logging.With(ctx, slog.String("request_id", newRequestID()), slog.String("method", info.FullMethod))
		start := time.Now()
		log.DebugContext(ctx, "rpc start")
		resp, err := handler(ctx, req)
		logEnd(ctx, log, start, err)
		return resp, err
	}
}

// LogStream is LogUnary for streams.
func LogStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := logging.With(ss.Context(), slog.String("request_id", newRequestID()), slog.String("method", info.FullMethod))
		start := time.Now()
		log.DebugContext(ctx, "rpc start")
		err := handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
		logEnd(ctx, log, start, err)
		return err
	}
}

func logEnd(ctx context.Context, log *slog.Logger, start time.Time, err error) {
	if err != nil {
		log.DebugContext(ctx, "rpc end", "duration", time.Since(start), "err", err)
		return
	}
	log.DebugContext(ctx, "rpc end", "duration", time.Since(start))
}

// RecoverUnary turns a panic in a handler into an ErrInternal error and
// logs it with its stack at Error (nobody else will see it).
func RecoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(ctx, log, info.FullMethod, r)
			}
		}()
		return handler(ctx, req)
	}
}

// RecoverStream is RecoverUnary for streams.
func RecoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(ss.Context(), log, info.FullMethod, r)
			}
		}()
		return handler(srv, ss)
	}
}

func recovered(ctx context.Context, log *slog.Logger, method string, r any) error {
	log.ErrorContext(ctx, "rpc panic", "method", method, "err", fmt.Sprint(r), "stack", string(debug.Stack()))
	return fmt.Errorf("%s: panic: %v: %w", method, r, errdefs.ErrInternal)
}

// contextStream replaces a stream's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
