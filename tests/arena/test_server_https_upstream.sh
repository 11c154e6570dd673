#!/usr/bin/env bash
# arena-server with a model behind https:// (nginx terminating TLS in front of a real worker):
# probed and streamed over TLS when the certificate chains to upstream_ca_file and names the
# endpoint; refused (the model out of sampling) when it chains to another CA or names
# another host.
. "$(dirname "$0")/../lib.sh"

start_redis || exit 1
start_worker stories models/stories260K.bin models/tok512.bin || exit 1
PLAIN=$WORKER_PORT
start_worker xs models/llama2xs.bin models/tok512.bin || exit 1
BEHIND_TLS=$WORKER_PORT

mkdir -p "$T/tls/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=other \
  -keyout "$T/tls/other-key.pem" -out "$T/tls/other.pem" 2>/dev/null
TLS_PORT=$(free_port)
cat >"$T/tls/nginx.conf" <<CONF
$( [[ $(id -u) == 0 ]] && echo "user $(id -un);" )
worker_processes 1;
daemon off;
pid $T/tls/nginx.pid;
error_log $T/tls/error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path $T/tls/tmp/body;
    proxy_temp_path $T/tls/tmp/proxy;
    fastcgi_temp_path $T/tls/tmp/fastcgi;
    uwsgi_temp_path $T/tls/tmp/uwsgi;
    scgi_temp_path $T/tls/tmp/scgi;
    access_log off;
    server {
        listen 127.0.0.1:$TLS_PORT ssl;
        ssl_certificate $T/tls/cert.pem;
        ssl_certificate_key $T/tls/key.pem;
        location / { proxy_pass http://127.0.0.1:$BEHIND_TLS; proxy_http_version 1.1; proxy_buffering off; }
    }
}
CONF
spawn nginx nginx -p "$T/tls" -c "$T/tls/nginx.conf"
check "nginx serves the worker over TLS" wait_for 10 curl -sf --cacert "$T/tls/cert.pem" "https://127.0.0.1:$TLS_PORT/v1/models"

# config CA_FILE [HOST]: two models, the second behind TLS at HOST (127.0.0.1)
config() {
  cat <<JSON
{"redis": {"url": "redis://127.0.0.1:$REDIS_PORT/0"}, "battles": {"token_secret": "https-upstream-test-0123456789", "max_tokens": 16},
 "limits": {"health_interval": 0.2, "probe_timeout": 2}, "access_log": "", "upstream_ca_file": "$1",
 "models": [{"name": "plain", "endpoint": "http://127.0.0.1:$PLAIN", "upstream_model": "stories"},
            {"name": "tls", "endpoint": "https://${2:-127.0.0.1}:$TLS_PORT", "upstream_model": "xs"}]}
JSON
}
config "$T/tls/cert.pem" >"$T/good.json"
start_arena good "$T/good.json" || exit 1
GOOD=$ARENA_URL
check "the https model is probed healthy: ready with two models" wait_for 15 curl -sf "$GOOD/readyz"
id=$(curl -s -X POST "$GOOD/api/battles" -d '{"prompt": "Once upon a time"}' | jq -r .id)
curl -sN --max-time 30 "$GOOD/api/battles/$id/stream" >"$T/stream.txt"
expect_eq "both sides finish, one of them over TLS" "$(grep -c '^event: done' "$T/stream.txt")" 2
check "tokens came from both sides" bash -c "grep -q '^event: a' '$T/stream.txt' && grep -q '^event: b' '$T/stream.txt'"

# a CA that did not sign the endpoint's certificate: the TLS model never becomes healthy
config "$T/tls/other.pem" >"$T/bad.json"
start_arena bad "$T/bad.json" || exit 1
BAD=$ARENA_URL
sleep 1.5
expect_eq "untrusted certificate: not ready (one model only)" "$(curl -s -o /dev/null -w '%{http_code}' "$BAD/readyz")" 503
check "the TLS model's probes fail" bash -c "curl -s '$BAD/metrics' | grep -q 'model=\"tls\"'"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BAD/api/battles" -d '{"prompt": "Once upon a time"}')
expect_eq "no battle without two healthy models" "$code" 503

# a trusted certificate that does not name the endpoint's host (it names 127.0.0.1 only)
config "$T/tls/cert.pem" localhost >"$T/name.json"
start_arena name "$T/name.json" || exit 1
sleep 1.5
expect_eq "certificate for another name: not ready" "$(curl -s -o /dev/null -w '%{http_code}' "$ARENA_URL/readyz")" 503

config "$T/tls/missing.pem" >"$T/missing.json"
out=$("$ARENA_BIN/arena-server" --config "$T/missing.json" --port "$(free_port)" 2>&1); rc=$?
check "a CA file that cannot be loaded stops the server (exit $rc)" test "$rc" -ne 0
check "and is named" grep -q "upstream_ca_file" <<<"$out"
