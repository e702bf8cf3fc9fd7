#!/bin/sh
# Every benchmark (make bench): the container hot paths, then pull + unpack.
# Each prints its table; results also go to bench/results/.
set -eu
cd "$(dirname "$0")"
./containers.sh
./pull.sh
