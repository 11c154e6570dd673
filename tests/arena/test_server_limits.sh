#!/usr/bin/env bash
# Abuse control: per-IP rate limits for battles and votes and the daily vote cap (Redis
# counters), X-Forwarded-For believed only from trusted proxies. No workers are needed:
# limits are checked before a model is drawn (503 no_models afterwards means "allowed").
. "$(dirname "$0")/../lib.sh"

SECRET=limits-secret-0123456789abcdef
start_redis || exit 1
config() {  # config FILE TRUSTED_PROXIES_JSON
  cat >"$1" <<EOF
{
  "redis": {"url": "redis://127.0.0.1:$REDIS_PORT/0"},
  "battles": {"token_secret": "$SECRET"},
  "limits": {"battles_per_minute": 2, "votes_per_minute": 100, "votes_per_day": 3, "health_interval": 0.2,
             "trusted_proxies": $2},
  "access_log": "",
  "models": [{"name": "m1", "endpoint": "http://127.0.0.1:9"}, {"name": "m2", "endpoint": "http://127.0.0.1:9"}]
}
EOF
}
sign() {
  local exp=$(( $(date +%s) + 3600 ))
  echo "$exp.$(printf '%s.%s' "$1" "$exp" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)"
}
# create [XFF]: status of a new battle request
create() { curl -s -o "$T/body" -w '%{http_code}' -X POST ${1:+-H "X-Forwarded-For: $1"} --data '{"prompt": "hi"}' "$ARENA_URL/api/battles"; }
vote() { curl -s -o "$T/body" -w '%{http_code}' -X POST ${2:+-H "X-Forwarded-For: $2"} --data "{\"winner\": \"a\", \"token\": \"$(sign "$1")\"}" "$ARENA_URL/api/battles/$1/vote"; }

config "$T/untrusted.json" '[]'
start_arena untrusted "$T/untrusted.json" || exit 1
sleep 0.5  # the first probes find no model: a battle that passes the limit gets 503 no_models
expect_eq "first battle passes the limit" "$(create 10.0.0.1)" 503
expect_eq "second battle passes the limit" "$(create 10.0.0.2)" 503
expect_eq "third battle in a minute: 429 (X-Forwarded-For from an untrusted peer is ignored)" "$(create 10.0.0.3)" 429
expect_eq "rate limit code" "$(jq -r .error.code "$T/body")" rate_limited
check "Retry-After on 429" bash -c "curl -s -D - -o /dev/null -X POST --data '{\"prompt\": \"hi\"}' '$ARENA_URL/api/battles' | grep -qi '^retry-after: 60'"
for i in 1 2 3; do
  expect_eq "vote $i of the day passes the cap (unknown battle: 404)" "$(vote "b$i")" 404
done
expect_eq "fourth vote of the day: 429" "$(vote b4)" 429
expect_eq "daily cap code" "$(jq -r .error.code "$T/body")" daily_cap
expect_eq "a forged token is refused before any counter" "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"winner": "a", "token": "1.00"}' "$ARENA_URL/api/battles/x/vote")" 403
kill -TERM "$ARENA_PID"; wait "$ARENA_PID"

redis-cli -p "$REDIS_PORT" flushall >/dev/null
config "$T/trusted.json" '["127.0.0.1"]'
start_arena trusted "$T/trusted.json" || exit 1
sleep 0.5
expect_eq "behind a trusted proxy: client 1, battle 1" "$(create 198.51.100.1)" 503
expect_eq "client 1, battle 2" "$(create 198.51.100.1)" 503
expect_eq "client 1, battle 3: 429" "$(create 198.51.100.1)" 429
expect_eq "client 2 has its own counter" "$(create 198.51.100.2)" 503
expect_eq "a forged left-hand hop does not buy a new counter" "$(create '203.0.113.9, 198.51.100.1')" 429
for i in 1 2 3; do vote "c$i" 198.51.100.7 >/dev/null; done
expect_eq "daily cap per forwarded client" "$(vote c4 198.51.100.7)" 429
expect_eq "another forwarded client votes" "$(vote c5 198.51.100.8)" 404
kill -TERM "$ARENA_PID"; wait "$ARENA_PID"; expect_eq "clean exit" "$?" 0
if [[ -n ${ARENA_SANITIZED:-} ]]; then
  check "sanitizer clean" bash -c "! grep -q 'ERROR: \\(Address\\|Leak\\)Sanitizer\\|runtime error' '$T/untrusted.log' '$T/trusted.log'"
fi
