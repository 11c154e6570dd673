#!/usr/bin/env bash
# make run: starts redis-server, two workers and arena-server (filled in as those land).
echo "make run will start a local redis-server, two bin/arena-worker processes with the shipped models and bin/arena-server; not yet built." >&2
exit 1
