#!/usr/bin/env bash
# Hostile clients against arena-server served over HTTPS directly and through nginx
# (ops/nginx/arena.conf): TLS versions and ciphers, security headers, slow clients
# (slowloris), oversized heads and bodies, malformed JSON and UTF-8, forged and replayed
# vote tokens, rate-limit evasion through X-Forwarded-For. What tests/arena/test_server.sh
# already covers (plain-HTTP headers, a body over the limit, a bad-JSON vote, a forged
# MAC, a token of another battle, a double vote) is not repeated here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

SECRET=ops-test-secret-0123456789abcdef
make_cert "$T/tls"
start_ops_redis redis || exit 1
start_ops_workers 2 || exit 1
# Direct server: nobody is a trusted proxy. Proxied server (Redis db 1, its own counters):
# nginx on loopback is. Both allow 3 battles a minute per client address.
OPS_CONFIG_EXTRA='{"limits": {"battles_per_minute": 3, "trusted_proxies": []}}' \
  ops_config "$T/direct.json" "redis://127.0.0.1:$REDIS_PORT/0" stories260K="$W1" llama2xs="$W2"
OPS_CONFIG_EXTRA='{"limits": {"battles_per_minute": 3, "trusted_proxies": ["127.0.0.1"]}}' \
  ops_config "$T/proxied.json" "redis://127.0.0.1:$REDIS_PORT/1" stories260K="$W1" llama2xs="$W2"

ARENA_PORT=$(free_port)
spawn direct "$ARENA_BIN/arena-server" --config "$T/direct.json" --host 127.0.0.1 --port "$ARENA_PORT" \
  --tls-cert "$T/tls/cert.pem" --tls-key "$T/tls/key.pem" --set limits.header_timeout=4
