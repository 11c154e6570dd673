/* kernels.cu: the GPU kernels of the forward pass (see cuda_kernels.h).
 *
 * One block per row (or per row and head) wherever a row needs a reduction, so a row's
 * result never depends on the other rows of the batch; reductions go through warp
 * shuffles in a fixed order. Block sizes are whole warps (the reductions rely on it). */
#include "cuda_kernels.h"

#include <limits.h>
#include <math.h>

#define WARP 32
#define FULL_MASK 0xffffffffu
/* Elementwise kernels: threads per block and a cap on blocks (they loop over the rest). */
#define ELEMWISE_THREADS 256
#define ELEMWISE_MAX_BLOCKS 4096
/* Row kernels use up to this many threads per row. */
#define ROW_THREADS 256
/* Attention: threads per (row, head) block when a head is no wider. */
#define ATTENTION_THREADS 128
/* Shared memory a block may use without opting in. */
#define DEFAULT_SHARED_BYTES (48u << 10)

static int round_up_warp(int n) { return (n + WARP - 1) / WARP * WARP; }

/* Threads for a block that loops over a row of N: whole warps, at most ROW_THREADS. */
static int row_threads(int n)
{
    int t = round_up_warp(n);
    return t < ROW_THREADS ? t : ROW_THREADS;
}

static int elemwise_blocks(size_t n)
{
    size_t b = (n + ELEMWISE_THREADS - 1) / ELEMWISE_THREADS;
    return b < ELEMWISE_MAX_BLOCKS ? (int)b : ELEMWISE_MAX_BLOCKS;
}

__device__ static float warp_sum(float v)
{
    for (int o = WARP / 2; o > 0; o /= 2)
        v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ static float warp_max(float v)
{
    for (int o = WARP / 2; o > 0; o /= 2)
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

/* The block-wide sum or max of every thread's V, returned to all threads. RED is shared
 * scratch of WARP + 1 floats; the leading barrier lets calls follow each other. */
template <bool IS_MAX>
__device__ static float block_reduce(float v, float *red)
{
    const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    const int warps = blockDim.x / WARP;
    v = IS_MAX ? warp_max(v) : warp_sum(v);
    __syncthreads();
    if (lane == 0)
        red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < warps ? red[lane] : (IS_MAX ? -INFINITY : 0.0f);
        w = IS_MAX ? warp_max(w) : warp_sum(w);
        if (lane == 0)
            red[WARP] = w;
    }
    __syncthreads();
    return red[WARP];
}

__device__ static float block_sum(float v, float *red) { return block_reduce<false>(v, red); }
__device__ static float block_max(float v, float *red) { return block_reduce<true>(v, red); }

/* ---- embedding */

__global__ static void embed_kernel(float *x, const float *table, const int *tokens, int rows, int dim)
{
    const size_t n = (size_t)rows * dim;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / dim, j = i % dim;
        x[i] = table[(size_t)tokens[r] * dim + j];
    }
}

cudaError_t inf_cu_embed(float *x, const float *table, const int *tokens, int rows, int dim,
                         cudaStream_t stream)
{
    embed_kernel<<<elemwise_blocks((size_t)rows * dim), ELEMWISE_THREADS, 0, stream>>>(x, table, tokens, rows, dim);
    return cudaGetLastError();
}

/* ---- RMSNorm: one block per row. Each thread writes only the elements it read, so OUT
 * may alias X. */

__global__ static void rmsnorm_kernel(float *out, const float *x, const float *weight, int dim)
{
    __shared__ float red[WARP + 1];
    const float *xr = x + (size_t)blockIdx.x * dim;
    float *o = out + (size_t)blockIdx.x * dim;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
        ss += xr[j] * xr[j];
    ss = block_sum(ss, red);
    const float scale = 1.0f / sqrtf(ss / (float)dim + 1e-5f);
    for (int j = threadIdx.x; j < dim; j += blockDim.x)
        o[j] = weight[j] * (scale * xr[j]);
}

cudaError_t inf_cu_rmsnorm(float *out, const float *x, const float *weight, int rows, int dim,
                           cudaStream_t stream)
{
    rmsnorm_kernel<<<rows, row_threads(dim), 0, stream>>>(out, x, weight, dim);
    return cudaGetLastError();
}

/* ---- matmul: cuBLAS is column-major. A row-major [rows][n] array is the column-major
 * n x rows matrix, so out^T (out_dim x rows) = W (out_dim x in) * x^T (in x rows), where W
 * is the transpose of the column-major in x out_dim matrix that w's bytes form. */

cublasStatus_t inf_cu_matmul(cublasHandle_t blas, float *out, const float *x, const float *w,
                             int rows, int in, int out_dim, float beta)
{
    const float one = 1.0f;
    return cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, out_dim, rows, in, &one, w, in, x, in,
                       &beta, out, out_dim);
}

