// Package oci builds a container's OCI runtime spec (config.json) from its
// ContainerSpec — image config plus create options — the way docker does:
// entrypoint and cmd with overrides, env with a default PATH and HOSTNAME,
// the user resolved against the rootfs's /etc/passwd and /etc/group,
// docker's default capabilities, seccomp profile, masked and read-only
// paths, no-new-privileges, resource limits and cgroupsPath
// "/container/<id>".
//
// It also exports the parsers and validators for the create options it
// consumes (ParseUlimit, NormalizeCap, Capabilities, ParseTmpfs, ParseSize,
// ParseSignal), so the apiserver can reject bad input before it spawns a
// supervisor. Parse errors are of kind errdefs.ErrInvalidArgument.
//
// It does not touch the bundle: the caller writes the spec and the files it
// binds (resolv.conf, hosts, hostname) itself.
package oci
