#!/usr/bin/env bash
# Runs the benchmarks: every $ARENA_BIN/bench-* program and tests/*/bench_*.sh script.
# Each prints its own figures and the ratio against a baseline it measures in the same run.
# Arguments, if any, are substrings selecting benchmarks by name.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${ARENA_BIN:=$PWD/bin}"
export ARENA_BIN ARENA_ROOT=$PWD
status=0
for b in "$ARENA_BIN"/bench-* tests/*/bench_*.sh; do
  [[ -f $b ]] || continue
  if (($#)); then keep=0; for f in "$@"; do [[ $b == *"$f"* ]] && keep=1; done; ((keep)) || continue; fi
  echo "=== $(basename "$b")"
  if [[ $b == *.sh ]]; then bash "$b"; else "$b"; fi || { echo "bench $(basename "$b") failed"; status=1; }
done
exit $status
