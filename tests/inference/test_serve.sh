#!/usr/bin/env bash
# test_serve: bin/arena-worker serve over real HTTP with the shipped models: golden greedy
# text (whole and streamed), concurrent batched streams, client disconnects, OpenAI errors,
# queue overflow, /v1/models, /health, /metrics and a clean shutdown.
. "$(dirname "$0")/../lib.sh"

PROMPT="Once upon a time"
# The golden file is run.c's stdout: prompt, 252 generated tokens, then "\n".
GOLDEN=$(cat models/golden/stories260K.txt)
GOLDEN=${GOLDEN#"$PROMPT"}

start_worker stories models/stories260K.bin models/tok512.bin --max-batch 16 || exit 1
URL=http://127.0.0.1:$WORKER_PORT
MAIN_PID=$WORKER_PID

post() { curl -s "$URL$1" -H 'Content-Type: application/json' -d "$2"; }
# status PATH BODY: the HTTP status of a POST; the body is left in $T/body.
status() { curl -s -o "$T/body" -w '%{http_code}' "$URL$1" -H 'Content-Type: application/json' -d "$2"; }
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# stream_text FILE: the concatenated delta contents of an SSE transcript.
stream_text() { grep '^data: {' "$1" | sed 's/^data: //' | jq -j '.choices[0].delta.content // .choices[0].text // empty'; }

# --- plain endpoints
expect_eq "health" "$(curl -s "$URL/health")" '{"status":"ok"}'
expect_eq "models lists the one model" \
  "$(curl -s "$URL/v1/models" | jq -r '[.object, .data[0].id, .data[0].object, (.data | length)] | @tsv')" \
  "$(printf 'list\tstories\tmodel\t1')"

# --- greedy completions equal run.c's golden continuation
body=$(post /v1/completions "{\"model\":\"stories\",\"prompt\":\"$PROMPT\",\"max_tokens\":252,\"temperature\":0}")
expect_eq "completion text equals the golden continuation" "$(jq -r '.choices[0].text' <<<"$body")" "$GOLDEN"
expect_eq "completion object, finish_reason and usage" \
  "$(jq -r '[.object, .choices[0].finish_reason, .usage.prompt_tokens, .usage.completion_tokens, .usage.total_tokens] | @tsv' <<<"$body")" \
  "$(printf 'text_completion\tlength\t5\t252\t257')"
check "completion id and created" jq -e '(.id | startswith("cmpl-")) and (.created > 0) and .model == "stories"' <<<"$body"

CHAT="{\"messages\":[{\"role\":\"system\",\"content\":\"ignored\"},{\"role\":\"user\",\"content\":\"$PROMPT\"}],\"max_tokens\":252,\"temperature\":0"
body=$(post /v1/chat/completions "$CHAT}")
expect_eq "chat message equals the golden continuation" "$(jq -r '.choices[0].message.content' <<<"$body")" "$GOLDEN"
expect_eq "chat object and role" "$(jq -r '[.object, .choices[0].message.role] | @tsv' <<<"$body")" \
  "$(printf 'chat.completion\tassistant')"

body=$(post /v1/completions "{\"prompt\":\"$PROMPT\",\"max_tokens\":252,\"temperature\":0,\"stop\":[\"Lily\"]}")
expect_eq "a stop string ends the text before it" \
  "$(jq -r '[.choices[0].text, .choices[0].finish_reason] | @tsv' <<<"$body")" \
  "$(printf ', there was a little girl named \tstop')"

# --- streaming
curl -sN -D "$T/stream.h" "$URL/v1/chat/completions" -d "$CHAT,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" >"$T/stream"
check "stream content type is text/event-stream" grep -qi '^content-type: text/event-stream' "$T/stream.h"
expect_eq "streamed chunks concatenate to the golden text" "$(stream_text "$T/stream")" "$GOLDEN"
expect_eq "stream ends with [DONE]" "$(grep '^data: ' "$T/stream" | tail -n 1)" "data: [DONE]"
expect_eq "one chunk per token, then finish, usage and [DONE]" "$(grep -c '^data: ' "$T/stream")" $((252 + 3))
check "first chunk has role assistant" \
  jq -e '.object == "chat.completion.chunk" and .choices[0].delta.role == "assistant"' \
  <<<"$(grep -m1 '^data: ' "$T/stream" | sed 's/^data: //')"
check "finish chunk says length" jq -e '.choices[0].finish_reason == "length"' \
  <<<"$(grep '^data: {' "$T/stream" | tail -n 2 | head -n 1 | sed 's/^data: //')"
check "usage chunk" jq -e '.choices == [] and .usage.completion_tokens == 252' \
  <<<"$(grep '^data: {' "$T/stream" | tail -n 1 | sed 's/^data: //')"

# --- concurrent streams are batched, each gets the single-stream text, and clients that
# leave free their slots. The worker is stopped (SIGSTOP) while two clients send a request
# and close at once, so both are gone before their first token, whatever the timing.
# send_and_leave BODY: POSTs BODY over a raw socket and closes it.
send_and_leave() {
  exec 3<>"/dev/tcp/127.0.0.1/$WORKER_PORT" || return 1
  printf 'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "${#1}" "$1" >&3
  exec 3>&-
}
full=$(post /v1/completions "{\"prompt\":\"$PROMPT\",\"temperature\":0}" | jq .usage.completion_tokens)
tokens_before=$(metric arena_worker_tokens_generated_total)
gone_before=$(metric arena_worker_clients_gone_total)
N=10 clients=()
for i in $(seq 1 $N); do
  curl -sN "$URL/v1/completions" -d "{\"prompt\":\"$PROMPT\",\"max_tokens\":252,\"temperature\":0,\"stream\":true}" \
    >"$T/par.$i" &
  clients+=($!)
done
kill -STOP "$MAIN_PID"
send_and_leave "{\"prompt\":\"$PROMPT\",\"temperature\":0,\"stream\":true}"
send_and_leave "{\"prompt\":\"$PROMPT\",\"temperature\":0,\"stream\":false}"
kill -CONT "$MAIN_PID"
wait "${clients[@]}"   # not a bare wait: the workers are children too
same=0
for i in $(seq 1 $N); do [[ $(stream_text "$T/par.$i") == "$GOLDEN" ]] && same=$((same + 1)); done
expect_eq "$N concurrent streams all equal the golden text" "$same" "$N"
peak=$(metric arena_worker_batch_active_peak)
check "several requests were in the batch at once (peak $peak)" test "$peak" -ge 2
check "clients gone: batch back to 0" \
  wait_for 5 bash -c "curl -s $URL/metrics | grep -qx 'arena_worker_batch_active 0'"
expect_eq "clients gone: both noticed (a stream by a failed write, a plain request by a peek)" \
  $(($(metric arena_worker_clients_gone_total) - gone_before)) 2
left=$(($(metric arena_worker_tokens_generated_total) - tokens_before - N * 252))
check "clients gone: their generation stopped early ($left tokens for both, a story is $full)" \
  test "$left" -lt "$full"
check "server still serves after a disconnect" \
  jq -e '.choices[0].text | length > 0' <<<"$(post /v1/completions '{"prompt":"Hi","max_tokens":3}')"

# --- errors are OpenAI error objects with the right status
is_error() { jq -e --arg p "$1" '.error.message | length > 0' "$T/body" >/dev/null &&
             jq -e --arg p "$1" '.error.type == "invalid_request_error" and ((.error.param // "") == $p)' "$T/body" >/dev/null; }
expect_eq "bad JSON is 400" "$(status /v1/completions '{"prompt": "x"')" 400
check "bad JSON error object" is_error ""
expect_eq "wrong type is 400" "$(status /v1/completions '{"prompt":"x","max_tokens":"5"}')" 400
check "wrong type names the param" is_error max_tokens
expect_eq "stream of wrong type is 400" "$(status /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"stream":"yes"}')" 400
expect_eq "negative temperature is 400" "$(status /v1/completions '{"prompt":"x","temperature":-1}')" 400
check "negative temperature names the param" is_error temperature
expect_eq "top_p 0 is 400" "$(status /v1/completions '{"prompt":"x","top_p":0}')" 400
expect_eq "max_tokens 0 is 400" "$(status /v1/completions '{"prompt":"x","max_tokens":0}')" 400
expect_eq "unknown model is 400" "$(status /v1/completions '{"model":"gpt-4","prompt":"x"}')" 400
check "unknown model code" jq -e '.error.code == "model_not_found"' "$T/body"
expect_eq "messages without a user is 400" "$(status /v1/chat/completions '{"messages":[{"role":"system","content":"x"}]}')" 400
long=$(printf 'and %.0s' $(seq 1 600))
expect_eq "prompt over the context is 413" "$(status /v1/completions "{\"prompt\":\"$long\"}")" 413
check "413 error code" jq -e '.error.code == "context_length_exceeded"' "$T/body"
expect_eq "unknown route is 404" "$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v1/nothing")" 404
check "404 error object" jq -e '.error.message | length > 0' "$T/body"
expect_eq "GET on a POST route is 405" "$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v1/completions")" 405
expect_eq "POST on a GET route is 405" "$(curl -s -o "$T/body" -w '%{http_code}' -d x "$URL/health")" 405

