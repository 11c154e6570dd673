/* kernels.c: the C reference kernels of the forward pass (see kernels.h). */
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Dot products are summed in 8 interleaved partial sums held in one vector (GCC/clang
 * vector extension: two SSE registers, or one AVX register in the AVX2 and AVX-512
 * clones), then the lanes pairwise, then the scalar tail: a fixed order for a given
 * length, on any CPU. (ISO C mode means no FMA contraction, so all clones round
 * identically.) */
typedef float v8f __attribute__((vector_size(32)));
/* The same for loads and stores at any float address (and aliasing float arrays). Vectors
 * never cross a call: passing them by value would depend on the AVX ABI. */
typedef float v8f_any __attribute__((vector_size(32), aligned(4), may_alias));
#define LOAD8(p) (*(const v8f_any *)(p))
#define STORE8(p, v) (*(v8f_any *)(p) = (v))

typedef float v4f __attribute__((vector_size(16)));

/* 16 lanes: one AVX-512 register, two AVX or four SSE ones. */
typedef float v16f __attribute__((vector_size(64)));
typedef float v16f_any __attribute__((vector_size(64), aligned(4), may_alias));
#define LOAD16(p) (*(const v16f_any *)(p))
#define STORE16(p, v) (*(v16f_any *)(p) = (v))

/* Helpers of the cloned kernels must be inlined into each clone to be compiled for its
 * target: an out-of-line copy would be the baseline one. */
#define HELPER static inline __attribute__((always_inline))

/* ROWS (a constant once inlined) rows at once: each sum of squares is run.c's sequential
 * one, and ROWS of them are independent chains in flight together. OUT may equal X. */
HELPER void rmsnorm_rows(float *out, const float *x, const float *weight, int dim, int rows)
{
    float ss[4] = {0};
    for (int j = 0; j < dim; j++)
        for (int r = 0; r < rows; r++)
            ss[r] += x[(size_t)r * dim + j] * x[(size_t)r * dim + j];
    for (int r = 0; r < rows; r++) {
        float scale = ss[r] / (float)dim;
        scale += 1e-5f;
        scale = 1.0f / sqrtf(scale);
        for (int j = 0; j < dim; j++)
            out[(size_t)r * dim + j] = weight[j] * (scale * x[(size_t)r * dim + j]);
    }
}

void inf_rmsnorm(float *out, const float *x, const float *weight, int rows, int dim)
{
    int r = 0;
    for (; r + 4 <= rows; r += 4)
        rmsnorm_rows(out + (size_t)r * dim, x + (size_t)r * dim, weight, dim, 4);
    for (; r < rows; r++)
        rmsnorm_rows(out + (size_t)r * dim, x + (size_t)r * dim, weight, dim, 1);
}

/* ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)), in three vector additions. */
HELPER float reduce8(const v8f *a)
{
    const v4f h = __builtin_shufflevector(*a, *a, 0, 1, 2, 3) + __builtin_shufflevector(*a, *a, 4, 5, 6, 7);
    const v4f q = h + __builtin_shufflevector(h, h, 2, 3, 0, 1);
    return q[0] + q[1];
}

/* One weight row against one input row. */
HELPER float dot1(const float *w, const float *x, int n)
{
    v8f acc = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        acc += LOAD8(w + i) * LOAD8(x + i);
    float s = reduce8(&acc);
    for (; i < n; i++)
        s += w[i] * x[i];
    return s;
}

/* The four sums of A[0..3], each in reduce8()'s order, as {sum A[0], ..., sum A[3]}:
 * the same additions done four at a time. */
HELPER void reduce8x4(v4f *s, const v8f *a)
{
    /* ab = lo(a0) + hi(a0) | lo(a1) + hi(a1), cd the same for a2, a3. */
    const v8f ab = __builtin_shufflevector(a[0], a[1], 0, 1, 2, 3, 8, 9, 10, 11) +
                   __builtin_shufflevector(a[0], a[1], 4, 5, 6, 7, 12, 13, 14, 15);
    const v8f cd = __builtin_shufflevector(a[2], a[3], 0, 1, 2, 3, 8, 9, 10, 11) +
                   __builtin_shufflevector(a[2], a[3], 4, 5, 6, 7, 12, 13, 14, 15);
    /* q = (h0 + h2, h1 + h3) of a0, a2 | of a1, a3. */
    const v8f q = __builtin_shufflevector(ab, cd, 0, 1, 8, 9, 4, 5, 12, 13) +
                  __builtin_shufflevector(ab, cd, 2, 3, 10, 11, 6, 7, 14, 15);
    *s = __builtin_shufflevector(q, q, 0, 4, 2, 6) + __builtin_shufflevector(q, q, 1, 5, 3, 7);
}

