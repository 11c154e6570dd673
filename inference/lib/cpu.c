/* cpu.c: the CPU backend: llama2.c's forward pass over a batch of rows, each weight matrix
 * applied to all rows of a thread's share at once (kernels.h).
 *
 * Threads split a step by rows, never inside a matmul: each thread runs the whole forward
 * pass for chunks of the batch, so a step costs one pool wake-up instead of one per matmul
 * (for these small models a matmul takes microseconds, less than a wake-up). Rows of one
 * sequence stay in one chunk, because a row attends to the rows before it. Threads take
 * chunks in turn, a few each: when the OS preempts one (the server's event loop shares the
 * cores), the others take its remaining chunks instead of waiting for it. */
#include "backend.h"
#include "errbuf.h"
#include "kernels.h"
#include "pool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many rows per chunk, splitting a step costs more than it saves. */
#define MIN_ROWS_PER_CHUNK 4
/* Chunks per thread: more balance the load, fewer read the weights fewer times. */
#define CHUNKS_PER_THREAD 2

/* Keys are stored transposed per head, [n_layers][n_kv_heads][head_size][seq_len], for
 * inf_attention_head(); values as rows, [n_layers][seq_len][kv_dim]. */
struct cpu_kv {
    float *key, *value;
};

struct cpu {
    const inf_config *c;
    const inf_weights *w;
    int max_batch;
    pool *pool;
    float *rope;                 /* [seq_len][head_size] cos, sin pairs */
    float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2; /* [max_batch][...] activations */
    float *att;                  /* [threads][kv_mul * seq_len] attention scores */
    /* The step being run, shared with the pool workers. */
    void *const *kv;
    const int *tokens, *pos;
    float *logits;
    int *bounds; /* [max_batch + 1]: chunk k is rows bounds[k] .. bounds[k+1]-1 */
    int n_chunks;
    atomic_int next_chunk; /* the next chunk a worker takes */
};

static void *cpu_kv_new(void *ctx)
{
    struct cpu *cpu = ctx;
    const inf_config *c = cpu->c;
    size_t n = (size_t)c->n_layers * (size_t)c->seq_len * (size_t)c->kv_dim;
    struct cpu_kv *kv = malloc(sizeof *kv);
    float *data = malloc(2 * n * sizeof *data);
    if (!kv || !data) {
        free(kv);
        free(data);
        return NULL;
    }
    kv->key = data;
    kv->value = data + n;
    return kv;
}

static void cpu_kv_free(void *ctx, void *p)
{
    struct cpu_kv *kv = p;
    if (!kv)
        return;
    free(kv->key);
    free(kv);
}

static void cpu_destroy(void *ctx)
{
    struct cpu *cpu = ctx;
    if (!cpu)
        return;
    pool_free(cpu->pool);
    free(cpu->rope);
    free(cpu->x);
    free(cpu->bounds);
    free(cpu);
}

static void *cpu_create(const inf_model *m, int max_batch, int threads, char *err, size_t errlen)
{
    struct cpu *cpu = calloc(1, sizeof *cpu);
    if (!cpu)
        goto oom;
    const inf_config *c = cpu->c = inf_model_config(m);
    cpu->w = inf_model_weights(m);
    cpu->max_batch = max_batch;
    size_t B = (size_t)max_batch, D = (size_t)c->dim, H = (size_t)c->hidden_dim;
    size_t KV = (size_t)c->kv_dim, S = (size_t)c->seq_len, kv_mul = (size_t)(c->n_heads / c->n_kv_heads);
    size_t sizes[] = {B * D, B * D, B * D, B * D, B * KV, B * KV, B * H, B * H, (size_t)threads * kv_mul * S};
    float **slots[] = {&cpu->x, &cpu->xb, &cpu->xb2, &cpu->q, &cpu->k, &cpu->v, &cpu->hb, &cpu->hb2, &cpu->att};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += sizes[i];
    /* One block for every activation: cpu->x owns it. */
    float *block = malloc(total * sizeof *block);
    cpu->rope = malloc(S * (size_t)c->head_size * sizeof *cpu->rope);
    cpu->bounds = malloc((B + 1) * sizeof *cpu->bounds);
    if (!block || !cpu->rope || !cpu->bounds) {
        free(block);
        goto oom;
    }
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *slots[i] = block;
        block += sizes[i];
    }
    inf_rope_table(cpu->rope, c->seq_len, c->head_size);
    if (!(cpu->pool = pool_new(threads))) {
        inf_errf(err, errlen, "cannot start %d threads", threads);
        cpu_destroy(cpu);
        return NULL;
    }
    return cpu;
oom:
    inf_errf(err, errlen, "out of memory for a batch of %d", max_batch);
    cpu_destroy(cpu);
    return NULL;
}

