#!/usr/bin/env bash
# ops/backup.sh and ops/restore.sh: a backup of a live arena (snapshot, AOF, export), then
# three restores: from the AOF files, from the snapshot alone, and by importing the export
# into an empty Redis. Each gives back every vote; the vote-once index comes back too.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ops_lib.sh"

N=6
start_ops_redis redis || exit 1
RP=$REDIS_PORT
start_ops_workers 2 || exit 1
ops_config "$T/arena.json" "redis://127.0.0.1:$RP/0" stories260K="$W1" llama2xs="$W2"
start_arena arena "$T/arena.json" || exit 1
make_battles "$ARENA_URL" "$N" "$T/battles"
vote_battles "$ARENA_URL" "$T/battles" "$T/votes"
expect_eq "$N votes acknowledged" "$(awk '$2 == 200' "$T/votes" | wc -l)" "$N"

out=$(ARENA_REDIS_URL=redis://127.0.0.1:$RP/0 ARENA_URL=$ARENA_URL ops/backup.sh "$T/backups" 2>"$T/backup.err")
expect_eq "backup.sh succeeds" "$?" 0
[[ -n $out ]] || { sed 's/^/# /' "$T/backup.err"; exit 1; }
check "snapshot, AOF, export and manifest" test -s "$out/dump.rdb" -a -s "$out/appendonlydir.tgz" -a -s "$out/battles.json" -a -s "$out/MANIFEST"
expect_eq "manifest counts" "$(grep -E '^votes_in_(redis|export)' "$out/MANIFEST" | tr '\n' ' ')" "votes_in_redis $N votes_in_export $N "
check "manifest checksums hold" bash -c "cd '$out' && grep -E '^[0-9a-f]{64} ' MANIFEST | sha256sum -c --quiet"
check "backup is private" test "$(stat -c %a "$out")" = 700

# restarted REDIS_DIR: redis-server on the old port with its data in $T/REDIS_DIR.
restart_redis() {
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
  ops/restore.sh "$1" "$T/redis" >"$T/restore.out" 2>&1 || { not_ok "restore.sh $1"; sed 's/^/# /' "$T/restore.out"; return 1; }
  start_ops_redis redis "$RP"
}
second_votes() { vote_battles "$ARENA_URL" "$T/battles" "$T/again.$1"; awk '$2 == 409' "$T/again.$1" | wc -l; }

# 1. From the AOF files.
redis-cli -p "$RP" flushall >/dev/null   # the loss the backup is for
restart_redis "$out" || exit 1
check "restore.sh keeps the lost state aside" bash -c "ls -d '$T'/redis/pre-restore-* | grep -q ."
expect_eq "AOF restore: every vote" "$(redis-cli -p "$RP" xlen 'arena:{a}:votes')" "$N"
check "server reconnects" wait_for 15 curl -sf "$ARENA_URL/readyz"
expect_eq "AOF restore: votes again are refused (409)" "$(second_votes aof)" "$N"

# 2. From the snapshot alone.
mkdir -p "$T/rdb-only"; cp "$out/dump.rdb" "$T/rdb-only/"
redis-cli -p "$RP" flushall >/dev/null
restart_redis "$T/rdb-only" || exit 1
grep '^restore:' "$T/restore.out" | sed 's/^/# /'
expect_eq "snapshot restore: every vote" "$(redis-cli -p "$RP" xlen 'arena:{a}:votes')" "$N"
expect_eq "snapshot restore: appendonly kept on" "$(redis-cli -p "$RP" config get appendonly | tail -1)" yes
kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null; start_ops_redis redis "$RP"
expect_eq "snapshot restore: the rewritten AOF holds every vote after a restart" "$(redis-cli -p "$RP" xlen 'arena:{a}:votes')" "$N"

# 3. The export into an empty Redis.
start_ops_redis fresh || exit 1
ARENA_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 ops/restore.sh --import "$out" >"$T/import.out" 2>&1
expect_eq "import exits 0" "$?" 0
sed 's/^/# /' "$T/import.out"
expect_eq "import: every vote" "$(redis-cli -p "$REDIS_PORT" xlen 'arena:{a}:votes')" "$N"
ARENA_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 ops/restore.sh --import "$out" >/dev/null 2>&1
expect_eq "import twice adds nothing" "$(redis-cli -p "$REDIS_PORT" xlen 'arena:{a}:votes')" "$N"
sanitizer_clean
