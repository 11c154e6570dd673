#!/usr/bin/env bash
# cuda_golden: the CUDA path reproduces the golden greedy texts (run by `make test-cuda`,
# which puts this script and arena-worker-cuda in $ARENA_BIN; not a test_*.sh, so
# machines without a GPU never run it).
#   - `arena-worker-cuda generate --device cuda` equals models/golden/MODEL.txt byte for
#     byte, for every shipped model (256 positions from "Once upon a time", temperature 0);
#   - `serve --device cuda` gives the golden continuation to 12 concurrent streams, which
#     the worker batches (prefills and decodes of different requests in one step).
# The kernel test (cuda_test_kernels) separates a real error from a near-tie greedy flip
# that float rounding can cause: it prints the logit difference at every position.
. "$(dirname "$(readlink -f "$0")")/../lib.sh"

WORKER=$ARENA_BIN/arena-worker-cuda
PROMPT="Once upon a time"

for spec in stories260K:tok512 babyllama105:tok105 llama2xs:tok512; do
  name=${spec%%:*} tok=${spec##*:}
  "$WORKER" generate --device cuda --model "models/$name.bin" --tokenizer "models/$tok.bin" \
    --prompt "$PROMPT" --steps 256 --temperature 0 >"$T/$name.txt" 2>"$T/$name.err"
  rc=$?
  if [[ $rc == 0 ]] && cmp -s "$T/$name.txt" "models/golden/$name.txt"; then
    ok "generate --device cuda: $name equals the golden text"
  else
    not_ok "generate --device cuda: $name equals the golden text (exit $rc)"
    sed 's/^/# /' "$T/$name.err" | head -n 5
    cmp "$T/$name.txt" "models/golden/$name.txt" 2>&1 | sed 's/^/# /'
  fi
done

GOLDEN=$(cat models/golden/stories260K.txt)
GOLDEN=${GOLDEN#"$PROMPT"}
PORT=$(free_port)
spawn worker "$WORKER" serve --device cuda --model models/stories260K.bin --tokenizer models/tok512.bin \
  --name stories --port "$PORT" --host 127.0.0.1 --max-batch 16
URL=http://127.0.0.1:$PORT
WORKER_PID=$SPAWNED
up() { curl -sf "$URL/health" || { kill -0 "$WORKER_PID" 2>/dev/null && return 1; return 0; }; }
wait_for 30 up
if ! curl -sf "$URL/health" >/dev/null; then
  not_ok "serve --device cuda starts"
  sed 's/^/# /' "$T/worker.log" | tail -n 5
  exit 1
fi
N=12 clients=()
for i in $(seq 1 $N); do
  curl -s "$URL/v1/completions" -d "{\"prompt\":\"$PROMPT\",\"max_tokens\":252,\"temperature\":0}" >"$T/par.$i" &
  clients+=($!)
done
wait "${clients[@]}"
same=0
for i in $(seq 1 $N); do [[ $(jq -r '.choices[0].text' "$T/par.$i") == "$GOLDEN" ]] && same=$((same + 1)); done
expect_eq "serve --device cuda: $N concurrent completions all equal the golden text" "$same" "$N"
