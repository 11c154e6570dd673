#!/usr/bin/env bash
# test_cli.sh: bin/arena-ratings end to end: the shipped goldens, the static-table
# reference correlations, every input format and a broken input of each kind.
. "$(dirname "$0")/../lib.sh"
AR=$ARENA_BIN/arena-ratings
VOTES=data/genai_arena_clean_battle.json
SNAP=(data/chatbot_arena_snapshot.csv --key model --score arena_elo --static data/open_llm_leaderboard_v2.csv
      --static-key model --map data/model_name_map.csv)

# ar WANT_RC NAME ARGS...: runs arena-ratings; stdout in $T/out, stderr in $T/err.
ar() {
  local want=$1 name=$2; shift 2
  "$AR" "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if ((rc == want)); then ok "$name (exit $rc)"; else not_ok "$name: exit $rc, want $want"; sed 's/^/# /' "$T/err" | head -5; fi
}
# err_has NAME TEXT: the last run's stderr contains TEXT.
err_has() { if grep -qF -- "$2" "$T/err"; then ok "$1"; else not_ok "$1: stderr lacks '$2'"; sed 's/^/# /' "$T/err" | head -5; fi; }
out_has() { if grep -qF -- "$2" "$T/out"; then ok "$1"; else not_ok "$1: stdout lacks '$2'"; head -5 "$T/out" | sed 's/^/# /'; fi; }
# near NAME GOT WANT TOL: |GOT - WANT| <= TOL; relnear: relative.
near() { if awk -v g="$2" -v w="$3" -v t="$4" 'BEGIN { d = g - w; exit !(g != "" && (d < 0 ? -d : d) <= t) }'; then ok "$1"; else not_ok "$1: got $2, want $3 +- $4"; fi; }
relnear() { if awk -v g="$2" -v w="$3" -v t="$4" 'BEGIN { d = g / w - 1; exit !(g != "" && (d < 0 ? -d : d) <= t) }'; then ok "$1"; else not_ok "$1: got $2, want $3 (relative $4)"; fi; }
no_nan() { if grep -qiE '(^|[^a-z])(nan|-?inf)([^a-z]|$)' "$T/out"; then not_ok "$1: NaN or inf in output"; else ok "$1: no NaN or inf"; fi; }

# ---- help and version
ar 0 "--version" --version; out_has "version string" "arena-ratings "
for c in fit matrix compare synth; do ar 0 "$c --help" "$c" --help; out_has "$c --help: usage" "Usage: arena-ratings $c"; done
ar 0 "--help" --help; out_has "--help lists commands" "compare FILE"

# ---- compare: the reference of data/STATIC_PROVENANCE.md section 4
check_corr() {   # COLUMN RHO RHO_P TAU TAU_P
  ar 0 "compare --static-score $1" compare "${SNAP[@]}" --static-score "$1" --format json
  local got; got=$(jq -r '.correlation | "\(.n) \(.spearman_rho) \(.spearman_p) \(.kendall_tau_b) \(.kendall_p)"' "$T/out")
  read -r n rho rp tau tp <<<"$got"
  expect_eq "$1: 62 shared models" "$n" 62
  near "$1: Spearman rho" "$rho" "$2" 1e-6
  relnear "$1: Spearman p" "$rp" "$3" 1e-2
  near "$1: Kendall tau-b" "$tau" "$4" 1e-6
  relnear "$1: Kendall p" "$tp" "$5" 1e-2
}
check_corr average 0.870922 3.60e-20 0.702145 7.95e-16
check_corr bbh 0.828462 9.62e-17 0.629071 5.33e-13
check_corr gpqa 0.632525 3.49e-08 0.472120 6.61e-08
check_corr musr 0.483221 6.94e-05 0.332539 1.36e-04
ar 0 "compare json: 182 models, 62 joined" compare "${SNAP[@]}" --static-score average --format json
expect_eq "compare: 62 rows with a static rank" "$(jq '[.models[] | select(.static_rank != null)] | length' "$T/out")" 62
expect_eq "compare: Nemotron-70B: rank 23 overall, static 8, delta -7 (shared rank 1)" \
  "$(jq -r '.models[] | select(.model == "Llama-3.1-Nemotron-70B-Instruct") | "\(.rank) \(.static_rank) \(.rank_delta)"' "$T/out")" "23 8 -7"
