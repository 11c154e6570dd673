/* bench_generate.c: generation speed of the CPU engine on every shipped model.
 *
 * For each model, 256 greedy positions from "Once upon a time" (the golden setting):
 *   baseline  our engine, one thread, one token per step (matrix-vector, as run.c works)
 *   single    one stream as `arena-worker generate` runs it (prompt in one step)
 *   batch32   32 streams stepping together (matrix-matrix), aggregate tokens/s, one thread
 *   batch32xN the same on every core (the step split by rows across the engine's threads)
 * Each figure is the best of a few runs (the machine is shared). Ratios are against the
 * baseline measured here and against llama2.c run.c's gcc -O3 figures on this machine
 * (models/PROVENANCE.md). */
#include "engine.h"
#include "generate.h"
#include "model.h"
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define STREAMS 32
#define POSITIONS 256
#define REPEATS 3

static const struct {
    const char *name, *model, *tokenizer;
    double run_c_tok_s; /* llama2.c run.c, gcc -O3, single thread */
} models[] = {
    {"stories260K", "models/stories260K.bin", "models/tok512.bin", 7000},
    {"babyllama105", "models/babyllama105.bin", "models/tok105.bin", 2300},
    {"llama2xs", "models/llama2xs.bin", "models/tok512.bin", 5500},
};

static const char *prompts[] = {"Once upon a time", "The cat", "Lily and Tom went to the park",
                                "One day", "A little bird", "The sun was hot"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs N_STREAMS greedy generations to POSITIONS on E, each fed at most FEED tokens per
 * step; returns tokens fed per second, or -1 on failure. */
static double run(inf_engine *e, const tok_tokenizer *tok, int n_streams, int feed)
{
    const inf_config *cfg = inf_model_config(inf_engine_model(e));
    int max_batch = inf_engine_max_batch(e);
    inf_gen *gens[STREAMS] = {0};
    inf_seq *seqs[STREAMS] = {0};
    inf_seq **rows = malloc((size_t)max_batch * sizeof *rows);
    int *tokens = malloc((size_t)max_batch * sizeof *tokens);
    float **logits = malloc((size_t)max_batch * sizeof *logits);
    int last_row[STREAMS];
    double rate = -1;
    inf_gen_params p = {.max_pos = POSITIONS};
    for (int i = 0; i < n_streams; i++) {
        const char *prompt = prompts[i % (sizeof prompts / sizeof *prompts)];
        if (!(gens[i] = inf_gen_new(tok, cfg->seq_len, prompt, &p, NULL, 0)) || !(seqs[i] = inf_seq_new(e)))
            goto done;
    }
    if (!rows || !tokens || !logits)
        goto done;
    long fed = 0;
    double start = now_s();
    for (;;) {
        int n = 0;
        for (int i = 0; i < n_streams; i++) {
            int room = max_batch - n < feed ? max_batch - n : feed;
            int k = inf_gen_feed(gens[i], tokens + n, room);
            for (int j = 0; j < k; j++)
                rows[n + j] = seqs[i];
            n += k;
            last_row[i] = k ? n - 1 : -1;
        }
        if (!n)
            break;
        if (inf_engine_step(e, rows, tokens, n, logits)) {
            fprintf(stderr, "step: %s\n", inf_engine_error(e));
            goto done;
        }
        fed += n;
        for (int i = 0; i < n_streams; i++) {
            const char *text;
            size_t len;
            if (last_row[i] >= 0)
                inf_gen_advance(gens[i], logits[last_row[i]], &text, &len);
        }
    }
    rate = fed / (now_s() - start);
done:
    for (int i = 0; i < n_streams; i++) {
        inf_gen_free(gens[i]);
        inf_seq_free(seqs[i]);
    }
    free(rows);
    free(tokens);
    free(logits);
    return rate;
}

/* Best of REPEATS runs on a fresh engine. */
static double best_of(const inf_model *m, const tok_tokenizer *tok, int threads, int max_batch,
                      int n_streams, int feed)
{
    char err[256];
    inf_engine_opts o = {.threads = threads, .max_batch = max_batch};
    inf_engine *e = inf_engine_new(m, &o, err, sizeof err);
    if (!e) {
        fprintf(stderr, "engine: %s\n", err);
        return -1;
    }
    double best = -1;
    for (int r = 0; r < REPEATS; r++) {
        double v = run(e, tok, n_streams, feed);
        if (v > best)
            best = v;
    }
    inf_engine_free(e);
    return best;
}

int main(void)
{
    int status = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("tokens/s, 256 greedy positions per stream, best of %d; %ld cores\n", REPEATS, cores);
    printf("%-13s %9s %9s %7s %7s %9s %7s %9s %7s %7s\n", "model", "baseline", "single", "xbase",
           "xrun.c", "batch32", "xbase", "batch32xN", "xbase", "xrun.c");
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char err[512];
        inf_model *m = inf_model_open(models[i].model, err, sizeof err);
        tok_tokenizer *tok = m ? tok_open(models[i].tokenizer, inf_model_config(m)->vocab_size, err, sizeof err) : NULL;
        if (!tok) {
            fprintf(stderr, "bench: %s\n", err);
            inf_model_close(m);
            status = 1;
            continue;
        }
        double base = best_of(m, tok, 1, 1, 1, 1);
        double single = best_of(m, tok, 1, 32, 1, 32);
        double batched1 = best_of(m, tok, 1, 8 * STREAMS, STREAMS, 8);
        double batched = best_of(m, tok, 0, 8 * STREAMS, STREAMS, 8);
        double rc = models[i].run_c_tok_s;
        printf("%-13s %9.0f %9.0f %6.2fx %6.2fx %9.0f %6.2fx %9.0f %6.2fx %6.2fx\n", models[i].name, base,
               single, single / base, single / rc, batched1, batched1 / base, batched, batched / base,
               batched / rc);
        tok_close(tok);
        inf_model_close(m);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("run.c reference (gcc -O3, one thread): stories260K 7000, babyllama105 2300, llama2xs 5500 tok/s\n"
           "peak RSS %ld KiB\n", ru.ru_maxrss);
    return status;
}
