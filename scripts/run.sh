#!/usr/bin/env bash
# The README's main command. On a fresh Debian 12 machine: installs what is
# needed, fetches the MNIST digits, builds the server and the main job,
# starts lrmem-server on a free local port with a scratch data directory,
# runs lrmem-mnist against it with its defaults, prints the table of
# samples needed to reach 98% test accuracy, and stops the server.
#
#   scripts/run.sh [extra lrmem-mnist flags, e.g. --seeds=2]
#
# The curves, the table and the plot land in out/mnist/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/fetch-mnist.sh
scripts/build.sh --target lrmem-server --target lrmemctl --target lrmem-mnist

work=$(mktemp -d -t lrmem-run.XXXXXX)
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT

# Port 0: the server picks a free port and logs it.
build/server/lrmem-server --listen=127.0.0.1:0 --data_dir="$work/data" \
  2>"$work/server.log" &
server_pid=$!

port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' \
    "$work/server.log" | head -n 1)
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "run: lrmem-server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
address="127.0.0.1:$port"
for _ in $(seq 50); do
  build/server/lrmemctl --server="$address" health >/dev/null 2>&1 && break
  sleep 0.1
done
build/server/lrmemctl --server="$address" health
echo "run: lrmem-server serving on $address"

start=$(date +%s)
build/experiments/mnist/lrmem-mnist --server="$address" "$@"
echo "run: lrmem-mnist took $(($(date +%s) - start)) s"
