/* cuda_test_kernels: every CUDA kernel of inference/cuda/ against its C reference
 * (kernels.h, sampler.h) on random inputs, then the CUDA engine against the CPU engine on
 * the shipped models. Built by `make cuda`, run by `make test-cuda` (needs a GPU).
 *
 * Each comparison prints its largest absolute and relative errors as a comment, then one
 * ok / not ok line. Tolerances are a few float roundings of the sums involved: a wrong
 * index, layout or missing barrier gives errors of the order of the values themselves.
 *
 * Engine checks, per model (positions 0..255 from BOS, each next token the CPU's greedy
 * choice, so both engines always see the same input):
 *   - logits agree within LOGIT_TOL at every position;
 *   - where the greedy choices differ, the CPU's top two logits are within LOGIT_TOL (a
 *     near tie that rounding may flip), which is what can make the golden text diverge;
 *   - a prompt fed in one step (several rows of one sequence) equals it fed token by token;
 *   - a mixed batch (prefills and decodes of many sequences in one step) equals the CPU;
 *   - steps replayed from the captured CUDA graph equal steps launched one by one (the
 *     profiled path of inf_cuda_profile_start()), and the profile adds up. */
extern "C" {
#include "backend.h"
#include "engine.h"
#include "kernels.h"
#include "model.h"
#include "sampler.h"
}
#include "../check.h"
#include "cuda_backend.h"
#include "cuda_kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGIT_TOL 2e-3
#define MAX_ROWS 64

/* ---- helpers: a failed CUDA call ends the program with a failed check. */

static void cuda_ok(cudaError_t e, const char *what, int line)
{
    if (e == cudaSuccess)
        return;
    printf("not ok - CUDA call at line %d: %s: %s\n", line, what, cudaGetErrorString(e));
    exit(1);
}
#define CUDA_OK(call) cuda_ok((call), #call, __LINE__)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rnd(float lo, float hi)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint32_t bits = (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 40); /* 24 bits */
    return lo + (hi - lo) * ((float)bits / (float)(1u << 24));
}

static float *host_random(size_t n, float lo, float hi)
{
    float *p = (float *)malloc(n * sizeof *p);
    if (!p) {
        printf("not ok - out of host memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = rnd(lo, hi);
    return p;
}

static void *to_device(const void *h, size_t bytes)
{
    void *d;
    CUDA_OK(cudaMalloc(&d, bytes));
    CUDA_OK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
    return d;
}

static float *dev_floats(const float *h, size_t n) { return (float *)to_device(h, n * sizeof(float)); }

static void to_host(void *h, const void *d, size_t bytes)
{
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost));
}

/* ok when |got - want| <= atol + rtol * |want| everywhere; prints the largest errors. */
static void compare(const float *got, const float *want, size_t n, double atol, double rtol, const char *name)
{
    double max_abs = 0, max_rel = 0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double rel = d / fmax(fabs((double)want[i]), 1e-30);
        if (!(d <= atol + rtol * fabs((double)want[i]))) { /* NaN fails too */
            if (!bad++)
                first_bad = i;
        }
        if (d > max_abs || d != d)
            max_abs = d;
        if (rel > max_rel || rel != rel)
            max_rel = rel;
    }
    printf("# %s: %zu values, max abs err %.3g, max rel err %.3g\n", name, n, max_abs, max_rel);
    if (bad)
        printf("# %zu out of tolerance, first at %zu: got %.9g, want %.9g\n", bad, first_bad,
               got[first_bad], want[first_bad]);
    CHECK(bad == 0, "%s", name);
}

/* ---- kernels against kernels.h */

