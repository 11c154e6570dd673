#!/usr/bin/env bash
# The web pages in a real browser against the real stack: redis-server, three
# arena-worker processes with the shipped models, arena-server serving web/. Debian's
# chromium is driven headless through playwright-core (tests/web/browser.mjs), which
# prints the TAP lines. Screenshots land in tests/artifacts/ (git-ignored).
. "$(dirname "$0")/../lib.sh"

artifacts=$ARENA_ROOT/tests/artifacts
chromium=${CHROMIUM:-/usr/bin/chromium}

# Nothing is skipped: a missing piece is a failure that says how to get it.
missing=()
[[ -x $ARENA_BIN/arena-server ]] || missing+=("$ARENA_BIN/arena-server (make bin/arena-server)")
[[ -x $ARENA_BIN/arena-worker ]] || missing+=("$ARENA_BIN/arena-worker (make bin/arena-worker)")
[[ -x $chromium ]] || missing+=("$chromium (make deps)")
command -v node >/dev/null || missing+=("node (make deps)")
[[ -f tests/web/node_modules/playwright-core/package.json ]] || missing+=("tests/web/node_modules/playwright-core (make deps)")
if ((${#missing[@]})); then
  for m in "${missing[@]}"; do not_ok "browser test prerequisite: $m"; done
  exit 1
fi

start_redis || { not_ok "redis-server starts"; exit 1; }

# Three models, so that the rank scatter has enough points for Spearman and Kendall.
models=(stories260K llama2xs babyllama105)
declare -A weights=([stories260K]=models/stories260K.bin [llama2xs]=models/llama2xs.bin [babyllama105]=models/babyllama105.bin)
declare -A tokenizers=([stories260K]=models/tok512.bin [llama2xs]=models/tok512.bin [babyllama105]=models/tok105.bin)
# Ports come from free_port, and another program may take one before we bind it: each
# process gets three tries.
declare -A ports
for m in "${models[@]}"; do
  for try in 1 2 3; do
    start_worker "$m" "${weights[$m]}" "${tokenizers[$m]}" --threads 1 >/dev/null && break
    ((try < 3)) || { not_ok "worker $m starts"; sed 's/^/# /' "$T/worker-$m.log" | tail -n 5; exit 1; }
  done
  ports[$m]=$WORKER_PORT
done

# A static ranking of the three models, made up for the test, so that the board has static
# ranks, rank differences and correlations to show.
printf 'model,average\nstories260K,12.5\nllama2xs,20.25\nbabyllama105,7.75\n' >"$T/static.csv"

model_json=""
for m in "${models[@]}"; do
  model_json+="${model_json:+,}
    {\"name\": \"$m\", \"endpoint\": \"http://127.0.0.1:${ports[$m]}\", \"organization\": \"Org of $m\", \"license\": \"MIT\"}"
done
cat >"$T/arena.json" <<EOF
{
  "listen": {"host": "127.0.0.1", "port": 8080},
  "redis": {"url": "redis://127.0.0.1:$REDIS_PORT/0"},
  "battles": {"token_secret": "browser-test-secret-0123456789abcdef", "max_tokens": 96, "max_turns": 3},
  "limits": {"battles_per_minute": 1000, "votes_per_minute": 1000, "health_interval": 0.5},
  "board": {"ci_method": "bootstrap", "bootstrap_rounds": 100, "static_table": "$T/static.csv"},
  "web_root": "$ARENA_ROOT/web",
  "access_log": "$T/access.log",
  "models": [$model_json
  ]
}
EOF

for try in 1 2 3; do
  port=$(free_port)
  url=http://127.0.0.1:$port
  spawn arena-server "$ARENA_BIN/arena-server" --config "$T/arena.json" --port "$port"
  server_pid=$SPAWNED
  # Ready: Redis and at least two workers answer.
  until curl -sf "$url/readyz" >/dev/null 2>&1 || ! kill -0 "$server_pid" 2>/dev/null || ((SECONDS > 120)); do sleep 0.1; done
  curl -sf "$url/readyz" >/dev/null 2>&1 && break
  if ((try == 3)) || ! grep -q 'in use' "$T/arena-server.log"; then
    not_ok "arena-server becomes ready"
    sed 's/^/# /' "$T/arena-server.log" | tail -n 20
    exit 1
  fi
done

mkdir -p "$artifacts"
node tests/web/browser.mjs "$url" "$artifacts" "${models[@]}"
rc=$?
if ((rc != 0)); then
  echo "# arena-server log (tail):"
  sed 's/^/# /' "$T/arena-server.log" | tail -n 20
fi
exit "$rc"
