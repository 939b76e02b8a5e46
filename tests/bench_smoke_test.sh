#!/bin/sh
# Runs every lrmem-bench scenario at a tiny size, so that the tool cannot
# rot. Checks that it finishes, that the JSON holds every scenario's table
# and that no concurrent learner saw an error; the figures themselves are
# not judged.
#
# Usage: bench_smoke_test.sh LRMEM_BENCH LRMEM_SERVER OUT_DIR SCENARIOS
set -eu

bench=$1
server=$2
out=$3
scenarios=$4

mkdir -p "$out"
json=$out/bench.json
rm -f "$json"

# Payload groups of 1,000 floats and messages of at most 2,000: the 3,000
# float model goes out as two messages per step.
"$bench" \
  --scenarios="$scenarios" --json="$json" --server_binary="$server" \
  --core_sizes=1e3,1e4 --core_repeats=2 --core_run_ms=2 \
  --training_batches=1,2 --training_repeats=2 --training_steps=3 \
  --training_warmup_steps=1 \
  --payload_sizes=1e3,3e3 --payload_group_size=1000 \
  --payload_max_message_floats=2000 --payload_repeats=2 \
  --payload_run_seconds=0.05 --payload_warmup_steps=1 \
  --sharing_learners=1,3 --sharing_parameters=100 --sharing_repeats=1 \
  --sharing_run_seconds=0.1 --sharing_warmup_seconds=0.05

for scenario in $(echo "$scenarios" | tr ',' ' '); do
  if ! grep -q "\"$scenario\": {" "$json"; then
    echo "no table for scenario '$scenario' in $json" >&2
    exit 1
  fi
done
if grep -Eq '"errors": [1-9]' "$json"; then
  echo "concurrent learners saw errors:" >&2
  grep -E '"errors": [1-9]' "$json" >&2
  exit 1
fi
echo "bench smoke test passed"
