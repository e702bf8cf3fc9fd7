// Command container-runtime-linux is the per-container supervisor (a
// runtime plugin) and the optional container init.
package main

import (
	"os"

	"github.com/berth/container/internal/supervisor"
)

func main() {
	os.Exit(supervisor.Main(os.Args[1:], os.Stderr))
}
