#!/usr/bin/env bash
# Pull + unpack benchmark: `container image pull` against `podman pull` of the
# same ≥ 100 MB multi-layer image from the same in-process registry, median of
# several runs each. Needs root. Installs podman with apt when it is missing.
#
#   bench/pull.sh                       # 5 runs, 4 layers of 32 MB
#   CONTAINER_BENCH_RUNS=7 CONTAINER_BENCH_LAYER_MB=64 bench/pull.sh
set -euo pipefail   # a failing bench fails the script, not only grep
cd "$(dirname "$0")/.."
if ! command -v podman >/dev/null 2>&1; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
fi
make build >/dev/null
CONTAINER_BENCH=1 CONTAINER_BENCH_OUTPUT="$PWD/_output" \
	go test -count=1 -timeout 30m -run '^TestPullBench$' -v ./bench/ | grep -v '^=== RUN'