ar 0 "compare table" compare "${SNAP[@]}" --static-score average
out_has "table: correlation line" "Spearman rho = 0.870922 (p = 3.6e-20), Kendall tau-b = 0.702145 (p = 7.95e-16)"
out_has "table: static columns" "Shared Rank  Static Rank  average  Rank Delta"
ar 0 "compare csv" compare "${SNAP[@]}" --static-score average --format csv
expect_eq "compare csv header" "$(head -1 "$T/out")" "rank,rank_ub,model,rating,ci_lower,ci_upper,votes,static_rank,static_score,rank_delta"
err_has "compare csv: correlation on stderr" "Spearman rho = 0.870922"
ar 2 "compare: unknown score column" compare "${SNAP[@]}" --static-score nope
err_has "names the missing column" "no column 'nope'"
ar 2 "compare: --score missing" compare data/chatbot_arena_snapshot.csv --static data/open_llm_leaderboard_v2.csv

# ---- fit on the GenAI-Arena battles against the goldens
# golden_cmp NAME GOLDEN: $T/out (our CSV) vs GOLDEN: same order, ratings within 0.01, same votes.
golden_cmp() {
  local bad
  bad=$(awk -F, 'NR == FNR { if (FNR > 1) { r[$1] = $2; v[$1] = $5; order[FNR - 1] = $1 } next }
                 FNR > 1 { n++; d = $4 - r[$3]; if (d < 0) d = -d
                           if (!($3 in r)) print "unknown model " $3
                           else if (d > 0.01) print $3 ": rating " $4 " vs " r[$3]
                           if ($7 != v[$3]) print $3 ": votes " $7 " vs " v[$3]
                           if (order[FNR - 1] != $3) print "row " FNR - 1 ": " $3 " vs " order[FNR - 1] }
                 END { if (n != 13) print n " rows" }' "$2" "$T/out")
  if [[ -z $bad ]]; then ok "$1"; else not_ok "$1"; echo "$bad" | head -5 | sed 's/^/# /'; fi
}
ar 0 "fit bt --ci none" fit "$VOTES" --ci none --format csv
golden_cmp "bt ratings, order and votes match golden_genai_arena_bt.csv" data/golden_genai_arena_bt.csv
expect_eq "--ci none leaves the interval columns empty" "$(sed -n 2p "$T/out" | cut -d, -f2,5,6)" ",,"
err_has "self-battle skipped and counted" "arena-ratings: skipped 1 self-battle"
err_has "disconnected groups named" "imagenhub_SDEdit_edition"
ar 0 "fit elo --ci none" fit "$VOTES" --method elo --ci none --format csv
golden_cmp "elo ratings, order and votes match golden_genai_arena_elo.csv" data/golden_genai_arena_elo.csv

# Intervals: the goldens follow numpy's random stream, so compare within a few points
# (PROVENANCE.md: up to 3.1 for BT generation models and 9.1 for Elo across seeds).
ci_cmp() {   # NAME GOLDEN TOL PATTERN: bounds of models matching PATTERN within TOL
  local bad
  bad=$(awk -F, -v tol="$3" -v pat="$4" 'NR == FNR { lo[$1] = $3; hi[$1] = $4; next }
        FNR > 1 && $3 ~ pat { a = $5 - lo[$3]; b = $6 - hi[$3]; if (a < 0) a = -a; if (b < 0) b = -b
                              if (a > tol || b > tol) print $3 ": [" $5 ", " $6 "] vs [" lo[$3] ", " hi[$3] "]" }' \
        "$2" "$T/out")
  if [[ -z $bad ]]; then ok "$1"; else not_ok "$1"; echo "$bad" | head -5 | sed 's/^/# /'; fi
}
ar 0 "fit bt bootstrap" fit "$VOTES" --format csv
cp "$T/out" "$T/bt.csv"
ci_cmp "bt bootstrap bounds of the generation models within 6 of the golden" data/golden_genai_arena_bt.csv 6 _generation
no_nan "bt bootstrap csv"
ar 0 "fit elo bootstrap" fit "$VOTES" --method elo --format csv
ci_cmp "elo bootstrap bounds within 15 of the golden" data/golden_genai_arena_elo.csv 15 .
ar 0 "fit bt --threads 1" fit "$VOTES" --format csv --threads 1
expect_eq "bootstrap independent of the thread count" "$(md5sum <"$T/out")" "$(md5sum <"$T/bt.csv")"
ar 0 "fit --ci sandwich" fit "$VOTES" --ci sandwich --format csv
no_nan "sandwich csv"
expect_eq "sandwich: 13 models with bounds" "$(awk -F, 'NR > 1 && $5 < $4 && $4 < $6' "$T/out" | wc -l)" 13

# ---- output formats
ar 0 "fit json" fit "$VOTES" --format json
expect_eq "json: method and 13 models" "$(jq -r '"\(.method) \(.models | length)"' "$T/out")" "bt 13"
expect_eq "json: field names" "$(jq -r '.models[0] | keys_unsorted | join(",")' "$T/out")" \
  "rank,rank_ub,model,rating,ci_lower,ci_upper,votes"
expect_eq "json: warnings name the groups" "$(jq '[.warnings[] | select(test("never meet"))] | length' "$T/out")" 1
jq -r '.models[] | "\(.model),\(.rating)"' "$T/out" >"$T/json-ratings"
expect_eq "json ratings = csv ratings" "$(awk -F, 'NR == FNR { r[$1] = $2; next } FNR > 1 { d = $4 - r[$3]
    if (d * d > 1e-18) print $3 }' "$T/json-ratings" "$T/bt.csv")" ""
ar 0 "fit markdown" fit "$VOTES" --format markdown
out_has "markdown header" "| Rank (UB) | Model | Arena Score | 95% CI | Votes |"
out_has "markdown alignment row" "|---:|:---|---:|---:|---:|"
out_has "markdown row" "| imagenhub_PlayGroundV2_generation | 1151 |"
ar 0 "fit table" fit "$VOTES"
out_has "table header" "Rank (UB)  Model"
expect_eq "table: 13 rows + header + rule" "$(wc -l <"$T/out")" 15
ar 0 "fit -o FILE" fit "$VOTES" --format csv -o "$T/written.csv"
expect_eq "-o writes the same CSV" "$(md5sum <"$T/written.csv")" "$(md5sum <"$T/bt.csv")"
ar 0 "fit --timings" fit "$VOTES" --ci none --timings
err_has "--timings split" "timings: parse"

# ---- the same battles through every input path give the same board
jq -c '.[]' "$VOTES" >"$T/votes.jsonl"
jq -r '["model_a","model_b","winner","tstamp"], (.[] | [.model_a, .model_b, .winner, .tstamp]) | @csv' "$VOTES" >"$T/votes.csv"
sed '1s/.*/"left","right","outcome","time"/' "$T/votes.csv" >"$T/renamed.csv"
gzip -c "$VOTES" >"$T/votes.json.gz"
same_board() {   # NAME ARGS...: the bootstrap CSV equals the one from the JSON file
  ar 0 "$1" fit "${@:2}" --format csv
  expect_eq "$1: same board as the JSON file" "$(md5sum <"$T/out")" "$(md5sum <"$T/bt.csv")"
}
same_board "JSON Lines" "$T/votes.jsonl"
same_board "JSON Lines, --input-format jsonl" "$T/votes.jsonl" --input-format jsonl
same_board "CSV" "$T/votes.csv"
same_board "CSV with --columns" "$T/renamed.csv" --columns a=left,b=right,winner=outcome,tstamp=time
same_board "gzip" "$T/votes.json.gz"
"$AR" fit - --format csv <"$VOTES" >"$T/out" 2>"$T/err"
expect_eq "stdin: same board" "$(md5sum <"$T/out")" "$(md5sum <"$T/bt.csv")"
gzip -c "$T/votes.csv" | "$AR" fit - --format csv >"$T/out" 2>"$T/err"
expect_eq "gzip CSV on stdin: same board" "$(md5sum <"$T/out")" "$(md5sum <"$T/bt.csv")"

# ---- filters
votes_sum() { awk -F, 'NR > 1 { s += $7 } END { print s }' "$T/out"; }
ar 0 "--anony-only" fit "$VOTES" --ci none --format csv --anony-only
expect_eq "--anony-only keeps 1515 battles" "$(votes_sum)" 3030
ar 0 "--exclude-ties" fit "$VOTES" --ci none --format csv --exclude-ties
expect_eq "--exclude-ties keeps 1503 battles" "$(votes_sum)" 3006
ar 0 "--exclude-models" fit "$VOTES" --ci none --format csv --exclude-models imagenhub_LCM_generation,imagenhub_SDEdit_edition
expect_eq "--exclude-models drops both" "$(grep -cE 'LCM|SDEdit' "$T/out")" 0
ar 0 "--since date" fit "$VOTES" --ci none --format csv --since 2024-02-15
since_sum=$(votes_sum)
ar 0 "--since unix seconds" fit "$VOTES" --ci none --format csv --since 1707955200
expect_eq "--since YYYY-MM-DD = its unix seconds" "$(votes_sum)" "$since_sum"
ar 0 "--until" fit "$VOTES" --ci none --format csv --until 2024-02-15
expect_eq "--since + --until = everything" "$(($(votes_sum) + since_sum))" 4120
ar 0 "--min-votes" fit "$VOTES" --ci none --format csv --min-votes 30
err_has "--min-votes says what it dropped" "dropped 6 models with fewer than 30 votes"
ar 0 "--anchor" fit "$VOTES" --ci none --format csv --anchor imagenhub_SDXL_generation=1200
expect_eq "--anchor pins the model" "$(awk -F, '$3 == "imagenhub_SDXL_generation" { printf "%.6f", $4 }' "$T/out")" 1200.000000
printf '[{"model_a":"mixtral-8x7b-instruct-v0.1","model_b":"y","winner":"model_a"},{"model_a":"y","model_b":"z","winner":"model_a"},
  {"model_a":"z","model_b":"mixtral-8x7b-instruct-v0.1","winner":"model_a"},{"model_a":"y","model_b":"mixtral-8x7b-instruct-v0.1","winner":"tie"},{"model_a":"mixtral-8x7b-instruct-v0.1","model_b":"z","winner":"model_a"}]' >"$T/mixtral.json"
