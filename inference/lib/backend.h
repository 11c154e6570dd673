/* backend.h: what a device backend provides to engine.c (internal to the inference
 * library; the public interface is engine.h). engine.c does the bookkeeping (positions,
 * validation, logits pointers); a backend only computes.
 *
 * The CUDA backend (inference/cuda/, built by `make cuda`) defines inf_backend_cuda;
 * the reference is weak so that builds without it still link, and that binary must link
 * the CUDA object explicitly (an archive member is not pulled in by a weak reference). */
#ifndef INF_BACKEND_H
#define INF_BACKEND_H

#include <stddef.h>

#include "model.h"

typedef struct inf_backend {
    const char *name;
    /* Everything a step needs for MAX_BATCH rows; NULL with a message in err on failure. */
    void *(*create)(const inf_model *m, int max_batch, int threads, char *err, size_t errlen);
    void (*destroy)(void *ctx);
    /* A KV cache for seq_len positions of every layer; NULL when out of memory. */
    void *(*kv_new)(void *ctx);
    void (*kv_free)(void *ctx, void *kv);
    /* Row i feeds TOKENS[i] at position POS[i] of the sequence whose cache is KV[i] and
     * writes its vocab_size logits at LOGITS + i * vocab_size (host memory). Rows of one
     * sequence are adjacent with consecutive positions; a row attends to the positions
     * below it, including those written by earlier rows of the same step. 0 or -1. */
    int (*step)(void *ctx, void *const *kv, const int *tokens, const int *pos, int n,
                float *logits, char *err, size_t errlen);
} inf_backend;

extern const inf_backend inf_backend_cpu;
extern const inf_backend inf_backend_cuda __attribute__((weak));

#endif
