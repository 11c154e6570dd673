#!/usr/bin/env bash
# arena-server's HTTP/1.1 connection handling, over raw sockets (bash /dev/tcp) and curl:
# keep-alive, pipelining (replies in order, never interleaved, Content-Length honoured),
# HTTP/1.0, HEAD, Expect: 100-continue (and its early 413), chunked request bodies, malformed
# heads, methods the server does not serve, the head deadline on a kept-alive connection,
# clients that half-close or reset (tests/arena/http1_probe.mjs), vote bodies, garbage.
# No workers are needed: every route used here answers without one (a battle gets
# 503 no_models once the first health probes have failed).
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C  # byte counts: read -N and ${#s} count bytes, not characters

start_redis || exit 1
cat >"$T/arena.json" <<EOF
{
  "redis": {"url": "redis://127.0.0.1:$REDIS_PORT/0"},
  "battles": {"token_secret": "http1-secret-0123456789abcdef"},
  "limits": {"max_body": 4096, "header_timeout": 2, "battles_per_minute": 0, "health_interval": 0.2},
  "access_log": "",
  "models": [{"name": "m1", "endpoint": "http://127.0.0.1:9"}, {"name": "m2", "endpoint": "http://127.0.0.1:9"}]
}
EOF
start_arena arena "$T/arena.json" || exit 1
U=$ARENA_URL

