#!/usr/bin/env bash
# arena-server against a real redis-server and real workers: a whole battle (create, stream
# both sides, vote, reveal), the leaderboard and the export after it, follow-up turns, every
# kind of bad request, static files, a worker killed mid-battle, Redis killed mid-test.
. "$(dirname "$0")/../lib.sh"

SECRET=test-secret-0123456789abcdef
start_redis || exit 1
start_worker stories260K models/stories260K.bin models/tok512.bin || exit 1; W1=$WORKER_PORT
start_worker llama2xs models/llama2xs.bin models/tok512.bin || exit 1; W2=$WORKER_PORT
start_worker babyllama105 models/babyllama105.bin models/tok105.bin || exit 1; W3=$WORKER_PORT; W3_PID=$WORKER_PID

mkdir -p "$T/web/css" "$T/private"
echo '<!doctype html><title>arena</title>' >"$T/web/index.html"
echo '<!doctype html><title>board</title>' >"$T/web/leaderboard.html"
echo 'body{}' >"$T/web/css/site.css"
echo "web: ;" >"$T/web/build.mk"
echo 'secret' >"$T/private/key.txt"
cat >"$T/arena.json" <<EOF
{
  "redis": {"url": "redis://127.0.0.1:$REDIS_PORT/0"},
  "battles": {"token_secret": "$SECRET", "max_tokens": 24, "max_turns": 2},
  "limits": {"max_body": 4096, "max_prompt_chars": 200, "upstream_timeout": 20, "health_interval": 0.5,
             "blocklist": ["forbidden[[:space:]]+words"]},
  "board": {"ci_method": "sandwich"},
  "web_root": "$T/web",
  "access_log": "$T/access.log",
  "models": [
    {"name": "stories260K", "endpoint": "http://127.0.0.1:$W1", "organization": "Karpathy Labs"},
    {"name": "llama2xs", "endpoint": "http://127.0.0.1:$W2"},
    {"name": "babyllama105", "endpoint": "http://127.0.0.1:$W3", "weight": 0.5}
  ]
}
EOF
start_arena arena "$T/arena.json" || exit 1
U=$ARENA_URL

# Operators tell the threads apart in top -H and /proc.
expect_eq "threads named by role" "$(cat /proc/"$ARENA_PID"/task/*/comm | grep -E '^(arena-feed|board-points|board-interval)$' | sort | tr '\n' ' ')" \
    "arena-feed board-interval board-points "

# post PATH JSON: prints the status code, body in $T/body
post() { curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary "$2" "$U$1"; }
# sign ID: a valid token for ID (what the server would hand out)
sign() {
  local exp=$(( $(date +%s) + 3600 ))
  echo "$exp.$(printf '%s.%s' "$1" "$exp" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)"
}
# stream ID FILE: the whole SSE stream of the battle's current turn
stream() { timeout 60 curl -sN "$U/api/battles/$1/stream" >"$2"; }
# sides_done FILE: both sides ended and the stream ended
events() { grep '^event:' "$1" | sed 's/event: //' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '; }

check "readyz: redis and workers" wait_for 10 curl -sf "$U/readyz"
expect_eq "healthz" "$(curl -s "$U/healthz")" '{"status":"ok"}'

# --- static files ---
hdr=$(curl -s -D - -o /dev/null "$U/")
check "index.html at /" grep -qi '^content-type: text/html' <<<"$hdr"
check "CSP header" grep -qi "^content-security-policy: default-src 'self'" <<<"$hdr"
check "nosniff header" grep -qi '^x-content-type-options: nosniff' <<<"$hdr"
check "frame denial header" grep -qi '^x-frame-options: DENY' <<<"$hdr"
check "referrer policy header" grep -qi '^referrer-policy:' <<<"$hdr"
expect_eq "HEAD of a page: 200, no body" "$(curl -sI -o /dev/null -w '%{http_code} %{size_download}' "$U/")" "200 0"
expect_eq "leaderboard page" "$(curl -s "$U/leaderboard")" '<!doctype html><title>board</title>'
check "css content type" grep -qi '^content-type: text/css' <<<"$(curl -s -D - -o /dev/null "$U/css/site.css")"
for p in '/../private/key.txt' '/%2e%2e/private/key.txt' '/css/..%2f..%2fprivate/key.txt' '/.hidden' '/css' '/nope.html' '/build.mk'; do
  expect_eq "no file outside the web root: $p" "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$U$p")" 404
done

# --- models ---
expect_eq "public model list" "$(curl -s "$U/api/models")" '{"models":["stories260K","llama2xs","babyllama105"]}'

