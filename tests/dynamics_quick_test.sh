#!/usr/bin/env bash
# End to end check of the forward-dynamics job: `lrmem-dynamics --quick`
# simulates the arm with MuJoCo, trains the LSTM with all four optimizer
# variants (memories on an embedded server) and must leave the table, the
# CSV of curves, the plot and the recorded trajectory behind, with every
# variant's held-out error lower at the end than at the start.
#
#   dynamics_quick_test.sh LRMEM_DYNAMICS_BINARY WORK_DIR
set -euo pipefail

binary="$1"
work="$2"

rm -rf "$work"
mkdir -p "$work"
start=$(date +%s)
"$binary" --quick --out_dir="$work/out" \
  >"$work/stdout.txt" 2>"$work/stderr.txt" || {
  echo "lrmem-dynamics failed:"
  tail -n 30 "$work/stderr.txt"
  exit 1
}
echo "lrmem-dynamics --quick took $(($(date +%s) - start)) s"
cat "$work/stdout.txt"

fail() {
  echo "FAIL: $*"
  exit 1
}

is_png() {
  [[ -f "$1" ]] || fail "no $1"
  [[ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" == \
    "89504e470d0a1a0a" ]] || fail "$1 is not a PNG"
}

grep -q "steps to NMSE <= " "$work/out/summary.md" || fail "no summary.md"
is_png "$work/out/nmse.png"

csv="$work/out/curves.csv"
[[ "$(head -n 1 "$csv")" == "variant,seed,step,nmse" ]] ||
  fail "unexpected CSV header in curves.csv"
(($(wc -l <"$work/out/trajectories.csv") > 500)) ||
  fail "trajectories.csv is too short"

# first and last NMSE of a variant's seed-0 curve
for variant in sgd adam sgd+memory adam+memory; do
  read -r first last < <(awk -F, -v v="$variant" \
    '$1 == v && $2 == 0 { if (f == "") f = $4; l = $4 } END { print f, l }' \
    "$csv")
  [[ -n "$first" ]] || fail "no curve for $variant"
  awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f) }' ||
    fail "$variant did not learn: NMSE $first -> $last"
  echo "$variant: held-out NMSE $first -> $last"
done
echo "dynamics quick run: all checks passed"
