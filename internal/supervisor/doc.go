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
// (internal/bundle; Wait answers as soon as the exit is known, Delete and
// the process's end wait for the file). It serves api/runtime/v1 and
// depends on nothing of the apiserver's, so it keeps running when the
// apiserver dies. It logs JSON to <state>/supervisor.log and writes its pid
// to <state>/supervisor.pid.
//
// Hibernation (hibernate.go): started with --hibernate-after D (the
// apiserver sets CONTAINER_SUPERVISOR_HIBERNATE_AFTER, 5s by default), a supervisor
// whose container runs, with nothing exec'd still running, that has served
// no call but Wait and read no output for D,
// execs container-runtime-monitor (internal/monitor, installed next to
// this binary) in its own process: pid, session, child-subreaper flag, the
// container's init and the handed-over fds (listening socket, output
// pipes or the terminal's pty master, stdin, a pidfd of the init) survive, the rest of its state goes to
// <state>/hibernate.json. Pending Waits end UNAVAILABLE with
// api/runtime/v1's HibernatingTrailer (the init's pid). The monitor logs the
// output with internal/ctrlog and, when a client connects or the init
// exits, execs `serve --resume`, which rebuilds the supervisor (config.json
// for Exec, the log writer at its current size), reaps what exited
// meanwhile and serves the waiting connection. A supervisor costs
// ≈ 4 MiB of PSS awake, ≈ 0.7 MiB hibernated.
//
// The same binary is the container's optional init (--init): bind-mounted
// at /sbin/container-init and run as `container-init init -- CMD...`, it
// runs CMD, forwards signals to it, reaps orphans and exits with CMD's
// status.
//
// It never imports the apiserver's domain packages (containers, images,
// metadata).
package supervisor