# --- metrics
curl -s "$URL/metrics" >"$T/metrics"
check "metrics: requests by route and status" \
  grep -q '^arena_worker_requests_total{route="/v1/completions",status="400"} [1-9]' "$T/metrics"
check "metrics: 200s counted" grep -q '^arena_worker_requests_total{route="/v1/chat/completions",status="200"} [1-9]' "$T/metrics"
check "metrics: tokens generated" grep -qE '^arena_worker_tokens_generated_total [1-9][0-9]*$' "$T/metrics"
check "metrics: tokens per second" grep -qE '^arena_worker_tokens_per_second [0-9.]+$' "$T/metrics"
check "metrics: queue depth 0" grep -qx 'arena_worker_queue_depth 0' "$T/metrics"
check "metrics: TTFT histogram" grep -qE '^arena_worker_time_to_first_token_seconds_count [1-9]' "$T/metrics"
check "metrics: TTFT +Inf bucket" grep -q '^arena_worker_time_to_first_token_seconds_bucket{le="+Inf"}' "$T/metrics"

# --- a full queue answers 503 with Retry-After
start_worker tiny models/stories260K.bin models/tok512.bin --max-batch 1 --max-queue 4 || exit 1
TINY=http://127.0.0.1:$WORKER_PORT
TINY_PID=$WORKER_PID
# The worker is stopped while the 8 clients connect and send, so on SIGCONT it reads all 8
# requests at once, whatever the machine's load: 1 runs, 4 wait, 3 find the queue full.
kill -STOP "$TINY_PID"
clients=()
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o "$T/flood.$i" -D "$T/flood.$i.h" -w '%{http_code}\n' "$TINY/v1/completions" \
    -d "{\"prompt\":\"$PROMPT\",\"temperature\":0}" >"$T/flood.$i.code" &
  clients+=($!)
