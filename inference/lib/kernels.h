/* kernels.h: the C reference of every operation of the forward pass, each callable on
 * its own so that another backend (CUDA) can test its kernels against these. They follow
 * llama2.c run.c's arithmetic; only the matmul sums in a different (fixed) order.
 * None allocates; all arrays are row-major fp32 owned by the caller. */
#ifndef INF_KERNELS_H
#define INF_KERNELS_H

/* out[r] = weight * x[r] / sqrt(mean(x[r]^2) + 1e-5) for each of ROWS rows of DIM. */
void inf_rmsnorm(float *out, const float *x, const float *weight, int rows, int dim);

/* out[r][o] = sum_i w[o][i] * x[r][i] for r < ROWS and OUT_BEGIN <= o < OUT_END, where
 * out has OUT_DIM columns and x, w have IN columns. Each w row is read once for all rows
 * of x, and every output's summation order depends on IN only, not on ROWS. */
void inf_matmul(float *out, const float *x, const float *w, int rows, int in, int out_dim,
                int out_begin, int out_end);

/* Rotary position embedding table: cos_sin[pos][2*i], [2*i+1] = cos, sin of
 * pos * 10000^(-2i/head_size), for pos < SEQ_LEN and i < HEAD_SIZE/2 (run.c's values). */
void inf_rope_table(float *cos_sin, int seq_len, int head_size);
/* Rotates each pair (x[2i], x[2i+1]) of VEC (LEN floats, a whole number of heads) by
 * COS_SIN_ROW, the table row of the token's position. */
void inf_rope(float *vec, int len, int head_size, const float *cos_sin_row);

/* In place: x = exp(x - max) / sum. */
void inf_softmax(float *x, int n);

/* One head of causal attention for one token: out[HEAD_SIZE] = sum_t softmax(q.k_t /
 * sqrt(head_size))_t v_t for t < N_POS. KEYS holds this head's keys transposed:
 * component i of position t at keys[i * KEY_STRIDE + t] (key_stride >= n_pos), so that
 * scores come 8 positions at a time. VALUES holds position t's values at
 * values[t * VALUE_STRIDE]. ATT is scratch of N_POS floats. */
void inf_attention_head(float *out, const float *q, const float *keys, int key_stride,
                        const float *values, int value_stride, int n_pos, int head_size, float *att);

/* inf_attention_head() for N_HEADS heads that share KEYS and VALUES (grouped-query
 * attention): head j reads Q + j * HEAD_SIZE and writes OUT + j * HEAD_SIZE, with the
 * same result as a call of its own. ATT is scratch of N_HEADS * N_POS floats. */
void inf_attention_heads(float *out, const float *q, int n_heads, const float *keys, int key_stride,
                         const float *values, int value_stride, int n_pos, int head_size, float *att);

/* h[i] = silu(h[i]) * g[i] for i < N (the SwiGLU gate). */
void inf_swiglu(float *h, const float *g, int n);

/* x[i] += y[i] for i < N. */
void inf_add(float *x, const float *y, int n);

#endif
