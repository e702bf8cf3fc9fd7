package oci

import (
	"slices"

	"github.com/berth/container/internal/opts"
)

// allCaps are the capabilities Linux knows, in number order.
var allCaps = opts.Capabilities()

// defaultCaps are docker's default capabilities.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// knownCaps is allCaps limited to what the running kernel has.
func knownCaps() []string {
	if n, err := readUint("/proc/sys/kernel/cap_last_cap"); err == nil && int(n)+1 < len(allCaps) {
		return allCaps[:n+1]
	}
	return allCaps
}

// Capabilities applies docker's rules: start from the defaults, drop
// cap_drop (ALL drops everything), then add cap_add (ALL adds everything).
// An add wins over a drop of the same capability.
func Capabilities(add, drop []string) ([]string, error) {
	caps := slices.Clone(defaultCaps)
	var adds []string
	addAll := false
	for _, a := range add {
		n, err := opts.NormalizeCap(a)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			addAll = true
		}
		adds = append(adds, n)
	}
	if addAll {
		caps = slices.Clone(knownCaps())
	}
	for _, d := range drop {
		n, err := opts.NormalizeCap(d)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			if addAll {
				continue
			}
			caps = caps[:0]
			continue
		}
		if !slices.Contains(adds, n) {
			caps = slices.DeleteFunc(caps, func(c string) bool { return c == n })
		}
	}
	for _, a := range adds {
		if a != "ALL" && !slices.Contains(caps, a) {
			caps = append(caps, a)
		}
	}
	return caps, nil
}
