#!/usr/bin/env bash
# arena-server import: a FastChat clean-battle file into Redis, idempotently; the live board
# over the imported votes agrees with arena-ratings on the same file.
. "$(dirname "$0")/../lib.sh"

FILE=data/genai_arena_clean_battle.json
start_redis || exit 1
REDIS=redis://127.0.0.1:$REDIS_PORT/0
# added OUTPUT: the count of added battles in an import's summary line
added() { sed -n 's/.*: \([0-9]*\) added.*/\1/p' <<<"$1"; }

out=$("$ARENA_BIN/arena-server" import "$FILE" --redis "$REDIS" 2>&1); rc=$?
expect_eq "import exits 0" "$rc" 0
ADDED=$(added "$out")
total=$(jq length "$FILE")
check "import adds the file's battles (${ADDED:-none} of $total; self-battles skipped)" test "${ADDED:-0}" -gt $((total - 10))
expect_eq "stream length" "$(redis-cli -p "$REDIS_PORT" xlen 'arena:{a}:votes')" "$ADDED"
out=$("$ARENA_BIN/arena-server" import "$FILE" --redis "$REDIS" 2>&1)
expect_eq "a second import adds nothing" "$(added "$out")" 0
expect_eq "stream length unchanged" "$(redis-cli -p "$REDIS_PORT" xlen 'arena:{a}:votes')" "$ADDED"
out=$("$ARENA_BIN/arena-server" import /nonexistent.json --redis "$REDIS" 2>&1); rc=$?
expect_eq "missing file: exit 1" "$rc" 1
check "missing file named" grep -q nonexistent.json <<<"$out"
out=$("$ARENA_BIN/arena-server" import "$FILE" --redis "redis://127.0.0.1:$(free_port)/0" 2>&1); rc=$?
expect_eq "Redis unreachable: exit 1" "$rc" 1

cat >"$T/arena.json" <<EOF
{
  "redis": {"url": "$REDIS"},
  "battles": {"token_secret": "import-test-secret-0123456789"},
  "board": {"ci_method": "sandwich"},
  "access_log": "",
  "models": [{"name": "m1", "endpoint": "http://127.0.0.1:9"}, {"name": "m2", "endpoint": "http://127.0.0.1:9"}]
}
EOF
start_arena arena "$T/arena.json" || exit 1
# ratings JSON: "model=rating" pairs, sorted by model, to 0.01
ratings() { jq -r '(.models // .) | sort_by(.model) | map("\(.model)=\(.rating * 100 | round)") | join(" ")'; }
has_all() { [[ $(curl -s "$ARENA_URL/api/leaderboard?method=bt&anony=0" | jq -r .total_votes) == "$ADDED" ]]; }
check "the board counts every imported vote" wait_for 20 has_all
board=$(curl -s "$ARENA_URL/api/leaderboard?method=bt&anony=0" | ratings)
if timeout 60 "$ARENA_BIN/arena-ratings" fit --format json --ci none --no-anchor "$FILE" >"$T/fit.json" 2>"$T/fit.err"; then
  expect_eq "board ratings = arena-ratings on the same file" "$board" "$(ratings <"$T/fit.json")"
else
  not_ok "arena-ratings fit on $FILE"; sed 's/^/# /' "$T/fit.err" | head
fi
curl -s "$ARENA_URL/api/export/battles.json" >"$T/export.json"
expect_eq "export holds every imported vote" "$(jq length "$T/export.json")" "$ADDED"

# Conversations (FastChat's clean_battle_conv files) come through import and export as they were.
cat >"$T/conv.json" <<'EOF2'
[{"question_id": "conv-test-1", "model_a": "m1", "model_b": "m2", "winner": "model_b", "anony": true,
  "tstamp": 1700000000.5, "turn": 1,
  "conversation_a": [{"role": "user", "content": "Say \"hi\" in Fran\u00e7ais"}, {"role": "assistant", "content": "Bonjour\n!"}],
  "conversation_b": [{"role": "user", "content": "Say \"hi\" in Fran\u00e7ais"}, {"role": "assistant", "content": "Salut"}]}]
EOF2
out=$("$ARENA_BIN/arena-server" import "$T/conv.json" --redis "$REDIS" 2>&1)
expect_eq "a file with conversations imports" "$(added "$out")" 1
curl -s "$ARENA_URL/api/export/battles.json" >"$T/export2.json"
expect_eq "conversation_a exported as imported" \
  "$(jq -c '.[] | select(.question_id == "conv-test-1") | .conversation_a' "$T/export2.json")" \
  "$(jq -c '.[0].conversation_a' "$T/conv.json")"
expect_eq "conversation_b exported as imported" \
  "$(jq -c '.[] | select(.question_id == "conv-test-1") | .conversation_b' "$T/export2.json")" \
  "$(jq -c '.[0].conversation_b' "$T/conv.json")"
