#!/usr/bin/env bash
# Two arena servers sharing one Redis: a battle created and streamed on one is voted on
# the other; a second vote on either is refused; simultaneous votes on both record one;
# both serve the same leaderboard.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

N=20
start_ops_redis redis || exit 1
start_ops_workers 3 || exit 1
ops_config "$T/arena.json" "redis://127.0.0.1:$REDIS_PORT/0" stories260K="$W1" llama2xs="$W2" babyllama105="$W3"
start_arena arena1 "$T/arena.json" || exit 1; U1=$ARENA_URL
start_arena arena2 "$T/arena.json" || exit 1; U2=$ARENA_URL

make_battles "$U1" "$N" "$T/battles"
expect_eq "$N battles created and answered on server 1" "$(wc -l <"$T/battles")" "$N"
head -n $((N / 2)) "$T/battles" >"$T/first"; tail -n $((N / 2)) "$T/battles" >"$T/second"

# First half: vote on server 2, then again on each server.
vote_battles "$U2" "$T/first" "$T/v2"
expect_eq "votes on the other server: all 200" "$(awk '$2 == 200' "$T/v2" | wc -l)" $((N / 2))
vote_battles "$U1" "$T/first" "$T/again1"; vote_battles "$U2" "$T/first" "$T/again2"
expect_eq "second votes, on either server: all 409" "$(cat "$T/again1" "$T/again2" | awk '$2 == 409' | wc -l)" "$N"

# Second half: both servers at once, per battle.
while read -r id tok; do
  api_post "$U1" "/api/battles/$id/vote" "{\"winner\":\"a\",\"token\":\"$tok\"}" >"$T/r1" &
  api_post "$U2" "/api/battles/$id/vote" "{\"winner\":\"b\",\"token\":\"$tok\"}" >"$T/r2"
  wait $!
  echo "$id $(cat "$T/r1") $(cat "$T/r2")" >>"$T/race"
done <"$T/second"
expect_eq "simultaneous votes: one 200 and one 409 per battle" \
  "$(awk '($2 == 200 && $3 == 409) || ($2 == 409 && $3 == 200)' "$T/race" | wc -l)" $((N / 2))
echo "# simultaneous pairs won by server 1: $(awk '$2 == 200' "$T/race" | wc -l), by server 2: $(awk '$3 == 200' "$T/race" | wc -l)"
expect_eq "one record per battle in the stream" "$(stream_ids "$REDIS_PORT" | sort -u | wc -l) $(stream_ids "$REDIS_PORT" | wc -l)" "$N $N"

# Created on one server, streamed on the other, a turn and the vote on the first: the first
# holds a copy of the battle from before its answers; Redis has them, and it decides.
api_post "$U1" /api/battles '{"prompt": "Lily"}' "$T/x" >/dev/null
XID=$(jq -r .id "$T/x"); XTOK=$(jq -r .token "$T/x")
timeout 30 curl -sN "$U2/api/battles/$XID/stream" >"$T/xs"
expect_eq "streamed on server 2" "$(grep -c '^event: done' "$T/xs")" 2
# A follow-up turn on server 1 (its copy is from before the answers), streamed on server 2.
expect_eq "follow-up turn on server 1: 200" \
  "$(api_post "$U1" "/api/battles/$XID/messages" "{\"prompt\":\"And then?\",\"token\":\"$XTOK\"}" "$T/xm")" 200
timeout 30 curl -sN "$U2/api/battles/$XID/stream" >"$T/xs2"
expect_eq "second turn streamed on server 2" "$(jq -r .turn "$T/xm") $(grep -c '^event: done' "$T/xs2")" "2 2"
code=$(api_post "$U1" "/api/battles/$XID/vote" "{\"winner\":\"a\",\"token\":\"$XTOK\"}" "$T/xv")
expect_eq "voted on server 1, where it was created: 200" "$code" 200
[[ $code == 200 ]] && N=$((N + 1)) || echo "# server 1 answered: $(cat "$T/xv")"

# board URL: the anonymous BT board without its timing fields.
board() { curl -s "$1/api/leaderboard?method=bt&anony=1" | jq -S '{total_votes, models: [.models[] | {model, rank, rating, votes, ci_lower, ci_upper}]}'; }
# counted URL: the board has every vote, and so do its intervals (they may lag the points)
counted() { [[ $(curl -s "$1/api/leaderboard?method=bt&anony=1" | jq -c '[.total_votes, .ci_total_votes]') == "[$N,$N]" ]]; }
check "server 1 board counts every vote" wait_for 15 counted "$U1"
check "server 2 board counts every vote" wait_for 15 counted "$U2"
b1=$(board "$U1"); b2=$(board "$U2")
expect_eq "both servers serve the same leaderboard" "$b1" "$b2"
echo "# board: $(jq -c '[.models[] | "\(.model)=\(.rating | round)"]' <<<"$b1")"
sanitizer_clean
