# tests/ops/ops_lib.sh: helpers of the operations tests (fault, security, load), sourced
# after tests/lib.sh. They run the shipped configs (ops/redis.conf, ops/arena.json) with
# ports and paths changed, and count votes: sent, acknowledged (HTTP 200), found in the
# Redis stream, lost (acknowledged but not found: must be 0).

# start_ops_redis NAME [PORT] [redis-server options...]: redis-server with ops/redis.conf,
# its data in $T/NAME (kept across a restart on the same NAME). Sets REDIS_PORT, REDIS_PID.
start_ops_redis() {
  local name=$1 port=${2:-}; shift; (($#)) && shift
  REDIS_PORT=${port:-$(free_port)}
  mkdir -p "$T/$name"
  spawn "$name" redis-server ops/redis.conf --port "$REDIS_PORT" --dir "$T/$name" "$@"
  REDIS_PID=$SPAWNED
  wait_for 10 redis-cli -p "$REDIS_PORT" ping || { echo "# redis-server $name did not start"; tail "$T/$name.log"; return 1; }
}

# start_ops_workers N: an arena-worker (one thread) for each of the first N shipped models:
# stories260K, llama2xs, babyllama105. Sets W1..WN to their ports and W1_PID..WN_PID.
start_ops_workers() {
  local specs=("stories260K models/stories260K.bin models/tok512.bin"
               "llama2xs models/llama2xs.bin models/tok512.bin"
               "babyllama105 models/babyllama105.bin models/tok105.bin") i name model tok
  for ((i = 0; i < $1; i++)); do
    read -r name model tok <<<"${specs[i]}"
    start_worker "$name" "$model" "$tok" --threads 1 || return 1
    printf -v "W$((i + 1))" %s "$WORKER_PORT"
    printf -v "W$((i + 1))_PID" %s "$WORKER_PID"
  done
}

# ops_config FILE REDIS_URL NAME=PORT...: ops/arena.json with these models on local
# workers, Redis at REDIS_URL, short answers, no per-IP limits (the load comes from one
# address), fast health probes. $OPS_CONFIG_EXTRA (a jq object) is merged last.
ops_config() {
  local file=$1 url=$2; shift 2
  local models='[]' spec
  for spec in "$@"; do
    models=$(jq -c --arg n "${spec%%=*}" --arg e "http://127.0.0.1:${spec#*=}" '. + [{name: $n, endpoint: $e}]' <<<"$models")
  done
  jq --arg url "$url" --argjson models "$models" --argjson extra "${OPS_CONFIG_EXTRA:-{\}}" --arg log "$T/access.log" '
    .redis.url = $url | .models = $models | .access_log = $log
    | .battles.max_tokens = 6 | .battles.token_secret = "ops-test-secret-0123456789abcdef"
    | .limits.battles_per_minute = 0 | .limits.votes_per_minute = 0 | .limits.votes_per_day = 0
    | .limits.health_interval = 1 | .limits.upstream_timeout = 10
    | .board.ci_method = "sandwich"
    | . * $extra' ops/arena.json >"$file"
}

# api_post URL PATH JSON [OUT]: prints the HTTP status (000 when no answer); body in OUT.
api_post() {
  curl -s -m 10 -o "${4:-/dev/null}" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "$3" "$1$2"
}

# make_battles URL N FILE: N battles created and streamed to the end (4 at a time);
# "id token" lines appended to FILE.
make_battles() {
  local url=$1 n=$2 file=$3 j pids=()
  for ((j = 0; j < 4; j++)); do
    (
      local i id tok resp
      for ((i = j; i < n; i += 4)); do
        resp=$(curl -s -m 10 -w ' %{http_code}' -X POST -H 'Content-Type: application/json' -d '{"prompt":"Once upon a time"}' \
          "$url/api/battles")
        read -r id tok < <(jq -r '"\(.id) \(.token)"' <<<"${resp% *}" 2>/dev/null)
        [[ $id != null && -n $id ]] || { echo "# make_battles: create answered ${resp##* }: ${resp% *}"; continue; }
        timeout 30 curl -sN "$url/api/battles/$id/stream" >/dev/null
        echo "$id $tok" >>"$file"
      done
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
}

# vote_battles URL BATTLES OUT [PAUSE]: one vote per battle of BATTLES, in order, one at
# a time; "id status" lines appended to OUT as each answer comes.
vote_battles() {
  local url=$1 in=$2 out=$3 pause=${4:-0} id tok
  while read -r id tok; do
    echo "$id $(api_post "$url" "/api/battles/$id/vote" "{\"winner\":\"a\",\"token\":\"$tok\"}")" >>"$out"
    [[ $pause == 0 ]] || sleep "$pause"
  done <"$in"
}

# stream_ids PORT: the question_id of every record in the vote stream, one a line.
stream_ids() {
  redis-cli -p "$1" --raw xrange 'arena:{a}:votes' - + | awk 'prev == "question_id" { print } { prev = $0 }'
}

# count_votes PORT VOTES_FILE: prints what it counted as comments and checks that every
# acknowledged vote is in the stream once, and that no battle has two records.
count_votes() {
  local port=$1 file=$2
  stream_ids "$port" | sort >"$T/found.ids"
  awk '$2 == 200 { print $1 }' "$file" | sort -u >"$T/acked.ids"
  local sent ack found lost refused other dup
  sent=$(wc -l <"$file")
  ack=$(wc -l <"$T/acked.ids")
  found=$(comm -12 "$T/acked.ids" "$T/found.ids" | wc -l)
  lost=$(comm -23 "$T/acked.ids" "$T/found.ids" | wc -l)
  refused=$(awk '$2 == 503' "$file" | wc -l)
  other=$(awk '$2 != 200 && $2 != 503 { print $2 }' "$file" | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
  dup=$(uniq -d "$T/found.ids" | wc -l)
  echo "# votes sent $sent, acknowledged $ack, found $found, lost $lost, refused with 503 $refused, other answers: ${other:-none}"
  echo "# records in the stream $(wc -l <"$T/found.ids"), battles with two records $dup"
  expect_eq "no acknowledged vote lost" "$lost" 0
  expect_eq "one record per battle" "$dup" 0
  COUNT_ACK=$ack COUNT_REFUSED=$refused
}

# make_cert DIR: a self-signed P-256 certificate for 127.0.0.1: DIR/cert.pem, DIR/key.pem.
make_cert() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# start_nginx NAME HTTPS_PORT CERT_DIR UPSTREAM_PORT...: nginx as this user with
# ops/nginx/arena.conf, changed only where this machine differs: loopback listeners on
# HTTPS_PORT (and a free port for the redirect), these arena servers, paths under $T/NAME.
# $NGINX_BALANCE replaces the balancing line (e.g. "least_conn;"); $NGINX_RATE_SCALE
# multiplies every limit_req rate (a load test from one address). Sets NGINX_URL, NGINX_PID.
start_nginx() {
  local name=$1 port=$2 certs=$3; shift 3
  local dir=$T/$name servers='' p
  mkdir -p "$dir/tmp"
  for p in "$@"; do servers+="    server 127.0.0.1:$p max_fails=3 fail_timeout=10s;\n"; done
  sed -e "s|listen 443 ssl http2;|listen 127.0.0.1:$port ssl http2;|" \
      -e "s|listen 80;|listen 127.0.0.1:$(free_port);|" -e '/listen \[::\]/d' \
      -e "s|/etc/arena/tls/fullchain.pem|$certs/cert.pem|" -e "s|/etc/arena/tls/privkey.pem|$certs/key.pem|" \
      -e "s|/var/log/nginx/|$dir/|" \
      -e '/# arena-server@/d' -e "s|^\(    keepalive 64;\)|$servers\1|" \
      ${NGINX_BALANCE:+-e "s|^    hash \$binary_remote_addr consistent;|    $NGINX_BALANCE|"} \
      ops/nginx/arena.conf >"$dir/arena.conf"
  if [[ -n ${NGINX_RATE_SCALE:-} ]]; then
    perl -pi -e 's/rate=(\d+)r\/([sm])/"rate=" . $1 * $ENV{NGINX_RATE_SCALE} . "r\/$2"/e; s/burst=\d+/burst=100000/' "$dir/arena.conf"
  fi
  cat >"$dir/nginx.conf" <<CONF
$( [[ $(id -u) == 0 ]] && echo "user $(id -un);" )
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/arena.conf;
}
CONF
  spawn "$name" nginx -p "$dir" -c "$dir/nginx.conf"
  NGINX_PID=$SPAWNED NGINX_URL=https://127.0.0.1:$port
  wait_for 10 curl -sk "$NGINX_URL/healthz" || { echo "# nginx $name did not start"; tail "$T/$name.log" "$dir/error.log"; return 1; }
}

# sanitizer_clean: under a sanitizer build (ARENA_SANITIZED), no process of the test
# reported an error in its log.
sanitizer_clean() {
  [[ -n ${ARENA_SANITIZED:-} ]] || return 0
  check "sanitizer clean" bash -c "! grep -l 'ERROR: \\(Address\\|Leak\\)Sanitizer\\|runtime error' '$T'/*.log"
}
