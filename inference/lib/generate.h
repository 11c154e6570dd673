/* generate.h: one generation request driven step by step, shared by the CLI and the server
 * so that prompt handling, sampling and stopping are written once.
 *
 * The caller owns the engine and the inf_seq; a generator only decides which tokens to
 * feed next and turns each step's logits into text:
 *
 *     int toks[B]; n = inf_gen_feed(g, toks, room);        // 1..room tokens for this seq
 *     ... put n rows (seq, toks[j]) into an inf_engine_step() with other sequences ...
 *     r = inf_gen_advance(g, logits_of_its_last_row, &text, &len);   // text to emit
 *     until r != INF_GEN_RUNNING
 *
 * Semantics follow llama2.c run.c: the prompt is encoded with BOS and the dummy prefix;
 * prompt tokens are forced, later ones sampled; generation stops when the next token is
 * BOS (and EOS when stop_at_eos) or when max_pos positions have been fed. On top of that:
 * max_new_tokens and stop strings (text is held back while it may be the start of one;
 * a stop string and what follows it are never emitted).
 *
 * Ownership: the generator copies the prompt tokens and the stop strings and owns its
 * sampler; TEXT from inf_gen_advance() is generator-owned, valid until the next call. */
#ifndef INF_GENERATE_H
#define INF_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

typedef struct inf_gen_params {
    float temperature;       /* 0: greedy */
    float top_p;             /* nucleus; <= 0 or >= 1: off */
    uint64_t seed;           /* sampler seed (0 is mapped to a fixed non-zero seed) */
    int max_pos;             /* positions incl. the prompt, as run.c's -n; 0 or > seq_len: seq_len */
    int max_new_tokens;      /* sampled tokens at most; 0: no limit */
    int echo_prompt;         /* 1: the prompt's text is emitted too (run.c's output) */
    int stop_at_eos;         /* 1: EOS ends generation like BOS does */
    const char *const *stop; /* stop strings (may be NULL) */
    int n_stop;
} inf_gen_params;

enum inf_gen_status {
    INF_GEN_RUNNING = 0,
    INF_GEN_STOP,   /* BOS/EOS sampled or a stop string matched */
    INF_GEN_LENGTH, /* max_pos, seq_len or max_new_tokens reached */
};

typedef struct inf_gen inf_gen;

/* Encodes PROMPT with T (which must outlive the generator). SEQ_LEN is the model's.
 * NULL with a message in err when the prompt is empty after encoding or memory runs out. */
inf_gen *inf_gen_new(const tok_tokenizer *t, int seq_len, const char *prompt,
                     const inf_gen_params *p, char *err, size_t errlen);
void inf_gen_free(inf_gen *g);

/* Writes the tokens to feed at the next step into TOKENS and returns how many (1..CAP):
 * several only while the prompt is being read. Returns 0 once the generation is over. */
int inf_gen_feed(inf_gen *g, int *tokens, int cap);

/* Called after the step that fed inf_gen_feed()'s tokens, with the logits of the last of
 * them (modified: used as sampling scratch). Sets TEXT/LEN to the newly emitted text
 * (possibly empty) and returns INF_GEN_RUNNING, or the reason it ended; remaining held
 * text is flushed with the final status. */
int inf_gen_advance(inf_gen *g, float *logits, const char **text, size_t *len);

int inf_gen_prompt_tokens(const inf_gen *g);    /* prompt length in tokens, BOS included */
int inf_gen_generated_tokens(const inf_gen *g); /* tokens sampled so far */
int inf_gen_pos(const inf_gen *g);              /* tokens fed so far */

#endif
