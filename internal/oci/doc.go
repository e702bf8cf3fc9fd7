// Package oci builds a container's OCI runtime spec (config.json) from its
// ContainerSpec — image config plus create options — the way docker does:
// entrypoint and cmd with overrides, env with a default PATH and HOSTNAME,
// the user resolved against the rootfs's /etc/passwd and /etc/group,
// docker's default capabilities, seccomp profile, masked and read-only
// paths, no-new-privileges, resource limits and cgroupsPath
// "/container/<id>".
//
// It also exports the capability rules (Capabilities); capability names
// are checked with opts.NormalizeCap. Ulimits and tmpfs options are checked with internal/opts,
// the same rules the apiserver and the CLI apply before a supervisor is
// spawned. Errors are of kind errdefs.ErrInvalidArgument.
//
// It does not touch the bundle: the caller writes the spec and the files it
// binds (resolv.conf, hosts, hostname) itself.
package oci
