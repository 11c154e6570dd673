/* cuda_kernels.h: the GPU kernels of the forward pass (CUDA C++, for .cu files only).
 *
 * Each launcher mirrors a C reference of kernels.h (named beside it) and is tested against
 * it by tests/inference/cuda_test_kernels.cu. All pointers are device memory owned by the
 * caller; arrays are row-major fp32. Launchers only enqueue work on STREAM and return
 * cudaGetLastError() (launch errors); failures while running show up at the next sync.
 *
 * Layouts shared with the backend (cuda.cu):
 *   qkv row   [q: dim][k: kv_dim][v: kv_dim]   (the fused Q, K, V projection)
 *   h13 row   [h1: hidden][h3: hidden]          (the fused W1, W3 projection)
 *   KV cache  key[r], value[r]: the caches of row r's sequence, [n_layers][seq_len][kv_dim];
 *             LAYER_OFFSET = layer * seq_len * kv_dim selects the layer. */
#ifndef INF_CUDA_KERNELS_H
#define INF_CUDA_KERNELS_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>

/* x[r] = table[tokens[r]] (rows of DIM): the token embedding. */
cudaError_t inf_cu_embed(float *x, const float *table, const int *tokens, int rows, int dim,
                         cudaStream_t stream);

/* inf_rmsnorm(); OUT may equal X. */
cudaError_t inf_cu_rmsnorm(float *out, const float *x, const float *weight, int rows, int dim,
                           cudaStream_t stream);

/* out[r][o] = beta * out[r][o] + sum_i w[o][i] * x[r][i] with cuBLAS on BLAS's stream:
 * inf_matmul() (beta 0) or inf_matmul() then inf_add() into OUT (beta 1). */
cublasStatus_t inf_cu_matmul(cublasHandle_t blas, float *out, const float *x, const float *w,
                             int rows, int in, int out_dim, float beta);

/* For each row r: inf_rope() on its q and k with the table row of position pos[r], then k
 * and v stored at that position of row r's caches. Q is rotated in place in QKV. */
cudaError_t inf_cu_rope_store(float *qkv, float *const *key, float *const *value, const int *pos,
                              const float *rope, int rows, int dim, int kv_dim, int head_size,
                              size_t layer_offset, cudaStream_t stream);

/* inf_attention_head() for every (row, head): out[r][h] attends over positions 0..pos[r] of
 * row r's caches with the q of QKV, key/value head h / (n_heads / n_kv_heads). */
cudaError_t inf_cu_attention(float *out, const float *qkv, const float *const *key,
                             const float *const *value, const int *pos, int rows, int n_heads,
                             int n_kv_heads, int head_size, int seq_len, size_t layer_offset,
                             cudaStream_t stream);
/* Readies the attention kernel for SEQ_LEN and HEAD_SIZE on the current device (scores are
 * kept in shared memory): call once before inf_cu_attention(). cudaErrorInvalidValue when
 * the device cannot hold them; *SHARED_BYTES (may be NULL) receives what one block needs. */
cudaError_t inf_cu_attention_prepare(int seq_len, int head_size, size_t *shared_bytes);

/* out[r][i] = silu(h13[r][i]) * h13[r][hidden + i]: inf_swiglu() on the fused layout. */
cudaError_t inf_cu_swiglu(float *out, const float *h13, int rows, int hidden, cudaStream_t stream);

/* inf_softmax() on each of ROWS rows of N, in place (probabilities for sampling). */
cudaError_t inf_cu_softmax(float *x, int rows, int n, cudaStream_t stream);

/* out[r] = smp_argmax(x[r], n): the first index of the largest value (greedy decoding). */
cudaError_t inf_cu_argmax(int *out, const float *x, int rows, int n, cudaStream_t stream);

#endif
