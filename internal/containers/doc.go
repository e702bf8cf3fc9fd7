// Package containers owns the container lifecycle: create, start, stop,
// kill, delete, restart policies, and the state machine that orders them.
//
// It does not know about gRPC, bbolt or runc. It reaches storage, images,
// snapshots and the per-container supervisor through the small interfaces
// in deps.go; internal/daemon plugs in internal/metadata, internal/images,
// internal/snapshots and internal/runtime.
//
// A container's id is its --name when one is given, otherwise a generated
// 64-hex id; requests may name a container by id or by a unique id prefix.
//
// Every exported method is safe for concurrent use. Operations on the same
// container are serialized by a lock per id; operations on different
// containers are not. A Create that fails at any step leaves nothing behind.
package containers
