#!/usr/bin/env bash
# The test runner. Runs every unit-test program $ARENA_BIN/test-* and every script
# tests/*/test_*.sh (each bounded by a timeout), counts the TAP-style lines they print
# ("ok - ..." / "not ok - ..."), and ends with one line CI reads: "N passed, N failed".
# A program that exits non-zero or times out without printing a failure counts as one.
# Arguments, if any, are substrings: only tests whose name contains one of them run.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${ARENA_BIN:=$PWD/bin}"
export ARENA_BIN ARENA_ROOT=$PWD
timeout_s=${ARENA_TEST_TIMEOUT:-900}
logdir=${ARENA_TEST_LOGS:-$PWD/build/test-logs}
mkdir -p "$logdir"

tests=()
for t in "$ARENA_BIN"/test-* tests/*/test_*.sh; do
  [[ -x $t || $t == *.sh ]] && [[ -f $t ]] || continue
  if (($#)); then
    keep=0; for f in "$@"; do [[ $t == *"$f"* ]] && keep=1; done
    ((keep)) || continue
  fi
  tests+=("$t")
done

passed=0 failed=0 failed_names=()
for t in "${tests[@]}"; do
  name=$(basename "$t"); log=$logdir/$name.log
  start=$(date +%s%N)
  if [[ $t == *.sh ]]; then cmd=(bash "$t"); else cmd=("$t"); fi
  timeout --kill-after=10 "$timeout_s" "${cmd[@]}" >"$log" 2>&1; rc=$?
  ms=$((($(date +%s%N) - start) / 1000000)); secs=$((ms / 1000)).$((ms % 1000 / 100))
  p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
  if ((rc != 0 && f == 0)); then
    f=1
    if ((rc == 124 || rc == 137)); then echo "not ok - $name timed out after ${timeout_s}s" >>"$log"
    else echo "not ok - $name exited with status $rc" >>"$log"; fi
  fi
  passed=$((passed + p)); failed=$((failed + f))
  if ((f)); then
    failed_names+=("$name")
    echo "FAIL $name ($p passed, $f failed, ${secs}s) — log: $log"
    grep -E '^not ok ' "$log" | head -20 | sed 's/^/    /'
    tail -n 15 "$log" | sed 's/^/    | /'
  else
    echo "PASS $name ($p passed, ${secs}s)"
  fi
done
((${#failed_names[@]})) && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
