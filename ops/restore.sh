#!/usr/bin/env bash
# ops/restore.sh BACKUP_DIR DATA_DIR: puts a backup made by ops/backup.sh back as the
# Redis data of DATA_DIR (the dir of ops/redis.conf, e.g. var/redis). Redis must be stopped.
# What is in DATA_DIR now is moved aside to DATA_DIR/pre-restore-<time>-<random>/, never deleted.
#   With appendonlydir.tgz in the backup: the AOF files are restored (the newest state).
#   Else: dump.rdb is restored, and a temporary redis-server rewrites it into an AOF
#   (with appendonly yes Redis would otherwise start from the empty AOF, not the RDB).
#
# ops/restore.sh --import BACKUP_DIR: loads BACKUP_DIR/battles.json into a running Redis
# through `arena-server import` (idempotent: votes already there are skipped). For a new
# deployment, or when the Redis files are lost. ARENA_REDIS_URL names the Redis.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "restore: $*" >&2; exit 1; }

if [[ ${1:-} == --import ]]; then
  [[ -f ${2:-}/battles.json ]] || die "usage: restore.sh --import BACKUP_DIR (with battles.json)"
  exec "${ARENA_BIN:-$root/bin}/arena-server" import "$2/battles.json" --redis "${ARENA_REDIS_URL:-redis://127.0.0.1:6379/0}"
fi

backup=${1:-} data=${2:-}
[[ -n $backup && -n $data ]] || die "usage: restore.sh BACKUP_DIR DATA_DIR | restore.sh --import BACKUP_DIR"
[[ -s $backup/dump.rdb || -s $backup/appendonlydir.tgz ]] || die "$backup: no dump.rdb or appendonlydir.tgz"
mkdir -p "$data"
# A running Redis would overwrite the restored files on its next write.
if command -v fuser >/dev/null && fuser -s "$data"/appendonlydir/* 2>/dev/null; then die "Redis is still running on $data: stop it first"; fi

# Unique even for two restores in one second.
aside=$(mktemp -d "$data/pre-restore-$(date -u +%Y%m%dT%H%M%SZ)-XXXX") || die "cannot create a directory in $data"
for f in appendonlydir dump.rdb; do [[ -e $data/$f ]] && mv "$data/$f" "$aside/"; done

if [[ -s $backup/appendonlydir.tgz ]]; then
  tar -C "$data" -xzf "$backup/appendonlydir.tgz" || die "cannot unpack $backup/appendonlydir.tgz"
  echo "restore: AOF files restored into $data (the previous files are in $aside)"
  exit 0
fi

cp "$backup/dump.rdb" "$data/dump.rdb"
# Load the RDB with appendonly off on a private socket, then switch appendonly on: Redis
# writes a new AOF from the loaded data. Then shut down, leaving both files in place.
sock=$data/restore.sock
redis-server "$root/ops/redis.conf" --port 0 --unixsocket "$sock" --dir "$data" --appendonly no --save '' \
  >"$data/restore.log" 2>&1 &
pid=$!
for _ in $(seq 100); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -s "$sock" ping >/dev/null 2>&1 || { kill "$pid" 2>/dev/null; die "the temporary redis-server did not start: $(tail -3 "$data/restore.log")"; }
redis-cli -s "$sock" config set appendonly yes >/dev/null
for _ in $(seq 600); do
  redis-cli -s "$sock" info persistence | grep -q '^aof_rewrite_in_progress:0' &&
    redis-cli -s "$sock" info persistence | grep -q '^aof_rewrite_scheduled:0' &&
    redis-cli -s "$sock" info persistence | grep -q '^aof_enabled:1' && break
  sleep 0.1
done
keys=$(redis-cli -s "$sock" dbsize)
redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true
wait "$pid" 2>/dev/null || true
rm -f "$data/restore.log"
[[ -d $data/appendonlydir ]] || die "no AOF was written"
echo "restore: dump.rdb restored into $data and rewritten as an AOF ($keys keys; the previous files are in $aside)"