ar 0 "default anchor" fit "$T/mixtral.json" --ci none --format csv
expect_eq "mixtral-8x7b-instruct-v0.1 anchored at 1114 by default" \
  "$(awk -F, '$3 ~ /mixtral/ { printf "%.6f", $4 }' "$T/out")" 1114.000000
ar 0 "--no-anchor" fit "$T/mixtral.json" --ci none --format csv --no-anchor
expect_eq "--no-anchor centres at --init" "$(awk -F, 'NR > 1 { s += $4 } END { printf "%.6f", s / 3 }' "$T/out")" 1000.000000
ar 0 "elo --k 32" fit "$VOTES" --method elo --k 32 --ci none --format csv
if cmp -s "$T/out" "$T/bt.csv"; then not_ok "--k changes Elo"; else ok "--k changes Elo"; fi
ar 0 "--seed 7" fit "$VOTES" --seed 7 --format csv
if cmp -s "$T/out" "$T/bt.csv"; then not_ok "--seed changes the bootstrap"; else ok "--seed changes the bootstrap"; fi
ar 0 "--seed 42 is the default" fit "$VOTES" --seed 42 --format csv
expect_eq "--seed 42 = default" "$(md5sum <"$T/out")" "$(md5sum <"$T/bt.csv")"
ar 0 "--bootstrap 50" fit "$VOTES" --bootstrap 50 --timings --ci bootstrap
err_has "--bootstrap sets the rounds" "bootstrap, 50 rounds"
ar 0 "fit --static without a match" fit "$VOTES" --ci none --static data/open_llm_leaderboard_v2.csv
err_has "no match: warning" "no model was found in data/open_llm_leaderboard_v2.csv"

