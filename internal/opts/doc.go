// Package opts parses and checks user-facing option values: sizes
// ("64m", "1.5g"), signals ("TERM", "SIGKILL", "9", "RTMIN+1"), ulimits
// ("nofile=1024:2048"), tmpfs specs ("/run:size=64m,mode=1777") and
// capability names ("net_admin", "CAP_SYS_ADMIN", "ALL").
//
// The CLI uses it to turn flags into client types, the apiserver to reject
// bad input before it spawns a supervisor, and internal/oci to build the
// runtime spec, so all three accept exactly the same values. Every parse
// or validation error is of kind errdefs.ErrInvalidArgument.
//
// It is a leaf: it imports only errdefs and x/sys/unix, and knows nothing
// of containers, clients or runtime specs.
package opts