/* The most rows of x a micro-kernel takes at once, in 8- and 16-lane registers. */
#define MAX_BLOCK_ROWS 6
#define MAX_BLOCK_PAIRS 4

/* One row's four outputs from its four accumulators ACC (summed to I): reduce8, then the
 * scalar tail from I, as dot1() does; stored at OUT. */
HELPER void finish_row(float *out, const v8f *acc, const float *w, const float *xr, int in, int i)
{
    v4f s;
    reduce8x4(&s, acc);
    for (int j = i; j < in; j++) {
        const v4f wj = {w[j], w[in + j], w[2 * in + j], w[3 * in + j]};
        s += wj * xr[j];
    }
    memcpy(out, &s, sizeof s);
}

/* out[r][o] for ROWS (a constant once inlined) rows of x and 4 consecutive weight rows:
 * ROWS x 4 accumulators in registers, so that each weight load serves every row and each
 * x load every output. Each accumulator is exactly dot1()'s (8 lanes, reduce8, then the
 * scalar tail), so a row's result does not depend on the rows beside it. */
HELPER void matmul_block(float *out, int out_dim, const float *w, const float *x, int in, int rows)
{
    v8f acc[MAX_BLOCK_ROWS][4];
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 4
        for (int o = 0; o < 4; o++)
            acc[r][o] = (v8f){0};
    int i = 0;
    for (; i + 8 <= in; i += 8) {
        v8f xv[MAX_BLOCK_ROWS];
#pragma GCC unroll 8
        for (int r = 0; r < rows; r++)
            xv[r] = LOAD8(x + (size_t)r * in + i);
#pragma GCC unroll 4
        for (int o = 0; o < 4; o++) {
            const v8f wv = LOAD8(w + (size_t)o * in + i);
#pragma GCC unroll 8
            for (int r = 0; r < rows; r++)
                acc[r][o] += wv * xv[r];
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++)
        finish_row(out + (size_t)r * out_dim, acc[r], w, x + (size_t)r * in, in, i);
}

/* The same for 2 * PAIRS rows with two rows per 16-lane register ([row 2p | row 2p+1],
 * each weight vector broadcast to both halves), for AVX-512: twice the work per
 * instruction. Each half is exactly matmul_block()'s accumulator for its row. */
HELPER void matmul_pairs(float *out, int out_dim, const float *w, const float *x, int in, int pairs)
{
    v16f acc[MAX_BLOCK_PAIRS][4];
#pragma GCC unroll 4
    for (int p = 0; p < pairs; p++)
#pragma GCC unroll 4
        for (int o = 0; o < 4; o++)
            acc[p][o] = (v16f){0};
    int i = 0;
    for (; i + 8 <= in; i += 8) {
        v16f xv[MAX_BLOCK_PAIRS];
#pragma GCC unroll 4
        for (int p = 0; p < pairs; p++)
            xv[p] = __builtin_shufflevector(LOAD8(x + (size_t)(2 * p) * in + i),
                                            LOAD8(x + (size_t)(2 * p + 1) * in + i),
                                            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#pragma GCC unroll 4
        for (int o = 0; o < 4; o++) {
            const v8f w8 = LOAD8(w + (size_t)o * in + i);
            const v16f wv = __builtin_shufflevector(w8, w8, 0, 1, 2, 3, 4, 5, 6, 7,
                                                    0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 4
            for (int p = 0; p < pairs; p++)
                acc[p][o] += wv * xv[p];
        }
    }
#pragma GCC unroll 4
    for (int p = 0; p < pairs; p++) {
        v8f lo[4], hi[4];
#pragma GCC unroll 4
        for (int o = 0; o < 4; o++) {
            lo[o] = __builtin_shufflevector(acc[p][o], acc[p][o], 0, 1, 2, 3, 4, 5, 6, 7);
            hi[o] = __builtin_shufflevector(acc[p][o], acc[p][o], 8, 9, 10, 11, 12, 13, 14, 15);
        }
        finish_row(out + (size_t)(2 * p) * out_dim, lo, w, x + (size_t)(2 * p) * in, in, i);
        finish_row(out + (size_t)(2 * p + 1) * out_dim, hi, w, x + (size_t)(2 * p + 1) * in, in, i);
    }
}

/* The matmul with blocks of 2 * PAIRS rows in 16-lane registers when PAIRS > 0, then
 * blocks of up to BLOCK_ROWS rows in 8-lane ones (constants: each case below is its own
 * unrolled kernel). Blocks of four weight rows stay in L1 while every input row passes by. */
HELPER void matmul_rows(float *out, const float *x, const float *w, int rows, int in, int out_dim,
                        int out_begin, int out_end, int pairs, int block_rows)
{
    int o = out_begin;
    for (; o + 4 <= out_end; o += 4) {
        const float *wb = w + (size_t)o * in;
        int r = 0;
        if (pairs)
            for (; r + 2 * pairs <= rows; r += 2 * pairs)
                matmul_pairs(out + (size_t)r * out_dim + o, out_dim, wb, x + (size_t)r * in, in, pairs);
        for (; r + block_rows <= rows; r += block_rows)
            matmul_block(out + (size_t)r * out_dim + o, out_dim, wb, x + (size_t)r * in, in, block_rows);
        float *ob = out + (size_t)r * out_dim + o;
        const float *xb = x + (size_t)r * in;
        /* The last rows - r < block_rows rows (the tests of block_rows drop the kernels
         * a clone never runs). */
        switch (rows - r) {
        case 5: if (block_rows > 5) matmul_block(ob, out_dim, wb, xb, in, 5); break;
        case 4: if (block_rows > 4) matmul_block(ob, out_dim, wb, xb, in, 4); break;
        case 3: if (block_rows > 3) matmul_block(ob, out_dim, wb, xb, in, 3); break;
        case 2: if (block_rows > 2) matmul_block(ob, out_dim, wb, xb, in, 2); break;
        case 1: if (block_rows > 1) matmul_block(ob, out_dim, wb, xb, in, 1); break;
        }
    }
    for (; o < out_end; o++)
        for (int r = 0; r < rows; r++)
            out[(size_t)r * out_dim + o] = dot1(w + (size_t)o * in, x + (size_t)r * in, in);
}

/* One matmul per instruction set, the blocks as tall as its registers allow: 8 rows (4
 * pairs) x 4 outputs in AVX-512's 32 registers, then 6 x 4 with 8 lanes; 2 x 4 with
 * AVX2's 16; 1 x 4 otherwise (a v8f is two SSE registers). No FMA anywhere: every clone
 * rounds identically. */
#define MATMUL_FOR(name, pairs, block_rows)                                                         \
    static void name(float *out, const float *x, const float *w, int rows, int in, int out_dim,    \
                     int out_begin, int out_end)                                                    \
    {                                                                                               \
        matmul_rows(out, x, w, rows, in, out_dim, out_begin, out_end, pairs, block_rows);           \
    }
__attribute__((target("avx512f,avx512vl"))) MATMUL_FOR(matmul_avx512, 4, 6)
__attribute__((target("avx2"))) MATMUL_FOR(matmul_avx2, 0, 2)
MATMUL_FOR(matmul_baseline, 0, 1)

void inf_matmul(float *out, const float *x, const float *w, int rows, int in, int out_dim,
                int out_begin, int out_end)
{
    if (__builtin_cpu_supports("avx512vl"))
        matmul_avx512(out, x, w, rows, in, out_dim, out_begin, out_end);
    else if (__builtin_cpu_supports("avx2"))
        matmul_avx2(out, x, w, rows, in, out_dim, out_begin, out_end);
    else
        matmul_baseline(out, x, w, rows, in, out_dim, out_begin, out_end);
}

/* The kernels below come in an AVX-512, an AVX2 and a baseline clone, chosen at load
 * time. (Static, with a plain exported wrapper: clang 14 emits the dispatcher of an
 * exported clone only in translation units that call it.) */
#define CLONED __attribute__((target_clones("avx512f", "avx2", "default")))

void inf_rope_table(float *cos_sin, int seq_len, int head_size)
{
    for (int pos = 0; pos < seq_len; pos++)
        for (int i = 0; i < head_size; i += 2) {
            float freq = 1.0f / powf(10000.0f, (float)i / (float)head_size);
            float val = (float)pos * freq;
            cos_sin[(size_t)pos * head_size + i] = cosf(val);
            cos_sin[(size_t)pos * head_size + i + 1] = sinf(val);
        }
}

void inf_rope(float *vec, int len, int head_size, const float *cos_sin_row)
{
    for (int head = 0; head < len; head += head_size, vec += head_size)
        for (int i = 0; i < head_size; i += 2) {
            float fcr = cos_sin_row[i], fci = cos_sin_row[i + 1];
            float v0 = vec[i], v1 = vec[i + 1];
            vec[i] = v0 * fcr - v1 * fci;
            vec[i + 1] = v0 * fci + v1 * fcr;
        }
}

/* The lane-wise kernels below (exp, softmax, attention scores, SwiGLU) work on 16 lanes.
 * Each lane's arithmetic is the same whatever the width, so the clones agree bit for bit. */
typedef int32_t v16i __attribute__((vector_size(64)));
#define SPLAT16(c) ((v16f){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c})
/* Lane-wise MASK ? A : B, MASK from a vector comparison (all ones or all zeros). */
#define SELECT16(mask, a, b) ((v16f)(((mask) & (v16i)(a)) | (~(mask) & (v16i)(b))))

/* e^x in 16 lanes, in place: Cephes' single-precision method (range reduction by ln 2, a
 * degree-7 polynomial, exponent bits), within about 1 ulp of expf(). glibc's scalar expf()
 * costs more than the rest of attention together. Inputs are clamped to 88.3; below -87.3
 * (results under FLT_MIN) the result is 0. */
HELPER void exp16(v16f *v)
{
    const v16f x0 = *v;
    const v16i tiny = x0 < SPLAT16(-87.3f);
    v16f x = SELECT16(x0 > SPLAT16(88.3f), SPLAT16(88.3f), x0);
    x = SELECT16(tiny, SPLAT16(0.0f), x);
    v16f fx = x * SPLAT16(1.44269504088896341f) + SPLAT16(0.5f);
    v16i n = __builtin_convertvector(fx, v16i); /* toward zero: make it floor */
    n += (v16i)(__builtin_convertvector(n, v16f) > fx);
    v16f nf = __builtin_convertvector(n, v16f);
    x = x - nf * SPLAT16(0.693359375f);
    x = x - nf * SPLAT16(-2.12194440e-4f);
    v16f y = SPLAT16(1.9875691500e-4f);
    y = y * x + SPLAT16(1.3981999507e-3f);
    y = y * x + SPLAT16(8.3334519073e-3f);
    y = y * x + SPLAT16(4.1665795894e-2f);
    y = y * x + SPLAT16(1.6666665459e-1f);
    y = y * x + SPLAT16(5.0000001201e-1f);
    y = y * (x * x) + x + SPLAT16(1.0f);
    y *= (v16f)((n + 127) << 23);
    *v = SELECT16(tiny, SPLAT16(0.0f), y);
}

/* Loads the N < 16 floats at P into a vector padded with FILL, and stores the first N
 * lanes of V at P. (Lane by lane: a memcpy() of a variable size is a library call.) */
HELPER void load_partial16(v16f *v, const float *p, int n, float fill)
{
    for (int j = 0; j < 16; j++)
        (*v)[j] = j < n ? p[j] : fill;
}

HELPER void store_partial16(float *p, const v16f *v, int n)
{
    for (int j = 0; j < n; j++)
        p[j] = (*v)[j];
}

/* The largest of the N floats at X, folded into the running lane-wise maximum M. */
HELPER float max_of(const float *x, int n, v16f *m)
{
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const v16f v = LOAD16(x + i);
        *m = SELECT16(v > *m, v, *m);
    }
    float max = (*m)[0];
    for (int j = 1; j < 16; j++)
        max = (*m)[j] > max ? (*m)[j] : max;
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    return max;
}

/* The 8-lane sum ACC takes the 16 lanes of V: the first 8, then the others, as if V were
 * two consecutive 8-float blocks. */
HELPER void add_halves(v8f *acc, const v16f *v)
{
    *acc += __builtin_shufflevector(*v, *v, 0, 1, 2, 3, 4, 5, 6, 7);
    *acc += __builtin_shufflevector(*v, *v, 8, 9, 10, 11, 12, 13, 14, 15);
}

/* In place: x = exp(x - MAX); returns their sum (8 interleaved partial sums, then
 * reduce8: a fixed order for a given N; padding lanes add exact zeros). The
 * unnormalised half of a softmax. */
HELPER float exp_sum(float *x, int n, float max)
{
    v8f acc = {0};
    v16f v;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v = LOAD16(x + i) - max;
        exp16(&v);
        STORE16(x + i, v);
        add_halves(&acc, &v);
    }
    if (i < n) {
        load_partial16(&v, x + i, n - i, -INFINITY); /* padding lanes give 0 */
        v -= max;
        exp16(&v);
        store_partial16(x + i, &v, n - i);
        add_halves(&acc, &v);
    }
    return reduce8(&acc);
}

/* x[i] *= S for i < N. */
HELPER void scale_by(float *x, int n, float s)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        STORE16(x + i, LOAD16(x + i) * s);
    for (; i < n; i++)
        x[i] *= s;
}

