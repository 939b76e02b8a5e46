#!/bin/sh
# Installs lrmem's client package from a build tree into a scratch prefix,
# then configures, builds and runs a separate project that finds it with
# find_package(lrmem) and links lrmem::client.
#
# Usage: client_install_test.sh BUILD_DIR CONSUMER_SOURCE_DIR
set -eu

build_dir=$1
consumer_dir=$2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lrmem-install-XXXXXX")
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build_dir" --prefix "$scratch/prefix" --component client
cmake -S "$consumer_dir" -B "$scratch/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$scratch/prefix"
cmake --build "$scratch/build" -j 2
"$scratch/build/consumer" "$scratch/data"
