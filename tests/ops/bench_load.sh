#!/usr/bin/env bash
# make bench: a mixed load through nginx (TLS, a config generated from
# ops/nginx/arena.conf) over two arena servers on one Redis, with three workers. Users
# create battles, stream both answers, vote and read the board; readers only read the
# board. Prints per route: requests/s, p50/p99 latency, errors (must be 0); the memory of
# every process before and after. Baseline in the same run: leaderboard reads with wrk
# through nginx against the same reads straight from one arena server.
#   ARENA_BENCH_SECONDS   length of the mixed load (20)
#   ARENA_SOAK_SECONDS    instead, a soak of this length (e.g. 600) with memory every 60 s
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

soak=${ARENA_SOAK_SECONDS:-0}
secs=${ARENA_BENCH_SECONDS:-20}
((soak > 0)) && secs=$soak
for p in python3 wrk nginx; do command -v "$p" >/dev/null || { echo "bench_load: $p is missing (make deps)"; exit 1; }; done

make_cert "$T/tls"
start_ops_redis redis || exit 1
# Probes every 2 s: the server waits for a probe at most min(health_interval,
# upstream_connect_timeout), and a worker busy on both cores can take longer than the
# tests' 0.3 s to answer one.
start_ops_workers 3 || exit 1
OPS_CONFIG_EXTRA='{"battles": {"max_tokens": 16}, "access_log": "", "limits": {"health_interval": 2}}' \
  ops_config "$T/arena.json" "redis://127.0.0.1:$REDIS_PORT/0" stories260K="$W1" llama2xs="$W2" babyllama105="$W3"
start_arena arena1 "$T/arena.json" || exit 1; S1=$ARENA_PORT P_S1=$ARENA_PID
start_arena arena2 "$T/arena.json" || exit 1; S2=$ARENA_PORT P_S2=$ARENA_PID
# One client address makes the whole load here: nginx hashes on each simulated client's
# X-Bench-Client header as the shipped config hashes on the address (one server per
# client), and the per-address limits are lifted; the shipped shape otherwise.
NGINX_BALANCE='hash $http_x_bench_client consistent;' NGINX_RATE_SCALE=100000 start_nginx nginx "$(free_port)" "$T/tls" "$S1" "$S2" || exit 1
wait_for 10 curl -skf "$NGINX_URL/readyz" || { echo "bench_load: not ready"; exit 1; }

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
nginx_rss() { local sum=0 p; for p in $NGINX_PID $(pgrep -P "$NGINX_PID"); do sum=$((sum + $(rss "$p"))); done; echo $sum; }
# memory LABEL: RSS in MB of each process, Redis's own count, and live battles per server.
memory() {
  printf '# memory %-7s RSS MB: arena1 %.1f, arena2 %.1f, nginx %.1f, redis %.1f (used_memory %.1f), workers %.1f %.1f %.1f; live battles %s %s\n' "$1" \
    "$(bc <<<"scale=1; $(rss "$P_S1")/1024")" "$(bc <<<"scale=1; $(rss "$P_S2")/1024")" "$(bc <<<"scale=1; $(nginx_rss)/1024")" \
    "$(bc <<<"scale=1; $(rss "$REDIS_PID")/1024")" "$(bc <<<"scale=1; $(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')/1048576")" \
    "$(bc <<<"scale=1; $(rss "$W1_PID")/1024")" "$(bc <<<"scale=1; $(rss "$W2_PID")/1024")" "$(bc <<<"scale=1; $(rss "$W3_PID")/1024")" \
    "$(curl -s "http://127.0.0.1:$S1/metrics" | awk '/^arena_live_battles/ { print $2 }')" "$(curl -s "http://127.0.0.1:$S2/metrics" | awk '/^arena_live_battles/ { print $2 }')"
}
kb_s1_before=$(rss "$P_S1") kb_s2_before=$(rss "$P_S2")
# Warm up (first connections, the board's first fit), then measure.
python3 tests/ops/loadgen.py "$NGINX_URL" 3 2 1 >/dev/null
memory before
kb_s1_before=$(rss "$P_S1") kb_s2_before=$(rss "$P_S2")

echo "# mixed load through nginx: 8 users (create, stream, vote, board), 2 board readers, ${secs} s"
python3 tests/ops/loadgen.py "$NGINX_URL" "$secs" 8 2 >"$T/mixed.json" &
LOAD=$!
if ((soak > 0)); then
  for ((t = 60; t <= soak; t += 60)); do sleep 60; kill -0 "$LOAD" 2>/dev/null || break; memory "${t}s"; done
fi
wait "$LOAD"
memory after

printf '%-12s %9s %9s %9s %9s %7s\n' route requests 'req/s' 'p50 ms' 'p99 ms' errors
jq -r '.routes | to_entries[] | [.key, .value.n, .value.rps, .value.p50_ms, .value.p99_ms, .value.errors] | @tsv' "$T/mixed.json" |
  while IFS=$'\t' read -r r n rps p50 p99 e; do printf '%-12s %9s %9s %9s %9s %7s\n' "$r" "$n" "$rps" "$p50" "$p99" "$e"; done
errors=$(jq '[.routes[].errors] | add' "$T/mixed.json")
jq -r '.error_samples[]' "$T/mixed.json" | sed 's/^/# error: /'
echo "errors: $errors"
echo "battles per server: arena1 $(curl -s "http://127.0.0.1:$S1/metrics" | awk '/^arena_battles_total/ { print $2 }'), arena2 $(curl -s "http://127.0.0.1:$S2/metrics" | awk '/^arena_battles_total/ { print $2 }')"
printf 'arena-server RSS growth over the load: arena1 %+d KB, arena2 %+d KB\n' $(($(rss "$P_S1") - kb_s1_before)) $(($(rss "$P_S2") - kb_s2_before))
echo "votes in Redis: $(redis-cli -p "$REDIS_PORT" xlen 'arena:{a}:votes')"

# Baseline: the cached board through nginx (TLS) against one arena server directly.
wrk_rps() { wrk -t1 -c32 -d5s --latency "$1" | tee "$T/wrk.out" | awk '/^Requests\/sec/ { print $2 }'; }
via=$(wrk_rps "$NGINX_URL/api/leaderboard?method=bt&anony=1"); via_p99=$(awk '$1 == "99%" { print $2 }' "$T/wrk.out")
direct=$(wrk_rps "http://127.0.0.1:$S1/api/leaderboard?method=bt&anony=1"); direct_p99=$(awk '$1 == "99%" { print $2 }' "$T/wrk.out")
echo "leaderboard reads, wrk 32 connections: through nginx+TLS $via req/s (p99 $via_p99), one server direct $direct req/s (p99 $direct_p99), ratio $(bc <<<"scale=2; $via / $direct")"
((errors == 0))