# --- a whole battle ---
expect_eq "create battle" "$(post /api/battles '{"prompt": "Once upon a time"}')" 201
ID=$(jq -r .id "$T/body"); TOKEN=$(jq -r .token "$T/body")
check "battle id and token" test -n "$ID" -a -n "$TOKEN" -a "$ID" != null
expect_eq "vote before the answers: 425" "$(post "/api/battles/$ID/vote" "{\"winner\":\"a\",\"token\":\"$TOKEN\"}")" 425
expect_eq "not_finished code" "$(jq -r .error.code "$T/body")" not_finished
stream "$ID" "$T/s1"
check "side a streamed tokens" grep -q '^event: a' "$T/s1"
check "side b streamed tokens" grep -q '^event: b' "$T/s1"
expect_eq "a done, b done, end last" "$(grep -c '^event: done' "$T/s1") $(grep '^event:' "$T/s1" | tail -1)" "2 event: end"
check "end says saved" grep -q '{"saved":true}' "$T/s1"
check "tokens are JSON text events" bash -c "grep -A1 '^event: a' '$T/s1' | grep '^data:' | head -3 | sed 's/^data: //' | jq -e .text"
expect_eq "forged token: 403" "$(post "/api/battles/$ID/vote" '{"winner":"a","token":"1999999999.0000000000000000000000000000000000000000000000000000000000000000"}')" 403
expect_eq "token of another battle: 403" "$(post "/api/battles/$ID/vote" "{\"winner\":\"a\",\"token\":\"$(sign other)\"}")" 403
expect_eq "malformed JSON: 400" "$(post "/api/battles/$ID/vote" '{"winner": "a", ')" 400
expect_eq "malformed error shape" "$(jq -r '.error.code' "$T/body")" malformed
expect_eq "bad winner: 400" "$(post "/api/battles/$ID/vote" "{\"winner\":\"c\",\"token\":\"$TOKEN\"}")" 400
expect_eq "vote" "$(post "/api/battles/$ID/vote" "{\"winner\":\"a\",\"token\":\"$TOKEN\"}")" 200
MA=$(jq -r .model_a "$T/body"); MB=$(jq -r .model_b "$T/body")
check "reveal names two different models" test -n "$MA" -a "$MA" != "$MB" -a "$MA" != null
expect_eq "reveal echoes the winner" "$(jq -r .winner "$T/body")" a
expect_eq "the reveal, byte for byte" "$(cat "$T/body"; echo .)" "$(printf '{"model_a":"%s","model_b":"%s","winner":"a"}\n.' "$MA" "$MB")"
expect_eq "double vote: 409" "$(post "/api/battles/$ID/vote" "{\"winner\":\"b\",\"token\":\"$TOKEN\"}")" 409
expect_eq "double vote code" "$(jq -r .error.code "$T/body")" already_voted
expect_eq "no turn after the reveal: 409" "$(post "/api/battles/$ID/messages" '{"prompt": "more"}')" 409
expect_eq "unknown battle with a valid token: 404" "$(post /api/battles/nosuchbattle/vote "{\"winner\":\"a\",\"token\":\"$(sign nosuchbattle)\"}")" 404
expect_eq "unknown battle stream: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/battles/nosuchbattle/stream")" 404
expect_eq "bad battle id: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/battles/bad%20id/stream")" 404
expect_eq "unknown route: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/nothing")" 404
expect_eq "wrong method: 405" "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/battles")" 405

# --- the leaderboard follows the vote ---
# board_votes ANONY: votes counted by that board; board_has ANONY N: it counts N
board_votes() { curl -s "$U/api/leaderboard?method=bt&anony=$1" | jq -r .total_votes; }
board_has() { [[ $(board_votes "$1") == "$2" ]]; }
check "leaderboard counts the vote" wait_for 10 board_has 1 1
WINNER=$(curl -s "$U/api/leaderboard?method=bt&anony=1" | jq -r '.models[0].model')
expect_eq "the winner leads the board" "$WINNER" "$MA"
check "leaderboard fields" bash -c "curl -s '$U/api/leaderboard?method=elo&anony=0' | jq -e '.models[0] | has(\"rank\") and has(\"rank_ub\") and has(\"rating\") and has(\"ci_lower\") and has(\"ci_upper\") and has(\"votes\") and has(\"organization\") and has(\"static_score\") and has(\"rank_delta\")'"
check "matrix" bash -c "curl -s '$U/api/leaderboard/matrix?kind=counts' | jq -e '.matrix | length == 2'"
expect_eq "bad method: 400" "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/leaderboard?method=glicko")" 400

