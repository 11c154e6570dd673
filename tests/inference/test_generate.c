/* test_generate.c: the generation driver on stories260K: greedy text equals the golden
 * output with and without the prompt echoed, whatever the prefill chunk; stop strings
 * (also across tokens) and token limits; seeded sampling is reproducible. */
#include "../check.h"
#include "engine.h"
#include "generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inf_engine *engine;
static inf_seq *seq;
static tok_tokenizer *tok;
static int seq_len;

/* Runs one generation feeding at most CAP tokens per step; text into OUT. */
static int generate(const char *prompt, const inf_gen_params *p, int cap, char *out, size_t out_size, int *generated)
{
    char err[256];
    inf_gen *g = inf_gen_new(tok, seq_len, prompt, p, err, sizeof err);
    if (!g)
        return -1;
    inf_seq_reset(seq);
    inf_seq *rows[64];
    int tokens[64], n, status = INF_GEN_RUNNING;
    float *logits[64];
    for (int i = 0; i < 64; i++)
        rows[i] = seq;
    size_t used = 0;
    out[0] = '\0';
    while ((n = inf_gen_feed(g, tokens, cap)) > 0) {
        if (inf_engine_step(engine, rows, tokens, n, logits))
            break;
        const char *text;
        size_t len;
        status = inf_gen_advance(g, logits[n - 1], &text, &len);
        if (used + len < out_size) {
            memcpy(out + used, text, len);
            used += len;
            out[used] = '\0';
        }
    }
    if (generated)
        *generated = inf_gen_generated_tokens(g);
    inf_gen_free(g);
    return status;
}

int main(void)
{
    char err[256];
    inf_model *m = inf_model_open("models/stories260K.bin", err, sizeof err);
    tok = m ? tok_open("models/tok512.bin", 512, err, sizeof err) : NULL;
    engine = tok ? inf_engine_new(m, &(inf_engine_opts){.max_batch = 64, .threads = 1}, err, sizeof err) : NULL;
    seq = engine ? inf_seq_new(engine) : NULL;
    CHECK(seq != NULL, "model, tokenizer, engine: %s", seq ? "" : err);
    if (!seq)
        return check_exit();
    seq_len = inf_model_config(m)->seq_len;

    char golden[2048] = "";
    FILE *f = fopen("models/golden/stories260K.txt", "rb");
    size_t glen = f ? fread(golden, 1, sizeof golden - 1, f) : 0;
    if (f)
        fclose(f);
    golden[glen] = '\0';
    CHECK(glen > 100 && golden[glen - 1] == '\n', "golden file ends with run.c's newline");
    golden[--glen] = '\0';
    const char *continuation = golden + strlen("Once upon a time");

    static char out[4096];
    inf_gen_params greedy = {.temperature = 0, .max_pos = 256, .echo_prompt = 1};
    for (int cap = 1; cap <= 64; cap *= 8) {
        int st = generate("Once upon a time", &greedy, cap, out, sizeof out, NULL);
        CHECK(st == INF_GEN_LENGTH && !strcmp(out, golden), "greedy with echo = golden (prefill %d per step)", cap);
    }
    greedy.echo_prompt = 0;
    int generated;
    int st = generate("Once upon a time", &greedy, 64, out, sizeof out, &generated);
    CHECK(!strcmp(out, continuation) && generated == 256 - 5 + 1, "without echo: the continuation only, %d sampled", generated);

    /* Stop strings: output ends right before the first occurrence of any of them. */
    const char *stops[] = {"zebra", "girl named"};
    greedy.stop = stops;
    greedy.n_stop = 2;
    st = generate("Once upon a time", &greedy, 64, out, sizeof out, NULL);
    const char *hit = strstr(continuation, "girl named");
    CHECK(st == INF_GEN_STOP && hit && strlen(out) == (size_t)(hit - continuation) &&
              !strncmp(out, continuation, strlen(out)),
          "stop string spanning tokens cuts the text before it: '%s'", out);
    const char *quote[] = {"\""};
    greedy.stop = quote;
    greedy.n_stop = 1;
    st = generate("Once upon a time", &greedy, 64, out, sizeof out, NULL);
    CHECK(st == INF_GEN_STOP && !strchr(out, '"') && strlen(out) == (size_t)(strchr(continuation, '"') - continuation),
          "single-character stop string");
    const char *never[] = {"Lily's cat flew"};
    greedy.stop = never;
    st = generate("Once upon a time", &greedy, 64, out, sizeof out, NULL);
    CHECK(st == INF_GEN_LENGTH && !strcmp(out, continuation), "held-back text is flushed at the end");
    greedy.stop = NULL;
    greedy.n_stop = 0;

    greedy.max_new_tokens = 10;
    st = generate("Once upon a time", &greedy, 64, out, sizeof out, &generated);
    CHECK(st == INF_GEN_LENGTH && generated == 10 && !strncmp(out, continuation, strlen(out)), "max_new_tokens 10");
    greedy.max_new_tokens = 0;
    greedy.max_pos = 3;
    st = generate("Once upon a time", &greedy, 64, out, sizeof out, &generated);
    CHECK(st == INF_GEN_LENGTH && generated == 0 && out[0] == '\0', "prompt longer than max_pos: nothing sampled");

    /* Sampling: same seed, same text; the first chunk is still the prompt. */
    inf_gen_params warm = {.temperature = 1.0f, .top_p = 0.9f, .seed = 1234, .max_pos = 120, .echo_prompt = 1};
    static char again[4096], other[4096];
    generate("Tom had a dog", &warm, 64, out, sizeof out, NULL);
    generate("Tom had a dog", &warm, 1, again, sizeof again, NULL);
    warm.seed = 99;
    generate("Tom had a dog", &warm, 64, other, sizeof other, NULL);
    CHECK(!strcmp(out, again), "same seed, same text (whatever the prefill)");
    CHECK(strcmp(out, other) != 0, "another seed, other text");
    CHECK(!strncmp(out, "Tom had a dog", 13), "echoed prompt comes first");

    inf_gen_params eos = {.temperature = 0, .stop_at_eos = 1, .echo_prompt = 0};
    st = generate("", &eos, 64, out, sizeof out, &generated);
    CHECK(st == INF_GEN_STOP || st == INF_GEN_LENGTH, "empty prompt generates from BOS (status %d, %d tokens)", st, generated);

    inf_seq_free(seq);
    inf_engine_free(engine);
    tok_close(tok);
    inf_model_close(m);
    return check_exit();
}