# raw NAME REQUEST [SECONDS]: REQUEST (printf %b escapes) in one write on a new connection;
# everything the server sends until it closes (SECONDS at most, default 5) goes to $T/NAME.
# Status 0 when the server closed the connection, 124 when the time ran out.
raw() {
  local out=$T/$1 req secs=${3:-5}
  printf -v req '%b' "$2"
  (
    exec 3<>"/dev/tcp/127.0.0.1/$ARENA_PORT" || exit 2
    printf '%s' "$req" >&3
    timeout "$secs" cat <&3 >"$out"
  )
}
# read_response FD BODY_FILE [head]: reads one response from FD (5 s at most per read),
# prints its status code and writes its body (Content-Length bytes; none after a HEAD) to
# BODY_FILE. Status 1 when no whole response came.
read_response() {
  local fd=$1 line code len=0 body=
  IFS= read -r -t 5 -u "$fd" line || return 1
  [[ $line =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] || return 1
  code=${BASH_REMATCH[1]}
  while :; do
    IFS= read -r -t 5 -u "$fd" line || return 1
    line=${line%$'\r'}
    [[ -z $line ]] && break
    [[ ${line,,} =~ ^content-length:\ *([0-9]+) ]] && len=${BASH_REMATCH[1]}
  done
  if ((len > 0)) && [[ -z ${3:-} ]]; then
    IFS= read -r -N "$len" -t 5 -u "$fd" body || return 1
    ((${#body} == len)) || return 1
  fi
  printf '%s' "$body" >"$2"
  echo "$code"
}
# responses FILE: the status codes of the responses one after another in FILE, read by
# their Content-Length, space-separated; bodies in FILE.body.1, FILE.body.2, ...; then
# "+N" when N bytes are left over after the last whole response.
responses() {
  local fd n=0 code codes=() pos=0
  exec {fd}<"$1"
  while code=$(read_response "$fd" "$1.body.$((n + 1))"); do
    n=$((n + 1)); codes+=("$code")
    pos=$(awk '/^pos:/ {print $2}' "/proc/$BASHPID/fdinfo/$fd")
  done
  exec {fd}<&-
  (($(stat -c %s "$1") > pos)) && codes+=("+$(($(stat -c %s "$1") - pos))")
  echo "${codes[*]}"
}

# ---- 10 (started first, it runs in the background): the head deadline on a later request
# of a kept-alive connection. One whole request, then the head of a second one trickled a
# byte every 0.5 s: the server must cut the connection off within about header_timeout (2 s).
(
  exec 3<>"/dev/tcp/127.0.0.1/$ARENA_PORT" || exit 2
  start=$(date +%s%N)
  {
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 0.3
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '
    for _ in $(seq 30); do sleep 0.5; printf a || break; done
  } >&3 2>/dev/null &
  writer=$!
  timeout 10 cat <&3 >"$T/trickle"
  echo $((($(date +%s%N) - start) / 1000000)) >"$T/trickle.ms"
  kill "$writer" 2>/dev/null
) &
ARENA_PIDS+=($!)
TRICKLE_PID=$!

sleep 0.5  # the first probes have failed: a battle that gets that far is 503 no_models

# ---- 1: keep-alive ----
expect_eq "keep-alive: two URLs in one curl, one connection, both 200" \
  "$(curl -s -o /dev/null -o /dev/null -w '%{http_code} %{num_connects};' "$U/healthz" "$U/api/models")" "200 1;200 0;"

# ---- 2: pipelining ----
raw pipe 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/models HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
expect_eq "pipelining: the server closes after the third request (Connection: close)" "$?" 0
expect_eq "pipelining: three 200s" "$(grep -ac '^HTTP/1.1 200' "$T/pipe")" 3
expect_eq "pipelining: three replies in order, nothing left over" "$(responses "$T/pipe")" "200 200 200"
expect_eq "pipelining: bodies in request order" \
  "$(cat "$T/pipe.body.1")|$(cat "$T/pipe.body.2")|$(cat "$T/pipe.body.3")" '{"status":"ok"}|{"models":["m1","m2"]}|{"status":"ok"}'

# ---- 3: HTTP/1.0 without keep-alive ----
raw http10 'GET /healthz HTTP/1.0\r\n\r\n'
expect_eq "HTTP/1.0: the server closes the connection after the reply" "$?" 0
check "HTTP/1.0: 200" grep -aq '^HTTP/1\.[01] 200' "$T/http10"
echo "# HTTP/1.0 request answered with: $(head -1 "$T/http10" | tr -d '\r')"

# ---- 4: HEAD ----
# A body after the head of a HEAD reply would be read by a kept-alive client as the start
# of the next reply (libevent's evhttp, used before, sent one).
for path in /healthz /; do
  raw "head${path//\//_}" "HEAD $path HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
  exec {fd}<"$T/head${path//\//_}"
  expect_eq "HEAD $path: 200" "$(read_response "$fd" "$T/head.body" head)" 200
  expect_eq "HEAD $path: no body bytes (the next reply follows the head at once)" \
    "$(read_response "$fd" "$T/head.body2") $(cat "$T/head.body2" 2>/dev/null)" '200 {"status":"ok"}'
  exec {fd}<&-
  echo "# after the head of HEAD $path: $(sed -n '/^\r$/,$p' "$T/head${path//\//_}" | sed -n 2p | head -c 60)"
  check "HEAD $path: a Content-Length header" grep -aqi '^content-length: *[1-9]' <(sed -n '1,/^\r$/p' "$T/head${path//\//_}")
done

# ---- 5: Expect: 100-continue ----
# post_battle NAME BODY [curl args]: status and error code of POST /api/battles
post_battle() {
  local code; code=$(curl -s -o "$T/$1" -w '%{http_code}' -X POST -H 'Content-Type: application/json' "${@:3}" --data-binary "$2" "$U/api/battles")
  echo "$code $(jq -r '.error.code // "none"' "$T/$1" 2>/dev/null)"
}
BIG="{\"prompt\": \"$(head -c 2000 /dev/zero | tr '\0' x)\"}"
plain=$(post_battle big_plain "$BIG")
expect_eq "a 2 KB battle request without workers: 503 no_models" "$plain" "503 no_models"
expect_eq "Expect: 100-continue through curl: the same answer" "$(post_battle big_expect "$BIG" -H 'Expect: 100-continue' --expect100-timeout 10)" "$plain"
exec {fd}<>"/dev/tcp/127.0.0.1/$ARENA_PORT"
printf 'POST /api/battles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n' "${#BIG}" >&$fd
IFS= read -r -t 3 -u "$fd" line; IFS= read -r -t 3 -u "$fd" blank
expect_eq "Expect: 100-continue: the interim 100 before the body is sent" "${line%$'\r'}|${blank%$'\r'}" "HTTP/1.1 100 Continue|"
printf '%s' "$BIG" >&$fd
expect_eq "Expect: 100-continue: the final answer after the body" "$(read_response "$fd" "$T/expect.body") $(jq -r .error.code "$T/expect.body" 2>/dev/null)" "$plain"
exec {fd}<&-
# A declared body over limits.max_body (4096): 413 at once, no 100, the body never sent.
exec {fd}<>"/dev/tcp/127.0.0.1/$ARENA_PORT"
printf 'POST /api/battles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n' >&$fd
expect_eq "Expect: 100-continue with a body over max_body: 413 without the body" "$(read_response "$fd" "$T/expect413.body")" 413
exec {fd}<&-
echo "# 413 body: $(head -c 200 "$T/expect413.body" | tr -d '\r\n')"

# ---- 6: a chunked request body is the same request as with Content-Length ----
for body in '{"prompt": "Once upon a time"}' '{"prompt": 5}' '{"prompt": "a"'; do
  want=$(post_battle cl "$body")
  expect_eq "chunked body $body: same answer as with Content-Length ($want)" \
    "$(post_battle chunked "$body" -H 'Transfer-Encoding: chunked')" "$want"
done
raw chunked_raw 'POST /api/battles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"pro\r\n15\r\nmpt": "Once upon a"}\r\n0\r\n\r\n'
expect_eq "chunked body in two chunks (raw): 503 no_models" \
  "$(responses "$T/chunked_raw") $(jq -r .error.code "$T/chunked_raw.body.1" 2>/dev/null)" "503 no_models"

# ---- 7: malformed heads get 400, and the server stays up ----
raw bad_line 'BLAH\r\n\r\n'
expect_eq "malformed request line: 400" "$(head -1 "$T/bad_line" | cut -c1-12)" "HTTP/1.1 400"
raw bad_header 'GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'
expect_eq "header line without a colon: 400" "$(head -1 "$T/bad_header" | cut -c1-12)" "HTTP/1.1 400"
expect_eq "still serving after malformed heads" "$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz")" 200

# ---- 8: methods the server does not serve ----
for m in "DELETE /api/battles" "TRACE /" "PUT /healthz"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "${m% *}" "$U${m#* }")
  check "$m: 405 or 501 (got $code)" test "$code" = 405 -o "$code" = 501
done

# ---- 9: a kept-alive connection serves a second request after a pause ----
exec {fd}<>"/dev/tcp/127.0.0.1/$ARENA_PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&$fd
first=$(read_response "$fd" "$T/ka1")
sleep 1
printf 'GET /api/models HTTP/1.1\r\nHost: x\r\n\r\n' >&$fd
expect_eq "keep-alive: a second request 1 s later on the same connection" "$first $(read_response "$fd" "$T/ka2") $(cat "$T/ka2")" '200 200 {"models":["m1","m2"]}'
exec {fd}<&-

# ---- 11: pipelined replies never interleave ----
raw board 'GET /api/leaderboard HTTP/1.1\r\nHost: x\r\n\r\nGET /arena.js HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
expect_eq "pipelined leaderboard, a 14 KB file, healthz: three whole replies, in order" "$(responses "$T/board")" "200 200 200"
check "the leaderboard body (by its Content-Length) is whole JSON" jq -e .models "$T/board.body.1"
check "the file body (by its Content-Length) is the file" cmp "$T/board.body.2" web/arena.js
expect_eq "healthz last" "$(cat "$T/board.body.3")" '{"status":"ok"}'

# ---- 10: the verdict ----
wait "$TRICKLE_PID"
check "trickled second request: the first one answered" grep -aq '^HTTP/1.1 200' "$T/trickle"
echo "# trickled head of a second request: connection open $(cat "$T/trickle.ms") ms"
# Every request has the head deadline, not only a connection's first (with evhttp, used
# before, later ones had only its idle timeout, which every trickled byte restarted).
check "a trickled head of a later request is cut off within 6 s (header_timeout 2 s)" \
  test "$(cat "$T/trickle.ms")" -le 6000

# ---- a client that pipelines and does not read: served as it reads, nothing lost ----
(
  exec 3<>"/dev/tcp/127.0.0.1/$ARENA_PORT" || exit 2
  for i in $(seq 299); do printf 'GET /arena.js HTTP/1.1\r\nHost: x\r\n\r\n'; done >&3
  printf 'GET /arena.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  sleep 1
  timeout 20 cat <&3 >"$T/flood"
)
expect_eq "300 pipelined requests for a 14 KB file, read a second later: 300 replies" "$(grep -ac '^HTTP/1.1 200' "$T/flood")" 300
# (the same head each time, and "Connection: close" on the last: 19 bytes)
expect_eq "... and every byte of them" "$(stat -c %s "$T/flood")" "$(( $(sed -n '1,/^\r$/p' "$T/flood" | wc -c) * 300 + 19 + $(stat -c %s web/arena.js) * 300 ))"

# ---- vote bodies: plain ones are read by jflat, the rest by jansson; the answers agree ----
vote_status() { curl -s -o "$T/vote.body" -w '%{http_code} ' -X POST --data-binary "$1" "$U/api/battles/b1/vote"; jq -r .error.code "$T/vote.body"; }
expect_eq "plain vote body, forged token: 403 bad_token" "$(vote_status '{"winner": "a", "token": "1.00"}')" "403 bad_token"
expect_eq "the same with an escape (jansson): 403 bad_token" "$(vote_status '{"winner": "\u0061", "token": "1.00"}')" "403 bad_token"
expect_eq "a 300-byte token: 403 bad_token" "$(vote_status "{\"winner\": \"a\", \"token\": \"$(head -c 300 /dev/zero | tr '\0' 1)\"}")" "403 bad_token"
expect_eq "duplicate winner: 400 malformed" "$(vote_status '{"winner": "a", "winner": "b", "token": "1.00"}')" "400 malformed"
expect_eq "no token: 400 malformed" "$(vote_status '{"winner": "a"}')" "400 malformed"
expect_eq "a numeric token: 400 malformed" "$(vote_status '{"winner": "a", "token": 5}')" "400 malformed"
expect_eq "an unknown winner: 400 malformed" "$(vote_status '{"winner": "c", "token": "1.00"}')" "400 malformed"
expect_eq "not JSON: 400 malformed" "$(vote_status '{"winner": "a",')" "400 malformed"

# ---- a half-close, a reset (node: bash can do neither) ----
expect_eq "300 pipelined requests, then the client ends its input: every reply, whole" \
  "$(timeout 30 node "$(dirname "$0")/http1_probe.mjs" halfclose "$ARENA_PORT" /arena.js 300 0)" "300 200 0"
# Redis paused: the export is still being served when the client's end of input arrives.
redis-cli -p "$REDIS_PORT" client pause 1000 all >/dev/null
expect_eq "an export requested, then the client ends its input: the export still comes" \
  "$(timeout 30 node "$(dirname "$0")/http1_probe.mjs" halfclose "$ARENA_PORT" /api/export/battles.json 1 300)" "1 200 0"
# Redis paused: the export's first page comes after the client has reset a connection the
# server was not reading (so only the write finds out).
redis-cli -p "$REDIS_PORT" client pause 1500 all >/dev/null
timeout 30 node "$(dirname "$0")/http1_probe.mjs" reset "$ARENA_PORT" >/dev/null
sleep 2
expect_eq "an export whose client reset the connection meanwhile: the server carries on" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz")" 200

# ---- limits and garbage ----
long=$(head -c 9000 /dev/zero | tr '\0' a)
raw long_url "GET /api/leaderboard?x=$long HTTP/1.1\r\nHost: x\r\n\r\n"
check "a 9 KB request line: 414" grep -aq '^HTTP/1.1 414' "$T/long_url"
raw long_field "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: $long\r\n\r\n"
check "a 9 KB header field: 431" grep -aq '^HTTP/1.1 431' "$T/long_field"
raw bad_chunk "POST /api/battles HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
check "a chunk size that is not hex: 400" grep -aq '^HTTP/1.1 400' "$T/bad_chunk"
raw big_chunk "POST /api/battles HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\n"
check "a chunk larger than max_body, refused before its data: 413" grep -aq '^HTTP/1.1 413' "$T/big_chunk"
raw smuggle "POST /api/battles HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
check "Content-Length with Transfer-Encoding (smuggling): 400" grep -aq '^HTTP/1.1 400' "$T/smuggle"
# 40 connections of random bytes, some after a valid request line
garbage=()
for i in $(seq 40); do
  ( exec 3<>"/dev/tcp/127.0.0.1/$ARENA_PORT" || exit 0
    if ((i % 2)); then printf 'POST /api/battles HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n' >&3; fi
    head -c $((RANDOM % 3000 + 1)) /dev/urandom >&3 2>/dev/null
    timeout 3 cat <&3 >/dev/null 2>&1 ) &
  garbage+=($!)
done
wait "${garbage[@]}"
expect_eq "after 40 connections of random bytes: still serving" "$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz")" 200

# ---- 12: still answering, clean exit ----
expect_eq "metrics after all" "$(curl -s -o /dev/null -w '%{http_code}' "$U/metrics")" 200
kill -TERM "$ARENA_PID"; wait "$ARENA_PID"; expect_eq "clean exit" "$?" 0
if [[ -n ${ARENA_SANITIZED:-} ]]; then
  check "sanitizer clean" bash -c "! grep -q 'ERROR: \\(Address\\|Leak\\)Sanitizer\\|runtime error' '$T/arena.log'"
fi
