package client

import (
	"context"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	systemv1 "github.com/berth/container/api/services/system/v1"
)

// Status is what the apiserver reports about itself.
type Status struct {
	Status      string // "running"
	AppRoot     string
	InstallRoot string
	LogRoot     string
	StateRoot   string
	Version     Version
	PID         int
	StartedAt   time.Time
}

// Version is the apiserver's build.
type Version struct {
	Version   string
	Commit    string
	BuildDate string
	AppName   string
	GoVersion string
}

// Property is one effective configuration value.
type Property struct {
	Key         string // dotted, e.g. "runtime.default"
	Value       string // rendered as TOML would write it
	Source      string // "default" or the path of a config file
	Description string
}

// Properties is the effective configuration and the keys the server did
// not understand.
type Properties struct {
	Properties  []Property
	UnknownKeys []string
}

// HealthStatus is the standard gRPC health state of a service.
type HealthStatus string

// The health states.
const (
	HealthUnknown    HealthStatus = "UNKNOWN"
	HealthServing    HealthStatus = "SERVING"
	HealthNotServing HealthStatus = "NOT_SERVING"
)

// Status reports the apiserver's state and roots.
func (c *Client) Status(ctx context.Context) (Status, error) {
	resp, err := systemv1.NewSystemClient(c.conn).Status(ctx, &systemv1.StatusRequest{})
	if err != nil {
		return Status{}, err
	}
	st := Status{
		Status:      resp.GetStatus(),
		AppRoot:     resp.GetAppRoot(),
		InstallRoot: resp.GetInstallRoot(),
		LogRoot:     resp.GetLogRoot(),
		StateRoot:   resp.GetStateRoot(),
		Version:     versionFromProto(resp.GetVersion()),
		PID:         int(resp.GetPid()),
		StartedAt:   containerTime(resp.GetStartedAt()),
	}
	return st, nil
}

// Version reports the apiserver's build.
func (c *Client) Version(ctx context.Context) (Version, error) {
	resp, err := systemv1.NewSystemClient(c.conn).Version(ctx, &systemv1.VersionRequest{})
	if err != nil {
		return Version{}, err
	}
	return versionFromProto(resp), nil
}

// Properties returns the apiserver's effective configuration.
func (c *Client) Properties(ctx context.Context) (Properties, error) {
	resp, err := systemv1.NewSystemClient(c.conn).ListProperties(ctx, &systemv1.ListPropertiesRequest{})
	if err != nil {
		return Properties{}, err
	}
	out := Properties{UnknownKeys: resp.GetUnknownKeys()}
	for _, p := range resp.GetProperties() {
		out.Properties = append(out.Properties, Property{
			Key: p.GetKey(), Value: p.GetValue(), Source: p.GetSource(), Description: p.GetDescription(),
		})
	}
	return out, nil
}

// Health asks the standard gRPC health service about service ("" for the
// server as a whole).
func (c *Client) Health(ctx context.Context, service string) (HealthStatus, error) {
	resp, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return HealthUnknown, err
	}
	switch resp.GetStatus() {
	case healthpb.HealthCheckResponse_SERVING:
		return HealthServing, nil
	case healthpb.HealthCheckResponse_NOT_SERVING:
		return HealthNotServing, nil
	}
	return HealthUnknown, nil
}

func versionFromProto(v *systemv1.VersionResponse) Version {
	return Version{
		Version:   v.GetVersion(),
		Commit:    v.GetCommit(),
		BuildDate: v.GetBuildDate(),
		AppName:   v.GetAppName(),
		GoVersion: v.GetGoVersion(),
	}
}
