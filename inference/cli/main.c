/* main.c: bin/arena-worker: `generate` and `eval` on the command line, `serve` in serve.c.
 * Exit status: 0 success, 1 runtime failure, 2 usage error or unusable input file. */
#include "engine.h"
#include "generate.h"
#include "model.h"
#include "serve.h"
#include "tokenizer.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "arena-worker"
#define MAX_TEXT_BYTES (64u << 20)

static void usage(FILE *f)
{
    fputs("usage: " PROG " generate --model FILE --tokenizer FILE [--prompt TEXT] [--steps N]\n"
          "                      [--temperature T] [--top-p P] [--seed S] [--threads N]\n"
          "                      [--device cpu|cuda]\n"
          "       " PROG " eval --model FILE --tokenizer FILE --text FILE [--threads N]\n"
          "                      [--device cpu|cuda]\n"
          "       " PROG " serve --help\n", f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Flags shared by generate and eval, and what they load. */
struct common {
    const char *model_path, *tokenizer_path, *device;
    int threads;
    inf_model *model;
    tok_tokenizer *tok;
    inf_engine *engine;
    inf_seq *seq;
};

static int bad_value(const char *flag, const char *value)
{
    fprintf(stderr, PROG ": bad value for --%s: '%s'\n", flag, value);
    return -1;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return bad_value(flag, s);
    *out = v;
    return 0;
}

static int parse_float(const char *flag, const char *s, float lo, float hi, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return bad_value(flag, s);
    *out = v;
    return 0;
}

/* Opens the model, its tokenizer, an engine and one sequence. 2 on a bad file, 1 otherwise. */
static int common_load(struct common *c)
{
    char err[512];
    if (!c->model_path || !c->tokenizer_path) {
        fprintf(stderr, PROG ": --model and --tokenizer are required\n");
        usage(stderr);
        return 2;
    }
    inf_device device;
    if (!strcmp(c->device, "cpu")) {
        device = INF_DEVICE_CPU;
    } else if (!strcmp(c->device, "cuda")) {
        device = INF_DEVICE_CUDA;
    } else {
        bad_value("device", c->device);
        return 2;
    }
    if (!(c->model = inf_model_open(c->model_path, err, sizeof err))) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    if (!(c->tok = tok_open(c->tokenizer_path, inf_model_config(c->model)->vocab_size, err, sizeof err))) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    inf_engine_opts opts = {.device = device, .threads = c->threads};
    if (!(c->engine = inf_engine_new(c->model, &opts, err, sizeof err))) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    if (!(c->seq = inf_seq_new(c->engine))) {
        fprintf(stderr, PROG ": out of memory for a sequence\n");
        return 1;
    }
    return 0;
}

static void common_free(struct common *c)
{
    inf_seq_free(c->seq);
    inf_engine_free(c->engine);
    tok_close(c->tok);
    inf_model_close(c->model);
}

/* Parses one flag shared by both commands; 1 when OPT was one of them, -1 on a bad value. */
static int common_opt(struct common *c, int opt, const char *arg)
{
    long v;
    switch (opt) {
    case 'm': c->model_path = arg; return 1;
    case 'z': c->tokenizer_path = arg; return 1;
    case 'd': c->device = arg; return 1;
    case 'j':
        if (parse_long("threads", arg, 1, 256, &v))
            return -1;
        c->threads = (int)v;
        return 1;
    }
    return 0;
}

/* getopt_long over a command's longopts (COMMON_LONGOPTS first), handling the shared flags,
 * --help, unknown flags and stray arguments itself. Returns the next of the command's own
 * flags (its value in optarg), 0 after the last, or -1 when the command is to return
 * *status (0 after --help, 2 on a usage error). Set optind to 1 before the first call. */
static int next_flag(struct common *c, int argc, char **argv, const struct option *longopts, int *status)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int r = common_opt(c, opt, optarg);
        if (r < 0) {
            *status = 2;
            return -1;
        }
        if (r)
            continue;
        if (opt == 'h') {
            usage(stdout);
            *status = 0;
            return -1;
        }
        if (opt == '?') {
            usage(stderr);
            *status = 2;
            return -1;
        }
        return opt;
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        *status = 2;
        return -1;
    }
    return 0;
}

