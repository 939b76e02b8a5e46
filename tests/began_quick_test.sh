#!/usr/bin/env bash
# End to end check of the BEGAN job on real digits: `lrmem-began --quick`
# trains with Adam and with Adam plus memories (embedded server) and must
# leave the table, the CSV of curves, the M_global plot and one grid of
# generated digits per run behind, with M_global lower at the end than in
# the first recorded window.
#
#   began_quick_test.sh LRMEM_BEGAN_BINARY NPM_DIGITS_PREFIX WORK_DIR
set -euo pipefail

binary="$1"
digits="$2"
work="$3"

rm -rf "$work"
mkdir -p "$work"
start=$(date +%s)
"$binary" --quick --data_dir="$digits" --out_dir="$work/out" \
  >"$work/stdout.txt" 2>"$work/stderr.txt" || {
  echo "lrmem-began failed:"
  tail -n 30 "$work/stderr.txt"
  exit 1
}
echo "lrmem-began --quick took $(($(date +%s) - start)) s"
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

grep -q "steps to M_global <= " "$work/out/summary.md" || fail "no summary.md"
is_png "$work/out/m_global.png"
is_png "$work/out/digits-adam-seed0.png"
is_png "$work/out/digits-adam+memory-seed0.png"

csv="$work/out/curves.csv"
[[ "$(head -n 1 "$csv")" == \
  "variant,seed,step,m_global,real_loss,generated_loss,k" ]] ||
  fail "unexpected CSV header in curves.csv"

for variant in adam adam+memory; do
  read -r first last < <(awk -F, -v v="$variant" \
    '$1 == v && $2 == 0 { if (f == "") f = $4; l = $4 } END { print f, l }' \
    "$csv")
  [[ -n "$first" ]] || fail "no curve for $variant"
  awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f) }' ||
    fail "$variant did not converge at all: M_global $first -> $last"
  echo "$variant: M_global $first -> $last"
done
echo "began quick run: all checks passed"