static void test_embed(void)
{
    const int vocab = 50, dim = 72, rows = 9;
    float *table = host_random((size_t)vocab * dim, -1, 1);
    int tokens[rows];
    for (int r = 0; r < rows; r++)
        tokens[r] = (r * 17 + 3) % vocab;
    tokens[rows - 1] = vocab - 1;
    float *want = (float *)malloc((size_t)rows * dim * sizeof *want), *got = (float *)malloc((size_t)rows * dim * sizeof *got);
    for (int r = 0; r < rows; r++)
        memcpy(want + (size_t)r * dim, table + (size_t)tokens[r] * dim, dim * sizeof *want);
    float *d_table = dev_floats(table, (size_t)vocab * dim), *d_x;
    int *d_tokens = (int *)to_device(tokens, sizeof tokens);
    CUDA_OK(cudaMalloc((void **)&d_x, (size_t)rows * dim * sizeof(float)));
    CUDA_OK(inf_cu_embed(d_x, d_table, d_tokens, rows, dim, 0));
    to_host(got, d_x, (size_t)rows * dim * sizeof(float));
    compare(got, want, (size_t)rows * dim, 0, 0, "embed: rows of the table, exactly");
    cudaFree(d_table), cudaFree(d_tokens), cudaFree(d_x);
    free(table), free(want), free(got);
}

static void test_rmsnorm(int rows, int dim, int in_place)
{
    size_t n = (size_t)rows * dim;
    float *x = host_random(n, -2, 2), *w = host_random((size_t)dim, 0.5f, 1.5f);
    float *want = (float *)malloc(n * sizeof *want), *got = (float *)malloc(n * sizeof *got);
    inf_rmsnorm(want, x, w, rows, dim);
    float *d_x = dev_floats(x, n), *d_w = dev_floats(w, (size_t)dim), *d_out = d_x;
    if (!in_place)
        CUDA_OK(cudaMalloc((void **)&d_out, n * sizeof(float)));
    CUDA_OK(inf_cu_rmsnorm(d_out, d_x, d_w, rows, dim, 0));
    to_host(got, d_out, n * sizeof(float));
    char name[96];
    snprintf(name, sizeof name, "rmsnorm %d x %d%s", rows, dim, in_place ? " in place" : "");
    compare(got, want, n, 1e-6, 1e-5, name);
    if (!in_place)
        cudaFree(d_out);
    cudaFree(d_x), cudaFree(d_w);
    free(x), free(w), free(want), free(got);
}

static void test_matmul(cublasHandle_t blas, int rows, int in, int out_dim, float beta)
{
    size_t nx = (size_t)rows * in, nw = (size_t)out_dim * in, no = (size_t)rows * out_dim;
    float *x = host_random(nx, -1, 1), *w = host_random(nw, -1, 1), *prev = host_random(no, -1, 1);
    float *want = (float *)malloc(no * sizeof *want), *got = (float *)malloc(no * sizeof *got);
    inf_matmul(want, x, w, rows, in, out_dim, 0, out_dim);
    if (beta != 0.0f)
        inf_add(want, prev, (int)no);
    float *d_x = dev_floats(x, nx), *d_w = dev_floats(w, nw), *d_out = dev_floats(prev, no);
    cublasStatus_t s = inf_cu_matmul(blas, d_out, d_x, d_w, rows, in, out_dim, beta);
    if (s != CUBLAS_STATUS_SUCCESS)
        printf("# cublasSgemm: %s\n", cublasGetStatusString(s));
    to_host(got, d_out, no * sizeof(float));
    char name[96];
    snprintf(name, sizeof name, "matmul %d rows, %d -> %d%s", rows, in, out_dim, beta != 0.0f ? ", accumulated" : "");
    /* Sums of IN products of magnitude <= 1, in another order. */
    compare(got, want, no, 1e-6 * in, 1e-5, name);
    cudaFree(d_x), cudaFree(d_w), cudaFree(d_out);
    free(x), free(w), free(prev), free(want), free(got);
}

/* A batch of rows over a few sequences' KV caches on the device, and their host copies. */
struct caches {
    int n_seq, layers, seq_len, kv_dim;
    size_t per_seq; /* floats of one sequence's key (or value) cache */
    float *host_key, *host_value; /* [n_seq][per_seq] */
    float *dev_key, *dev_value;
    float **d_key_rows, **d_value_rows; /* [rows] device pointers for the rows */
};