# ---- matrices
ar 0 "matrix counts" matrix "$VOTES" --kind counts
expect_eq "counts: 13 x 13 + header" "$(awk -F, '{ print NF }' "$T/out" | sort -u | tr '\n' ' ')$(wc -l <"$T/out")" "14 14"
expect_eq "counts add up to 2 x 2060" "$(awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) s += $i } END { print s }' "$T/out")" 4120
ar 0 "matrix predicted json" matrix "$VOTES" --kind predicted --format json
expect_eq "predicted: p(i,j) + p(j,i) = 1" "$(jq '.matrix[0][1] + .matrix[1][0] | . * 1e9 | round' "$T/out")" 1000000000
ar 0 "matrix wins" matrix "$VOTES" --kind wins --format json
expect_eq "wins: fractions in [0, 1]" "$(jq '[.matrix[][] | select(. != null and (. < 0 or . > 1))] | length' "$T/out")" 0
ar 2 "matrix without --kind" matrix "$VOTES"
ar 2 "matrix --kind bogus" matrix "$VOTES" --kind bogus

# ---- synth round trip: fitted ratings recover the true ordering
ar 0 "synth" synth --models 12 --votes 20000 --seed 7 --ties 0.1 -o "$T/synth.json"
ar 0 "synth --true-ratings" synth --models 12 --votes 20000 --seed 7 --true-ratings -o "$T/true.csv"
ar 0 "fit synth" fit "$T/synth.json" --ci none --format csv -o "$T/fitted.csv"
ar 0 "compare fitted with true" compare "$T/fitted.csv" --score rating --static "$T/true.csv" --static-score rating --format json
rho=$(jq '.correlation.spearman_rho' "$T/out")
if awk -v r="$rho" 'BEGIN { exit !(r > 0.97) }'; then ok "synth: Spearman(fitted, true) = $rho > 0.97"; else not_ok "synth: Spearman $rho"; fi
ar 0 "fit --static with the true ratings" fit "$T/synth.json" --bootstrap 100 --static "$T/true.csv" --static-score rating --format json
expect_eq "fit --static: every model joined" "$(jq '[.models[] | select(.static_rank != null)] | length' "$T/out")" 12
expect_eq "fit --static: json correlation = compare's" "$(jq '.correlation.spearman_rho' "$T/out")" "$rho"
expect_eq "fit --static: field order" "$(jq -r '.models[0] | keys_unsorted | join(",")' "$T/out")" \
  "rank,rank_ub,model,rating,ci_lower,ci_upper,votes,static_rank,static_score,rank_delta"