D=https://127.0.0.1:$ARENA_PORT DPORT=$ARENA_PORT
check "arena-server serves HTTPS" wait_for 20 curl -skf "$D/healthz"
start_arena proxied "$T/proxied.json" || exit 1
start_nginx nginx "$(free_port)" "$T/tls" "$ARENA_PORT" || exit 1
N=$NGINX_URL NPORT=${NGINX_URL##*:}

# ---- slow clients, started first: the direct server's request deadline is 4 s (set above),
# nginx's client_header_timeout 10 s ----
# slow_client NAME PORT HEAD TRICKLE: over TLS, sends HEAD, then one TRICKLE byte every
# 2 s (nothing when TRICKLE is empty), for at most 36 s; writes the seconds the connection
# stayed open to $T/NAME.
slow_client() {
  local name=$1 port=$2 head=$3 trickle=$4
  (
    start=$SECONDS
    {
      printf '%b' "$head"
      for ((i = 0; i < 17; i++)); do
        sleep 2; [[ -e $T/$name ]] && break; [[ -n $trickle ]] && printf '%s' "$trickle"
      done
    } | { timeout 36 openssl s_client -quiet -connect "127.0.0.1:$port" >/dev/null 2>&1; echo $((SECONDS - start)) >"$T/$name"; }
  ) &
  ARENA_PIDS+=($!)
}
slow_client silent "$DPORT" 'GET / HTTP/1.1\r\nHost: x\r\n' ''
slow_client trickle "$DPORT" 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' 'a'
slow_client trickle_nginx "$NPORT" 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' 'a'
slow_client body_nginx "$NPORT" 'POST /api/battles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{' ' '
sleep 1
t=$(curl -sk -m 5 -o /dev/null -w '%{http_code} %{time_total}' "$D/healthz")
expect_eq "direct: served while slow clients trickle" "${t%% *}" 200
# A crowd of idle half-open requests on the plain proxied server while others are served.
for i in $(seq 100); do exec {fd}<>"/dev/tcp/127.0.0.1/${ARENA_URL##*:}"; printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&$fd; done
t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$ARENA_URL/healthz")
expect_eq "served while 100 slow clients hold connections" "${t%% *}" 200
echo "# healthz answered in ${t#* } s beside 100 half-open requests"

# ---- TLS ----
# tls_ok PORT ARGS...: the handshake succeeds with these s_client arguments. The client is
# told to accept anything (SECLEVEL=0), so a refusal is the server's.
# Two tries: on this shared machine one handshake can miss the 5 s.
tls_ok() {
  local port=$1; shift
  local try; for try in 1 2; do
    echo | timeout 5 openssl s_client -connect "127.0.0.1:$port" "$@" 2>&1 | grep -q 'Cipher is [A-Z]' && return 0
  done
  return 1
}
tls_refused() { ! tls_ok "$@"; }
# tls_serves PORT VERSION: an HTTPS request made with exactly that TLS version (1.2 or 1.3)
# gets its answer (curl, as a browser connects: a reply, not only s_client's handshake
# line, which once went missing on a loaded machine).
tls_serves() {
  [[ $(curl -sk -m 10 --tlsv"$2" --tls-max "$2" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$1/healthz") == 200 ]]
}
for side in direct nginx; do
  port=$DPORT; [[ $side == nginx ]] && port=$NPORT
  check "$side: TLS 1.3 accepted" tls_serves "$port" 1.3
  check "$side: TLS 1.2 accepted" tls_serves "$port" 1.2
  check "$side: TLS 1.1 refused" tls_refused "$port" -tls1_1 -cipher DEFAULT:@SECLEVEL=0
  check "$side: TLS 1.0 refused" tls_refused "$port" -tls1 -cipher DEFAULT:@SECLEVEL=0
  check "$side: TLS 1.2 without forward secrecy refused" tls_refused "$port" -tls1_2 -cipher AES128-SHA:AES256-GCM-SHA384:@SECLEVEL=0
  check "$side: TLS 1.2 CBC suite refused" tls_refused "$port" -tls1_2 -cipher ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0
done

# ---- security headers on the pages, over both ----
for u in "$D" "$N"; do
  for page in / /leaderboard; do
    h=$(curl -sk -D - -o /dev/null "$u$page")
    check "$u$page: CSP" grep -qi "^content-security-policy: default-src 'self'.*frame-ancestors 'none'" <<<"$h"
    check "$u$page: nosniff" grep -qi '^x-content-type-options: nosniff' <<<"$h"
    check "$u$page: frame denial" grep -qi '^x-frame-options: DENY' <<<"$h"
  done
done
check "nginx: HSTS" grep -qi '^strict-transport-security: max-age=' <<<"$(curl -sk -D - -o /dev/null "$N/")"
check "nginx: no version in Server" bash -c "curl -sk -D - -o /dev/null '$N/' | grep -i '^server:' | grep -qv '[0-9]'"

# ---- oversized heads and bodies ----
# code URL ARGS...: the status curl gets (000: connection closed without an answer).
code() { local u=$1; shift; curl -sk -o "$T/body" -w '%{http_code}' "$@" "$u"; }
big=$(head -c 9000 /dev/zero | tr '\0' a)
many=(); for i in $(seq 200); do many+=(-H "X-Header-$i: $(head -c 60 /dev/zero | tr '\0' b)"); done
for u in "$D" "$N"; do
  check "$u: a 9 KB header line: 400/431" grep -qE '^(400|431)$' <<<"$(code "$u/healthz" -H "X-Big: $big")"
  check "$u: 200 headers (12 KB): 400/431" grep -qE '^(400|431)$' <<<"$(code "$u/healthz" "${many[@]}")"
  check "$u: a 9 KB URL: 400/414" grep -qE '^(400|414)$' <<<"$(code "$u/api/leaderboard?x=$big")"
  r=$(code "$u/api/battles" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' --data-binary "{\"prompt\":\"$(head -c 40000 /dev/zero | tr '\0' x)\"}")
  if [[ $u == "$N" ]]; then expect_eq "$u: a chunked 40 KB body: 413" "$r" 413
  else
    # arena-server answers 413 and closes at once; over TLS the client, still sending, may
    # get the reset before it reads the 413 (000). Either way the body is refused.
    check "$u: a chunked 40 KB body: 413 (or closed)" grep -qE '^(413|000)$' <<<"$r"
  fi
done
# A declared length of 1 TB, no body sent: refused at once, not awaited.
r=$(printf 'POST /api/battles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n' |
    timeout 5 openssl s_client -quiet -connect "127.0.0.1:$DPORT" 2>/dev/null | head -1 | tr -d '\r')
check "Content-Length of 1 TB: 413 at once" grep -q ' 413 ' <<<"$r"
check "TRACE: refused (405/501)" grep -qE '^(405|501)$' <<<"$(code "$D/" -X TRACE)"

# ---- malformed JSON and text ----
# post URL PATH BODY: the status; body in $T/body
post() { curl -sk -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary "$3" "$1$2"; }
bad_request() { [[ $(post "$D" /api/battles "$1") == 400 ]] && jq -e '.error.code and .error.message' "$T/body" >/dev/null; }
check "truncated JSON: 400" bad_request '{"prompt": "Once'
check "duplicate keys: 400" bad_request '{"prompt": "a", "prompt": "b"}'
check "a prompt that is a number: 400" bad_request '{"prompt": 7}'
check "10,000 nested arrays: 400" bad_request "$(printf '%.0s[' $(seq 7000))"
check "a NUL in the prompt: 400" bad_request '{"prompt": "a\u0000b"}'
check "the NUL's message speaks of the body, not of parser flags" bash -c "! grep -q JSON_ALLOW_NUL '$T/body'"
check "a lone surrogate: 400" bad_request '{"prompt": "\ud800"}'
check "overlong UTF-8 (C0 AF): 400" bad_request "$(printf '{"prompt": "\xc0\xaf"}')"
check "UTF-8 surrogate bytes (ED A0 80): 400" bad_request "$(printf '{"prompt": "\xed\xa0\x80"}')"
check "truncated UTF-8 sequence: 400" bad_request "$(printf '{"prompt": "caf\xc3"}')"
post "$D" /api/battles "$(printf '{"prompt": "\xff"}')" >/dev/null
expect_eq "invalid UTF-8: the message says so" "$(jq -r .error.message "$T/body")" "the body is not valid UTF-8"
check "still serving after the bad input" curl -skf "$D/healthz"

# ---- forged and replayed vote tokens ----
# sign ID EXP [KEY]: a token as the server makes them.
sign() { echo "$2.$(printf '%s.%s' "$1" "$2" | openssl dgst -sha256 -hmac "${3:-$SECRET}" -r | cut -d' ' -f1)"; }
vote() { post "$D" "/api/battles/$1/vote" "{\"winner\":\"a\",\"token\":$2}"; }
post "$D" /api/battles '{"prompt": "Once upon a time"}' >/dev/null
ID=$(jq -r .id "$T/body"); TOKEN=$(jq -r .token "$T/body")
timeout 30 curl -skN "$D/api/battles/$ID/stream" >/dev/null
exp=${TOKEN%%.*} mac=${TOKEN#*.}
expect_eq "expired token (correctly signed): 403" "$(vote "$ID" "\"$(sign "$ID" $(($(date +%s) - 10)))\"")" 403
expect_eq "expiry pushed later, old MAC: 403" "$(vote "$ID" "\"$((exp + 3600)).$mac\"")" 403
expect_eq "signed with another deployment's key: 403" "$(vote "$ID" "\"$(sign "$ID" "$exp" other-secret-0123456789abcdef)\"")" 403
expect_eq "MAC cut short: 403" "$(vote "$ID" "\"$exp.${mac:0:32}\"")" 403
expect_eq "MAC in upper case: 403" "$(vote "$ID" "\"$exp.${mac^^}\"")" 403
expect_eq "empty token: 403" "$(vote "$ID" '""')" 403
expect_eq "8 KB token: 403" "$(vote "$ID" "\"$exp.$(head -c 8000 /dev/zero | tr '\0' a)\"")" 403
expect_eq "token as a number: 400" "$(vote "$ID" 12345)" 400
expect_eq "the real token: 200" "$(vote "$ID" "\"$TOKEN\"")" 200
expect_eq "replayed after the vote: 409" "$(vote "$ID" "\"$TOKEN\"")" 409
expect_eq "replayed on an arena with another database: 404" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary "{\"winner\":\"b\",\"token\":\"$TOKEN\"}" "$ARENA_URL/api/battles/$ID/vote")" 404
expect_eq "one vote recorded" "$(redis-cli -p "$REDIS_PORT" xlen 'arena:{a}:votes')" 1

