# tests/lib.sh: shared helpers for shell tests. Source it first thing:
#   . "$(dirname "$0")/../lib.sh"
# It gives TAP-style reporting (ok / not_ok / check), a scratch directory $T, free ports,
# and starters for real processes (redis-server, arena-worker, arena-server) that are all
# stopped by one EXIT trap, however the test ends.
set -uo pipefail
: "${ARENA_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${ARENA_BIN:=$ARENA_ROOT/bin}"
cd "$ARENA_ROOT"
T=$(mktemp -d "${TMPDIR:-/tmp}/arena-test.XXXXXX")
ARENA_PIDS=()

arena_cleanup() {
  local pid
  for pid in "${ARENA_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${ARENA_PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$T"
}
trap arena_cleanup EXIT
trap 'exit 130' INT TERM

ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check NAME CMD...: ok when CMD exits 0; on failure its output is shown as comments.
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name"; printf '%s\n' "$out" | tail -n 20 | sed 's/^/# /'; fi
}
# expect_eq NAME GOT WANT
expect_eq() { if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1"; echo "# got:  $2"; echo "# want: $3"; fi; }

# free_port: a TCP port nothing listens on now.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    ss -ltnH "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
}

# wait_for SECONDS CMD...: retry CMD every 0.05 s until it succeeds; 1 on timeout.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# spawn NAME CMD...: start CMD in the background, logging to $T/NAME.log; pid in $SPAWNED.
spawn() {
  local name=$1; shift
  "$@" >"$T/$name.log" 2>&1 &
  SPAWNED=$!
  ARENA_PIDS+=("$SPAWNED")
}

# start_redis [NAME]: a real redis-server on a free port with its data in $T/NAME/.
# Sets REDIS_PORT and REDIS_PID.
start_redis() {
  local name=${1:-redis}
  REDIS_PORT=${REDIS_PORT_WANTED:-$(free_port)}
  mkdir -p "$T/$name"
  spawn "$name" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$T/$name" \
    --appendonly yes --appendfsync always --save '' --protected-mode no
  REDIS_PID=$SPAWNED
  wait_for 10 redis-cli -p "$REDIS_PORT" ping || { echo "# redis-server did not start"; cat "$T/$name.log"; return 1; }
}

# start_worker NAME MODEL TOKENIZER [extra serve flags]: bin/arena-worker serve on a free port.
# Sets WORKER_PORT and WORKER_PID.
start_worker() {
  local name=$1 model=$2 tok=$3; shift 3
  WORKER_PORT=$(free_port)
  spawn "worker-$name" "$ARENA_BIN/arena-worker" serve --model "$model" --tokenizer "$tok" \
    --name "$name" --port "$WORKER_PORT" --host 127.0.0.1 "$@"
  WORKER_PID=$SPAWNED
  wait_for 20 curl -sf "http://127.0.0.1:$WORKER_PORT/health" || { echo "# worker $name did not start"; cat "$T/worker-$name.log"; return 1; }
}

# start_arena NAME CONFIG [extra arena-server flags]: bin/arena-server on a free port with
# the given config. Sets ARENA_PORT, ARENA_PID and ARENA_URL; waits for /healthz.
start_arena() {
  local name=$1 config=$2; shift 2
  ARENA_PORT=$(free_port)
  spawn "$name" "$ARENA_BIN/arena-server" --config "$config" --port "$ARENA_PORT" --host 127.0.0.1 "$@"
  ARENA_PID=$SPAWNED
  ARENA_URL=http://127.0.0.1:$ARENA_PORT
  wait_for 20 curl -sf "$ARENA_URL/healthz" || { echo "# arena-server $name did not start"; cat "$T/$name.log"; return 1; }
}
