/* engine.c: sequences, positions and validation around a backend's batched step. */
#include "engine.h"
#include "errbuf.h"
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define DEFAULT_MAX_BATCH 32
#define MAX_BATCH_LIMIT 4096
#define MAX_THREADS 256

struct inf_engine {
    const inf_model *model;
    const inf_config *cfg;
    const inf_backend *backend;
    void *ctx;
    int max_batch;
    float *logits;   /* [max_batch][vocab_size], written by the backend */
    void **row_kv;   /* [max_batch] per-row scratch of a step */
    int *row_pos;    /* [max_batch] */
    char err[256];
};

struct inf_seq {
    inf_engine *engine;
    void *kv;
    int pos;
    int rows; /* rows of the step being prepared */
};

inf_engine *inf_engine_new(const inf_model *model, const inf_engine_opts *opts,
                           char *err, size_t errlen)
{
    inf_engine_opts o = opts ? *opts : (inf_engine_opts){0};
    if (o.max_batch == 0)
        o.max_batch = DEFAULT_MAX_BATCH;
    if (o.threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = cores > 0 ? (int)(cores < MAX_THREADS ? cores : MAX_THREADS) : 1;
    }
    if (o.max_batch < 1 || o.max_batch > MAX_BATCH_LIMIT) {
        inf_errf(err, errlen, "batch size %d is outside 1..%d", o.max_batch, MAX_BATCH_LIMIT);
        return NULL;
    }
    if (o.threads < 1 || o.threads > MAX_THREADS) {
        inf_errf(err, errlen, "thread count %d is outside 1..%d", o.threads, MAX_THREADS);
        return NULL;
    }
    const inf_backend *backend = NULL;
    if (o.device == INF_DEVICE_CPU)
        backend = &inf_backend_cpu;
    else if (o.device == INF_DEVICE_CUDA)
        backend = &inf_backend_cuda; /* NULL when not built with `make cuda` */
    if (!backend) {
        inf_errf(err, errlen, o.device == INF_DEVICE_CUDA
                                 ? "this binary has no CUDA support (build it with `make cuda`)"
                                 : "unknown device %d", (int)o.device);
        return NULL;
    }
    inf_engine *e = calloc(1, sizeof *e);
    if (!e)
        goto oom;
    e->model = model;
    e->cfg = inf_model_config(model);
    e->backend = backend;
    e->max_batch = o.max_batch;
    e->logits = malloc((size_t)o.max_batch * (size_t)e->cfg->vocab_size * sizeof *e->logits);
    e->row_kv = malloc((size_t)o.max_batch * sizeof *e->row_kv);
    e->row_pos = malloc((size_t)o.max_batch * sizeof *e->row_pos);
    if (!e->logits || !e->row_kv || !e->row_pos)
        goto oom;
    if (!(e->ctx = backend->create(model, o.max_batch, o.threads, err, errlen))) {
        inf_engine_free(e);
        return NULL;
    }
    return e;
oom:
    inf_errf(err, errlen, "out of memory for an engine of batch %d", o.max_batch);
    inf_engine_free(e);
    return NULL;
}

void inf_engine_free(inf_engine *e)
{
    if (!e)
        return;
    if (e->ctx)
        e->backend->destroy(e->ctx);
    free(e->logits);
    free(e->row_kv);
    free(e->row_pos);
    free(e);
}

int inf_engine_max_batch(const inf_engine *e) { return e->max_batch; }
const inf_model *inf_engine_model(const inf_engine *e) { return e->model; }
const char *inf_engine_error(const inf_engine *e) { return e->err; }

inf_seq *inf_seq_new(inf_engine *e)
{
    inf_seq *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->engine = e;
    if (!(s->kv = e->backend->kv_new(e->ctx))) {
        free(s);
        return NULL;
    }
    return s;
}

void inf_seq_reset(inf_seq *s) { s->pos = 0; }

void inf_seq_free(inf_seq *s)
{
    if (!s)
        return;
    s->engine->backend->kv_free(s->engine->ctx, s->kv);
    free(s);
}

int inf_seq_pos(const inf_seq *s) { return s->pos; }

int inf_engine_step(inf_engine *e, inf_seq *const *seqs, const int *tokens, int n, float **logits)
{
    const int vocab = e->cfg->vocab_size, seq_len = e->cfg->seq_len;
    if (n < 1 || n > e->max_batch) {
        inf_errf(e->err, sizeof e->err, "%d rows in a step (must be 1..%d)", n, e->max_batch);
        return -1;
    }
    for (int i = 0; i < n; i++)
        seqs[i]->rows = 0;
    for (int i = 0; i < n; i++) {
        inf_seq *s = seqs[i];
        if (s->engine != e) {
            inf_errf(e->err, sizeof e->err, "row %d: sequence of another engine", i);
            return -1;
        }
        if (tokens[i] < 0 || tokens[i] >= vocab) {
            inf_errf(e->err, sizeof e->err, "row %d: token %d outside the vocabulary (0..%d)", i, tokens[i], vocab - 1);
            return -1;
        }
        if (s->rows && seqs[i - 1] != s) {
            inf_errf(e->err, sizeof e->err, "row %d: rows of one sequence must be adjacent", i);
            return -1;
        }
        e->row_pos[i] = s->pos + s->rows++;
        e->row_kv[i] = s->kv;
        if (e->row_pos[i] >= seq_len) {
            inf_errf(e->err, sizeof e->err, "row %d: position %d is past the context length %d", i, e->row_pos[i], seq_len);
            return -1;
        }
    }
    if (e->backend->step(e->ctx, e->row_kv, tokens, e->row_pos, n, e->logits, e->err, sizeof e->err))
        return -1;
    for (int i = 0; i < n; i++) {
        seqs[i]->pos += seqs[i]->rows;
        seqs[i]->rows = 0;
        logits[i] = e->logits + (size_t)i * vocab;
    }
    return 0;
}
