#!/usr/bin/env bash
# Container hot-path benchmark (issue #4): run --rm true, 50 detached
# containers two at a time, supervisor/apiserver memory, apiserver start-up,
# 100 MiB of stdout and its read-back — against a raw runc bundle of the same
# rootfs, podman and docker, engines interleaved, medians. Needs root. Installs podman
# and docker.io with apt when missing. Prints a table; a copy goes to bench/results/
#
#   bench/containers.sh                          # 20 runs, 5 rounds of 50
#   CONTAINER_BENCH_RUNS=30 CONTAINER_BENCH_BATCH_RUNS=10 bench/containers.sh
set -euo pipefail   # a failing bench fails the script, not only grep
cd "$(dirname "$0")/.."
missing=""
command -v podman >/dev/null 2>&1 || missing="podman"
command -v dockerd >/dev/null 2>&1 || missing="${missing} docker.io"
if [ -n "${missing}" ]; then
	# Installing docker.io starts no daemon here (no systemd as PID 1; the
	# bench starts its own private dockerd).
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing} >/dev/null || true
fi
make build >/dev/null
CONTAINER_BENCH=1 CONTAINER_BENCH_OUTPUT="$PWD/_output" \
	go test -count=1 -timeout 60m -run '^TestContainersBench$' -v ./bench/ | grep -v '^=== RUN'
