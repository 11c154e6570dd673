#!/usr/bin/env bash
# ops/backup.sh [DEST]: a consistent copy of the arena's data, into
# DEST/arena-backup-<UTC time>/ (DEST: ./var/backups):
#   dump.rdb           a fresh snapshot, fetched over the Redis protocol (redis-cli --rdb:
#                      Redis forks and streams it; works against a remote or replica Redis)
#   appendonlydir.tgz  the AOF files, when the Redis data directory is on this machine
#   battles.json       the FastChat clean-battle export of the running arena (every vote,
#                      readable without Redis; `arena-server import` loads it back)
#   MANIFEST           when, from where, the vote count in Redis and in the export, sha256s
# Settings: ARENA_REDIS_URL (redis://127.0.0.1:6379/0), ARENA_URL (http://127.0.0.1:8080;
# empty: no export). Exit 0 when every part was written and the counts agree, else 1.
set -euo pipefail
dest=${1:-var/backups}
redis_url=${ARENA_REDIS_URL:-redis://127.0.0.1:6379/0}
arena_url=${ARENA_URL-http://127.0.0.1:8080}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$dest/arena-backup-$stamp
die() { echo "backup: $*" >&2; exit 1; }

umask 077
mkdir -p "$out" || die "cannot create $out"
rcli() { redis-cli -u "$redis_url" --no-auth-warning "$@"; }
rcli ping >/dev/null 2>&1 || die "Redis at $redis_url does not answer"

# The count first: the snapshot and the export both hold at least these votes.
votes=$(rcli xlen 'arena:{a}:votes')
rcli --rdb "$out/dump.rdb" >/dev/null 2>"$out/rdb.err" || die "redis-cli --rdb failed: $(cat "$out/rdb.err")"
rm -f "$out/rdb.err"
[[ -s $out/dump.rdb ]] || die "empty snapshot"

# The AOF too, when its directory is here (the same host): the most recent state, fsync'd
# per vote. Copied while Redis runs: the files only grow, and Redis loads a truncated tail.
dir=$(rcli config get dir 2>/dev/null | sed -n 2p || true)
aofdir=$(rcli config get appenddirname 2>/dev/null | sed -n 2p || true)
if [[ -n $dir && -n $aofdir && -r $dir/$aofdir ]]; then
  tar -C "$dir" -czf "$out/appendonlydir.tgz" "$aofdir" || die "cannot archive $dir/$aofdir"
fi

exported=-
if [[ -n $arena_url ]]; then
  curl -sf --max-time 600 "$arena_url/api/export/battles.json" -o "$out/battles.json" || die "export from $arena_url failed"
  exported=$(jq length "$out/battles.json") || die "the export is not JSON"
fi

{
  echo "time $stamp"
  echo "redis $(sed -E 's|//:[^@]*@|//|' <<<"$redis_url")"
  echo "votes_in_redis $votes"
  echo "votes_in_export $exported"
  (cd "$out" && sha256sum -- *)
} >"$out/.MANIFEST" && mv "$out/.MANIFEST" "$out/MANIFEST"
if [[ $exported != - ]] && ((exported < votes)); then die "the export has $exported votes, Redis had $votes"; fi
echo "$out"
