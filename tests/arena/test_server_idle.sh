#!/usr/bin/env bash
# Battles held in memory over time: a browser stream that the models keep silent gets
# keepalive comment lines (battles.keepalive_seconds), a battle busy with an upstream stays
# in memory however long it is idle, and an idle one leaves memory after
# battles.idle_seconds and is read back from Redis when it is wanted again. One model is a
# real worker; the other is a stalled OpenAI-compatible upstream (it lists its model, then
# opens a completion stream and sends nothing) until it is killed.
. "$(dirname "$0")/../lib.sh"

SECRET=idle-secret-0123456789abcdef
start_redis || exit 1
start_worker stories260K models/stories260K.bin models/tok512.bin || exit 1; W1=$WORKER_PORT
cat >"$T/stalled.py" <<'EOF'
import http.server, sys, time
class Stalled(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        body = b'{"object": "list", "data": [{"id": "stalled", "object": "model"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.flush()
        time.sleep(3600)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Stalled).serve_forever()
EOF
start_listening stalled 'curl -sf http://127.0.0.1:{PORT}/v1/models' python3 "$T/stalled.py" '{PORT}' || exit 1
STALLED=$PORT STALLED_PID=$SPAWNED
cat >"$T/arena.json" <<EOF
{
  "redis": {"url": "redis://127.0.0.1:$REDIS_PORT/0"},
  "battles": {"token_secret": "$SECRET", "max_tokens": 8, "idle_seconds": 1, "keepalive_seconds": 1},
  "limits": {"upstream_timeout": 60, "health_interval": 0.2, "battles_per_minute": 0},
  "board": {"ci_method": "sandwich"},
  "access_log": "",
  "models": [
    {"name": "stories260K", "endpoint": "http://127.0.0.1:$W1"},
    {"name": "stalled", "endpoint": "http://127.0.0.1:$STALLED"}
  ]
}
EOF
start_arena arena "$T/arena.json" || exit 1
U=$ARENA_URL
live() { curl -s "$U/metrics" | awk '$1 == "arena_live_battles" {print $2}'; }
check "both models are drawn" wait_for 10 bash -c "curl -s -o /dev/null -w '%{http_code}' -X POST --data '{\"prompt\": \"Tom\"}' '$U/api/battles' | grep -q 201"
gone() { [[ $(live) == 0 ]]; }
check "the probe battles above, never streamed, leave memory after battles.idle_seconds" wait_for 5 gone

curl -s -X POST --data '{"prompt": "Once upon a time"}' "$U/api/battles" >"$T/created"
ID=$(jq -r .id "$T/created"); TOKEN=$(jq -r .token "$T/created")
curl -sN --max-time 4 "$U/api/battles/$ID/stream" >"$T/stream"
expect_eq "a stream kept silent by one model gets keepalive lines (every second, for 4 s)" \
  "$(( $(grep -c '^: keepalive$' "$T/stream") >= 2 ))" 1
check "the other model's answer came through meanwhile" grep -q '^event: \(a\|b\)$' "$T/stream"
sleep 2
expect_eq "a battle still streaming from a model stays in memory, idle or not" "$(live)" 1

kill "$STALLED_PID"
check "the stalled side ends in error, the battle is saved" \
  wait_for 10 bash -c "[[ \$(redis-cli -p $REDIS_PORT hget 'arena:{a}:battle:$ID' status_a)\$(redis-cli -p $REDIS_PORT hget 'arena:{a}:battle:$ID' status_b) == *error* ]]"
check "then, idle for battles.idle_seconds, it leaves memory" wait_for 5 gone
vote=$(curl -s -o "$T/body" -w '%{http_code}' -X POST --data "{\"winner\": \"a\", \"token\": \"$TOKEN\"}" "$U/api/battles/$ID/vote")
expect_eq "a vote then reads it back from Redis: a side failed (409 side_failed)" "$vote $(jq -r .error.code "$T/body")" "409 side_failed"
curl -sN --max-time 5 "$U/api/battles/$ID/stream" >"$T/replay"
check "its stream replays the saved battle and ends" grep -q '^event: end$' "$T/replay"
