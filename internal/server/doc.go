// Package server holds the apiserver's gRPC harnesses and interceptors.
//
// A harness (system.go, plugins.go, images.go, containers.go) is one file
// per service exporting RegisterX(s *grpc.Server, ...). It validates the
// request, converts it (the xFromProto/xToProto helpers of its own file)
// and delegates to a domain service; it returns domain errors unchanged.
// The interceptors in interceptors.go map errors to gRPC once
// (errgrpc.ToGRPC), log each call once at Debug with request_id and
// method, turn panics into Internal errors, and refuse every call from a
// peer that the credentials check in peer.go did not admit. output.go
// serves the socket's second protocol (package outfd) with the same peer
// check and the same logging.
package server
