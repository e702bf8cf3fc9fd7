package server

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// RegisterHealth registers the standard grpc.health.v1 service and returns
// it. Call MarkServing once every other service is registered.
func RegisterHealth(s *grpc.Server) *health.Server {
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	return hs
}

// MarkServing sets SERVING for the server as a whole ("") and for every
// service registered on s.
func MarkServing(s *grpc.Server, hs *health.Server) {
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for name := range s.GetServiceInfo() {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
}
