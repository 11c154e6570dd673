/* engine.h: the forward pass for many sequences at once.
 *
 * An engine holds everything one step needs (activations for max_batch rows, logits,
 * a persistent thread pool), all allocated by inf_engine_new(): stepping allocates
 * nothing. A sequence (inf_seq) is one conversation's state: its position and a KV cache
 * for the model's full seq_len, allocated by inf_seq_new().
 *
 * inf_engine_step() feeds one token to each of N rows and computes them together: each
 * weight matrix is read once per step for the whole batch (matrix-matrix). A sequence may
 * appear in several adjacent rows of one step: they are taken in order at consecutive
 * positions, which is how a prompt is prefilled in one step. Each row's result is
 * bit-identical whatever else is in the batch.
 *
 * Backends: INF_DEVICE_CPU is the C reference (kernels.h). INF_DEVICE_CUDA is linked
 * only by `make cuda`; elsewhere inf_engine_new() fails with a clear message.
 *
 * Threads: an engine and its sequences are used by one thread at a time (the caller's).
 * The CPU backend splits a step by rows into chunks (at least 4 rows each, two per thread,
 * taken from a shared counter; the rows of one sequence stay together), never inside a
 * matmul: for these small models a thread wake-up (~12 us) costs more than a whole matmul
 * at batch 1. */
#ifndef INF_ENGINE_H
#define INF_ENGINE_H

#include <stddef.h>

#include "model.h"

typedef enum inf_device { INF_DEVICE_CPU = 0, INF_DEVICE_CUDA = 1 } inf_device;

typedef struct inf_engine_opts {
    inf_device device;
    int max_batch; /* rows per step; 0 means 32 */
    int threads;   /* CPU worker threads including the caller; 0 means every online core */
} inf_engine_opts;

typedef struct inf_engine inf_engine;
typedef struct inf_seq inf_seq;

/* The engine borrows MODEL (keep it open until inf_engine_free()). OPTS may be NULL for
 * the defaults. On failure returns NULL and writes the reason into err. */
inf_engine *inf_engine_new(const inf_model *model, const inf_engine_opts *opts,
                           char *err, size_t errlen);
/* Stops the pool and frees the engine. Free its sequences first. NULL is a no-op. */
void inf_engine_free(inf_engine *e);

int inf_engine_max_batch(const inf_engine *e);
const inf_model *inf_engine_model(const inf_engine *e);
/* The reason of the last failed inf_engine_step() (engine-owned). */
const char *inf_engine_error(const inf_engine *e);

/* A new sequence at position 0 with its KV cache (seq_len positions), or NULL when out
 * of memory. The engine owns nothing of it: free it with inf_seq_free() before the engine. */
inf_seq *inf_seq_new(inf_engine *e);
/* Back to position 0, to start another conversation; keeps the KV cache allocation. */
void inf_seq_reset(inf_seq *s);
void inf_seq_free(inf_seq *s);
/* Number of tokens fed so far = position of the next token. */
int inf_seq_pos(const inf_seq *s);

/* Feeds TOKENS[i] to SEQS[i] (non-NULL, of this engine; repeats adjacent) for i < N
 * (1 <= N <= max_batch) and advances each sequence.
 * On success returns 0 and sets LOGITS[i] to the vocab_size logits after row i; they
 * point into engine-owned memory valid until the next step (the caller may modify them,
 * e.g. by sampling). Returns -1 without changing any sequence when N is out of range, a
 * token is outside the vocabulary or a sequence would pass seq_len: see inf_engine_error(). */
int inf_engine_step(inf_engine *e, inf_seq *const *seqs, const int *tokens, int n, float **logits);

#endif
