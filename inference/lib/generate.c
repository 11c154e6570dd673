/* generate.c: prompt forcing, sampling, stop conditions and stop strings of one request. */
#include "generate.h"
#include "errbuf.h"
#include "sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inf_gen {
    const tok_tokenizer *tok;
    smp_sampler *sampler;
    int *prompt;
    int n_prompt;
    int max_pos, max_new, echo, stop_at_eos;
    char **stop;
    int n_stop;
    int pos;       /* tokens fed so far */
    int token;     /* the next token to feed */
    int fed;       /* tokens fed by the last inf_gen_feed() */
    int generated; /* tokens sampled */
    int status;
    char *held;    /* generated text not emitted yet: it may begin a stop string */
    size_t held_len, held_cap;
    char *out;     /* text emitted by the last inf_gen_advance() */
    size_t out_len, out_cap;
};

inf_gen *inf_gen_new(const tok_tokenizer *t, int seq_len, const char *prompt,
                     const inf_gen_params *p, char *err, size_t errlen)
{
    inf_gen *g = calloc(1, sizeof *g);
    if (!g)
        goto oom;
    g->tok = t;
    size_t cap = tok_encode_capacity(prompt);
    if (!(g->prompt = malloc(cap * sizeof *g->prompt)))
        goto oom;
    g->n_prompt = tok_encode(t, prompt, 1, 0, g->prompt, cap);
    if (g->n_prompt < 1)
        goto oom;
    g->max_pos = p->max_pos > 0 && p->max_pos < seq_len ? p->max_pos : seq_len;
    g->max_new = p->max_new_tokens > 0 ? p->max_new_tokens : 0;
    g->echo = p->echo_prompt;
    g->stop_at_eos = p->stop_at_eos;
    if (p->n_stop > 0) {
        if (!(g->stop = calloc((size_t)p->n_stop, sizeof *g->stop)))
            goto oom;
        for (int i = 0; i < p->n_stop; i++) {
            if (!p->stop[i][0])
                continue; /* an empty stop string would match everywhere: ignored */
            if (!(g->stop[g->n_stop] = strdup(p->stop[i])))
                goto oom;
            g->n_stop++;
        }
    }
    if (!(g->sampler = smp_new(tok_vocab_size(t), p->temperature, p->top_p, p->seed)))
        goto oom;
    g->token = g->prompt[0];
    g->status = INF_GEN_RUNNING;
    return g;
oom:
    inf_errf(err, errlen, "out of memory for a request");
    inf_gen_free(g);
    return NULL;
}

void inf_gen_free(inf_gen *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_stop; i++)
        free(g->stop[i]);
    free(g->stop);
    smp_free(g->sampler);
    free(g->prompt);
    free(g->held);
    free(g->out);
    free(g);
}

int inf_gen_feed(inf_gen *g, int *tokens, int cap)
{
    if (g->status != INF_GEN_RUNNING || cap < 1)
        return 0;
    int n = 1;
    if (g->pos < g->n_prompt) {
        /* Prompt tokens up to the last one, whose logits give the first sampled token. */
        n = g->n_prompt - g->pos;
        if (n > g->max_pos - g->pos)
            n = g->max_pos - g->pos;
        if (n > cap)
            n = cap;
        memcpy(tokens, g->prompt + g->pos, (size_t)n * sizeof *tokens);
    } else {
        tokens[0] = g->token;
    }
    g->fed = n;
    return n;
}

/* Appends LEN bytes to a growing buffer; -1 when out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = *cap ? *cap : 64;
        while (want < *len + n + 1)
            want *= 2;
        char *p = realloc(*buf, want);
        if (!p)
            return -1;
        *buf = p;
        *cap = want;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Moves held text to the output, except a tail that may still grow into a stop string.
 * Returns 1 when a stop string matched (the text from it on is dropped). */
static int release_held(inf_gen *g, int final)
{
    size_t keep = 0, cut = g->held_len;
    int stopped = 0;
    for (int i = 0; i < g->n_stop; i++) {
        const char *hit = memmem(g->held, g->held_len, g->stop[i], strlen(g->stop[i]));
        if (hit && (size_t)(hit - g->held) < cut) {
            cut = (size_t)(hit - g->held);
            stopped = 1;
        }
    }
    if (!stopped && !final)
        for (int i = 0; i < g->n_stop; i++) {
            size_t sl = strlen(g->stop[i]);
            /* Longest proper prefix of the stop string that ends the held text. */
            for (size_t k = sl - 1; k > keep; k--)
                if (k <= g->held_len && !memcmp(g->held + g->held_len - k, g->stop[i], k)) {
                    keep = k;
                    break;
                }
        }
    size_t emit = stopped ? cut : g->held_len - keep;
    if (append(&g->out, &g->out_len, &g->out_cap, g->held, emit))
        return -1;
    if (stopped) {
        g->held_len = 0;
    } else {
        memmove(g->held, g->held + emit, keep);
        g->held_len = keep;
    }
    return stopped;
}

static int emit_piece(inf_gen *g, const char *piece, int forced)
{
    if (!tok_piece_is_printable(piece))
        return 0;
    if (forced)
        return g->echo ? append(&g->out, &g->out_len, &g->out_cap, piece, strlen(piece)) : 0;
    if (!g->n_stop)
        return append(&g->out, &g->out_len, &g->out_cap, piece, strlen(piece));
    if (append(&g->held, &g->held_len, &g->held_cap, piece, strlen(piece)))
        return -1;
    return release_held(g, 0);
}

int inf_gen_advance(inf_gen *g, float *logits, const char **text, size_t *len)
{
    g->out_len = 0;
    if (g->out)
        g->out[0] = '\0';
    for (int j = 0; j < g->fed && g->status == INF_GEN_RUNNING; j++) {
        int at = g->pos; /* position of the token just fed */
        int forced = at < g->n_prompt - 1;
        int next = forced ? g->prompt[at + 1] : smp_sample(g->sampler, logits);
        g->pos++;
        if (!forced)
            g->generated++;
        if (next == TOK_BOS || (g->stop_at_eos && next == TOK_EOS)) {
            g->status = INF_GEN_STOP;
            break;
        }
        int r = emit_piece(g, tok_decode(g->tok, g->token, next), forced);
        g->token = next;
        if (r == 1)
            g->status = INF_GEN_STOP;
        else if (g->pos >= g->max_pos || (g->max_new && g->generated >= g->max_new))
            g->status = INF_GEN_LENGTH;
    }
    g->fed = 0;
    if (g->status != INF_GEN_RUNNING && g->held_len)
        release_held(g, 1);
    *text = g->out ? g->out : "";
    *len = g->out_len;
    return g->status;
}

int inf_gen_prompt_tokens(const inf_gen *g) { return g->n_prompt; }
int inf_gen_generated_tokens(const inf_gen *g) { return g->generated; }
int inf_gen_pos(const inf_gen *g) { return g->pos; }
