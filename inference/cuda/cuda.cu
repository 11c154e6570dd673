/* cuda.cu: the CUDA backend (inf_backend_cuda, see backend.h): llama2.c's forward pass for
 * a batch of rows on one GPU.
 *
 * create() copies the weights to the GPU once, with Q/K/V and W1/W3 fused per layer so
 * that each is one cuBLAS product for the whole batch; the residual adds are folded into
 * the Wo and W2 products (beta = 1). A step uploads its rows' tokens, positions and cache
 * pointers in one copy, runs the forward pass and waits for the logits. The forward pass
 * reads everything that changes between steps from those device arrays, so the kernels
 * and products of a step of N rows are captured into a CUDA graph at the first step of N
 * rows and replayed after that: one launch per step instead of nine per layer (launch
 * overhead dominates for models this small). Apart from that one-off capture a step
 * allocates nothing. KV caches are device memory, [n_layers][seq_len][kv_dim].
 *
 * Numerics: fp32 throughout (cuBLAS's default math: no TF32). Sums run in another order
 * than the C reference, and cuBLAS picks its algorithm by shape, so a row's logits agree
 * with the CPU's and across batch sizes to rounding, not bit for bit.
 *
 * Threads: as engine.h says, one caller thread at a time; each entry point first makes
 * the backend's device current for that thread. */
extern "C" {
#include "backend.h"
#include "errbuf.h"
#include "kernels.h"
}
#include "cuda_backend.h"
#include "cuda_kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Device arrays start on 256-byte boundaries (what cudaMalloc guarantees for the first). */
#define ALIGN_FLOATS 64
/* cuBLAS workspace, given explicitly so that graph capture never makes it allocate
 * (the size cuBLAS recommends for Hopper). */
#define BLAS_WORKSPACE_BYTES ((size_t)32 << 20)

enum phase { PHASE_MATMUL, PHASE_KERNELS, PHASE_COPY, PHASE_END };

struct cuda_kv {
    float *key, *value; /* device; one allocation owned by key */
};

/* Event marks at phase changes of one step (inf_cuda_profile_start()). */
struct profile {
    int on, cap, n, current;
    cudaEvent_t *events; /* [cap] */
    unsigned char *kind; /* [cap]: the phase that starts at events[i] */
    double ms[PHASE_END];
    long steps;
};

struct cuda {
    const inf_config *c;
    int device, max_batch;
    int qkv_dim;                  /* dim + 2 * kv_dim */
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_workspace;
    cudaGraphExec_t *graphs;      /* [max_batch + 1]: the forward pass of N rows, once captured */
    /* Weights, one device allocation owned by weights. */
    float *weights;
    const float *emb, *rms_att, *wqkv, *wo, *rms_ffn, *w13, *w2, *rms_final, *wcls, *rope;
    /* Activations for max_batch rows, one device allocation owned by x. */
    float *x, *xb, *qkv, *h13, *hb, *logits;
    /* The rows of a step: device arrays in one allocation owned by row_key, and their
     * pinned host mirror (same layout) owned by host_key. */
    float **row_key, **row_value;
    int *row_token, *row_pos;
    float **host_key, **host_value;
    int *host_token, *host_pos;
    size_t rows_bytes;
    struct profile prof;
};

