#!/usr/bin/env bash
# arena-server over HTTPS (self-signed certificate made here): TLS 1.2 and 1.3 served with
# the security headers, TLS 1.1 and plain HTTP refused; configuration errors on the command line.
. "$(dirname "$0")/../lib.sh"

start_redis || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
  -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
cat >"$T/arena.json" <<EOF
{
  "redis": {"url": "redis://127.0.0.1:$REDIS_PORT/0"},
  "battles": {"token_secret": "tls-test-secret-0123456789"},
  "access_log": "",
  "models": [{"name": "m1", "endpoint": "http://127.0.0.1:9"}, {"name": "m2", "endpoint": "http://127.0.0.1:9"}]
}
EOF
PORT=$(free_port)
spawn arena "$ARENA_BIN/arena-server" --config "$T/arena.json" --port "$PORT" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
PID=$SPAWNED
U=https://127.0.0.1:$PORT
check "serves HTTPS" wait_for 20 curl -skf "$U/healthz"
hdr=$(curl -sk -D - -o /dev/null "$U/healthz")
check "security headers over TLS" grep -qi "^content-security-policy: default-src 'self'" <<<"$hdr"
expect_eq "TLS 1.2 accepted" "$(curl -sk --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$U/healthz")" 200
expect_eq "TLS 1.3 accepted" "$(curl -sk --tlsv1.3 -o /dev/null -w '%{http_code}' "$U/healthz")" 200
check "TLS 1.1 refused" bash -c "! openssl s_client -connect 127.0.0.1:$PORT -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1 | grep -q 'Cipher is [A-Z]'"
check "TLS 1.2 without forward secrecy refused" bash -c "! openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -cipher AES128-SHA </dev/null 2>&1 | grep -q 'Cipher is [A-Z]'"
expect_eq "plain HTTP on the TLS port gets no HTTP answer" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz")" 000
kill -TERM "$PID"; wait "$PID"; expect_eq "clean exit" "$?" 0
if [[ -n ${ARENA_SANITIZED:-} ]]; then check "sanitizer clean" bash -c "! grep -q 'ERROR: \\(Address\\|Leak\\)Sanitizer\\|runtime error' '$T/arena.log'"; fi

# --- configuration errors: exit 2 with the file and the field named ---
echo '{"limits": {"max_body": "big"}}' >"$T/bad.json"
out=$("$ARENA_BIN/arena-server" --config "$T/bad.json" 2>&1); rc=$?
expect_eq "bad field: exit 2" "$rc" 2
check "bad field: message names file and field" grep -q "bad.json: field limits.max_body: expected an integer" <<<"$out"
out=$("$ARENA_BIN/arena-server" --config "$T/arena.json" --tls-cert "$T/cert.pem" 2>&1); rc=$?
expect_eq "certificate without key: exit 2" "$rc" 2
check "certificate without key: message" grep -q "tls_key" <<<"$out"
out=$("$ARENA_BIN/arena-server" --config "$T/arena.json" --port "$(free_port)" --tls-cert "$T/nope.pem" --tls-key "$T/key.pem" 2>&1); rc=$?
expect_eq "missing certificate file: exit 1" "$rc" 1
check "missing certificate file: message" grep -q "nope.pem" <<<"$out"
# Setup fails right after the board's feed thread starts: the exit must not wait on a
# thread that has not entered its loop yet (it once hung about one run in six).
hung=0
for _ in $(seq 30); do
  timeout 10 "$ARENA_BIN/arena-server" --config "$T/arena.json" --port "$(free_port)" --tls-cert "$T/nope.pem" --tls-key "$T/key.pem" >/dev/null 2>&1
  [[ $? == 124 ]] && hung=$((hung + 1))
done
expect_eq "failed start exits every time (30 runs)" "$hung" 0
out=$("$ARENA_BIN/arena-server" --config "$T/arena.json" --bogus 1 2>&1); rc=$?
expect_eq "unknown flag: exit 2" "$rc" 2
out=$("$ARENA_BIN/arena-server" --config "$T/arena.json" --set limits.votes_per_day=-1 2>&1); rc=$?
expect_eq "--set out of range: exit 2" "$rc" 2
check "--set message" grep -q "limits.votes_per_day" <<<"$out"
check "help" bash -c "'$ARENA_BIN/arena-server' --help | grep -q -- --tls-cert"
