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

# free_port: a TCP port no socket uses now, in any state. Below the kernel's ephemeral
# range: a load test leaves thousands of client sockets in TIME_WAIT on ephemeral ports,
# and a listener cannot bind a port one of them holds.
free_port() {
  local p lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  while :; do
    p=$((10000 + RANDOM % (lo - 10000)))
    ss -tanH "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
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

# start_listening NAME 'READY CMD' CMD...: start CMD, which listens on a port chosen here
# (every "{PORT}" in READY CMD and CMD is replaced by it), and wait up to 20 s until READY CMD
# succeeds. Another process may take the port between free_port and the bind: when CMD dies
# first, it is started again on another port (three tries). WANT_PORT=N asks for port N
# (one try: a restart on the port a test used before). Sets PORT and SPAWNED.
start_listening() {
  local name=$1 ready=$2 attempt; shift 2
  for attempt in 1 2 3; do
    PORT=${WANT_PORT:-$(free_port)}
    spawn "$name" "${@//\{PORT\}/$PORT}"
    local deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)) && kill -0 "$SPAWNED" 2>/dev/null; do
      eval "${ready//\{PORT\}/$PORT}" >/dev/null 2>&1 && return 0
      sleep 0.05
    done
    kill -0 "$SPAWNED" 2>/dev/null && break   # alive but never ready: not a port race
    [[ -n ${WANT_PORT:-} ]] && break
    echo "# $name exited at start (try $attempt):"; tail -n 5 "$T/$name.log" | sed 's/^/#   /'
  done
  echo "# $name did not start"; tail -n 20 "$T/$name.log" | sed 's/^/#   /'
  return 1
}

# start_redis [NAME]: a real redis-server on a free port (REDIS_PORT_WANTED=N for port N)
# with its data in $T/NAME/. Sets REDIS_PORT and REDIS_PID.
start_redis() {
  local name=${1:-redis}
  mkdir -p "$T/$name"
  WANT_PORT=${REDIS_PORT_WANTED:-} start_listening "$name" 'redis-cli -p {PORT} ping' redis-server --port '{PORT}' --bind 127.0.0.1 \
    --dir "$T/$name" --appendonly yes --appendfsync always --save '' --protected-mode no || return 1
  REDIS_PORT=$PORT REDIS_PID=$SPAWNED
}

# start_worker NAME MODEL TOKENIZER [extra serve flags]: bin/arena-worker serve on a free port.
# Sets WORKER_PORT and WORKER_PID.
start_worker() {
  local name=$1 model=$2 tok=$3; shift 3
  start_listening "worker-$name" 'curl -sf http://127.0.0.1:{PORT}/health' \
    "$ARENA_BIN/arena-worker" serve --model "$model" --tokenizer "$tok" \
    --name "$name" --port '{PORT}' --host 127.0.0.1 "$@" || return 1
  WORKER_PORT=$PORT WORKER_PID=$SPAWNED
}

# start_arena NAME CONFIG [extra arena-server flags]: bin/arena-server on a free port with
# the given config. Sets ARENA_PORT, ARENA_PID and ARENA_URL; waits for /healthz.
start_arena() {
  local name=$1 config=$2; shift 2
  start_listening "$name" 'curl -sf http://127.0.0.1:{PORT}/healthz' \
    "$ARENA_BIN/arena-server" --config "$config" --port '{PORT}' --host 127.0.0.1 "$@" || return 1
  ARENA_PORT=$PORT ARENA_PID=$SPAWNED ARENA_URL=http://127.0.0.1:$PORT
}
