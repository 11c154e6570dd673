#!/usr/bin/env bash
# kill -9 of redis-server (ops/redis.conf: appendonly, appendfsync always) under a steady
# vote load, then a restart on the same port and data: every vote the API acknowledged is
# in the stream; the votes refused meanwhile got 503; retried, they are recorded once.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

N=60
start_ops_redis redis || exit 1
RP=$REDIS_PORT
start_ops_workers 2 || exit 1
ops_config "$T/arena.json" "redis://127.0.0.1:$RP/0" stories260K="$W1" llama2xs="$W2"
start_arena arena "$T/arena.json" || exit 1
check "ready" wait_for 10 curl -sf "$ARENA_URL/readyz"

make_battles "$ARENA_URL" "$N" "$T/battles"
expect_eq "$N battles created and answered" "$(wc -l <"$T/battles")" "$N"
# ops/redis.conf keeps battle hashes in the compact encoding (see the note there)
expect_eq "a battle hash is a listpack" "$(redis-cli -p "$RP" object encoding "arena:{a}:battle:$(head -1 "$T/battles" | cut -d' ' -f1)")" listpack

# The load: one vote after another, 50 ms apart, while Redis dies and comes back.
vote_battles "$ARENA_URL" "$T/battles" "$T/votes" 0.05 &
LOAD=$!
wait_for 20 bash -c "(( \$(wc -l <'$T/votes' 2>/dev/null || echo 0) >= 10 ))"
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
echo "# redis-server killed after $(wc -l <"$T/votes") votes"
sleep 1.5
start_ops_redis redis "$RP" || exit 1
echo "# redis-server restarted after $(wc -l <"$T/votes") votes"
wait "$LOAD"

count_votes "$RP" "$T/votes"
check "some votes were refused while Redis was down" test "$COUNT_REFUSED" -gt 0
check "votes were acknowledged again after the restart" bash -c "awk '\$2 == 503 { r = 1 } r && \$2 == 200 { n++ } END { exit !n }' '$T/votes'"
expect_eq "only 200 and 503 answers" "$(awk '$2 != 200 && $2 != 503' "$T/votes" | wc -l)" 0

# The refused votes, retried: each is recorded now (200) or was written before the
# crash after all (409 already voted); never a second record.
awk '$2 == 503 { print $1 }' "$T/votes" | grep -Ff - "$T/battles" >"$T/retry"
: >"$T/retried"; vote_battles "$ARENA_URL" "$T/retry" "$T/retried"
expect_eq "retries answer 200 or 409" "$(awk '$2 != 200 && $2 != 409' "$T/retried" | wc -l)" 0
cat "$T/votes" "$T/retried" >"$T/all"
count_votes "$RP" "$T/all"
expect_eq "every battle has its vote" "$(stream_ids "$RP" | sort -u | wc -l)" "$N"
sanitizer_clean