# ---- rate-limit evasion through X-Forwarded-For ----
# creates URL XFF...: the statuses of one battle create per X-Forwarded-For value.
creates() { local u=$1 x; shift; for x in "$@"; do
  curl -sk -o "$T/body" -w '%{http_code} ' -X POST -H 'Content-Type: application/json' -H "X-Forwarded-For: $x" -d '{"prompt":"Tom"}' "$u/api/battles"; done; }
# Direct, nobody trusted: 1 battle above already; a new made-up address per request does not help.
expect_eq "direct: X-Forwarded-For ignored, the peer is limited" "$(creates "$D" 192.0.2.1 192.0.2.2 192.0.2.3)" "201 201 429 "
expect_eq "the refusal is the arena's rate limit" "$(jq -r .error.code "$T/body")" rate_limited
rl_keys=$(redis-cli -p "$REDIS_PORT" -n 0 --scan --pattern 'arena:*:rl:*')
check "the direct server counts the peer's address, not a forwarded one" \
  bash -c "grep -q '127\.0\.0\.1' <<<'$rl_keys' && ! grep -q '192\.0\.2' <<<'$rl_keys'"
# Through nginx: nginx replaces the header with the real peer, the arena trusts nginx.
expect_eq "nginx: a client's X-Forwarded-For is replaced" "$(creates "$N" 192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4)" "201 201 201 429 "
grep -q '192.0.2' "$T/access.log" && not_ok "no made-up address reaches the access log" || ok "no made-up address reaches the access log"
# From the trusted proxy itself: the last untrusted hop is the client; what it prepends is not believed.
expect_eq "trusted proxy: each real client has its own limit" "$(creates "$ARENA_URL" 198.51.100.1 198.51.100.2 198.51.100.3 198.51.100.4)" "201 201 201 201 "
expect_eq "trusted proxy: forged hops left of the client are ignored" \
  "$(creates "$ARENA_URL" '203.0.113.1, 198.51.100.9' '203.0.113.2, 198.51.100.9' '203.0.113.3, 198.51.100.9' '203.0.113.4,198.51.100.9')" "201 201 201 429 "