CLONED static void softmax(float *x, int n)
{
    v16f m = SPLAT16(-INFINITY);
    scale_by(x, n, 1.0f / exp_sum(x, n, max_of(x, n, &m)));
}

void inf_softmax(float *x, int n) { softmax(x, n); }

/* The most query heads attention takes together (grouped-query attention shares each key
 * and value head between kv_mul of them; 2 in every llama2.c model). */
#define MAX_GROUP 2

/* The scores of the 16 * NV positions from T for NH heads (constants once inlined):
 * head h's q at Q + h * HEAD_SIZE, its scores at ATT + h * N_POS. Each is q . k_t summed
 * over i in order, then divided by SCALE; each key load serves every head, and NH * NV
 * independent vectors keep the pipeline busy. M[h], a running lane-wise maximum, takes
 * them in. */
HELPER void scores_block(float *att, int n_pos, const float *q, const float *keys, int key_stride,
                         int t, int head_size, float scale, v16f *m, int nh, int nv)
{
    v16f acc[MAX_GROUP][2];
#pragma GCC unroll 2
    for (int h = 0; h < nh; h++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++)
            acc[h][j] = q[h * head_size] * LOAD16(keys + t + 16 * j);
    for (int i = 1; i < head_size; i++) {
        const float *k = keys + (size_t)i * key_stride + t;
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) {
            const v16f kv = LOAD16(k + 16 * j);
#pragma GCC unroll 2
            for (int h = 0; h < nh; h++)
                acc[h][j] += q[h * head_size + i] * kv;
        }
    }