for f in jsonl csv; do
  "$AR" synth --models 12 --votes 20000 --seed 7 --ties 0.1 --format "$f" -o "$T/synth.$f"
  ar 0 "fit synth $f" fit "$T/synth.$f" --ci none --format csv
  expect_eq "synth $f fits like synth json" "$(md5sum <"$T/out")" "$(md5sum <"$T/fitted.csv")"
done

# ---- bad input: message, exit status, never a crash
printf '[{"model_a":"x","model_b":"y","winner":"model_a"},\n{"model_a":"x","model_b":' >"$T/trunc.json"
ar 2 "truncated JSON" fit "$T/trunc.json"
err_has "truncated JSON: file and record" "trunc.json: record 1:"
printf '[{"model_a":"x","model_b":"y","winner":"model_a"},{"model_a":"x","model_b":7,"winner":"model_b"}]' >"$T/type.json"
ar 2 "wrong type" fit "$T/type.json"
err_has "wrong type: file, record and field" "type.json: record 1: field \"model_b\""
printf '[{"model_a":"x","model_b":"y","winner":"model_a"},{"model_a":"x","winner":"model_b"}]' >"$T/missing.json"
ar 2 "missing field" fit "$T/missing.json"
err_has "missing field named" "missing.json: record 1: field \"model_b\": missing"
printf '[{"model_a":"x","model_b":"y","winner":"model_a"},{"model_a":"x","model_b":"y","winner":"bogus"},{"model_a":"y","model_b":"x","winner":"model_a"}]' >"$T/winner.json"
ar 2 "bad winner under --strict" fit "$T/winner.json" --strict
err_has "bad winner: field and value" "field \"winner\": unknown value \"bogus\""
ar 0 "bad winner skipped without --strict" fit "$T/winner.json" --ci none
err_has "skip count" "skipped 1 record with an unknown winner"
printf 'model_a,model_b,winner\nx,y,model_a\n' >"$T/cols.csv"
ar 2 "CSV without the named column" fit "$T/cols.csv" --columns winner=result
: >"$T/empty.json"
ar 2 "empty file" fit "$T/empty.json"
err_has "empty file: no battles" "no battles"
echo '[]' >"$T/array.json"
ar 2 "empty array" fit "$T/array.json"
printf '[{"model_a":"x","model_b":"x","winner":"tie"}]' >"$T/one.json"
ar 2 "one model only" fit "$T/one.json"
err_has "one model: clear message" "no battles between two different models"
ar 2 "filters leave nothing" fit "$VOTES" --since 2030-01-01
err_has "filters: says so" "no battles left after the filters"
ar 2 "nonexistent file" fit "$T/nope.json"
err_has "nonexistent: names the file" "nope.json"
ar 2 "unknown flag" fit "$VOTES" --bogus
err_has "unknown flag named" "unknown option '--bogus'"
ar 2 "unknown --columns name" fit "$T/votes.csv" --columns q=x
err_has "unknown --columns name named" "unknown name 'q'"
ar 2 "bad --method" fit "$VOTES" --method glicko
ar 2 "bad --format" fit "$VOTES" --format xml
ar 2 "bad --bootstrap" fit "$VOTES" --bootstrap 0
ar 2 "bad --since" fit "$VOTES" --since yesterday
ar 2 "--ci sandwich with elo" fit "$VOTES" --ci sandwich --method elo
ar 2 "flag without value" fit "$VOTES" --ci
ar 2 "no FILE" fit
ar 2 "two FILEs" fit "$VOTES" "$VOTES"
ar 2 "no command" ; ar 2 "unknown command" rate
ar 2 "--static-key without --static" fit "$VOTES" --static-key model
ar 2 "synth --ties 2" synth --ties 2
ar 1 "unwritable -o" fit "$VOTES" --ci none -o /nonexistent/dir/out.csv
printf '[{"model_a":"x","model_b":"y","winner":"model_a"},{"model_a":"x","model_b":"y","winner":"model_a"}]' >"$T/never.json"
ar 0 "a model that never loses" fit "$T/never.json" --format json
no_nan "never-lose json"
err_has "never-lose warning" "never lose"
