#!/usr/bin/env bash
# arena-server restarted under a vote load, once cleanly (SIGTERM, as systemd does) and
# once by a crash (kill -9), on the same port: the battles it had answered before (their
# state is in Redis) are voted on after the restart, and no acknowledged vote is lost.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

N=40
start_ops_redis redis || exit 1
start_ops_workers 2 || exit 1
ops_config "$T/arena.json" "redis://127.0.0.1:$REDIS_PORT/0" stories260K="$W1" llama2xs="$W2"
start_arena arena "$T/arena.json" || exit 1
PORT=$ARENA_PORT U=$ARENA_URL
make_battles "$U" "$N" "$T/battles"
expect_eq "$N battles created and answered" "$(wc -l <"$T/battles")" "$N"

# exited PID: the process is gone or a zombie (a child of this shell, not yet waited for).
exited() { local st; st=$(ps -o stat= -p "$1"); [[ -z $st || $st == Z* ]]; }
# restart SIGNAL: stops the server with SIGNAL and starts a new one on the same port.
restart() {
  kill "-$1" "$ARENA_PID"
  if [[ $1 == TERM ]]; then
    check "arena-server exits within 10 s of SIGTERM" wait_for 10 exited "$ARENA_PID"
    kill -9 "$ARENA_PID" 2>/dev/null
  fi
  wait "$ARENA_PID" 2>/dev/null
  echo "# arena-server stopped with SIG$1 after $(wc -l <"$T/votes") votes"
  spawn "arena-$1" "$ARENA_BIN/arena-server" --config "$T/arena.json" --port "$PORT" --host 127.0.0.1
  ARENA_PID=$SPAWNED
  check "back after SIG$1" wait_for 20 curl -sf "$U/readyz"
  echo "# arena-server ready again after $(wc -l <"$T/votes") votes"
}
votes_at_least() { (($(wc -l <"$T/votes" 2>/dev/null || echo 0) >= $1)); }

vote_battles "$U" "$T/battles" "$T/votes" 0.05 &
LOAD=$!
wait_for 20 votes_at_least 10; restart TERM
wait_for 20 votes_at_least 25; restart KILL
wait "$LOAD"

count_votes "$REDIS_PORT" "$T/votes"
check "votes were acknowledged after the restarts" bash -c "tail -n 10 '$T/votes' | grep -q ' 200$'"
# Unanswered votes (000: no server on the port, or dropped by the stopping one) are retried:
# 200, or 409 when the dropped request had been recorded after all.
awk '$2 != 200 { print $1 }' "$T/votes" | grep -Ff - "$T/battles" >"$T/retry"
: >"$T/retried"; vote_battles "$U" "$T/retry" "$T/retried"
expect_eq "retries answer 200 or 409" "$(awk '$2 != 200 && $2 != 409' "$T/retried" | wc -l)" 0
cat "$T/votes" "$T/retried" >"$T/all"
count_votes "$REDIS_PORT" "$T/all"
expect_eq "every battle answered before the restarts has its vote" "$(stream_ids "$REDIS_PORT" | sort -u | wc -l)" "$N"
total() { [[ $(curl -s "$U/api/leaderboard?method=bt&anony=0" | jq -r .total_votes) == "$N" ]]; }
check "the new server's board counts every vote in the stream" wait_for 10 total
sanitizer_clean