/* Run CALL (a CUDA runtime or cuBLAS call); on failure name it in err and goto err. */
#define CU(call)                                                                            \
    do {                                                                                    \
        cudaError_t cu_e_ = (call);                                                         \
        if (cu_e_ != cudaSuccess) {                                                         \
            inf_errf(err, errlen, "CUDA: %s: %s", #call, cudaGetErrorString(cu_e_));        \
            goto err;                                                                       \
        }                                                                                   \
    } while (0)
#define BLAS(call)                                                                          \
    do {                                                                                    \
        cublasStatus_t cu_s_ = (call);                                                      \
        if (cu_s_ != CUBLAS_STATUS_SUCCESS) {                                               \
            inf_errf(err, errlen, "cuBLAS: %s: %s", #call, cublasGetStatusString(cu_s_));   \
            goto err;                                                                       \
        }                                                                                   \
    } while (0)

static size_t align_floats(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* Carves N floats from *NEXT (an aligned cursor into one allocation). */
static float *carve(float **next, size_t n)
{
    float *p = *next;
    *next += align_floats(n);
    return p;
}

static void profile_free(struct profile *p)
{
    for (int i = 0; i < p->cap; i++)
        if (p->events[i])
            cudaEventDestroy(p->events[i]);
    free(p->events);
    free(p->kind);
    memset(p, 0, sizeof *p);
}

static void cuda_destroy(void *ctx)
{
    struct cuda *cu = (struct cuda *)ctx;
    if (!cu)
        return;
    cudaSetDevice(cu->device);
    /* Nothing is in flight: every step ends with a synchronisation. */
    profile_free(&cu->prof);
    if (cu->graphs)
        for (int n = 0; n <= cu->max_batch; n++)
            if (cu->graphs[n])
                cudaGraphExecDestroy(cu->graphs[n]);
    free(cu->graphs);
    cudaFreeHost(cu->host_key);
    cudaFree(cu->row_key);
    cudaFree(cu->x);
    cudaFree(cu->weights);
    if (cu->blas)
        cublasDestroy(cu->blas);
    cudaFree(cu->blas_workspace);
    if (cu->stream)
        cudaStreamDestroy(cu->stream);
    free(cu);
}

/* Copies N floats from host SRC to device *DST and advances *DST. */
static cudaError_t upload(float **dst, const float *src, size_t n)
{
    cudaError_t e = cudaMemcpy(*dst, src, n * sizeof(float), cudaMemcpyHostToDevice);
    *dst += n;
    return e;
}

/* Allocates the weights on the device and copies them there, fusing Q/K/V and W1/W3. */
static int upload_weights(struct cuda *cu, const inf_weights *w, char *err, size_t errlen)
{
    const inf_config *c = cu->c;
    const size_t D = (size_t)c->dim, H = (size_t)c->hidden_dim, KV = (size_t)c->kv_dim;
    const size_t L = (size_t)c->n_layers, V = (size_t)c->vocab_size, QKV = (size_t)cu->qkv_dim;
    const size_t rope_n = (size_t)c->seq_len * (size_t)c->head_size;
    const size_t sizes[] = {V * D, L * D, L * QKV * D, L * D * D, L * D, L * 2 * H * D, L * D * H, D,
                            c->shared_classifier ? 0 : V * D, rope_n};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += align_floats(sizes[i]);
    float *rope_host = NULL;

    CU(cudaMalloc((void **)&cu->weights, total * sizeof(float)));
    {
        float *next = cu->weights, *p;
        p = carve(&next, sizes[0]);
        cu->emb = p;
        CU(upload(&p, w->token_embedding, V * D));
        p = carve(&next, sizes[1]);
        cu->rms_att = p;
        CU(upload(&p, w->rms_att, L * D));
        p = carve(&next, sizes[2]);
        cu->wqkv = p;
        for (size_t l = 0; l < L; l++) { /* rows of wq, then wk, then wv: [qkv_dim][dim] */
            CU(upload(&p, w->wq + l * D * D, D * D));
            CU(upload(&p, w->wk + l * KV * D, KV * D));
            CU(upload(&p, w->wv + l * KV * D, KV * D));
        }
        p = carve(&next, sizes[3]);
        cu->wo = p;
        CU(upload(&p, w->wo, L * D * D));
        p = carve(&next, sizes[4]);
        cu->rms_ffn = p;
        CU(upload(&p, w->rms_ffn, L * D));
        p = carve(&next, sizes[5]);
        cu->w13 = p;
        for (size_t l = 0; l < L; l++) { /* rows of w1, then w3: [2 * hidden][dim] */
            CU(upload(&p, w->w1 + l * H * D, H * D));
            CU(upload(&p, w->w3 + l * H * D, H * D));
        }
        p = carve(&next, sizes[6]);
        cu->w2 = p;
        CU(upload(&p, w->w2, L * D * H));
        p = carve(&next, sizes[7]);
        cu->rms_final = p;
        CU(upload(&p, w->rms_final, D));
        p = carve(&next, sizes[8]);
        if (c->shared_classifier) {
            cu->wcls = cu->emb;
        } else {
            cu->wcls = p;
            CU(upload(&p, w->wcls, V * D));
        }
        /* The C reference's table, so that both backends rotate by the same values. */
        p = carve(&next, sizes[9]);
        cu->rope = p;
        if (!(rope_host = (float *)malloc(rope_n * sizeof *rope_host))) {
            inf_errf(err, errlen, "out of memory for the RoPE table");
            goto err;
        }
        inf_rope_table(rope_host, c->seq_len, c->head_size);
        CU(upload(&p, rope_host, rope_n));
    }
    free(rope_host);
    return 0;
err:
    free(rope_host);
    return -1;
}

/* Activations and the per-step row arrays for max_batch rows. */
static int alloc_batch(struct cuda *cu, char *err, size_t errlen)
{
    const inf_config *c = cu->c;
    const size_t B = (size_t)cu->max_batch, D = (size_t)c->dim, H = (size_t)c->hidden_dim;
    const size_t sizes[] = {B * D, B * D, B * (size_t)cu->qkv_dim, B * 2 * H, B * H, B * (size_t)c->vocab_size};
    float **slots[] = {&cu->x, &cu->xb, &cu->qkv, &cu->h13, &cu->hb, &cu->logits};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += align_floats(sizes[i]);
    float *block;
    CU(cudaMalloc((void **)&block, total * sizeof(float)));
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        *slots[i] = carve(&block, sizes[i]);

    /* Row arrays: pointers first, so every array is aligned for its type. */
    cu->rows_bytes = B * (2 * sizeof(float *) + 2 * sizeof(int));
    char *dev, *host;
    CU(cudaMalloc((void **)&dev, cu->rows_bytes));
    cu->row_key = (float **)dev;
    cu->row_value = cu->row_key + B;
    cu->row_token = (int *)(cu->row_value + B);
    cu->row_pos = cu->row_token + B;
    CU(cudaMallocHost((void **)&host, cu->rows_bytes));
    cu->host_key = (float **)host;
    cu->host_value = cu->host_key + B;
    cu->host_token = (int *)(cu->host_value + B);
    cu->host_pos = cu->host_token + B;
    return 0;
err:
    return -1;
}

static void *cuda_create(const inf_model *m, int max_batch, int threads, char *err, size_t errlen)
{
    struct cuda *cu = (struct cuda *)calloc(1, sizeof *cu);
    int devices = 0;
    size_t attention_bytes = 0;
    cudaError_t e;
    if (!cu) {
        inf_errf(err, errlen, "out of memory for a CUDA engine");
        return NULL;
    }
    cu->c = inf_model_config(m);
    cu->max_batch = max_batch;
    cu->qkv_dim = cu->c->dim + 2 * cu->c->kv_dim;
    if (!(cu->graphs = (cudaGraphExec_t *)calloc((size_t)max_batch + 1, sizeof *cu->graphs))) {
        inf_errf(err, errlen, "out of memory for a CUDA engine");
        goto err;
    }
    if ((e = cudaGetDeviceCount(&devices)) != cudaSuccess || devices == 0) {
        inf_errf(err, errlen, "CUDA: no usable GPU (%s)",
                e != cudaSuccess ? cudaGetErrorString(e) : "no device found");
        goto err;
    }
    CU(cudaGetDevice(&cu->device));
    if ((e = inf_cu_attention_prepare(cu->c->seq_len, cu->c->head_size, &attention_bytes)) != cudaSuccess) {
        inf_errf(err, errlen, "CUDA: %s: attention over seq_len %d (head size %d) needs %zu bytes of shared memory per block: %s",
                inf_model_name(m), cu->c->seq_len, cu->c->head_size, attention_bytes, cudaGetErrorString(e));
        goto err;
    }
    CU(cudaStreamCreateWithFlags(&cu->stream, cudaStreamNonBlocking));
    BLAS(cublasCreate(&cu->blas));
    BLAS(cublasSetStream(cu->blas, cu->stream));
    CU(cudaMalloc(&cu->blas_workspace, BLAS_WORKSPACE_BYTES));
    BLAS(cublasSetWorkspace(cu->blas, cu->blas_workspace, BLAS_WORKSPACE_BYTES));
    /* Plain fp32 products (no TF32), as the CPU computes them. */
    BLAS(cublasSetMathMode(cu->blas, CUBLAS_DEFAULT_MATH));
    if (upload_weights(cu, inf_model_weights(m), err, errlen) || alloc_batch(cu, err, errlen))
        goto err;
    return cu;
err:
    cuda_destroy(cu);
    return NULL;
}

static void *cuda_kv_new(void *ctx)
{
    struct cuda *cu = (struct cuda *)ctx;
    const inf_config *c = cu->c;
    const size_t n = (size_t)c->n_layers * (size_t)c->seq_len * (size_t)c->kv_dim;
    struct cuda_kv *kv = (struct cuda_kv *)malloc(sizeof *kv);
    float *data = NULL;
    if (!kv || cudaSetDevice(cu->device) != cudaSuccess ||
        cudaMalloc((void **)&data, 2 * n * sizeof(float)) != cudaSuccess) {
        cudaGetLastError(); /* handled here: not for the next launch check to report */
        free(kv);
        return NULL;
    }
    kv->key = data;
    kv->value = data + n;
    return kv;
}

static void cuda_kv_free(void *ctx, void *p)
{
    struct cuda *cu = (struct cuda *)ctx;
    struct cuda_kv *kv = (struct cuda_kv *)p;
    if (!kv)
        return;
    cudaSetDevice(cu->device);
    cudaFree(kv->key);
    free(kv);
}

/* Profiling: an event where phase NEXT begins, unless it is the current one. */
static cudaError_t mark(struct cuda *cu, enum phase next)
{
    struct profile *p = &cu->prof;
    if (!p->on || (int)next == p->current)
        return cudaSuccess;
    if (p->n == p->cap)
        return cudaErrorInvalidValue; /* cannot happen: cap counts every change of a step */
    p->kind[p->n] = (unsigned char)next;
    p->current = next;
    return cudaEventRecord(p->events[p->n++], cu->stream);
}

/* After a synchronised step: the time between consecutive marks, by phase. */
static cudaError_t profile_add(struct profile *p)
{
    if (!p->on)
        return cudaSuccess;
    for (int i = 0; i + 1 < p->n; i++) {
        float ms;
        cudaError_t e = cudaEventElapsedTime(&ms, p->events[i], p->events[i + 1]);
        if (e != cudaSuccess)
            return e;
        p->ms[p->kind[i]] += ms;
    }
    p->steps++;
    return cudaSuccess;
}

/* Enqueues the forward pass of the step's N rows on the stream, from the row arrays on
 * the device to the logits on the device (marks phases when profiling). */
static int enqueue_forward(struct cuda *cu, int n, char *err, size_t errlen)
{
    const inf_config *c = cu->c;
    const int D = c->dim, H = c->hidden_dim, QKV = cu->qkv_dim, V = c->vocab_size;
    const size_t layer_kv = (size_t)c->seq_len * (size_t)c->kv_dim;
    CU(inf_cu_embed(cu->x, cu->emb, cu->row_token, n, D, cu->stream));
    for (int l = 0; l < c->n_layers; l++) {
        const size_t ld = (size_t)l * D, lh = (size_t)l * H;
        /* Attention: x += Wo * attention(rope(Wqkv * rmsnorm(x))) */
        CU(inf_cu_rmsnorm(cu->xb, cu->x, cu->rms_att + ld, n, D, cu->stream));
        CU(mark(cu, PHASE_MATMUL));
        BLAS(inf_cu_matmul(cu->blas, cu->qkv, cu->xb, cu->wqkv + (size_t)l * QKV * D, n, D, QKV, 0.0f));
        CU(mark(cu, PHASE_KERNELS));
        /* Every row's k, v are stored before any row attends: a prompt's rows see the
         * positions fed earlier in the same step (stream order). */
        CU(inf_cu_rope_store(cu->qkv, cu->row_key, cu->row_value, cu->row_pos, cu->rope, n, D,
                             c->kv_dim, c->head_size, l * layer_kv, cu->stream));
        CU(inf_cu_attention(cu->xb, cu->qkv, cu->row_key, cu->row_value, cu->row_pos, n,
                            c->n_heads, c->n_kv_heads, c->head_size, c->seq_len, l * layer_kv,
                            cu->stream));
        CU(mark(cu, PHASE_MATMUL));
        BLAS(inf_cu_matmul(cu->blas, cu->x, cu->xb, cu->wo + ld * D, n, D, D, 1.0f));
        /* Feed-forward: x += W2 * swiglu(W1 * xb, W3 * xb), xb = rmsnorm(x) */
        CU(mark(cu, PHASE_KERNELS));
        CU(inf_cu_rmsnorm(cu->xb, cu->x, cu->rms_ffn + ld, n, D, cu->stream));
        CU(mark(cu, PHASE_MATMUL));
        BLAS(inf_cu_matmul(cu->blas, cu->h13, cu->xb, cu->w13 + 2 * lh * D, n, D, 2 * H, 0.0f));
        CU(mark(cu, PHASE_KERNELS));
        CU(inf_cu_swiglu(cu->hb, cu->h13, n, H, cu->stream));
        CU(mark(cu, PHASE_MATMUL));
        BLAS(inf_cu_matmul(cu->blas, cu->x, cu->hb, cu->w2 + lh * D, n, H, D, 1.0f));
        CU(mark(cu, PHASE_KERNELS));
    }
    CU(inf_cu_rmsnorm(cu->xb, cu->x, cu->rms_final, n, D, cu->stream));
    CU(mark(cu, PHASE_MATMUL));
    BLAS(inf_cu_matmul(cu->blas, cu->logits, cu->xb, cu->wcls, n, D, V, 0.0f));
    return 0;
err:
    return -1;
}

/* Captures enqueue_forward() for N rows into cu->graphs[n]. */
static int capture_forward(struct cuda *cu, int n, char *err, size_t errlen)
{
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec;
    CU(cudaStreamBeginCapture(cu->stream, cudaStreamCaptureModeThreadLocal));
    {
        int failed = enqueue_forward(cu, n, err, errlen);
        cudaError_t e = cudaStreamEndCapture(cu->stream, &graph); /* always ends the capture */
        if (failed)
            goto err;
        CU(e);
    }
    CU(cudaGraphInstantiate(&exec, graph, 0));
    cu->graphs[n] = exec;
    cudaGraphDestroy(graph);
    return 0;
err:
    if (graph)
        cudaGraphDestroy(graph);
    return -1;
}

static int cuda_step(void *ctx, void *const *kv, const int *tokens, const int *pos, int n,
                     float *logits, char *err, size_t errlen)
{
    struct cuda *cu = (struct cuda *)ctx;
    const int V = cu->c->vocab_size;
    if (n < 1 || n > cu->max_batch) {
        inf_errf(err, errlen, "%d rows in a step (must be 1..%d)", n, cu->max_batch);
        return -1;
    }
    CU(cudaSetDevice(cu->device));
    /* Launch checks read cudaGetLastError(): start from a clean slate (an error that
     * persists, one that broke the context, shows up again at once). */
    cudaGetLastError();
    /* The previous step has synchronised: the pinned rows are free to rewrite. */
    for (int i = 0; i < n; i++) {
        const struct cuda_kv *k = (const struct cuda_kv *)kv[i];
        cu->host_key[i] = k->key;
        cu->host_value[i] = k->value;
        cu->host_token[i] = tokens[i];
        cu->host_pos[i] = pos[i];
    }
    cu->prof.n = 0;
    cu->prof.current = -1;
    CU(mark(cu, PHASE_COPY));
    CU(cudaMemcpyAsync(cu->row_key, cu->host_key, cu->rows_bytes, cudaMemcpyHostToDevice, cu->stream));
    CU(mark(cu, PHASE_KERNELS));
    if (cu->prof.on) {
        /* Launched one by one, so that events can be recorded between the phases. */
        if (enqueue_forward(cu, n, err, errlen))
            goto err;
    } else {
        if (!cu->graphs[n] && capture_forward(cu, n, err, errlen))
            goto err;
        CU(cudaGraphLaunch(cu->graphs[n], cu->stream));
    }
    CU(mark(cu, PHASE_COPY));
    CU(cudaMemcpyAsync(logits, cu->logits, (size_t)n * V * sizeof(float), cudaMemcpyDeviceToHost, cu->stream));
    CU(mark(cu, PHASE_END));
    CU(cudaStreamSynchronize(cu->stream));
    CU(profile_add(&cu->prof));
    return 0;
err:
    /* Let whatever was enqueued finish before the caller may reuse its buffers. */
    cudaStreamSynchronize(cu->stream);
    return -1;
}

extern "C" int inf_cuda_profile_start(void *ctx, char *err, size_t errlen)
{
    struct cuda *cu = (struct cuda *)ctx;
    struct profile *p = &cu->prof;
    CU(cudaSetDevice(cu->device));
    if (!p->events) {
        /* Phase changes in a step: copy, kernels, 8 per layer, matmul, copy, end. */
        const int cap = 8 * cu->c->n_layers + 5;
        p->events = (cudaEvent_t *)calloc((size_t)cap, sizeof *p->events);
        p->kind = (unsigned char *)calloc((size_t)cap, 1);
        if (!p->events || !p->kind) {
            inf_errf(err, errlen, "out of memory for %d profiling events", cap);
            goto err;
        }
        p->cap = cap;
        for (int i = 0; i < cap; i++)
            CU(cudaEventCreate(&p->events[i]));
    }
    memset(p->ms, 0, sizeof p->ms);
    p->steps = 0;
    p->on = 1;
    return 0;
err:
    profile_free(p);
    return -1;
}

extern "C" void inf_cuda_profile_read(void *ctx, inf_cuda_profile *out)
{
    const struct profile *p = &((struct cuda *)ctx)->prof;
    out->matmul_ms = p->ms[PHASE_MATMUL];
    out->kernels_ms = p->ms[PHASE_KERNELS];
    out->copy_ms = p->ms[PHASE_COPY];
    out->steps = p->steps;
}

/* Positional: C++ has no designated initializers before C++20. */
extern "C" const inf_backend inf_backend_cuda = {
    "cuda",       /* name */
    cuda_create,  /* create */
    cuda_destroy, /* destroy */
    cuda_kv_new,  /* kv_new */
    cuda_kv_free, /* kv_free */
    cuda_step,    /* step */
};
