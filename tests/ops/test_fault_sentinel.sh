#!/usr/bin/env bash
# Sentinel failover under a vote load: a master (ops/redis.conf), two replicas
# (ops/redis/replica.conf) and three sentinels (ops/redis/sentinel.conf, quorum 2) on free
# ports; arena-server finds the master through the sentinels. The master is killed -9
# mid-load; after the failover votes are acknowledged again, and every acknowledged vote
# is on the promoted replica.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

N=60
start_ops_redis master || exit 1
MP=$REDIS_PORT MASTER_PID=$REDIS_PID
RP=$(free_port)
# Copies: Redis and Sentinel rewrite their config files when the topology changes.
cp ops/redis/replica.conf "$T/replica.conf"
mkdir -p "$T/replica"
spawn replica redis-server "$T/replica.conf" --port "$RP" --dir "$T/replica" --replicaof 127.0.0.1 "$MP"
# A second replica, never promoted (priority 0): the sentinels point it at the new master,
# so votes, which wait for one replica, are acknowledged again after the failover.
R2P=$(free_port)
cp ops/redis/replica.conf "$T/replica2.conf"
mkdir -p "$T/replica2"
spawn replica2 redis-server "$T/replica2.conf" --port "$R2P" --dir "$T/replica2" --replicaof 127.0.0.1 "$MP" --replica-priority 0
link_up() { redis-cli -p "$1" info replication | grep -q 'master_link_status:up'; }
check "replicas in sync" wait_for 15 bash -c "$(declare -f link_up); link_up $RP && link_up $R2P"

SPORTS=()
for i in 1 2 3; do
  p=$(free_port); SPORTS+=("$p")
  # The shipped file with this test's master port and a shorter down-after (3 s -> 0.5 s).
  sed -e "s/^sentinel monitor arena 127.0.0.1 6379 2/sentinel monitor arena 127.0.0.1 $MP 2/" \
      -e 's/^sentinel down-after-milliseconds arena .*/sentinel down-after-milliseconds arena 500/' \
      -e 's/^sentinel failover-timeout arena .*/sentinel failover-timeout arena 4000/' \
      ops/redis/sentinel.conf >"$T/sentinel$i.conf"
  mkdir -p "$T/s$i"
  (cd "$T/s$i" && exec redis-server "$T/sentinel$i.conf" --sentinel --port "$p") >"$T/sentinel$i.log" 2>&1 &
  ARENA_PIDS+=($!)
done
# Each sentinel must know the other two (hello messages) before a quorum can elect a leader.
sentinels_meet() {
  local p; for p in "${SPORTS[@]}"; do
    [[ $(redis-cli -p "$p" sentinel master arena 2>/dev/null | awk 'prev == "num-other-sentinels" { print } { prev = $0 }') == 2 ]] || return 1
  done
}
check "three sentinels see each other" wait_for 20 sentinels_meet

start_ops_workers 2 || exit 1
# With asynchronous replication a vote acknowledged just before the kill can miss the
# replica; redis.wait_replicas closes that window (an ack then needs the replica's copy).
OPS_CONFIG_EXTRA=$(jq -nc --argjson s "$(printf '"127.0.0.1:%s"\n' "${SPORTS[@]}" | jq -sc .)" \
  '{redis: {sentinels: $s, sentinel_master: "arena", wait_replicas: 1, wait_timeout_ms: 500}}') \
  ops_config "$T/arena.json" "redis://127.0.0.1:1/0" stories260K="$W1" llama2xs="$W2"
start_arena arena "$T/arena.json" || exit 1
check "ready through the sentinels" wait_for 10 curl -sf "$ARENA_URL/readyz"

make_battles "$ARENA_URL" "$N" "$T/battles"
expect_eq "$N battles created and answered" "$(wc -l <"$T/battles")" "$N"

vote_battles "$ARENA_URL" "$T/battles" "$T/votes" 0.05 &
LOAD=$!
wait_for 20 bash -c "(( \$(wc -l <'$T/votes' 2>/dev/null || echo 0) >= 10 ))"
kill -9 "$MASTER_PID"; wait "$MASTER_PID" 2>/dev/null
start=$SECONDS
echo "# master killed after $(wc -l <"$T/votes") votes"
promoted() { [[ $(redis-cli -p "${SPORTS[0]}" sentinel get-master-addr-by-name arena | tail -1) == "$RP" ]]; }
check "the sentinels promote the replica" wait_for 20 promoted
echo "# failover done $((SECONDS - start)) s after the kill, at vote $(wc -l <"$T/votes")"
wait "$LOAD"

count_votes "$RP" "$T/votes"
check "votes acknowledged again after the failover" bash -c "awk '\$2 == 503 { r = 1 } r && \$2 == 200 { n++ } END { exit !n }' '$T/votes'"
expect_eq "only 200 and 503 answers" "$(awk '$2 != 200 && $2 != 503' "$T/votes" | wc -l)" 0
check "the server is ready on the new master" curl -sf "$ARENA_URL/readyz"
# Retried, the refused votes are recorded once (or were in after all: 409).
awk '$2 == 503 { print $1 }' "$T/votes" | grep -Ff - "$T/battles" >"$T/retry"
: >"$T/retried"; vote_battles "$ARENA_URL" "$T/retry" "$T/retried"
expect_eq "retries answer 200 or 409" "$(awk '$2 != 200 && $2 != 409' "$T/retried" | wc -l)" 0
expect_eq "every battle has exactly one vote on the new master" "$(stream_ids "$RP" | sort | uniq | wc -l) $(stream_ids "$RP" | wc -l)" "$N $N"
sanitizer_clean