static void caches_new(struct caches *c, int n_seq, int layers, int seq_len, int kv_dim,
                       const int *row_seq, int rows)
{
    c->n_seq = n_seq, c->layers = layers, c->seq_len = seq_len, c->kv_dim = kv_dim;
    c->per_seq = (size_t)layers * seq_len * kv_dim;
    size_t n = (size_t)n_seq * c->per_seq;
    c->host_key = host_random(n, -1, 1);
    c->host_value = host_random(n, -1, 1);
    c->dev_key = dev_floats(c->host_key, n);
    c->dev_value = dev_floats(c->host_value, n);
    float *keys[MAX_ROWS], *values[MAX_ROWS];
    for (int r = 0; r < rows; r++) {
        keys[r] = c->dev_key + (size_t)row_seq[r] * c->per_seq;
        values[r] = c->dev_value + (size_t)row_seq[r] * c->per_seq;
    }
    c->d_key_rows = (float **)to_device(keys, rows * sizeof *keys);
    c->d_value_rows = (float **)to_device(values, rows * sizeof *values);
}

static void caches_free(struct caches *c)
{
    cudaFree(c->dev_key), cudaFree(c->dev_value), cudaFree(c->d_key_rows), cudaFree(c->d_value_rows);
    free(c->host_key), free(c->host_value);
}

static void test_rope_store(int n_heads, int n_kv_heads, int head_size)
{
    enum { ROWS = 6, SEQS = 3, LAYERS = 2, LAYER = 1, SEQ_LEN = 40 };
    const int row_seq[ROWS] = {0, 1, 1, 1, 2, 2};
    const int pos[ROWS] = {0, 5, 6, 7, 38, 39};
    const int dim = n_heads * head_size, kv_dim = n_kv_heads * head_size, qkv_dim = dim + 2 * kv_dim;
    const size_t layer_offset = (size_t)LAYER * SEQ_LEN * kv_dim;
    float *rope = (float *)malloc((size_t)SEQ_LEN * head_size * sizeof *rope);
    inf_rope_table(rope, SEQ_LEN, head_size);
    float *qkv = host_random((size_t)ROWS * qkv_dim, -1, 1);
    struct caches c;
    caches_new(&c, SEQS, LAYERS, SEQ_LEN, kv_dim, row_seq, ROWS);

    /* Expected: q and k rotated, k and v at their positions of the layer. */
    float *want_q = (float *)malloc((size_t)ROWS * dim * sizeof(float));
    size_t n_cache = (size_t)SEQS * c.per_seq;
    float *want_key = (float *)malloc(n_cache * sizeof(float)), *want_value = (float *)malloc(n_cache * sizeof(float));
    memcpy(want_key, c.host_key, n_cache * sizeof(float));
    memcpy(want_value, c.host_value, n_cache * sizeof(float));
    for (int r = 0; r < ROWS; r++) {
        const float *row = qkv + (size_t)r * qkv_dim, *cs = rope + (size_t)pos[r] * head_size;
        memcpy(want_q + (size_t)r * dim, row, dim * sizeof(float));
        inf_rope(want_q + (size_t)r * dim, dim, head_size, cs);
        size_t at = (size_t)row_seq[r] * c.per_seq + layer_offset + (size_t)pos[r] * kv_dim;
        memcpy(want_key + at, row + dim, kv_dim * sizeof(float));
        inf_rope(want_key + at, kv_dim, head_size, cs);
        memcpy(want_value + at, row + dim + kv_dim, kv_dim * sizeof(float));
    }

    float *d_qkv = dev_floats(qkv, (size_t)ROWS * qkv_dim), *d_rope = dev_floats(rope, (size_t)SEQ_LEN * head_size);
    int *d_pos = (int *)to_device(pos, sizeof pos);
    CUDA_OK(inf_cu_rope_store(d_qkv, c.d_key_rows, c.d_value_rows, d_pos, d_rope, ROWS, dim, kv_dim,
                              head_size, layer_offset, 0));
    float *got_qkv = (float *)malloc((size_t)ROWS * qkv_dim * sizeof(float));
    float *got_q = (float *)malloc((size_t)ROWS * dim * sizeof(float));
    float *got_key = (float *)malloc(n_cache * sizeof(float)), *got_value = (float *)malloc(n_cache * sizeof(float));
    to_host(got_qkv, d_qkv, (size_t)ROWS * qkv_dim * sizeof(float));
    to_host(got_key, c.dev_key, n_cache * sizeof(float));
    to_host(got_value, c.dev_value, n_cache * sizeof(float));
    for (int r = 0; r < ROWS; r++)
        memcpy(got_q + (size_t)r * dim, got_qkv + (size_t)r * qkv_dim, dim * sizeof(float));
    char name[128];
    snprintf(name, sizeof name, "rope q, %d heads of %d", n_heads, head_size);
    compare(got_q, want_q, (size_t)ROWS * dim, 1e-6, 1e-5, name);
    snprintf(name, sizeof name, "rope k into the key cache (rest untouched), %d kv heads", n_kv_heads);
    compare(got_key, want_key, n_cache, 1e-6, 1e-5, name);
    snprintf(name, sizeof name, "v into the value cache (rest untouched), %d kv heads", n_kv_heads);
    compare(got_value, want_value, n_cache, 0, 0, name);

    caches_free(&c);
    cudaFree(d_qkv), cudaFree(d_rope), cudaFree(d_pos);
    free(rope), free(qkv), free(want_q), free(want_key), free(want_value);
    free(got_qkv), free(got_q), free(got_key), free(got_value);
}

