// Package plugins finds the helper plugins installed next to the apiserver,
// parses and validates their config.toml, and boots and supervises the ones
// that run as long-lived children of the apiserver.
//
// A plugin is a directory <name>/ holding bin/<name> and config.toml, under
// <install>/libexec/container/plugins/ (origin "builtin") or
// <install>/libexec/container-plugins/ (origin "user"). A user plugin
// shadows a built-in of the same name; the shadowed directory is reported in
// Plugin.Shadows. A plugin whose config.toml has no [servicesConfig] table is
// a CLI plugin, run by the CLI as `container <name> ARGS...`.
//
// Discover is pure: it reads the two directories and never starts a
// process, so the CLI can use it to find CLI plugins. A plugin that cannot be
// used (unreadable or unknown keys in config.toml, missing abstract, unknown
// service type, bin/<name> missing or not executable, invalid name) is still
// returned, with Broken set and the reason in Error; it never hides the
// others.
//
// Manager is the apiserver's side. Run boots every core or auxiliary plugin
// with loadAtBoot = true as a supervised child: stdout and stderr appended
// to <log-root>/<plugin>.log, restarted with exponential backoff when it
// exits, stopped with SIGTERM (then SIGKILL) when Run's context ends.
// StartInstance and StopInstance run further supervised instances of a
// plugin (one per network for network plugins) with the same machinery.
// Runtime plugins are not supervised here: Lookup hands their binary to
// internal/runtime, which spawns one per container, detached, because they
// must outlive the apiserver.
//
// Process lifetime. Every supervised child runs in its own process group
// (so a terminal's Ctrl-C reaches only the apiserver, and stopping a plugin
// also stops what it forked) and has Pdeathsig = SIGTERM, so an apiserver
// killed with SIGKILL does not leave orphaned core or network plugins
// behind: a new apiserver boots fresh ones. Linux delivers Pdeathsig when
// the thread that forked the child exits, not the process, so each
// supervising goroutine locks its OS thread for its whole life and forks
// from it; the thread ends only after the child has been reaped. Runtime
// plugins deliberately get no Pdeathsig: they keep containers alive across
// apiserver restarts.
//
// What it does not do: it does not watch the directories for changes
// (Restart re-reads one plugin from disk), it has no on-demand activation
// (runAtLoad is parsed and reported but every booted plugin starts at once),
// and it does not talk to plugins over any protocol.
package plugins
