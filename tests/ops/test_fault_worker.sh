#!/usr/bin/env bash
# A worker killed -9 mid-stream: its side ends with `error`, the other side with `done`,
# the stream with `end`; the model leaves sampling (no new battle draws it) until its
# worker is back and healthy, and then it is drawn again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

start_ops_redis redis || exit 1
start_ops_workers 3 || exit 1
# Long answers, so that the kill lands while side b is streaming; probes every second
# (ops_config) that time out after 0.5 s.
OPS_CONFIG_EXTRA='{"battles": {"max_tokens": 256, "temperature": 1.0}, "limits": {"probe_timeout": 0.5}}' \
  ops_config "$T/arena.json" "redis://127.0.0.1:$REDIS_PORT/0" stories260K="$W1" llama2xs="$W2" babyllama105="$W3"
start_arena arena "$T/arena.json" || exit 1
U=$ARENA_URL
check "ready with three models" wait_for 10 bash -c "curl -s '$U/readyz' | jq -e '.healthy_models == 3'"

# Side b is babyllama105. Kill its worker as soon as its first token is out; if the whole
# answer beat the kill (a fast machine), try again with a new battle (up to 5 times).
killed=0
for attempt in 1 2 3 4 5; do
  api_post "$U" /api/battles '{"prompt": "Once upon a time", "mode": "named", "model_a": "stories260K", "model_b": "babyllama105"}' "$T/b" >/dev/null
  ID=$(jq -r .id "$T/b")
  timeout 30 curl -sN "$U/api/battles/$ID/stream" >"$T/s" &
  SP=$!
  until grep -q '^event: b' "$T/s" || ! kill -0 "$SP" 2>/dev/null; do sleep 0.002; done
  kill -STOP "$W3_PID"
  if ! grep -A1 '^event: done' "$T/s" | grep -q '"side":"b"'; then
    kill -9 "$W3_PID"; kill -CONT "$W3_PID"; wait "$W3_PID" 2>/dev/null
    killed=1
    wait "$SP"
    echo "# worker killed mid-stream after $(grep -c '^event: b' "$T/s") tokens of side b (attempt $attempt)"
    break
  fi
  kill -CONT "$W3_PID"
  wait "$SP"
done
expect_eq "worker killed while its side was streaming" "$killed" 1
check "side b tokens before the kill" grep -q '^event: b' "$T/s"
check "side a finished: done" bash -c "grep -A1 '^event: done' '$T/s' | grep -q '\"side\":\"a\"'"
check "side b failed: error" bash -c "grep -A1 '^event: error' '$T/s' | grep -q '\"side\":\"b\"'"
expect_eq "no done for side b" "$(grep -A1 '^event: done' "$T/s" | grep -c '"side":"b"')" 0
expect_eq "the stream ended" "$(grep '^event:' "$T/s" | tail -1)" "event: end"
check "metrics: the model is down" wait_for 5 bash -c "curl -s '$U/metrics' | grep -q 'arena_model_up{model=\"babyllama105\"} 0'"
check "readyz: still ready with two models" bash -c "curl -s '$U/readyz' | jq -e '.healthy_models == 2 and .status == \"ready\"'"

# battle_models N FILE: creates N anonymous battles (not streamed) and writes the models
# each drew, from its hash in Redis, one pair a line.
battle_models() {
  local i id
  : >"$2"
  for ((i = 0; i < $1; i++)); do
    [[ $(api_post "$U" /api/battles '{"prompt": "Tom"}' "$T/nb") == 201 ]] || { echo "create failed" >>"$2"; continue; }
    id=$(jq -r .id "$T/nb")
    redis-cli -p "$REDIS_PORT" hmget "arena:{a}:battle:$id" model_a model_b | tr '\n' ' ' >>"$2"; echo >>"$2"
  done
}
battle_models 30 "$T/while_down"
echo "# 30 battles while the worker is down: $(sort "$T/while_down" | uniq -c | tr -s ' ' | tr '\n' ';')"
expect_eq "30 battles without the dead model" "$(grep -c babyllama105 "$T/while_down") $(grep -c create "$T/while_down")" "0 0"

spawn worker-babyllama105-again "$ARENA_BIN/arena-worker" serve --model models/babyllama105.bin --tokenizer models/tok105.bin \
  --name babyllama105 --port "$W3" --host 127.0.0.1 --threads 1
W3_PID=$SPAWNED
check "worker restarted" wait_for 20 curl -sf "http://127.0.0.1:$W3/health"
check "metrics: the model is up again" wait_for 5 bash -c "curl -s '$U/metrics' | grep -q 'arena_model_up{model=\"babyllama105\"} 1'"
battle_models 30 "$T/after"
echo "# 30 battles after the restart: $(sort "$T/after" | uniq -c | tr -s ' ' | tr '\n' ';')"
check "the model is drawn again" grep -q babyllama105 "$T/after"

# One failed probe (the worker stopped until a probe times out) keeps the model in
# sampling; two in a row take it out.
failed() { grep -c 'model babyllama105: probe failed' "$T/access.log"; }
downs() { grep -c 'model babyllama105 is unhealthy' "$T/access.log"; }
f0=$(failed) d0=$(downs)
kill -STOP "$W3_PID"
wait_for 5 bash -c "(( \$(grep -c 'model babyllama105: probe failed' '$T/access.log') > $f0 ))"
kill -CONT "$W3_PID"
check "one probe failed" test "$(failed)" -gt "$f0"
sleep 1.5  # the next probe (every 1 s) answers: no second failure in a row
expect_eq "one failed probe: the model stays in sampling" "$(downs)" "$d0"
kill -STOP "$W3_PID"
check "two failed probes in a row: the model leaves sampling" wait_for 6 bash -c "(( \$(grep -c 'model babyllama105 is unhealthy' '$T/access.log') > $d0 ))"
kill -CONT "$W3_PID"
check "and comes back with the next good probe" wait_for 5 bash -c "curl -s '$U/metrics' | grep -q 'arena_model_up{model=\"babyllama105\"} 1'"
sanitizer_clean
