// Command container is the command-line client of container-apiserver.
package main

import (
	"context"
	"os"

	"github.com/berth/container/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