/* ---- RoPE and the KV store: one block per row, one thread per (q or k) pair. Pairs never
 * straddle q and k because dim is a whole number of heads. */

__global__ static void rope_store_kernel(float *qkv, float *const *key, float *const *value,
                                         const int *pos, const float *rope, int dim, int kv_dim,
                                         int head_size, size_t layer_offset)
{
    const int r = blockIdx.x;
    const int p = pos[r];
    float *row = qkv + (size_t)r * (dim + 2 * kv_dim);
    const float *cs = rope + (size_t)p * head_size;
    float *k_out = key[r] + layer_offset + (size_t)p * kv_dim;
    float *v_out = value[r] + layer_offset + (size_t)p * kv_dim;
    for (int pair = threadIdx.x; pair < (dim + kv_dim) / 2; pair += blockDim.x) {
        const int i = 2 * pair;
        const int at = i < dim ? i : i - dim; /* index within q or within k */
        const int h = at % head_size;
        const float fcr = cs[h], fci = cs[h + 1];
        const float v0 = row[i], v1 = row[i + 1];
        float *dst = i < dim ? row + i : k_out + at;
        dst[0] = v0 * fcr - v1 * fci;
        dst[1] = v0 * fci + v1 * fcr;
    }
    for (int j = threadIdx.x; j < kv_dim; j += blockDim.x)
        v_out[j] = row[dim + kv_dim + j];
}

cudaError_t inf_cu_rope_store(float *qkv, float *const *key, float *const *value, const int *pos,
                              const float *rope, int rows, int dim, int kv_dim, int head_size,
                              size_t layer_offset, cudaStream_t stream)
{
    rope_store_kernel<<<rows, row_threads((dim + kv_dim) / 2), 0, stream>>>(
        qkv, key, value, pos, rope, dim, kv_dim, head_size, layer_offset);
    return cudaGetLastError();
}

/* ---- attention: one block per (head, row). Scores live in shared memory: att[seq_len],
 * then q[head_size], the reduction scratch and one partial output per thread. */

static int attention_threads(int head_size)
{
    return head_size <= ATTENTION_THREADS ? ATTENTION_THREADS : round_up_warp(head_size);
}

static size_t attention_shared_bytes(int seq_len, int head_size)
{
    return ((size_t)seq_len + (size_t)head_size + WARP + 1 + (size_t)attention_threads(head_size)) * sizeof(float);
}

__global__ static void attention_kernel(float *out, const float *qkv, const float *const *key,
                                        const float *const *value, const int *pos, int dim,
                                        int kv_dim, int head_size, int kv_mul, int seq_len,
                                        size_t layer_offset)
{
    extern __shared__ float shared[];
    float *att = shared, *q = att + seq_len, *red = q + head_size, *part = red + WARP + 1;
    const int h = blockIdx.x, r = blockIdx.y, tid = threadIdx.x, threads = blockDim.x;
    const int n_pos = pos[r] + 1;
    const size_t kv_off = layer_offset + (size_t)(h / kv_mul) * head_size;
    const float *keys = key[r] + kv_off, *values = value[r] + kv_off;
    const float *q_in = qkv + (size_t)r * (dim + 2 * kv_dim) + (size_t)h * head_size;

    for (int i = tid; i < head_size; i += threads)
        q[i] = q_in[i];
    __syncthreads();

    /* Scores, softmax and normalisation: thread tid owns positions t = tid (mod threads),
     * so only the reductions need barriers. */
    const float scale = sqrtf((float)head_size);
    float local_max = -INFINITY;
    for (int t = tid; t < n_pos; t += threads) {
        const float *k = keys + (size_t)t * kv_dim;
        float s = 0.0f;
        for (int i = 0; i < head_size; i++)
            s += q[i] * k[i];
        s /= scale;
        att[t] = s;
        local_max = fmaxf(local_max, s);
    }
    const float max = block_max(local_max, red);
    float local_sum = 0.0f;
    for (int t = tid; t < n_pos; t += threads) {
        float e = expf(att[t] - max);
        att[t] = e;
        local_sum += e;
    }
    const float sum = block_sum(local_sum, red);
    for (int t = tid; t < n_pos; t += threads)
        att[t] /= sum;
    __syncthreads();

    /* Weighted sum of values: threads form GROUPS groups of head_size, one output element
     * per thread of a group (coalesced reads of a value row); group g takes positions
     * t = g (mod groups); then the groups' partial sums are added in order. */
    const int groups = threads / head_size; /* >= 1: threads >= head_size */
    const int i = tid % head_size, g = tid / head_size;
    if (g < groups) {
        float acc = 0.0f;
        for (int t = g; t < n_pos; t += groups)
            acc += att[t] * values[(size_t)t * kv_dim + i];
        part[tid] = acc;
    }
    __syncthreads();
    if (tid < head_size) {
        float o = 0.0f;
        for (int gi = 0; gi < groups; gi++)
            o += part[gi * head_size + tid];
        out[(size_t)r * dim + (size_t)h * head_size + tid] = o;
    }
}

