#!/usr/bin/env bash
# A short libFuzzer run of every target tests/fuzz/fuzz_NAME.c on its corpus
# tests/fuzz/corpus/NAME/: built with clang -fsanitize=fuzzer,address,undefined by the
# build line in the target's own header comment (so that line stays true), then run for
# ARENA_FUZZ_SECONDS (20) each, all targets at once. One ok / not ok per target; a crash
# shows its report and is kept as build/fuzz/crash-NAME-* for reproduction:
#   build/fuzz/bin/fuzz_NAME build/fuzz/crash-NAME-...
# New inputs go to a scratch directory; the committed corpus is only read.
. "$(dirname "$0")/../lib.sh"

seconds=${ARENA_FUZZ_SECONDS:-20}
if ! command -v clang >/dev/null; then echo "# clang is missing (make deps)"; not_ok "clang for the fuzz targets"; exit 0; fi
mkdir -p build/fuzz/bin

# build_line FILE: the clang command of FILE's header comment, joined into one line.
build_line() {
  sed -n '/^ \*  *clang /,/ -o /p' "$1" | sed -e 's/^ \*  *//' -e 's/\\$//' | tr '\n' ' '
}

targets=()
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c); name=${name#fuzz_}
  line=$(build_line "$src")
  if [[ $line != clang* || $line != *" -o "* ]]; then not_ok "$name: a clang build line in the header of $src"; continue; fi
  # Same command, but the program goes to build/fuzz/bin/fuzz_NAME.
  line=$(sed -E "s| -o [^ ]+| -o build/fuzz/bin/fuzz_$name|" <<<"$line")
  (eval "$line") >"$T/build-$name.log" 2>&1 &
  targets+=("$name:$!")
done

pids=()
for t in "${targets[@]}"; do
  name=${t%%:*}
  if ! wait "${t#*:}"; then
    not_ok "$name: builds"; sed 's/^/# /' "$T/build-$name.log" | tail -15; continue
  fi
  if [[ ! -d tests/fuzz/corpus/$name ]]; then not_ok "$name: a corpus in tests/fuzz/corpus/$name"; continue; fi
  mkdir -p "$T/new-$name" "$T/crash-$name"
  build/fuzz/bin/fuzz_"$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$T/crash-$name/" "$T/new-$name" "tests/fuzz/corpus/$name" >"$T/run-$name.log" 2>&1 &
  pids+=("$name:$!")
done

for p in "${pids[@]}"; do
  name=${p%%:*}
  wait "${p#*:}"; rc=$?
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$T/run-$name.log")
  cov=$(grep -oE 'cov: [0-9]+' "$T/run-$name.log" | tail -1)
  seeds=$(find "tests/fuzz/corpus/$name" -type f | wc -l)
  echo "# $name: ${runs:-0} runs in ${seconds} s from $seeds seeds, ${cov:-cov: ?}, $(find "$T/new-$name" -type f | wc -l) new inputs"
  crash=$(find "$T/crash-$name" -type f | head -1)
  if ((rc == 0)) && [[ -z $crash ]]; then
    ok "$name: no crash, leak or undefined behaviour"
  else
    not_ok "$name: no crash, leak or undefined behaviour"
    grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ ' "$T/run-$name.log" | head -20 | sed 's/^/# /'
    if [[ -n $crash ]]; then cp "$crash" "build/fuzz/crash-$name-$(basename "$crash")"; echo "# kept as build/fuzz/crash-$name-$(basename "$crash")"; fi
  fi
done