/* The forward pass of rows R0 .. R1-1 of the current step, with ATT as score scratch. */
static void forward_rows(struct cpu *cpu, int r0, int r1, float *att)
{
    const inf_config *c = cpu->c;
    const inf_weights *w = cpu->w;
    const int dim = c->dim, hidden = c->hidden_dim, kv_dim = c->kv_dim, hs = c->head_size;
    const int kv_mul = c->n_heads / c->n_kv_heads, rows = r1 - r0;
    const size_t layer_kv = (size_t)c->seq_len * kv_dim;
    float *x = cpu->x + (size_t)r0 * dim, *xb = cpu->xb + (size_t)r0 * dim;
    float *xb2 = cpu->xb2 + (size_t)r0 * dim, *q = cpu->q + (size_t)r0 * dim;
    float *k = cpu->k + (size_t)r0 * kv_dim, *v = cpu->v + (size_t)r0 * kv_dim;
    float *hb = cpu->hb + (size_t)r0 * hidden, *hb2 = cpu->hb2 + (size_t)r0 * hidden;

    for (int r = 0; r < rows; r++)
        memcpy(x + (size_t)r * dim, w->token_embedding + (size_t)cpu->tokens[r0 + r] * dim,
               (size_t)dim * sizeof *x);
    for (int l = 0; l < c->n_layers; l++) {
        const size_t ld = (size_t)l * dim;
        inf_rmsnorm(xb, x, w->rms_att + ld, rows, dim);
        inf_matmul(q, xb, w->wq + ld * dim, rows, dim, dim, 0, dim);
        inf_matmul(k, xb, w->wk + ld * kv_dim, rows, dim, kv_dim, 0, kv_dim);
        inf_matmul(v, xb, w->wv + ld * kv_dim, rows, dim, kv_dim, 0, kv_dim);
        /* Rotate, then store this layer's keys and values of every row before any row
         * attends: a prompt's rows see the positions fed earlier in the same step. */
        for (int r = 0; r < rows; r++) {
            const struct cpu_kv *kv = cpu->kv[r0 + r];
            int pos = cpu->pos[r0 + r];
            const float *cs = cpu->rope + (size_t)pos * hs;
            inf_rope(q + (size_t)r * dim, dim, hs, cs);
            inf_rope(k + (size_t)r * kv_dim, kv_dim, hs, cs);
            float *key = kv->key + l * layer_kv + pos;
            for (int j = 0; j < kv_dim; j++)
                key[(size_t)j * c->seq_len] = k[(size_t)r * kv_dim + j];
            memcpy(kv->value + l * layer_kv + (size_t)pos * kv_dim, v + (size_t)r * kv_dim,
                   (size_t)kv_dim * sizeof *v);
        }
        /* The kv_mul query heads of each key/value head together. */
        for (int r = 0; r < rows; r++) {
            const struct cpu_kv *kv = cpu->kv[r0 + r];
            int n_pos = cpu->pos[r0 + r] + 1;
            for (int g = 0; g < c->n_kv_heads; g++) {
                size_t kv_head = (size_t)g * hs, h = (size_t)g * kv_mul * hs;
                inf_attention_heads(xb + (size_t)r * dim + h, q + (size_t)r * dim + h, kv_mul,
                                    kv->key + l * layer_kv + kv_head * c->seq_len, c->seq_len,
                                    kv->value + l * layer_kv + kv_head, kv_dim, n_pos, hs, att);
            }
        }
        inf_matmul(xb2, xb, w->wo + ld * dim, rows, dim, dim, 0, dim);
        inf_add(x, xb2, rows * dim);
        inf_rmsnorm(xb, x, w->rms_ffn + ld, rows, dim);
        inf_matmul(hb, xb, w->w1 + ld * hidden, rows, dim, hidden, 0, hidden);
        inf_matmul(hb2, xb, w->w3 + ld * hidden, rows, dim, hidden, 0, hidden);
        inf_swiglu(hb, hb2, rows * hidden);
        inf_matmul(xb, hb, w->w2 + ld * hidden, rows, hidden, dim, 0, dim);
        inf_add(x, xb, rows * dim);
    }
    inf_rmsnorm(x, x, w->rms_final, rows, dim);
    inf_matmul(cpu->logits + (size_t)r0 * c->vocab_size, x, w->wcls, rows, dim, c->vocab_size,
               0, c->vocab_size);
}

/* Worker I: chunks until none is left, with its own score scratch. */
static void forward_chunks(void *arg, int i)
{
    struct cpu *cpu = arg;
    const inf_config *c = cpu->c;
    float *att = cpu->att + (size_t)i * (size_t)(c->n_heads / c->n_kv_heads) * (size_t)c->seq_len;
    for (int k; (k = atomic_fetch_add(&cpu->next_chunk, 1)) < cpu->n_chunks;)
        forward_rows(cpu, cpu->bounds[k], cpu->bounds[k + 1], att);
}

/* Splits N rows into at most CHUNKS_PER_THREAD * pool_size chunks (one for a single
 * thread) of about equal size, moving each boundary forward to the start of a sequence;
 * sets n_chunks. */
static void split_rows(struct cpu *cpu, void *const *kv, int n)
{
    int threads = pool_size(cpu->pool), chunks = threads > 1 ? CHUNKS_PER_THREAD * threads : 1;
    if (chunks > n / MIN_ROWS_PER_CHUNK)
        chunks = n / MIN_ROWS_PER_CHUNK;
    if (chunks < 1)
        chunks = 1;
    int used = 0;
    cpu->bounds[0] = 0;
    for (int i = 1; i <= chunks && cpu->bounds[used] < n; i++) {
        int b = (int)((long)n * i / chunks);
        if (b <= cpu->bounds[used])
            continue;
        while (b < n && kv[b] == kv[b - 1])
            b++;
        cpu->bounds[++used] = b;
    }
    cpu->n_chunks = used;
}

static int cpu_step(void *ctx, void *const *kv, const int *tokens, const int *pos, int n,
                    float *logits, char *err, size_t errlen)
{
    struct cpu *cpu = ctx;
    cpu->kv = kv;
    cpu->tokens = tokens;
    cpu->pos = pos;
    cpu->logits = logits;
    split_rows(cpu, kv, n);
    atomic_store(&cpu->next_chunk, 0);
    int workers = pool_size(cpu->pool);
    pool_run(cpu->pool, cpu->n_chunks < workers ? cpu->n_chunks : workers, forward_chunks, cpu);
    return 0;
}

const inf_backend inf_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .destroy = cpu_destroy,
    .kv_new = cpu_kv_new,
    .kv_free = cpu_kv_free,
    .step = cpu_step,
};
