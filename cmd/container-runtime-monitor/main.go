// Command container-runtime-monitor is the hibernated form of a
// container's supervisor (see internal/monitor): exec'd by
// container-runtime-linux in its own process, it only logs the container's
// output and execs the supervisor back when a client connects or the
// container exits.
package main

import (
	"os"

	"github.com/berth/container/internal/monitor"
)

func main() {
	os.Exit(monitor.Main(os.Args[1:], os.Stderr))
}
