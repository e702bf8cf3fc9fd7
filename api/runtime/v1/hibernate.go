package runtimev1

// A supervisor started with --hibernate-after may hibernate while its
// container runs: it execs a small monitor in its own process (same pid)
// and is back, transparently, at the next connection to its socket or when
// the container exits. A Wait pending at that moment ends with
// UNAVAILABLE and this trailer, whose value is the container init's pid
// (decimal): the caller can wait for that pid (a pidfd; the init stays the
// supervisor's unreaped child until the supervisor is back) and the
// supervisor process, then call Wait again. A call that races with the
// hibernation ends with UNAVAILABLE and this trailer set to "0": retry it.
const HibernatingTrailer = "container-supervisor-hibernating"

// AdoptedTrailer is set ("1") on the response to a Create carrying adopt
// once the idle supervisor has adopted the container: without it the
// supervisor adopted nothing and is still idle.
const AdoptedTrailer = "container-supervisor-adopted"