# ---- slow clients: the verdicts ----
wait_for 40 test -s "$T/silent" -a -s "$T/trickle" -a -s "$T/trickle_nginx" -a -s "$T/body_nginx"
echo "# connections open (s): silent head $(cat "$T/silent"), trickled head $(cat "$T/trickle"), through nginx: trickled head $(cat "$T/trickle_nginx"), trickled body $(cat "$T/body_nginx")"
check "a client that stops sending is cut off (header_timeout 4 s)" test "$(cat "$T/silent")" -le 8
check "a client trickling its head is cut off (header_timeout 4 s)" test "$(cat "$T/trickle")" -le 8
check "nginx cuts off a trickled head (client_header_timeout)" test "$(cat "$T/trickle_nginx")" -le 15
check "the cut-offs are counted" test "$(curl -sk "$D/metrics" | awk '/kind="slow_client"/ {print $2}')" -ge 2
# nginx buffers a request body (proxy_request_buffering), so a trickled body never reaches
# the arena; nginx's client_body_timeout restarts with every read.
(($(cat "$T/body_nginx") > 30)) && echo "# note: nginx held a trickled body for $(cat "$T/body_nginx") s (client_body_timeout is per read; limit_conn caps such connections per address)"
check "still serving" curl -skf "$D/healthz"
sanitizer_clean
