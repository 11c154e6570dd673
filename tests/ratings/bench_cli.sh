#!/usr/bin/env bash
# bench_cli.sh: bin/arena-ratings end to end on synthetic battles, with the parse / fit /
# interval split of --timings, against baselines measured in the same run: reading the
# file with cat (the I/O floor) and the fit without intervals.
. "$(dirname "$0")/../lib.sh"
AR=$ARENA_BIN/arena-ratings

# wall CMD...: runs CMD, prints its wall seconds; its stderr is kept in $T/err.
wall() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$T/err" || { echo "bench: '$*' failed:" >&2; cat "$T/err" >&2; exit 1; }
  t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}
# split: "parse fit intervals rss" from the --timings line in $T/err.
split() {
  sed -nE 's/.*timings: parse ([0-9.]+) s .*, fit ([0-9.]+) s .*, intervals ([0-9.]+) s .*, peak RSS ([0-9.]+) MiB.*/\1 \2 \3 \4/p' "$T/err"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

echo "--- 1. 9,000 votes among 60 models (FastChat clean-battle JSON)"
"$AR" synth --models 60 --votes 9000 --seed 1 --ties 0.1 -o "$T/small.json"
io=$(wall cat "$T/small.json")
none=$(wall "$AR" fit "$T/small.json" --ci none --timings); read -r p_none f_none _ _ <<<"$(split)"
boot=$(wall "$AR" fit "$T/small.json" --timings); read -r p_boot f_boot i_boot rss_boot <<<"$(split)"
printf '  file %s; cat (I/O floor) %s s\n' "$(size_mb "$T/small.json")" "$io"
printf '  fit --ci none:            %s s wall (parse %s, fit %s)\n' "$none" "$p_none" "$f_none"
printf '  fit + 1000 bootstrap:     %s s wall (parse %s, fit %s, intervals %s; peak RSS %s MiB)  target < 0.3 s\n' \
  "$boot" "$p_boot" "$f_boot" "$i_boot" "$rss_boot"
echo "  FastChat Python reference (stated, not measured here): 0.64 s per BT fit, 8.9 s per 100 bootstrap rounds"
printf '  ratios: bootstrap run / --ci none run %s; FastChat fit / our fit %s; FastChat 1000 rounds (89 s) / our intervals %s\n' \
  "$(ratio "$boot" "$none")" "$(ratio 0.64 "$f_boot")" "$(ratio 89 "$i_boot")"
"$AR" fit "$T/small.json" --ci sandwich --timings >/dev/null 2>"$T/err"; read -r _ _ i_sand _ <<<"$(split)"
printf '  sandwich intervals, 60 models: %s s\n' "$i_sand"

echo "--- 2. 3,000,000 votes among 200 models (FastChat clean-battle JSON)"
"$AR" synth --models 200 --votes 3000000 --seed 2 --ties 0.1 -o "$T/big.json"
io=$(wall cat "$T/big.json")
printf '  file %s; cat (I/O floor) %s s\n' "$(size_mb "$T/big.json")" "$io"
if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -f '%e %M' -o "$T/time" "$AR" fit "$T/big.json" --timings >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }
  read -r boot rss_kib <<<"$(cat "$T/time")"
  rss_boot=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
  read -r p_boot f_boot i_boot _ <<<"$(split)"
else
  boot=$(wall "$AR" fit "$T/big.json" --timings); read -r p_boot f_boot i_boot rss_boot <<<"$(split)"
fi
printf '  parse + fit + 1000 bootstrap: %s s wall (parse %s, fit %s, intervals %s)  target < 5 s\n' \
  "$boot" "$p_boot" "$f_boot" "$i_boot"
printf '  peak RSS %s MiB  target < 300 MB\n' "$rss_boot"
awk -v b="$(stat -c %s "$T/big.json")" -v p="$p_boot" -v c="$io" \
  'BEGIN { printf "  parse throughput %.0f MB/s vs cat %.0f MB/s: parse / cat %.1fx\n", b / 1e6 / p, b / 1e6 / c, p / c }'
printf '  intervals / fit: %s\n' "$(ratio "$i_boot" "$f_boot")"
"$AR" fit "$T/big.json" --ci sandwich --timings >/dev/null 2>"$T/err"; read -r _ f_sand i_sand _ <<<"$(split)"
printf '  sandwich intervals, 200 models: %s s (target < 0.05 s); sandwich / fit %s\n' "$i_sand" "$(ratio "$i_sand" "$f_sand")"
rm -f "$T/big.json"