static void test_attention(int n_heads, int n_kv_heads, int head_size, int seq_len)
{
    enum { ROWS = 6, SEQS = 3, LAYERS = 2, LAYER = 1 };
    const int row_seq[ROWS] = {0, 1, 1, 1, 2, 2};
    const int pos[ROWS] = {0, 9, 10, 11, seq_len - 2, seq_len - 1};
    const int dim = n_heads * head_size, kv_dim = n_kv_heads * head_size, qkv_dim = dim + 2 * kv_dim;
    const int kv_mul = n_heads / n_kv_heads;
    const size_t layer_offset = (size_t)LAYER * seq_len * kv_dim;
    char name[128];
    size_t shared_bytes = 0;
    cudaError_t e = inf_cu_attention_prepare(seq_len, head_size, &shared_bytes);
    snprintf(name, sizeof name, "attention prepared for seq_len %d, head size %d (%zu bytes of shared memory)",
             seq_len, head_size, shared_bytes);
    CHECK(e == cudaSuccess, "%s", name);
    if (e != cudaSuccess)
        return;
    float *qkv = host_random((size_t)ROWS * qkv_dim, -1, 1);
    struct caches c;
    caches_new(&c, SEQS, LAYERS, seq_len, kv_dim, row_seq, ROWS);
    float *want = (float *)malloc((size_t)ROWS * dim * sizeof(float)), *got = (float *)malloc((size_t)ROWS * dim * sizeof(float));
    float *att = (float *)malloc((size_t)seq_len * sizeof(float));
    /* The reference takes one head's keys transposed (component-major). */
    float *keys_t = (float *)malloc((size_t)seq_len * head_size * sizeof(float));
    for (int r = 0; r < ROWS; r++)
        for (int h = 0; h < n_heads; h++) {
            const int n_pos = pos[r] + 1;
            size_t off = (size_t)row_seq[r] * c.per_seq + layer_offset + (size_t)(h / kv_mul) * head_size;
            for (int t = 0; t < n_pos; t++)
                for (int i = 0; i < head_size; i++)
                    keys_t[(size_t)i * n_pos + t] = c.host_key[off + (size_t)t * kv_dim + i];
            inf_attention_head(want + (size_t)r * dim + (size_t)h * head_size,
                               qkv + (size_t)r * qkv_dim + (size_t)h * head_size, keys_t, n_pos,
                               c.host_value + off, kv_dim, n_pos, head_size, att);
        }
    float *d_qkv = dev_floats(qkv, (size_t)ROWS * qkv_dim), *d_out;
    int *d_pos = (int *)to_device(pos, sizeof pos);
    CUDA_OK(cudaMalloc((void **)&d_out, (size_t)ROWS * dim * sizeof(float)));
    CUDA_OK(inf_cu_attention(d_out, d_qkv, c.d_key_rows, c.d_value_rows, d_pos, ROWS, n_heads,
                             n_kv_heads, head_size, seq_len, layer_offset, 0));
    to_host(got, d_out, (size_t)ROWS * dim * sizeof(float));
    snprintf(name, sizeof name, "attention, %d heads over %d kv heads of %d, seq_len %d", n_heads,
             n_kv_heads, head_size, seq_len);
    compare(got, want, (size_t)ROWS * dim, 1e-5, 1e-4, name);
    caches_free(&c);
    cudaFree(d_qkv), cudaFree(d_pos), cudaFree(d_out);
    free(qkv), free(want), free(got), free(att), free(keys_t);
}

