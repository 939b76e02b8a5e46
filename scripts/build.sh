#!/usr/bin/env bash
# Configures and builds lrmem into ./build (Release, Ninja, ccache when
# present). Extra arguments go to the build, e.g. `scripts/build.sh --target
# lrmem-server`.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" "$@"
