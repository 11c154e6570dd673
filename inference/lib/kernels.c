/* kernels.c: the C reference kernels of the forward pass (see kernels.h). */
#include "kernels.h"

#include <math.h>
#include <string.h>

void inf_rmsnorm(float *out, const float *x, const float *weight, int rows, int dim)
{
    for (int r = 0; r < rows; r++, out += dim, x += dim) {
        float ss = 0.0f;
        for (int j = 0; j < dim; j++)
            ss += x[j] * x[j];
        ss /= (float)dim;
        ss += 1e-5f;
        ss = 1.0f / sqrtf(ss);
        for (int j = 0; j < dim; j++)
            out[j] = weight[j] * (ss * x[j]);
    }
}

/* Dot products are summed in LANES interleaved partial sums (which the compiler keeps in
 * vector registers), then the lanes pairwise, then the tail: a fixed order for a given n. */
#define LANES 8

static inline float reduce_lanes(const float *acc)
{
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* One weight row against one input row. */
static inline float dot1(const float *w, const float *x, int n)
{
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += w[i + j] * x[i + j];
    float s = reduce_lanes(acc);
    for (; i < n; i++)
        s += w[i] * x[i];
    return s;
}

/* Four weight rows against one input row: the same arithmetic as four dot1() calls,
 * interleaved so that the four independent sums overlap in the pipeline. */
static inline void dot4(float *out, const float *w, const float *x, int n)
{
    const float *w0 = w, *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;
    float a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float xv = x[i + j];
            a0[j] += w0[i + j] * xv;
            a1[j] += w1[i + j] * xv;
            a2[j] += w2[i + j] * xv;
            a3[j] += w3[i + j] * xv;
        }
    float s0 = reduce_lanes(a0), s1 = reduce_lanes(a1), s2 = reduce_lanes(a2), s3 = reduce_lanes(a3);
    for (; i < n; i++) {
        s0 += w0[i] * x[i];
        s1 += w1[i] * x[i];
        s2 += w2[i] * x[i];
        s3 += w3[i] * x[i];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

void inf_matmul(float *out, const float *x, const float *w, int rows, int in, int out_dim,
                int out_begin, int out_end)
{
    int o = out_begin;
    /* Blocks of four weight rows stay in L1 while every input row passes by. */
    for (; o + 4 <= out_end; o += 4) {
        const float *wb = w + (size_t)o * in;
        for (int r = 0; r < rows; r++) {
            float s[4];
            dot4(s, wb, x + (size_t)r * in, in);
            memcpy(out + (size_t)r * out_dim + o, s, sizeof s);
        }
    }
    for (; o < out_end; o++)
        for (int r = 0; r < rows; r++)
            out[(size_t)r * out_dim + o] = dot1(w + (size_t)o * in, x + (size_t)r * in, in);
}

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
    for (int i = 0; i < len; i += 2) {
        int h = i % head_size;
        float fcr = cos_sin_row[h], fci = cos_sin_row[h + 1];
        float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * fcr - v1 * fci;
        vec[i + 1] = v0 * fci + v1 * fcr;
    }
}

void inf_softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] /= sum;
}

void inf_attention_head(float *out, const float *q, const float *keys, const float *values,
                        int kv_stride, int n_pos, int head_size, float *att)
{
    const float scale = sqrtf((float)head_size);
    for (int t = 0; t < n_pos; t++) {
        const float *k = keys + (size_t)t * kv_stride;
        float score = 0.0f;
        for (int i = 0; i < head_size; i++)
            score += q[i] * k[i];
        att[t] = score / scale;
    }
    inf_softmax(att, n_pos);
    memset(out, 0, (size_t)head_size * sizeof *out);
    for (int t = 0; t < n_pos; t++) {
        const float *v = values + (size_t)t * kv_stride;
        float a = att[t];
        for (int i = 0; i < head_size; i++)
            out[i] += a * v[i];
    }
}

void inf_swiglu(float *h, const float *g, int n)
{
    for (int i = 0; i < n; i++) {
        float val = h[i];
        val *= 1.0f / (1.0f + expf(-val));
        h[i] = val * g[i];
    }
}

void inf_add(float *x, const float *y, int n)
{
    for (int i = 0; i < n; i++)
        x[i] += y[i];
}