cudaError_t inf_cu_attention_prepare(int seq_len, int head_size, size_t *shared_bytes)
{
    const size_t bytes = attention_shared_bytes(seq_len, head_size);
    if (shared_bytes)
        *shared_bytes = bytes;
    if (attention_threads(head_size) > 1024)
        return cudaErrorInvalidValue;
    if (bytes <= DEFAULT_SHARED_BYTES)
        return cudaSuccess;
    int device, optin;
    cudaError_t e = cudaGetDevice(&device);
    if (e == cudaSuccess)
        e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    if (e != cudaSuccess)
        return e;
    if (bytes > (size_t)optin)
        return cudaErrorInvalidValue;
    return cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
}

cudaError_t inf_cu_attention(float *out, const float *qkv, const float *const *key,
                             const float *const *value, const int *pos, int rows, int n_heads,
                             int n_kv_heads, int head_size, int seq_len, size_t layer_offset,
                             cudaStream_t stream)
{
    const dim3 grid((unsigned)n_heads, (unsigned)rows);
    attention_kernel<<<grid, attention_threads(head_size), attention_shared_bytes(seq_len, head_size), stream>>>(
        out, qkv, key, value, pos, n_heads * head_size, n_kv_heads * head_size, head_size,
        n_heads / n_kv_heads, seq_len, layer_offset);
    return cudaGetLastError();
}

/* ---- SwiGLU on the fused [h1 | h3] rows. */

__global__ static void swiglu_kernel(float *out, const float *h13, int rows, int hidden)
{
    const size_t n = (size_t)rows * hidden;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < n; idx += (size_t)gridDim.x * blockDim.x) {
        const size_t r = idx / hidden, i = idx % hidden;
        const float *row = h13 + r * 2 * hidden;
        float val = row[i];
        val *= 1.0f / (1.0f + expf(-val));
        out[idx] = val * row[hidden + i];
    }
}

cudaError_t inf_cu_swiglu(float *out, const float *h13, int rows, int hidden, cudaStream_t stream)
{
    swiglu_kernel<<<elemwise_blocks((size_t)rows * hidden), ELEMWISE_THREADS, 0, stream>>>(out, h13, rows, hidden);
    return cudaGetLastError();
}

/* ---- softmax: one block per row, in place. */

__global__ static void softmax_kernel(float *x, int n)
{
    __shared__ float red[WARP + 1];
    float *row = x + (size_t)blockIdx.x * n;
    float local_max = -INFINITY;
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        local_max = fmaxf(local_max, row[j]);
    const float max = block_max(local_max, red);
    float local_sum = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float e = expf(row[j] - max);
        row[j] = e;
        local_sum += e;
    }
    const float sum = block_sum(local_sum, red);
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        row[j] /= sum;
}

cudaError_t inf_cu_softmax(float *x, int rows, int n, cudaStream_t stream)
{
    softmax_kernel<<<rows, row_threads(n), 0, stream>>>(x, n);
    return cudaGetLastError();
}

/* ---- argmax: one block per row; (value, index) pairs reduce to the largest value and,
 * among equal values, the smallest index, as smp_argmax()'s strict '>' scan does. */

__device__ static void better_of(float *v, int *i, float ov, int oi)
{
    if (ov > *v || (ov == *v && oi < *i)) {
        *v = ov;
        *i = oi;
    }
}

__global__ static void argmax_kernel(int *out, const float *x, int n)
{
    __shared__ float red_v[WARP];
    __shared__ int red_i[WARP];
    const float *row = x + (size_t)blockIdx.x * n;
    const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, warps = blockDim.x / WARP;
    float v = -INFINITY;
    int i = INT_MAX; /* no candidate yet: loses every tie */
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        better_of(&v, &i, row[j], j);
    for (int o = WARP / 2; o > 0; o /= 2)
        better_of(&v, &i, __shfl_xor_sync(FULL_MASK, v, o), __shfl_xor_sync(FULL_MASK, i, o));
    if (lane == 0) {
        red_v[warp] = v;
        red_i[warp] = i;
    }
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? red_v[lane] : -INFINITY;
        i = lane < warps ? red_i[lane] : INT_MAX;
        for (int o = WARP / 2; o > 0; o /= 2)
            better_of(&v, &i, __shfl_xor_sync(FULL_MASK, v, o), __shfl_xor_sync(FULL_MASK, i, o));
        if (lane == 0)
            out[blockIdx.x] = i < n ? i : 0; /* all -inf or NaN: index 0, as smp_argmax() */
    }
}

cudaError_t inf_cu_argmax(int *out, const float *x, int rows, int n, cudaStream_t stream)
{
    argmax_kernel<<<rows, row_threads(n), 0, stream>>>(out, x, n);
    return cudaGetLastError();
}