#pragma GCC unroll 2
    for (int h = 0; h < nh; h++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) {
            acc[h][j] /= scale;
            STORE16(att + (size_t)h * n_pos + t + 16 * j, acc[h][j]);
            m[h] = SELECT16(acc[h][j] > m[h], acc[h][j], m[h]);
        }
}

/* NH (a constant once inlined) heads of attention over the same keys and values; see
 * attention_heads(). */
HELPER void attention_group(float *out, const float *q, const float *keys, int key_stride,
                            const float *values, int value_stride, int n_pos, int head_size,
                            float *att, int nh)
{
    const float scale = sqrtf((float)head_size);
    v16f m[MAX_GROUP];
#pragma GCC unroll 2
    for (int h = 0; h < nh; h++)
        m[h] = SPLAT16(-INFINITY);
    int t = 0;
    for (; t + 32 <= n_pos; t += 32)
        scores_block(att, n_pos, q, keys, key_stride, t, head_size, scale, m, nh, 2);
    for (; t + 16 <= n_pos; t += 16)
        scores_block(att, n_pos, q, keys, key_stride, t, head_size, scale, m, nh, 1);
    /* The last positions: the 16 that end at n_pos (recomputing some gives the same
     * scores), or one at a time when there are fewer. */
    if (t < n_pos && n_pos >= 16)
        scores_block(att, n_pos, q, keys, key_stride, n_pos - 16, head_size, scale, m, nh, 1);
    const int tail = n_pos >= 16 ? n_pos : t;
#pragma GCC unroll 2
    for (int h = 0; h < nh; h++) {
        float *a = att + (size_t)h * n_pos;
        const float *qh = q + h * head_size;
        for (t = tail; t < n_pos; t++) {
            float score = qh[0] * keys[t];
            for (int i = 1; i < head_size; i++)
                score += qh[i] * keys[(size_t)i * key_stride + t];
            a[t] = score / scale;
        }
        scale_by(a, n_pos, 1.0f / exp_sum(a, n_pos, max_of(a + tail, n_pos - tail, &m[h])));
    }
    if (head_size % 8 == 0) {
        for (int i = 0; i < head_size; i += 8) {
            const float *v = values + i;
            v8f acc[MAX_GROUP][4];
#pragma GCC unroll 2
            for (int h = 0; h < nh; h++)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++)
                    acc[h][j] = (v8f){0};
            int u = 0;
            for (; u + 4 <= n_pos; u += 4)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    const v8f vu = LOAD8(v + (size_t)(u + j) * value_stride);
#pragma GCC unroll 2
                    for (int h = 0; h < nh; h++)
                        acc[h][j] += att[(size_t)h * n_pos + u + j] * vu;
                }
            for (; u < n_pos; u++) {
                const v8f vu = LOAD8(v + (size_t)u * value_stride);
#pragma GCC unroll 2
                for (int h = 0; h < nh; h++)
                    acc[h][0] += att[(size_t)h * n_pos + u] * vu;
            }
#pragma GCC unroll 2
            for (int h = 0; h < nh; h++) {
                const v8f sum = (acc[h][0] + acc[h][1]) + (acc[h][2] + acc[h][3]);
                STORE8(out + h * head_size + i, sum);
            }
        }
        return;
    }
