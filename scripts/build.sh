#!/usr/bin/env bash
# Configures and builds lrmem into ./build (Release, Ninja, ccache when
# present). Extra arguments go to the build, e.g. `scripts/build.sh --target
# lrmem-server`.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
# ccache keys on paths relative to the checkout, so that two clones (a
# developer's and CI's, say) share one cache.
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" "$@"
