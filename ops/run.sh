#!/usr/bin/env bash
# ops/run.sh (make run): the whole arena on this machine. Starts redis-server with
# ops/redis.conf (data in $ARENA_VAR/redis), one bin/arena-worker per shipped model and
# bin/arena-server with ops/arena.json, waits until each answers its health check, prints
#   Arena running at http://127.0.0.1:PORT/
# and runs until Ctrl-C (SIGINT) or SIGTERM, which stop every process it started (the
# arena server first, Redis last so that its final AOF write happens after the last vote).
# If any of them dies on its own, the rest are stopped too and the exit status is 1.
#
# Settings (environment; ops/README.md has the details):
#   ARENA_PORT            arena HTTP port (8080)
#   ARENA_HOST            arena listen address (127.0.0.1)
#   ARENA_VAR             state directory: redis/, log/, run/, arena.json (./var)
#   ARENA_CONFIG          arena config template (ops/arena.json)
#   ARENA_REDIS_URL       use this Redis (redis://[:pw@]host:port/db); no local redis-server
#   ARENA_REDIS_PORT      port of the local redis-server (6379)
#   ARENA_WORKER_PORTS    ports of the local workers, one per model ("8081 8082 8083")
#   ARENA_WORKER_THREADS  forward-pass threads per worker (1)
#   ARENA_MODELS_FILE     JSON {"models": [...]} of external OpenAI-compatible endpoints
#                         (vLLM, TGI, ...): replaces the config's models; no local workers
#   ARENA_TOKEN_SECRET    battle token key (default: a random one kept in $ARENA_VAR)
#   ARENA_BIN             where the programs are (./bin)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

port=${ARENA_PORT:-8080}
host=${ARENA_HOST:-127.0.0.1}
var=${ARENA_VAR:-$root/var}
config=${ARENA_CONFIG:-$root/ops/arena.json}
bin=${ARENA_BIN:-$root/bin}
redis_port=${ARENA_REDIS_PORT:-6379}
read -r -a worker_ports <<< "${ARENA_WORKER_PORTS:-8081 8082 8083}"
threads=${ARENA_WORKER_THREADS:-1}

# The shipped models: name, weights, tokenizer (names match ops/arena.json).
models=(
  "stories260K models/stories260K.bin models/tok512.bin"
  "llama2xs models/llama2xs.bin models/tok512.bin"
  "babyllama105 models/babyllama105.bin models/tok105.bin"
)

die() { echo "run: $*" >&2; exit 1; }
for p in arena-server arena-worker; do [[ -x $bin/$p ]] || die "$bin/$p is missing: run make first"; done
command -v jq >/dev/null || die "jq is missing: run make deps"
[[ -f $config ]] || die "$config: no such config"
mkdir -p "$var/log" "$var/run" "$var/redis" || die "cannot create $var"
var=$(cd "$var" && pwd)

pids=() names=()
# start NAME CMD...: runs CMD in the background, output to $var/log/NAME.log.
start() {
  local name=$1; shift
  "$@" >>"$var/log/$name.log" 2>&1 &
  pids+=($!) names+=("$name")
  echo $! >"$var/run/$name.pid"
}

# stop: SIGTERM to every process in reverse start order, each waited for (SIGKILL after 10 s).
stop() {
  trap '' INT TERM
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null && echo "run: ${names[i]} did not stop in 10 s: killed" >&2
    wait "$pid" 2>/dev/null
    rm -f "$var/run/${names[i]}.pid"
  done
  pids=()
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop' EXIT

# wait_until NAME SECONDS CMD...: polls CMD until it succeeds; gives up when NAME's process
# exits or the time is over (then shows the end of its log).
wait_until() {
  local name=$1 deadline=$((SECONDS + $2)) pid=${pids[-1]}; shift 2
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "run: $name did not become healthy; the end of $var/log/$name.log:" >&2
      tail -n 20 "$var/log/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

# ---- Redis ----
if [[ -n ${ARENA_REDIS_URL:-} ]]; then
  redis_url=$ARENA_REDIS_URL
else
  redis_url=redis://127.0.0.1:$redis_port/0
  start redis redis-server "$root/ops/redis.conf" --port "$redis_port" --dir "$var/redis"
  wait_until redis 20 redis-cli -p "$redis_port" ping
fi

# ---- workers, or the external endpoints ----
runtime=$var/arena.json
if [[ -n ${ARENA_MODELS_FILE:-} ]]; then
  jq -e '.models | length >= 2' "$ARENA_MODELS_FILE" >/dev/null || die "$ARENA_MODELS_FILE: needs {\"models\": [...]} with two or more models"
  jq --slurpfile m "$ARENA_MODELS_FILE" '.models = $m[0].models' "$config" >"$runtime" || die "cannot write $runtime"
else
  ((${#worker_ports[@]} >= 2)) || die "ARENA_WORKER_PORTS needs two or more ports"
  endpoints='{}'
  for i in "${!worker_ports[@]}"; do
    ((i < ${#models[@]})) || break
    read -r name weights tok <<< "${models[i]}"
    wp=${worker_ports[i]}
    start "worker-$name" "$bin/arena-worker" serve --model "$weights" --tokenizer "$tok" --name "$name" \
      --host 127.0.0.1 --port "$wp" --threads "$threads"
    wait_until "worker-$name" 30 curl -sf "http://127.0.0.1:$wp/health"
    endpoints=$(jq -c --arg n "$name" --arg e "http://127.0.0.1:$wp" '. + {($n): $e}' <<<"$endpoints")
  done
  # The config's models, each pointed at its local worker; models without one are disabled.
  jq --argjson ep "$endpoints" \
    '.models |= map(if $ep[.name] then .endpoint = $ep[.name] else .enabled = false end)' \
    "$config" >"$runtime" || die "cannot write $runtime"
fi

# ---- the arena server ----
secret=${ARENA_TOKEN_SECRET:-}
if [[ -z $secret ]]; then
  # One random key per state directory, kept so that tokens survive a restart.
  [[ -s $var/token_secret ]] || (umask 077; openssl rand -hex 32 >"$var/token_secret")
  secret=$(<"$var/token_secret")
fi
ARENA_TOKEN_SECRET=$secret start arena-server "$bin/arena-server" --config "$runtime" \
  --host "$host" --port "$port" --redis "$redis_url" --access-log "$var/log/access.log"
wait_until arena-server 30 curl -sf "http://127.0.0.1:$port/readyz"

echo "Arena running at http://127.0.0.1:$port/"

# Run until a signal (the traps stop everything) or until one process exits on its own.
wait -n "${pids[@]}"
for i in "${!pids[@]}"; do
  kill -0 "${pids[i]}" 2>/dev/null || echo "run: ${names[i]} exited; stopping the rest (its log: $var/log/${names[i]}.log)" >&2
done
exit 1