#pragma GCC unroll 2
    for (int h = 0; h < nh; h++) {
        float *o = out + h * head_size;
        memset(o, 0, (size_t)head_size * sizeof *o);
        for (int u = 0; u < n_pos; u++) {
            const float *v = values + (size_t)u * value_stride;
            for (int i = 0; i < head_size; i++)
                o[i] += att[(size_t)h * n_pos + u] * v[i];
        }
    }
}

/* Scores are computed for 32 positions at once from the transposed keys (no horizontal
 * sums); each score is summed over i in order, as run.c does, and the maximum is taken on
 * the way. The weighted sum of values keeps 4 interleaved partial sums per 8 components
 * (vector registers) when the head is a multiple of 8 wide (all llama2.c models); other
 * widths take scalar loops. Heads go by pairs, which share every load of keys and values
 * and double the independent sums of the value loop. */
CLONED static void attention_heads(float *out, const float *q, int n_heads, const float *keys,
                                   int key_stride, const float *values, int value_stride, int n_pos,
                                   int head_size, float *att)
{
    int h = 0;
    for (; h + 2 <= n_heads; h += 2)
        attention_group(out + h * head_size, q + h * head_size, keys, key_stride, values,
                        value_stride, n_pos, head_size, att, 2);
    if (h < n_heads)
        attention_group(out + h * head_size, q + h * head_size, keys, key_stride, values,
                        value_stride, n_pos, head_size, att, 1);
}

