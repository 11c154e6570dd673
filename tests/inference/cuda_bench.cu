/* cuda_bench: the CUDA backend's aggregate generation speed at batch 256 against the CPU
 * backend's at batch 256 on every core, measured in the same run (built by `make cuda`,
 * run by tests/inference/bench_cuda.sh).
 *
 * For each shipped model, 256 sequences start from different tokens at position 0 and
 * decode greedily together for POSITIONS steps (one row per sequence and step; the
 * host-side argmax of each row is part of the timed loop, as in a server). Printed: tokens/s
 * of both and their ratio (target 20x), step latency p50/p99, a single stream and a batch
 * of 1024 on the GPU for scale, the GPU time split (cuBLAS products, our kernels, copies;
 * CUDA events in a separate profiled run), peak RSS and the GPU memory in use. */
extern "C" {
#include "backend.h"
#include "model.h"
#include "sampler.h"
}
#include "cuda_backend.h"

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define BIG_BATCH 1024 /* the GPU's aggregate one size up, for scale */
#define POSITIONS 128
#define TARGET_RATIO 20.0

static const struct {
    const char *name, *path;
} models[] = {
    {"stories260K", "models/stories260K.bin"},
    {"babyllama105", "models/babyllama105.bin"},
    {"llama2xs", "models/llama2xs.bin"},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A backend context for up to BIG_BATCH rows with as many caches, and the buffers of
 * its steps. */
struct runner {
    const inf_backend *b;
    void *ctx;
    int batch;
    void *kv[BIG_BATCH];
    int tokens[BIG_BATCH], pos[BIG_BATCH];
    float *logits;
    double step_s[POSITIONS];
    int vocab, positions;
};

static int runner_new(struct runner *r, const inf_backend *b, const inf_model *m, int batch, int threads)
{
    char err[512];
    memset(r, 0, sizeof *r);
    r->b = b;
    r->batch = batch;
    r->vocab = inf_model_config(m)->vocab_size;
    r->positions = inf_model_config(m)->seq_len < POSITIONS ? inf_model_config(m)->seq_len : POSITIONS;
    if (!(r->ctx = b->create(m, batch, threads, err, sizeof err))) {
        fprintf(stderr, "%s backend: %s\n", b->name, err);
        return -1;
    }
    r->logits = (float *)malloc((size_t)batch * r->vocab * sizeof(float));
    for (int i = 0; i < batch; i++)
        if (!(r->kv[i] = b->kv_new(r->ctx))) {
            fprintf(stderr, "%s backend: out of memory for cache %d\n", b->name, i);
            return -1;
        }
    return r->logits ? 0 : -1;
}

static void runner_free(struct runner *r)
{
    for (int i = 0; i < r->batch; i++)
        if (r->kv[i])
            r->b->kv_free(r->ctx, r->kv[i]);
    if (r->ctx)
        r->b->destroy(r->ctx);
    free(r->logits);
}

/* Decodes ROWS sequences from position 0 for r->positions steps; tokens/s, or -1. */
static double run(struct runner *r, int rows)
{
    char err[512];
    for (int i = 0; i < rows; i++)
        r->tokens[i] = 1 + i % (r->vocab - 1);
    double start = now_s();
    for (int s = 0; s < r->positions; s++) {
        double t0 = now_s();
        for (int i = 0; i < rows; i++)
            r->pos[i] = s;
        if (r->b->step(r->ctx, r->kv, r->tokens, r->pos, rows, r->logits, err, sizeof err)) {
            fprintf(stderr, "%s step: %s\n", r->b->name, err);
            return -1;
        }
        for (int i = 0; i < rows; i++)
            r->tokens[i] = smp_argmax(r->logits + (size_t)i * r->vocab, r->vocab);
        r->step_s[s] = now_s() - t0;
    }
    return (double)rows * r->positions / (now_s() - start);
}

static double percentile_ms(struct runner *r, double q)
{
    double sorted[POSITIONS];
    memcpy(sorted, r->step_s, (size_t)r->positions * sizeof *sorted);
    qsort(sorted, (size_t)r->positions, sizeof *sorted, cmp_double);
    return 1e3 * sorted[(int)(q * (r->positions - 1) + 0.5)];
}

static int bench_model(const char *name, const char *path, int threads)
{
    char err[512];
    struct runner gpu, cpu;
    int status = -1;
    inf_model *m = inf_model_open(path, err, sizeof err);
    if (!m) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    int gpu_ok = !runner_new(&gpu, &inf_backend_cuda, m, BIG_BATCH, threads);
    int cpu_ok = !runner_new(&cpu, &inf_backend_cpu, m, BATCH, threads);
    if (gpu_ok && cpu_ok) {
        size_t free_b, total_b;
        inf_cuda_profile prof;
        double single, big, gpu_rate, cpu_rate, p50, p99;
        /* Each first run warms up (and captures the step's CUDA graph for that batch). */
        if (run(&gpu, BATCH) < 0 || (gpu_rate = run(&gpu, BATCH)) < 0)
            goto done;
        p50 = percentile_ms(&gpu, 0.50);
        p99 = percentile_ms(&gpu, 0.99);
        if (run(&gpu, 1) < 0 || (single = run(&gpu, 1)) < 0 || run(&gpu, BIG_BATCH) < 0 ||
            (big = run(&gpu, BIG_BATCH)) < 0 || inf_cuda_profile_start(gpu.ctx, err, sizeof err) ||
            run(&gpu, BATCH) < 0 || (cpu_rate = run(&cpu, BATCH)) < 0)
            goto done;
        inf_cuda_profile_read(gpu.ctx, &prof);
        double step_ms = (prof.matmul_ms + prof.kernels_ms + prof.copy_ms) / (double)prof.steps;
        printf("%-12s  cuda batch %d: %10.0f tok/s (step p50 %.3f ms, p99 %.3f ms)   cpu batch %d, %d threads: %8.0f tok/s   ratio %.1fx (target %.0fx)\n",
               name, BATCH, gpu_rate, p50, p99, BATCH, threads, cpu_rate, gpu_rate / cpu_rate, TARGET_RATIO);
        printf("%-12s  GPU time per step %.3f ms: matmul (cuBLAS) %.3f ms (%.0f%%), our kernels %.3f ms (%.0f%%), copies %.3f ms (%.0f%%); cuda single stream %.0f tok/s, batch %d %.0f tok/s\n",
               "", step_ms, prof.matmul_ms / prof.steps, 100 * prof.matmul_ms / (step_ms * prof.steps),
               prof.kernels_ms / prof.steps, 100 * prof.kernels_ms / (step_ms * prof.steps),
               prof.copy_ms / prof.steps, 100 * prof.copy_ms / (step_ms * prof.steps), single, BIG_BATCH, big);
        if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
            printf("%-12s  GPU memory in use %.0f MiB of %.0f MiB\n", "", (total_b - free_b) / 1048576.0, total_b / 1048576.0);
        status = 0;
    }
done:
    runner_free(&gpu);
    runner_free(&cpu);
    inf_model_close(m);
    return status;
}

int main(void)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        printf("no GPU: skipped\n");
        return 0;
    }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
        printf("GPU: %s; %d decoding steps from position 0 per run\n", prop.name, POSITIONS);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores < 1 ? 1 : cores > 256 ? 256 : (int)cores;
    int status = 0;
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        if (bench_model(models[i].name, models[i].path, threads))
            status = 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.0f MiB\n", ru.ru_maxrss / 1024.0);
    return status;
}
