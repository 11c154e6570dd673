#!/usr/bin/env bash
# arena-worker generate/eval: greedy output of every shipped model equals run.c's golden
# output byte for byte; bad files and flags give "arena-worker: FILE: reason" and exit 2.
. "$(dirname "$0")/../lib.sh"
W=$ARENA_BIN/arena-worker

golden() { # NAME TOKENIZER
  "$W" generate --model "models/$1.bin" --tokenizer "models/$2.bin" --prompt "Once upon a time" \
    --steps 256 --temperature 0 >"$T/$1.out" 2>"$T/$1.err"
  local rc=$?
  if ((rc == 0)) && cmp -s "$T/$1.out" "models/golden/$1.txt"; then ok "golden output of $1"
  else not_ok "golden output of $1 (exit $rc)"; diff <(cat "$T/$1.out") "models/golden/$1.txt" | head -5 | sed 's/^/# /'; cat "$T/$1.err" | sed 's/^/# /'; fi
  check "$1 reports tok/s on stderr" grep -q '^achieved tok/s: [0-9]' "$T/$1.err"
}
golden stories260K tok512
golden babyllama105 tok105
golden llama2xs tok512

# The same text through one thread and through two.
"$W" generate --model models/stories260K.bin --tokenizer models/tok512.bin --prompt "Once upon a time" \
  --steps 256 --temperature 0 --threads 1 >"$T/one.out" 2>/dev/null
check "one thread gives the golden output" cmp -s "$T/one.out" models/golden/stories260K.txt

# Sampling: same seed, same text.
gen_seeded() { "$W" generate --model models/stories260K.bin --tokenizer models/tok512.bin --prompt "The cat" \
  --steps 80 --temperature 0.9 --top-p 0.9 --seed "$1" 2>/dev/null; }
expect_eq "same seed, same text" "$(gen_seeded 7)" "$(gen_seeded 7)"
[[ $(gen_seeded 7) != "$(gen_seeded 8)" ]] && ok "another seed, other text" || not_ok "another seed, other text"
# --steps counts positions from BOS, prompt included (5 tokens here), as run.c's -n.
steps() { "$W" generate --model models/stories260K.bin --tokenizer models/tok512.bin --prompt "Once upon a time" \
  --steps "$1" --temperature 0 2>/dev/null; }
expect_eq "--steps 4: the prompt only" "$(steps 4)" "Once upon a time"
expect_eq "--steps 5: one sampled token" "$(steps 5)" "Once upon a time,"

# Eval prints a finite perplexity.
out=$("$W" eval --model models/stories260K.bin --tokenizer models/tok512.bin --text models/eval/tinystories-style.txt 2>/dev/null)
if [[ $out =~ tokens=([0-9]+)\ cross_entropy=([0-9.]+)\ perplexity=([0-9.]+) ]] && ((BASH_REMATCH[1] > 1000)); then
  ok "eval: ${BASH_REMATCH[0]}"
else
  not_ok "eval prints tokens, cross-entropy and a finite perplexity"; echo "# $out"
fi

# expect_fail NAME STATUS PATTERN CMD...: CMD exits STATUS with PATTERN on stderr.
expect_fail() {
  local name=$1 want=$2 pattern=$3; shift 3
  "$@" >"$T/fail.out" 2>"$T/fail.err"
  local rc=$?
  if ((rc == want)) && grep -qE -- "$pattern" "$T/fail.err"; then ok "$name"
  else not_ok "$name (exit $rc)"; sed 's/^/# /' "$T/fail.err"; fi
}
head -c 100000 models/stories260K.bin >"$T/short.bin"
expect_fail "truncated model" 2 "^arena-worker: $T/short.bin: truncated: the header implies 1056540 bytes, the file has 100000$" \
  "$W" generate --model "$T/short.bin" --tokenizer models/tok512.bin --prompt hi
head -c 20 models/stories260K.bin >"$T/tiny.bin"
expect_fail "model shorter than its header" 2 "^arena-worker: $T/tiny.bin: .*header" \
  "$W" generate --model "$T/tiny.bin" --tokenizer models/tok512.bin
{ printf '\x40\x00\x00\x00\x00\x00\x00\x00'; tail -c +9 models/stories260K.bin; } >"$T/zero.bin"
expect_fail "zero hidden_dim" 2 "^arena-worker: $T/zero.bin: bad header: hidden_dim is 0" \
  "$W" eval --model "$T/zero.bin" --tokenizer models/tok512.bin --text models/eval/tinystories-style.txt
expect_fail "missing model" 2 "^arena-worker: $T/none.bin: No such file" \
  "$W" generate --model "$T/none.bin" --tokenizer models/tok512.bin
expect_fail "tokenizer of another vocabulary" 2 "^arena-worker: models/tok105.bin: holds 105 tokens, the model's vocab_size is 512$" \
  "$W" generate --model models/stories260K.bin --tokenizer models/tok105.bin
head -c 3000 models/tok512.bin >"$T/tok.bin"
expect_fail "truncated tokenizer" 2 "^arena-worker: $T/tok.bin: truncated" \
  "$W" generate --model models/stories260K.bin --tokenizer "$T/tok.bin"
expect_fail "tokenizer is a directory" 2 "^arena-worker: models: not a regular file$" \
  "$W" generate --model models/stories260K.bin --tokenizer models
expect_fail "missing text" 2 "^arena-worker: $T/none.txt: No such file" \
  "$W" eval --model models/stories260K.bin --tokenizer models/tok512.bin --text "$T/none.txt"
expect_fail "no --model" 2 "required" "$W" generate --tokenizer models/tok512.bin
expect_fail "bad --temperature" 2 "bad value for --temperature" \
  "$W" generate --model models/stories260K.bin --tokenizer models/tok512.bin --temperature -1
expect_fail "bad --top-p" 2 "bad value for --top-p" \
  "$W" generate --model models/stories260K.bin --tokenizer models/tok512.bin --top-p 2
expect_fail "unknown command" 2 "unknown command" "$W" frobnicate
expect_fail "no CUDA in this build" 1 "CUDA" \
  "$W" generate --model models/stories260K.bin --tokenizer models/tok512.bin --device cuda