# --- named mode, follow-up turns, regenerate ---
expect_eq "named battle" "$(post /api/battles '{"prompt": "Tom had a dog", "mode": "named", "model_a": "llama2xs", "model_b": "stories260K"}')" 201
NID=$(jq -r .id "$T/body"); NTOKEN=$(jq -r .token "$T/body")
expect_eq "named mode with an unknown model: 400" "$(post /api/battles '{"prompt": "x", "mode": "named", "model_a": "gpt-9", "model_b": "llama2xs"}')" 400
stream "$NID" "$T/n1"
expect_eq "follow-up before the vote" "$(post "/api/battles/$NID/messages" '{"prompt": "Then what?"}')" 200
expect_eq "turn 2" "$(jq -r .turn "$T/body")" 2
stream "$NID" "$T/n2"
expect_eq "second turn streamed" "$(grep -c '^event: done' "$T/n2")" 2
expect_eq "turn limit: 409" "$(post "/api/battles/$NID/messages" '{"prompt": "And then?"}')" 409
expect_eq "turn limit code" "$(jq -r .error.code "$T/body")" turn_limit
expect_eq "regenerate" "$(post "/api/battles/$NID/regenerate" '{}')" 200
stream "$NID" "$T/n3"
expect_eq "regenerated turn streamed" "$(grep -c '^event: done' "$T/n3")" 2
expect_eq "reconnecting to a finished turn replays it" "$(stream "$NID" "$T/n4"; grep -c '^event: done' "$T/n4")" 2
expect_eq "named vote" "$(post "/api/battles/$NID/vote" "{\"winner\":\"tie\",\"token\":\"$NTOKEN\"}")" 200
expect_eq "named reveal" "$(jq -r '.model_a + " " + .model_b' "$T/body")" "llama2xs stories260K"
check "named vote on the board of all votes" wait_for 10 board_has 0 2
expect_eq "named vote stays off the anonymous board" "$(board_votes 1)" 1

# --- bad input ---
expect_eq "oversized body: 413" "$(post /api/battles "{\"prompt\": \"$(head -c 6000 /dev/zero | tr '\0' x)\"}")" 413
expect_eq "long prompt: 400" "$(post /api/battles "{\"prompt\": \"$(head -c 300 /dev/zero | tr '\0' x)\"}")" 400
expect_eq "long prompt code" "$(jq -r .error.code "$T/body")" prompt_too_long
expect_eq "blocklist: 400" "$(post /api/battles '{"prompt": "say FORBIDDEN   words"}')" 400
expect_eq "blocklist code" "$(jq -r .error.code "$T/body")" blocked
expect_eq "empty prompt: 400" "$(post /api/battles '{"prompt": ""}')" 400
expect_eq "not an object: 400" "$(post /api/battles '["prompt"]')" 400
expect_eq "invalid UTF-8: 400" "$(post /api/battles "$(printf '{"prompt": "\xff\xfe"}')")" 400

# --- the export, read back by arena-ratings with the board's numbers ---
curl -s "$U/api/export/battles.json" >"$T/export.json"
expect_eq "export has both votes" "$(jq length "$T/export.json")" 2
check "export has FastChat fields" jq -e '.[0] | has("question_id") and has("model_a") and has("winner") and has("judge") and has("conversation_a") and has("turn") and has("anony") and has("language") and has("tstamp")' "$T/export.json"
expect_eq "anonymous export" "$(curl -s "$U/api/export/battles.json?anony=1" | jq length)" 1
expect_eq "csv export rows" "$(curl -s "$U/api/export/battles.csv" | wc -l)" 3
if [[ -x $ARENA_BIN/arena-ratings ]]; then
  timeout 30 "$ARENA_BIN/arena-ratings" fit --format json --ci none --no-anchor "$T/export.json" >"$T/fit.json" 2>"$T/fit.err"
  board=$(curl -s "$U/api/leaderboard?method=bt&anony=0" | jq -r '.models | sort_by(.model) | map("\(.model)=\(.rating * 1000 | round)") | join(" ")')
  fit=$(jq -r '(.models // .) | sort_by(.model) | map("\(.model)=\(.rating * 1000 | round)") | join(" ")' "$T/fit.json")
  expect_eq "arena-ratings reads the export and agrees with the board" "$fit" "$board"
fi
check "leaderboard.csv" bash -c "curl -s '$U/api/export/leaderboard.csv?method=bt&anony=0' | head -1 | grep -q model"