#define COMMON_LONGOPTS                                                                      \
    {"model", required_argument, 0, 'm'}, {"tokenizer", required_argument, 0, 'z'},          \
    {"device", required_argument, 0, 'd'}, {"threads", required_argument, 0, 'j'},           \
    {"help", no_argument, 0, 'h'}

/* Feeds the prompt, then samples, printing as llama2.c run.c does. */
static int cmd_generate(int argc, char **argv)
{
    static const struct option longopts[] = {
        COMMON_LONGOPTS,
        {"prompt", required_argument, 0, 'p'},      {"steps", required_argument, 0, 'n'},
        {"temperature", required_argument, 0, 't'}, {"top-p", required_argument, 0, 'P'},
        {"seed", required_argument, 0, 's'},        {0, 0, 0, 0},
    };
    struct common c = {.device = "cpu"};
    const char *prompt = "";
    long steps = 256;
    unsigned long long seed = 0;
    inf_gen_params gp = {.temperature = 1.0f, .top_p = 0.9f, .echo_prompt = 1};
    int opt, status = 2;
    inf_gen *gen = NULL;
    optind = 1;
    while ((opt = next_flag(&c, argc, argv, longopts, &status)) > 0) {
        switch (opt) {
        case 'p': prompt = optarg; break;
        case 'n': if (parse_long("steps", optarg, 0, INT32_MAX, &steps)) return 2; break;
        case 't': if (parse_float("temperature", optarg, 0, 1e6f, &gp.temperature)) return 2; break;
        case 'P': if (parse_float("top-p", optarg, 0, 1, &gp.top_p)) return 2; break;
        case 's': {
            char *end;
            errno = 0;
            seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return bad_value("seed", optarg), 2;
            break;
        }
        }
    }
    if (opt < 0)
        return status;
    if ((status = common_load(&c)))
        goto done;
    status = 1;
    gp.seed = seed ? seed : (unsigned long long)time(NULL); /* run.c's default */
    gp.max_pos = (int)steps;
    char err[256];
    if (!(gen = inf_gen_new(c.tok, inf_model_config(c.model)->seq_len, prompt, &gp, err, sizeof err))) {
        fprintf(stderr, PROG ": %s\n", err);
        goto done;
    }
    int batch = inf_engine_max_batch(c.engine);
    int *tokens = malloc((size_t)batch * sizeof *tokens);
    inf_seq **rows = malloc((size_t)batch * sizeof *rows);
    float **logits = malloc((size_t)batch * sizeof *logits);
    if (!tokens || !rows || !logits) {
        fprintf(stderr, PROG ": out of memory\n");
        goto free_rows;
    }
    for (int i = 0; i < batch; i++)
        rows[i] = c.seq;
    /* Timed from the end of the first step (the prompt), as run.c times from its second token. */
    double start = 0;
    int timed_from = 0, n;
    while ((n = inf_gen_feed(gen, tokens, batch)) > 0) {
        if (inf_engine_step(c.engine, rows, tokens, n, logits)) {
            fprintf(stderr, PROG ": %s\n", inf_engine_error(c.engine));
            goto free_rows;
        }
        const char *text;
        size_t len;
        inf_gen_advance(gen, logits[n - 1], &text, &len);
        fwrite(text, 1, len, stdout);
        fflush(stdout);
        if (!start) {
            start = now_s();
            timed_from = inf_gen_pos(gen);
        }
    }
    putchar('\n');
    fflush(stdout);
    int timed = inf_gen_pos(gen) - timed_from;
    if (timed > 0)
        fprintf(stderr, "achieved tok/s: %f\n", timed / (now_s() - start));
    status = 0;
free_rows:
    free(tokens);
    free(rows);
    free(logits);
done:
    inf_gen_free(gen);
    common_free(&c);
    return status;
}

