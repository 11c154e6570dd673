#!/usr/bin/env bash
# ops/run.sh (make run) on free ports with a scratch state directory: it prints its line,
# a whole battle works through the API, the vote is in the local Redis, and SIGINT stops
# every process it started. (A background job of a script starts with SIGINT ignored,
# which a shell cannot undo: env --default-signal gives run.sh the Ctrl-C it gets from a terminal.)
. "$(dirname "$0")/../lib.sh"

APORT=$(free_port); RPORT=$(free_port)
WPORTS="$(free_port) $(free_port)"
VAR=$T/var
ARENA_PORT=$APORT ARENA_REDIS_PORT=$RPORT ARENA_WORKER_PORTS=$WPORTS ARENA_VAR=$VAR \
  ARENA_TOKEN_SECRET= env --default-signal=INT ops/run.sh >"$T/run.out" 2>"$T/run.err" &
RUN_PID=$!
ARENA_PIDS+=("$RUN_PID")
U=http://127.0.0.1:$APORT

# line_printed: the line is out (or run.sh gave up: then stop waiting and show why).
line_printed() { grep -qx "Arena running at $U/" "$T/run.out" || ! kill -0 "$RUN_PID"; }
if wait_for 50 line_printed && grep -q . "$T/run.out"; then ok "prints the line"; else not_ok "prints the line"; sed 's/^/# /' "$T/run.err" | tail -20; exit 1; fi
expect_eq "one line on stdout" "$(wc -l <"$T/run.out")" 1

# Every process it started has a pid file; collect them before the stop removes them.
procs=()
for f in "$VAR"/run/*.pid; do procs+=("$(basename "$f" .pid)=$(<"$f")"); done
expect_eq "redis, two workers and the server started" "$(printf '%s\n' "${procs[@]%%=*}" | sort | tr '\n' ' ')" \
  "arena-server redis worker-llama2xs worker-stories260K "
check "logs under var/log" test -s "$VAR/log/redis.log" -a -s "$VAR/log/arena-server.log"
check "redis is the project's config (appendonly)" bash -c "redis-cli -p $RPORT config get appendonly | grep -qx yes"
check "redis data under var/redis" bash -c "redis-cli -p $RPORT config get dir | grep -qx '$VAR/redis'"
check "the third model (no worker port) is disabled" jq -e '.models[] | select(.name == "babyllama105") | .enabled == false' "$VAR/arena.json"

code=$(curl -s -o "$T/b" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"prompt":"Once upon a time"}' "$U/api/battles")
expect_eq "create a battle" "$code" 201
ID=$(jq -r .id "$T/b"); TOKEN=$(jq -r .token "$T/b")
timeout 60 curl -sN "$U/api/battles/$ID/stream" >"$T/stream"
expect_eq "both sides answered" "$(grep -c '^event: done' "$T/stream")" 2
code=$(curl -s -o "$T/v" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "{\"winner\":\"a\",\"token\":\"$TOKEN\"}" "$U/api/battles/$ID/vote")
expect_eq "vote" "$code" 200
expect_eq "the vote is in the local Redis" "$(redis-cli -p "$RPORT" xlen 'arena:{a}:votes')" 1
check "the token secret is kept, private" bash -c "test \"\$(stat -c %a '$VAR/token_secret')\" = 600"

kill -INT "$RUN_PID"
rc=0; timeout 30 tail --pid="$RUN_PID" -f /dev/null || rc=$?
expect_eq "run.sh exits on SIGINT" "$rc" 0
wait "$RUN_PID"; expect_eq "exit status 130" "$?" 130
left=()
for p in "${procs[@]}"; do kill -0 "${p#*=}" 2>/dev/null && left+=("${p%%=*}"); done
expect_eq "no process left" "${left[*]:-}" ""
check "no pid files left" bash -c "! ls '$VAR'/run/*.pid 2>/dev/null | grep -q ."
check "the AOF holds the vote" grep -rqa "$ID" "$VAR/redis/appendonlydir"
check "port free again" bash -c "! ss -ltnH 'sport = :$APORT' | grep -q ."