# --- a worker killed mid-battle: that side errors, the other finishes ---
expect_eq "battle against a worker about to die" "$(post /api/battles '{"prompt": "Lily", "mode": "named", "model_a": "stories260K", "model_b": "babyllama105"}')" 201
KID=$(jq -r .id "$T/body")
kill -STOP "$W3_PID"
stream "$KID" "$T/k1" &
SP=$!
sleep 1
kill -9 "$W3_PID"; kill -CONT "$W3_PID" 2>/dev/null
wait "$SP"
check "the live side finished" grep -q '{"side":"a"}' <(grep -A1 '^event: done' "$T/k1")
check "the dead side errored" grep -q '"side":"b"' <(grep -A1 '^event: error' "$T/k1")
expect_eq "the stream still ended" "$(grep '^event:' "$T/k1" | tail -1)" "event: end"
check "the dead model leaves sampling" wait_for 10 bash -c "curl -s '$U/metrics' | grep -q 'arena_model_up{model=\"babyllama105\"} 0'"
expect_eq "a failed side cannot be voted on" "$(post "/api/battles/$KID/vote" "{\"winner\":\"a\",\"token\":\"$(sign "$KID")\"}")" 409

# --- a second arena server on the same Redis: votes on battles served by the first; an
#     answer naming a maker is flagged and kept off the anonymous board ---
jq '.models |= map(.organization = "e")' "$T/arena.json" >"$T/arena2.json"  # every answer has an "e"
U1=$U; P1=$ARENA_PID
start_arena arena2 "$T/arena2.json" || exit 1
U2=$ARENA_URL; ARENA_PID=$P1
U=$U2
expect_eq "battle on the second server" "$(post /api/battles '{"prompt": "The cat"}')" 201
LID=$(jq -r .id "$T/body"); LTOKEN=$(jq -r .token "$T/body")
stream "$LID" "$T/l1"
U=$U1
expect_eq "the first server takes the vote on it" "$(post "/api/battles/$LID/vote" "{\"winner\":\"a\",\"token\":\"$LTOKEN\"}")" 200
expect_eq "leaked vote in the export, not anonymous" "$(curl -s "$U/api/export/battles.json" | jq -c "map(select(.question_id == \"$LID\")) | .[0] | [.leak, .anony]")" "[true,false]"
check "leaked vote counted on the board of all votes" wait_for 10 board_has 0 3
expect_eq "leaked vote kept off the anonymous board" "$(board_votes 1)" 1

# --- Redis killed: votes get 503, nothing acknowledged is lost after the restart ---
expect_eq "battle before the outage" "$(post /api/battles '{"prompt": "The sun"}')" 201
RID=$(jq -r .id "$T/body"); RTOKEN=$(jq -r .token "$T/body")
stream "$RID" "$T/r1"
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
expect_eq "vote while Redis is down: 503" "$(post "/api/battles/$RID/vote" "{\"winner\":\"b\",\"token\":\"$RTOKEN\"}")" 503
expect_eq "readyz while Redis is down" "$(curl -s -o /dev/null -w '%{http_code}' "$U/readyz")" 503
expect_eq "new battle while Redis is down: 503" "$(post /api/battles '{"prompt": "x"}')" 503
REDIS_PORT_WANTED=$REDIS_PORT start_redis || exit 1
check "server reconnects" wait_for 15 curl -sf "$U/readyz"
expect_eq "vote after the restart" "$(post "/api/battles/$RID/vote" "{\"winner\":\"b\",\"token\":\"$RTOKEN\"}")" 200
expect_eq "every acknowledged vote is in Redis" "$(redis-cli -p "$REDIS_PORT" xlen 'arena:{a}:votes')" 4
check "board catches up" wait_for 10 board_has 0 4

# --- metrics and the access log ---
m=$(curl -s "$U/metrics")
check "metrics: battles" grep -q '^arena_battles_total [1-9]' <<<"$m"
check "metrics: votes by result" grep -q 'arena_votes_total{result="already"} 1' <<<"$m"
check "metrics: upstream latency" grep -q 'arena_upstream_first_token_seconds_count{model="stories260K"} [1-9]' <<<"$m"
check "metrics: SSE connections" grep -q '^arena_sse_connections 0' <<<"$m"
check "access log line per request" grep -q '"POST /api/battles/.*/vote" 409' "$T/access.log"

# --- clean shutdown ---
kill -TERM "$ARENA_PID"
wait "$ARENA_PID"; rc=$?
expect_eq "clean exit on SIGTERM" "$rc" 0
if [[ -n ${ARENA_SANITIZED:-} ]]; then check "sanitizer clean" bash -c "! grep -q 'ERROR: \\(Address\\|Leak\\)Sanitizer\\|runtime error' '$T/arena.log'"; fi