/* Reads a whole text file as a NUL-terminated string; NULL with a message on failure. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (!f) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 65536;
            char *p = cap <= MAX_TEXT_BYTES + 65536 ? realloc(buf, cap + 1) : NULL;
            if (!p) {
                fprintf(stderr, PROG ": %s: too large or out of memory\n", path);
                goto err;
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, PROG ": %s: read error\n", path);
        goto err;
    }
    if (memchr(buf, '\0', len)) {
        fprintf(stderr, PROG ": %s: contains a NUL byte, not text\n", path);
        goto err;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
err:
    free(buf);
    fclose(f);
    return NULL;
}

/* -log softmax(logits)[target], in double. */
static double cross_entropy(const float *logits, int n, int target)
{
    float max = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > max)
            max = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)logits[i] - max);
    return max + log(sum) - logits[target];
}

/* Mean per-token cross-entropy of a text (BOS + its tokens) under the model. The tokens
 * are cut into windows of seq_len + 1: each window is a fresh sequence, predicting its
 * tokens 1..seq_len from the ones before, so every token but the first is predicted once. */
static int cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        COMMON_LONGOPTS, {"text", required_argument, 0, 'x'}, {0, 0, 0, 0},
    };
    struct common c = {.device = "cpu"};
    const char *text_path = NULL;
    char *text = NULL;
    int *tokens = NULL, opt, status = 2;
    inf_seq **rows = NULL;
    float **logits = NULL;
    optind = 1;
    while ((opt = next_flag(&c, argc, argv, longopts, &status)) > 0)
        if (opt == 'x')
            text_path = optarg;
    if (opt < 0)
        return status;
    if (!text_path) {
        fprintf(stderr, PROG ": --text is required\n");
        return 2;
    }
    if ((status = common_load(&c)))
        goto done;
    status = 2;
    if (!(text = read_text(text_path)))
        goto done;
    status = 1;
    size_t cap = tok_encode_capacity(text);
    int batch = inf_engine_max_batch(c.engine);
    tokens = malloc(cap * sizeof *tokens);
    rows = malloc((size_t)batch * sizeof *rows);
    logits = malloc((size_t)batch * sizeof *logits);
    if (!tokens || !rows || !logits) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    int n_tokens = tok_encode(c.tok, text, 1, 0, tokens, cap);
    if (n_tokens < 2) {
        fprintf(stderr, PROG ": %s: no text to evaluate\n", text_path);
        status = 2;
        goto done;
    }
    for (int i = 0; i < batch; i++)
        rows[i] = c.seq;
    const inf_config *cfg = inf_model_config(c.model);
    double total = 0;
    long predicted = 0;
    double start = now_s();
    for (int w = 0; w + 1 < n_tokens; w += cfg->seq_len) {
        int end = w + cfg->seq_len < n_tokens - 1 ? w + cfg->seq_len : n_tokens - 1; /* last fed + 1 */
        inf_seq_reset(c.seq);
        for (int at = w; at < end; at += batch) {
            int n = end - at < batch ? end - at : batch;
            if (inf_engine_step(c.engine, rows, tokens + at, n, logits)) {
                fprintf(stderr, PROG ": %s\n", inf_engine_error(c.engine));
                goto done;
            }
            for (int i = 0; i < n; i++)
                total += cross_entropy(logits[i], cfg->vocab_size, tokens[at + i + 1]);
            predicted += n;
        }
    }
    double mean = total / (double)predicted;
    double secs = now_s() - start;
    printf("%s on %s: %ld tokens predicted, cross-entropy %.4f nats/token, perplexity %.3f\n",
           inf_model_name(c.model), text_path, predicted, mean, exp(mean));
    printf("tokens=%ld cross_entropy=%.6f perplexity=%.6f\n", predicted, mean, exp(mean));
    fprintf(stderr, "achieved tok/s: %f\n", predicted / secs);
    status = 0;
done:
    free(text);
    free(tokens);
    free(rows);
    free(logits);
    common_free(&c);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "generate"))
        return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return serve_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, PROG ": unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
