#!/usr/bin/env bash
# bench_serve: arena-worker serve under streaming load, per shipped model, over HTTP.
# For each model: one stream alone (the baseline), then 32 concurrent streams; prints
# aggregate tokens/s and its ratio to the baseline (target >= 8x), time to first token
# p50/p99 under load (target p99 < 50 ms) and the worker's peak RSS. Each figure is the
# best of BENCH_RUNS runs (default 3: a run lasts a fraction of a second, and the machine
# is shared), its TTFT from that same run. No assertions.
# The client is bin/inference-loadgen (tests/inference/loadgen.c). BENCH_SERVE_FLAGS adds
# worker flags, e.g. BENCH_SERVE_FLAGS="--device cuda" after make cuda.
. "$(dirname "$0")/../lib.sh"

STREAMS=${BENCH_STREAMS:-32}
TOKENS=${BENCH_TOKENS:-200}
RUNS=${BENCH_RUNS:-3}
LOADGEN=$ARENA_BIN/inference-loadgen
[[ -x $LOADGEN ]] || { echo "bench_serve: $LOADGEN missing (make $LOADGEN)"; exit 1; }

field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# best URL N: the loadgen line of the fastest of RUNS runs of N streams; fails if any run does.
best() {
  local line top=
  for ((run = 0; run < RUNS; run++)); do
    line=$("$LOADGEN" "$1" "$2" "$TOKENS") || { echo "$line"; return 1; }
    if [[ -z $top ]] || awk -v a="$(field "$line" tok_s)" -v b="$(field "$top" tok_s)" 'BEGIN { exit !(a > b) }'; then
      top=$line
    fi
  done
  echo "$top"
}

printf '%-13s %10s %10s %7s %10s %10s %9s\n' model "1 tok/s" "$STREAMS tok/s" ratio "ttft p50" "ttft p99" "peak RSS"
for spec in stories260K:tok512 llama2xs:tok512 babyllama105:tok105; do
  model=${spec%%:*} tok=${spec#*:}
  # shellcheck disable=SC2086 # BENCH_SERVE_FLAGS is a list of flags
  start_worker "$model" "models/$model.bin" "models/$tok.bin" --max-batch "$STREAMS" ${BENCH_SERVE_FLAGS:-} ||
    exit 1
  url=http://127.0.0.1:$WORKER_PORT
  "$LOADGEN" "$url" "$STREAMS" "$TOKENS" >/dev/null   # warm up: first touch of every slot
  one=$(best "$url" 1) || { echo "bench_serve: $model single stream failed: $one"; exit 1; }
  many=$(best "$url" "$STREAMS") || { echo "bench_serve: $model load failed: $many"; exit 1; }
  rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$WORKER_PID/status")
  kill "$WORKER_PID"; wait "$WORKER_PID" 2>/dev/null
  t1=$(field "$one" tok_s) tn=$(field "$many" tok_s)
  printf '%-13s %10.0f %10.0f %6.1fx %8.2fms %8.2fms %7.1fMB\n' "$model" "$t1" "$tn" \
    "$(awk -v a="$tn" -v b="$t1" 'BEGIN { print (b > 0 ? a / b : 0) }')" \
    "$(field "$many" ttft_p50_ms)" "$(field "$many" ttft_p99_ms)" "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')"
done
echo "(targets: $STREAMS-stream tok/s >= 8x one stream; TTFT p99 < 50 ms)"