done
connected() { (($(ss -tnH state established "dport = :$WORKER_PORT" | wc -l) >= 8)); }
wait_for 10 connected; sleep 0.2   # connected, and the requests sent
kill -CONT "$TINY_PID"
wait "${clients[@]}"
codes=$(cat "$T"/flood.*.code | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
# Each request takes the whole story (~340 tokens), so 8 at once find 1 slot + 4 queued full.
check "flooding batch 1 + queue 4: some served, the rest refused ($codes)" \
  bash -c "[[ '$codes' =~ ^200:[5-7]\ 503:[1-3]\ \$ ]]"
busy=$(grep -l '^503' "$T"/flood.*.code | head -n 1); busy=${busy%.code}
check "503 has Retry-After" grep -qi '^retry-after: [0-9]' "$busy.h"
check "503 error object" jq -e '.error.message | length > 0' "$busy"
kill -TERM "$TINY_PID"
wait "$TINY_PID"
expect_eq "SIGTERM after a flood: clean exit" $? 0

# --- bad flags and a clean shutdown
"$ARENA_BIN/arena-worker" serve --model models/stories260K.bin >/dev/null 2>&1
expect_eq "missing flags exit 2" $? 2
"$ARENA_BIN/arena-worker" serve --model models/stories260K.bin --tokenizer models/tok512.bin \
  --name x --port 1 --max-batch 0 >/dev/null 2>&1
expect_eq "bad --max-batch exits 2" $? 2
# Without `make cuda` the engine refuses CUDA with a message; a CUDA build serves (timeout).
timeout 3 "$ARENA_BIN/arena-worker" serve --model models/stories260K.bin --tokenizer models/tok512.bin \
  --name x --port "$(free_port)" --device cuda >"$T/cuda.log" 2>&1
rc=$?
check "--device cuda: a clear error, or serving in a CUDA build (rc $rc)" \
  bash -c "(($rc == 124)) || { (($rc == 1)) && grep -qi cuda '$T/cuda.log'; }"
# A stream in flight while the signal arrives must not keep the server up or leak.
curl -sN "$URL/v1/completions" -d "{\"prompt\":\"$PROMPT\",\"stream\":true}" >/dev/null 2>&1 &
client=$!
sleep 0.2
kill -TERM "$MAIN_PID"
wait "$MAIN_PID"
expect_eq "SIGTERM mid-stream: clean exit" $? 0
wait "$client" 2>/dev/null   # curl fails (18: cut short) when the server goes first
exit 0
