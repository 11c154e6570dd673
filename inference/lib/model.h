/* model.h: a llama2.c checkpoint ("legacy" version 0 format), validated and mapped.
 *
 * File layout: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len), then fp32 arrays in llama2.c order (see models/PROVENANCE.md).
 * A negative vocab_size means a separate classifier wcls follows the freq_cis arrays.
 *
 * Ownership: inf_model_open() maps the file read-only; the model owns the mapping and
 * every pointer in inf_weights points into it, valid until inf_model_close(). */
#ifndef INF_MODEL_H
#define INF_MODEL_H

#include <stddef.h>

typedef struct inf_config {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int head_size;         /* dim / n_heads */
    int kv_dim;            /* head_size * n_kv_heads */
    int shared_classifier; /* 1: logits use token_embedding (header vocab_size > 0) */
} inf_config;

/* Row-major fp32 weights; each per-layer array is n_layers blocks back to back.
 * Matrices are [out][in]: wq [dim][dim], wk/wv [kv_dim][dim], wo [dim][dim],
 * w1/w3 [hidden_dim][dim], w2 [dim][hidden_dim], wcls [vocab_size][dim]. */
typedef struct inf_weights {
    const float *token_embedding; /* [vocab_size][dim] */
    const float *rms_att;         /* [n_layers][dim] */
    const float *wq, *wk, *wv, *wo;
    const float *rms_ffn;         /* [n_layers][dim] */
    const float *w1, *w2, *w3;
    const float *rms_final;       /* [dim] */
    const float *wcls;            /* == token_embedding when shared_classifier */
} inf_weights;

typedef struct inf_model inf_model;

/* Maps and validates PATH: the header values must be positive and consistent
 * (dim % n_heads == 0, n_heads % n_kv_heads == 0, head_size even, sizes within limits)
 * and the file size must equal what the header implies exactly. On failure returns NULL
 * and writes "PATH: what is wrong" into err (which may be NULL). */
inf_model *inf_model_open(const char *path, char *err, size_t errlen);

/* The same validation on a checkpoint already in memory; NAME is used in messages.
 * The model borrows DATA (no copy) when it is 4-byte aligned, else copies it: the caller
 * keeps DATA alive until inf_model_close() either way. Never reads outside [data, data+size). */
inf_model *inf_model_open_buffer(const void *data, size_t size, const char *name,
                                 char *err, size_t errlen);

/* Unmaps/frees everything the model owns. NULL is a no-op. */
void inf_model_close(inf_model *m);

const inf_config *inf_model_config(const inf_model *m);
const inf_weights *inf_model_weights(const inf_model *m);
/* The path or name the model was opened with (model-owned). */
const char *inf_model_name(const inf_model *m);

#endif
