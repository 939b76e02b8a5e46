#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds lrmem and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh --target core_benchmark
build/bench/core_benchmark --benchmark_min_time=0.2