void inf_attention_head(float *out, const float *q, const float *keys, int key_stride,
                        const float *values, int value_stride, int n_pos, int head_size, float *att)
{
    attention_heads(out, q, 1, keys, key_stride, values, value_stride, n_pos, head_size, att);
}

void inf_attention_heads(float *out, const float *q, int n_heads, const float *keys, int key_stride,
                         const float *values, int value_stride, int n_pos, int head_size, float *att)
{
    attention_heads(out, q, n_heads, keys, key_stride, values, value_stride, n_pos, head_size, att);
}

CLONED static void swiglu(float *h, const float *g, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f val = LOAD16(h + i), e = -val;
        exp16(&e);
        STORE16(h + i, val * (SPLAT16(1.0f) / (SPLAT16(1.0f) + e)) * LOAD16(g + i));
    }
    if (i < n) {
        v16f val, gate, e;
        load_partial16(&val, h + i, n - i, 0.0f);
        load_partial16(&gate, g + i, n - i, 0.0f);
        e = -val;
        exp16(&e);
        val = val * (SPLAT16(1.0f) / (SPLAT16(1.0f) + e)) * gate;
        store_partial16(h + i, &val, n - i);
    }
}

void inf_swiglu(float *h, const float *g, int n) { swiglu(h, g, n); }

void inf_add(float *x, const float *y, int n)
{
    for (int i = 0; i < n; i++)
        x[i] += y[i];
}
