// Command container-apiserver is the container API server:
// `container-apiserver start` serves in the foreground until SIGTERM or
// SIGINT.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth/container/internal/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := daemon.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
