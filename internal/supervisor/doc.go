// Package supervisor is the per-container supervisor process,
// container-runtime-linux: one per container, started by the apiserver as
//
//	container-runtime-linux serve --id ID --bundle DIR --state DIR --runtime runc [--runtime-root DIR]
//
// serve daemonizes: it re-executes itself in a new session and exits 0 only
// once the child listens on <state>/supervisor.sock (or prints why it could
// not and exits 1). The child is a child subreaper; it mounts the rootfs,
// writes config.json (internal/oci), drives runc (internal/runc), copies the
// container's stdout and stderr into <bundle>/container.log
// (internal/ctrlog), reaps the container and writes <bundle>/exit.json
// (internal/bundle) before any Wait returns. It serves api/runtime/v1 and
// depends on nothing of the apiserver's, so it keeps running when the
// apiserver dies. It logs JSON to <state>/supervisor.log and writes its pid
// to <state>/supervisor.pid.
//
// The same binary is the container's optional init (--init): bind-mounted
// at /sbin/container-init and run as `container-init init -- CMD...`, it
// runs CMD, forwards signals to it, reaps orphans and exits with CMD's
// status.
//
// It never imports the apiserver's domain packages (containers, images,
// metadata).
package supervisor
