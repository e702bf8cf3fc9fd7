// Package version holds the build's version, commit and date, set at link
// time by the Makefile (-X), and the product's app name.
package version

import "runtime"

// Set with -ldflags -X by the Makefile.
var (
	Version   = "0.0.0-dev"
	Commit    = "unknown"
	BuildDate = "unknown"
)

// AppName is the product's name as reported by Status and Version.
const AppName = "container"

// GoVersion is the Go toolchain the binary was built with.
func GoVersion() string { return runtime.Version() }