static void test_swiglu(int rows, int hidden)
{
    size_t n = (size_t)rows * hidden;
    float *h13 = host_random(2 * n, -6, 6);
    float *want = (float *)malloc(n * sizeof(float)), *gate = (float *)malloc(n * sizeof(float));
    float *got = (float *)malloc(n * sizeof(float));
    for (int r = 0; r < rows; r++) {
        memcpy(want + (size_t)r * hidden, h13 + (size_t)r * 2 * hidden, hidden * sizeof(float));
        memcpy(gate + (size_t)r * hidden, h13 + (size_t)r * 2 * hidden + hidden, hidden * sizeof(float));
    }
    inf_swiglu(want, gate, (int)n);
    float *d_h13 = dev_floats(h13, 2 * n), *d_out;
    CUDA_OK(cudaMalloc((void **)&d_out, n * sizeof(float)));
    CUDA_OK(inf_cu_swiglu(d_out, d_h13, rows, hidden, 0));
    to_host(got, d_out, n * sizeof(float));
    char name[64];
    snprintf(name, sizeof name, "swiglu %d x %d", rows, hidden);
    compare(got, want, n, 1e-6, 1e-5, name);
    cudaFree(d_h13), cudaFree(d_out);
    free(h13), free(want), free(gate), free(got);
}

static void test_softmax(int rows, int n)
{
    size_t total = (size_t)rows * n;
    float *x = host_random(total, -10, 10), *got = (float *)malloc(total * sizeof(float));
    float *d_x = dev_floats(x, total);
    for (int r = 0; r < rows; r++)
        inf_softmax(x + (size_t)r * n, n);
    CUDA_OK(inf_cu_softmax(d_x, rows, n, 0));
    to_host(got, d_x, total * sizeof(float));
    char name[64];
    snprintf(name, sizeof name, "softmax %d x %d", rows, n);
    compare(got, x, total, 1e-7, 1e-5, name);
    cudaFree(d_x);
    free(x), free(got);
}

static void test_argmax(int n)
{
    enum { ROWS = 6 };
    float *x = host_random((size_t)ROWS * n, -5, 5);
    /* Row 1: the maximum twice (the first wins); row 2: all equal (index 0);
     * row 3: the maximum last; row 4: all -infinity (index 0). */
    x[(size_t)n + 17] = x[(size_t)n + n - 2] = 9.0f;
    for (int j = 0; j < n; j++) {
        x[(size_t)2 * n + j] = 1.5f;
        x[(size_t)4 * n + j] = -INFINITY;
    }
    x[(size_t)3 * n + n - 1] = 9.0f;
    float *d_x = dev_floats(x, (size_t)ROWS * n);
    int *d_out, got[ROWS];
    CUDA_OK(cudaMalloc((void **)&d_out, sizeof got));
    CUDA_OK(inf_cu_argmax(d_out, d_x, ROWS, n, 0));
    to_host(got, d_out, sizeof got);
    int same = 1;
    for (int r = 0; r < ROWS; r++) {
        int want = smp_argmax(x + (size_t)r * n, n);
        if (got[r] != want) {
            printf("# row %d: got %d, want %d\n", r, got[r], want);
            same = 0;
        }
    }
    CHECK(same, "argmax over %d: smp_argmax's index on every row (ties, last, all -inf)", n);
    cudaFree(d_x), cudaFree(d_out);
    free(x);
}

/* ---- the CUDA engine against the CPU engine */

struct pair {
    inf_engine *cpu, *gpu;
};

static int engines_new(struct pair *p, const inf_model *m, int max_batch)
{
    char err[512];
    inf_engine_opts o = {INF_DEVICE_CPU, max_batch, 0};
    p->cpu = inf_engine_new(m, &o, err, sizeof err);
    if (!p->cpu)
        printf("# cpu engine: %s\n", err);
    o.device = INF_DEVICE_CUDA;
    p->gpu = p->cpu ? inf_engine_new(m, &o, err, sizeof err) : NULL;
    if (p->cpu && !p->gpu)
        printf("# cuda engine: %s\n", err);
    return p->cpu && p->gpu ? 0 : -1;
}

