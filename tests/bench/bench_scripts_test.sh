#!/usr/bin/env bash
# The live benchmark scripts (bench/live_bench.sh, bench/peers.sh and the
# helpers they source) parse, pass shellcheck where it is installed, print
# their usage on --help (exit 0) and refuse an unknown argument (exit 2).
# Cheap: it runs neither benchmark (they need root, namespaces and minutes).
#   bench_scripts_test.sh SOURCE_DIR
set -euo pipefail
SRC=${1:?usage: bench_scripts_test.sh SOURCE_DIR}
SCRIPTS=(bench/live_bench.sh bench/peers.sh bench/live_measure.sh)
fail() { echo "FAIL: $*" >&2; exit 1; }

cd "$SRC"
for s in "${SCRIPTS[@]}"; do
  bash -n "$s" || fail "$s does not parse"
done
if command -v shellcheck >/dev/null; then
  shellcheck -x "${SCRIPTS[@]}" || fail "shellcheck finds problems"
else
  echo "shellcheck not installed: only bash -n" >&2
fi
for s in bench/live_bench.sh bench/peers.sh; do
  out=$(bash "$s" --help) || fail "$s --help exited $?"
  grep -q "$(basename "$s") \[" <<<"$out" || fail "$s --help shows no usage line"
  grep -q "Exit status" <<<"$out" || fail "$s --help does not say its exit status"
  rc=0
  bash "$s" --no-such-option >/dev/null 2>&1 || rc=$?
  (( rc == 2 )) || fail "$s with an unknown option exited $rc, want 2"
done
echo "PASS"
