#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds everything and runs every test
# through CTest. Usage: scripts/test.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh
# Test cases share the two cores with the servers they start; two at a time
# keeps the suite fast without starving them.
ctest --test-dir build --output-on-failure --timeout 600 -j2 "$@"