static void engines_free(struct pair *p)
{
    inf_engine_free(p->gpu);
    inf_engine_free(p->cpu);
}

static double max_abs_diff(const float *a, const float *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

/* Greedy from BOS with the CPU's choices fed to both engines. */
static void test_teacher_forced(const char *name, struct pair *p, int positions)
{
    const int vocab = inf_model_config(inf_engine_model(p->cpu))->vocab_size;
    inf_seq *sc = inf_seq_new(p->cpu), *sg = inf_seq_new(p->gpu);
    CHECK(sc && sg, "%s: sequences", name);
    if (!sc || !sg)
        goto done;
    {
        double worst = 0, worst_flip_margin = 0;
        int flips = 0, token = 1, failed_step = -1;
        for (int t = 0; t < positions; t++) {
            float *lc, *lg;
            if (inf_engine_step(p->cpu, &sc, &token, 1, &lc) || inf_engine_step(p->gpu, &sg, &token, 1, &lg)) {
                printf("# step %d: %s / %s\n", t, inf_engine_error(p->cpu), inf_engine_error(p->gpu));
                failed_step = t;
                break;
            }
            double d = max_abs_diff(lg, lc, vocab);
            if (d > worst || d != d)
                worst = d;
            int ac = smp_argmax(lc, vocab), ag = smp_argmax(lg, vocab);
            if (ac != ag) {
                double margin = (double)lc[ac] - lc[ag];
                printf("# position %d: greedy choice %d on the CPU, %d on the GPU (CPU margin %.3g)\n", t, ac, ag, margin);
                flips++;
                if (margin > worst_flip_margin)
                    worst_flip_margin = margin;
            }
            token = ac;
        }
        printf("# %s: %d positions, max abs logit difference %.3g, %d greedy flips\n", name, positions, worst, flips);
        CHECK(failed_step < 0 && worst <= LOGIT_TOL, "%s: logits agree with the CPU at every position", name);
        CHECK(failed_step < 0 && worst_flip_margin <= LOGIT_TOL, "%s: greedy choices agree except at near ties", name);
    }
done:
    inf_seq_free(sc);
    inf_seq_free(sg);
}

/* A prompt of N tokens in one step (N rows of one sequence) against one token per step. */
static void test_prefill(const char *name, struct pair *p, int n)
{
    const int vocab = inf_model_config(inf_engine_model(p->gpu))->vocab_size;
    inf_seq *a = inf_seq_new(p->gpu), *b = inf_seq_new(p->gpu), *rows[MAX_ROWS];
    int tokens[MAX_ROWS];
    float *logits[MAX_ROWS];
    float *all = (float *)malloc((size_t)n * vocab * sizeof(float));
    double worst = 0;
    int ok = a && b && all;
    for (int i = 0; i < n; i++) {
        rows[i] = a;
        tokens[i] = i ? (i * 37 + 11) % vocab : 1;
    }
    if (ok && !(ok = !inf_engine_step(p->gpu, rows, tokens, n, logits)))
        printf("# %s\n", inf_engine_error(p->gpu));
    for (int i = 0; ok && i < n; i++)
        memcpy(all + (size_t)i * vocab, logits[i], vocab * sizeof(float));
    for (int i = 0; ok && i < n; i++) {
        float *one;
        if (!(ok = !inf_engine_step(p->gpu, &b, &tokens[i], 1, &one)))
            printf("# %s\n", inf_engine_error(p->gpu));
        else if (max_abs_diff(one, all + (size_t)i * vocab, vocab) > worst)
            worst = max_abs_diff(one, all + (size_t)i * vocab, vocab);
    }
    printf("# %s: %d-token prompt, max abs difference %.3g\n", name, n, worst);
    CHECK(ok && worst <= LOGIT_TOL && inf_seq_pos(a) == n, "%s: a prompt in one step equals it token by token", name);
    free(all);
    inf_seq_free(a);
    inf_seq_free(b);
}

/* Many sequences, each prefilled with a prompt of its own length in one shared step, then
 * decoding together: every row against the CPU engine stepped the same way. */
static void test_mixed_batch(const char *name, struct pair *p)
{
    enum { SEQS = 12, DECODES = 4 };
    const int vocab = inf_model_config(inf_engine_model(p->cpu))->vocab_size;
    inf_seq *cs[SEQS] = {0}, *gs[SEQS] = {0}, *crows[MAX_ROWS], *grows[MAX_ROWS];
    int tokens[MAX_ROWS], n = 0, ok = 1;
    float *lc[MAX_ROWS], *lg[MAX_ROWS];
    double worst = 0;
    for (int s = 0; s < SEQS; s++)
        ok = ok && (cs[s] = inf_seq_new(p->cpu)) && (gs[s] = inf_seq_new(p->gpu));
    for (int s = 0; ok && s < SEQS; s++) /* prompts of 1..5 tokens: 33 rows in all */
        for (int i = 0; i <= s % 5; i++, n++) {
            crows[n] = cs[s];
            grows[n] = gs[s];
            tokens[n] = i ? (s * 31 + i * 7) % vocab : 1;
        }
    for (int step = 0; ok && step <= DECODES; step++) {
        if (inf_engine_step(p->cpu, crows, tokens, n, lc) || inf_engine_step(p->gpu, grows, tokens, n, lg)) {
            printf("# %s / %s\n", inf_engine_error(p->cpu), inf_engine_error(p->gpu));
            ok = 0;
            break;
        }
        for (int r = 0; r < n; r++) {
            double d = max_abs_diff(lg[r], lc[r], vocab);
            if (d > worst || d != d)
                worst = d;
        }
        /* Next: one row per sequence, the CPU's greedy choice after its last row. */
        int next[SEQS];
        for (int r = 0, s = 0; r < n; r++)
            if (r == n - 1 || crows[r + 1] != crows[r])
                next[s++] = smp_argmax(lc[r], vocab);
        for (n = 0; n < SEQS; n++) {
            crows[n] = cs[n];
            grows[n] = gs[n];
            tokens[n] = next[n];
        }
    }
    printf("# %s: %d sequences, max abs difference %.3g\n", name, SEQS, worst);
    CHECK(ok && worst <= LOGIT_TOL, "%s: a batch of prefills and decodes equals the CPU's", name);
    for (int s = 0; s < SEQS; s++) {
        inf_seq_free(cs[s]);
        inf_seq_free(gs[s]);
    }
}

/* Two backend contexts fed the same rows: A replays CUDA graphs, B is profiled (kernels
 * launched one by one). Three steps of two sequences, the second fed two rows at once. */
static void test_graph_vs_eager(const char *name, const inf_model *m)
{
    enum { ROWS = 3, STEPS = 3 };
    const inf_backend *b = &inf_backend_cuda;
    const int vocab = inf_model_config(m)->vocab_size;
    char err[512];
    void *a = b->create(m, ROWS, 1, err, sizeof err), *e = a ? b->create(m, ROWS, 1, err, sizeof err) : NULL;
    void *kv_a[2] = {0}, *kv_e[2] = {0};
    float *la = (float *)malloc((size_t)ROWS * vocab * sizeof(float));
    float *le = (float *)malloc((size_t)ROWS * vocab * sizeof(float));
    double worst = 0;
    int ok = a && e && la && le && !inf_cuda_profile_start(e, err, sizeof err);
    for (int i = 0; ok && i < 2; i++)
        ok = (kv_a[i] = b->kv_new(a)) && (kv_e[i] = b->kv_new(e));
    for (int s = 0; ok && s < STEPS; s++) {
        void *rows_a[ROWS] = {kv_a[0], kv_a[1], kv_a[1]}, *rows_e[ROWS] = {kv_e[0], kv_e[1], kv_e[1]};
        int tokens[ROWS] = {1 + s, 7 * s + 2, 5 * s + 3}, pos[ROWS] = {s, 2 * s, 2 * s + 1};
        ok = !b->step(a, rows_a, tokens, pos, ROWS, la, err, sizeof err) &&
             !b->step(e, rows_e, tokens, pos, ROWS, le, err, sizeof err);
        if (ok && max_abs_diff(la, le, ROWS * vocab) > worst)
            worst = max_abs_diff(la, le, ROWS * vocab);
    }
    if (!ok)
        printf("# %s\n", err);
    inf_cuda_profile prof = {0, 0, 0, 0};
    if (e)
        inf_cuda_profile_read(e, &prof);
    printf("# %s: max abs difference %.3g; profiled %ld steps: matmul %.3f ms, kernels %.3f ms, copies %.3f ms\n",
           name, worst, prof.steps, prof.matmul_ms, prof.kernels_ms, prof.copy_ms);
    CHECK(ok && worst <= LOGIT_TOL, "%s: graph replays equal kernels launched one by one", name);
    CHECK(prof.steps == STEPS && prof.matmul_ms > 0 && prof.kernels_ms > 0 && prof.copy_ms > 0,
          "%s: the profile counts every step and phase", name);
    for (int i = 0; i < 2; i++) {
        if (kv_a[i])
            b->kv_free(a, kv_a[i]);
        if (kv_e[i])
            b->kv_free(e, kv_e[i]);
    }
    if (a)
        b->destroy(a);
    if (e)
        b->destroy(e);
    free(la);
    free(le);
}

static void test_model(const char *name, const char *path)
{
    char err[512], label[128];
    inf_model *m = inf_model_open(path, err, sizeof err);
    CHECK(m != NULL, "%s opens", path);
    if (!m) {
        printf("# %s\n", err);
        return;
    }
    struct pair p;
    int ok = !engines_new(&p, m, MAX_ROWS);
    CHECK(ok, "%s: CPU and CUDA engines", name);
    if (ok) {
        const inf_config *c = inf_model_config(m);
        snprintf(label, sizeof label, "%s greedy", name);
        test_teacher_forced(label, &p, c->seq_len < 256 ? c->seq_len : 256);
        snprintf(label, sizeof label, "%s prefill", name);
        test_prefill(label, &p, 16);
        snprintf(label, sizeof label, "%s mixed batch", name);
        test_mixed_batch(label, &p);
        snprintf(label, sizeof label, "%s graph", name);
        test_graph_vs_eager(label, m);
    }
    engines_free(&p);
    inf_model_close(m);
}

int main(void)
{
    int devices = 0;
    cudaError_t e = cudaGetDeviceCount(&devices);
    CHECK(e == cudaSuccess && devices > 0, "a CUDA device is usable (%s, %d devices)",
          e == cudaSuccess ? "ok" : cudaGetErrorString(e), devices);
    if (e != cudaSuccess || devices == 0)
        return check_exit();
    cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    printf("# device 0: %s, compute capability %d.%d\n", prop.name, prop.major, prop.minor);

    cublasHandle_t blas;
    if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS) {
        CHECK(0, "cublasCreate");
        return check_exit();
    }

    test_embed();
    test_rmsnorm(5, 64, 0);
    test_rmsnorm(3, 100, 1);
    test_rmsnorm(2, 1000, 0);
    test_matmul(blas, 1, 64, 128, 0.0f);
    test_matmul(blas, 7, 64, 172, 0.0f);
    test_matmul(blas, 256, 352, 128, 0.0f);
    test_matmul(blas, 33, 128, 128, 1.0f);
    test_matmul(blas, 3, 100, 105, 0.0f);
    test_rope_store(8, 4, 8);
    test_rope_store(8, 4, 16);
    test_rope_store(4, 4, 64);
    test_attention(8, 4, 8, 512);
    test_attention(8, 4, 16, 256);
    test_attention(4, 1, 64, 100);
    test_attention(2, 2, 160, 64);    /* wider than a default attention block */
    test_attention(2, 1, 16, 20000);  /* scores beyond 48 KiB of shared memory */
    test_swiglu(4, 172);
    test_swiglu(1, 1000);
    test_softmax(3, 5);
    test_softmax(2, 512);
    test_softmax(2, 3000);
    test_argmax(512);
    test_argmax(105);
    test_argmax(5000);
    cublasDestroy(blas);

    test_model("stories260K", "models/stories260K.bin");
    test_model("babyllama105", "models/babyllama105.bin");
    test_model("llama2xs", "models/llama2xs.bin");
    return check_exit();
}
