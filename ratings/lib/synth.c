/* synth.c: synthetic arena battles from known Bradley-Terry strengths.
 *
 * One mt19937 stream seeded with the seed draws, in order: the true ratings, each model's
 * popularity, then per vote the pair, the outcome and the metadata. Records are formatted
 * by hand into a block buffer (printf per field would dominate the run time). */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define SYNTH_MAX_MODELS 100000
#define SYNTH_NAME_MAX 16           /* "model-100000" and its NUL fit */
#define SYNTH_RATING_SD 130.0
#define SYNTH_POPULARITY_SIGMA 0.6  /* log-normal spread of how often a model is drawn */
#define SYNTH_T0 17000000000000LL   /* 2023-11-14, in 1e-4 s */
#define SYNTH_MEAN_GAP 20000.0      /* mean time between votes, 1e-4 s */
#define SYNTH_JUDGES 5000
#define SYNTH_RECORD_MAX 512        /* bytes one formatted record can take, with margin */

static int synth_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes "synth: <message>" into err; returns -1. */
static int synth_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen < 8)
        return -1;
    strcpy(err, "synth: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + 7, errlen - 7, fmt, ap);
    va_end(ap);
    return -1;
}

static int synth_check(const synth_options *o, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!o)
        why = "no options";
    else if (o->models < 2 || o->models > SYNTH_MAX_MODELS)
        why = "models must be between 2 and 100000";
    else if (o->votes < 0)
        why = "votes must not be negative";
    else if (!(o->ties >= 0 && o->ties <= 1))
        why = "ties must be a probability in [0, 1]";
    else if (o->format != RD_FORMAT_AUTO && o->format != RD_FORMAT_JSON && o->format != RD_FORMAT_JSONL &&
             o->format != RD_FORMAT_CSV)
        why = "unknown format";
    return why ? synth_fail(err, errlen, "%s", why) : 0;
}

static gsl_rng *synth_rng(const synth_options *o, char *err, size_t errlen)
{
    gsl_set_error_handler_off();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) {
        synth_fail(err, errlen, "out of memory");
        return NULL;
    }
    gsl_rng_set(r, o->seed);
    return r;
}

/* Normal draws, then shifted so that the mean is exactly 1000. */
static void draw_ratings(gsl_rng *r, int models, double *rating)
{
    double sum = 0;
    for (int i = 0; i < models; i++) {
        rating[i] = 1000 + gsl_ran_gaussian(r, SYNTH_RATING_SD);
        sum += rating[i];
    }
    double shift = 1000 - sum / models;
    for (int i = 0; i < models; i++)
        rating[i] += shift;
}

int synth_true_ratings(const synth_options *o, double *true_rating, char *err, size_t errlen)
{
    if (synth_check(o, err, errlen) < 0)
        return -1;
    gsl_rng *r = synth_rng(o, err, errlen);
    if (!r)
        return -1;
    draw_ratings(r, o->models, true_rating);
    gsl_rng_free(r);
    return 0;
}

/* ---- output -------------------------------------------------------------------------- */

typedef struct out_buf {
    FILE *f;
    size_t n;
    int failed;
    char b[1 << 16];
} out_buf;

static void out_flush(out_buf *o)
{
    if (o->n && !o->failed && fwrite(o->b, 1, o->n, o->f) != o->n)
        o->failed = 1;
    o->n = 0;
}

/* Makes room for one record; after this the put_* calls need no bound checks. */
static void out_reserve(out_buf *o)
{
    if (o->n + SYNTH_RECORD_MAX > sizeof o->b)
        out_flush(o);
}

static void put(out_buf *o, const char *s, size_t n)
{
    memcpy(o->b + o->n, s, n);
    o->n += n;
}

#define PUT_LIT(o, s) put((o), (s), sizeof(s) - 1)

/* Decimal digits of v, at least `width` of them (zero-padded). */
static void put_uint(out_buf *o, unsigned long long v, int width)
{
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || k < width);
    while (k)
        o->b[o->n++] = d[--k];
}

static void put_hex64(out_buf *o, unsigned long long v)
{
    static const char hex[] = "0123456789abcdef";
    for (int s = 60; s >= 0; s -= 4)
        o->b[o->n++] = hex[(v >> s) & 15];
}

/* splitmix64: question ids from the vote number, without spending the main stream. */
static unsigned long long mix64(unsigned long long x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* ---- votes --------------------------------------------------------------------------- */

typedef struct vote {
    int a, b;
    rd_winner winner;
    long long tick;         /* tstamp in 1e-4 s */
    int judge, turn, anony, language;
    unsigned long long qid_hi, qid_lo;
} vote;

static const char *const languages[] = {"English", "Chinese", "Russian", "German", "Spanish", "French", "Japanese"};
static const double language_weights[] = {70, 10, 6, 4, 4, 3, 3};

typedef struct synth_state {
    gsl_rng *rng;
    gsl_ran_discrete_t *popularity, *language;
    double *rating;
    char (*name)[SYNTH_NAME_MAX];
    size_t *name_len;
    long long tick;
} synth_state;

static void draw_vote(synth_state *s, const synth_options *o, long i, vote *v)
{
    gsl_rng *r = s->rng;
    v->a = (int)gsl_ran_discrete(r, s->popularity);
    do
        v->b = (int)gsl_ran_discrete(r, s->popularity);
    while (v->b == v->a);
    if (gsl_rng_uniform(r) < o->ties) {
        v->winner = gsl_rng_uniform(r) < 0.5 ? RD_TIE : RD_TIE_BOTHBAD;
    } else {
        double p_a = 1 / (1 + pow(10, (s->rating[v->b] - s->rating[v->a]) / 400));
        v->winner = gsl_rng_uniform(r) < p_a ? RD_WIN_A : RD_WIN_B;
    }
    s->tick += 1 + (long long)gsl_ran_exponential(r, SYNTH_MEAN_GAP);   /* strictly increasing */
    v->tick = s->tick;
    v->judge = (int)gsl_rng_uniform_int(r, SYNTH_JUDGES);
    double u = gsl_rng_uniform(r);
    v->turn = u < 0.8 ? 1 : u < 0.95 ? 2 : 3;
    v->anony = gsl_rng_uniform(r) < 0.8;
    v->language = (int)gsl_ran_discrete(r, s->language);
    v->qid_hi = mix64(o->seed * 0x100000001b3ULL + (unsigned long long)i);
    v->qid_lo = mix64(v->qid_hi);
}

static void put_winner(out_buf *o, rd_winner w)
{
    const char *s = rd_winner_name(w);
    put(o, s, strlen(s));
}

static void put_tstamp(out_buf *o, long long tick)
{
    put_uint(o, (unsigned long long)(tick / 10000), 1);
    o->b[o->n++] = '.';
    put_uint(o, (unsigned long long)(tick % 10000), 4);
}

static void put_json_vote(out_buf *o, const synth_state *s, const vote *v)
{
    PUT_LIT(o, "{\"question_id\":\"");
    put_hex64(o, v->qid_hi);
    put_hex64(o, v->qid_lo);
    PUT_LIT(o, "\",\"model_a\":\"");
    put(o, s->name[v->a], s->name_len[v->a]);
    PUT_LIT(o, "\",\"model_b\":\"");
    put(o, s->name[v->b], s->name_len[v->b]);
    PUT_LIT(o, "\",\"winner\":\"");
    put_winner(o, v->winner);
    PUT_LIT(o, "\",\"judge\":\"arena_user_");
    put_uint(o, (unsigned long long)v->judge, 1);
    PUT_LIT(o, "\",\"turn\":");
    put_uint(o, (unsigned long long)v->turn, 1);
    if (v->anony)
        PUT_LIT(o, ",\"anony\":true,\"language\":\"");
    else
        PUT_LIT(o, ",\"anony\":false,\"language\":\"");
    put(o, languages[v->language], strlen(languages[v->language]));
    PUT_LIT(o, "\",\"tstamp\":");
    put_tstamp(o, v->tick);
    o->b[o->n++] = '}';
}

static void put_csv_vote(out_buf *o, const synth_state *s, const vote *v)
{
    put(o, s->name[v->a], s->name_len[v->a]);
    o->b[o->n++] = ',';
    put(o, s->name[v->b], s->name_len[v->b]);
    o->b[o->n++] = ',';
    put_winner(o, v->winner);
    o->b[o->n++] = ',';
    put_tstamp(o, v->tick);
    o->b[o->n++] = '\n';
}

static int state_init(synth_state *s, const synth_options *o, char *err, size_t errlen)
{
    int m = o->models;
    if (!(s->rng = synth_rng(o, err, errlen)))
        return -1;
    double *weight = malloc((size_t)m * sizeof *weight);
    s->rating = malloc((size_t)m * sizeof *s->rating);
    s->name = malloc((size_t)m * sizeof *s->name);
    s->name_len = malloc((size_t)m * sizeof *s->name_len);
    if (!weight || !s->rating || !s->name || !s->name_len)
        goto err;
    draw_ratings(s->rng, m, s->rating);
    for (int i = 0; i < m; i++) {
        weight[i] = exp(gsl_ran_gaussian(s->rng, SYNTH_POPULARITY_SIGMA));
        s->name_len[i] = (size_t)snprintf(s->name[i], SYNTH_NAME_MAX, "model-%03d", i + 1);
    }
    s->popularity = gsl_ran_discrete_preproc((size_t)m, weight);
    s->language = gsl_ran_discrete_preproc(sizeof language_weights / sizeof language_weights[0], language_weights);
    if (!s->popularity || !s->language)
        goto err;
    free(weight);
    s->tick = SYNTH_T0;
    return 0;
err:
    free(weight);
    return synth_fail(err, errlen, "out of memory");
}

static void state_free(synth_state *s)
{
    if (s->popularity)
        gsl_ran_discrete_free(s->popularity);
    if (s->language)
        gsl_ran_discrete_free(s->language);
    if (s->rng)
        gsl_rng_free(s->rng);
    free(s->rating);
    free(s->name);
    free(s->name_len);
}

int synth_write(FILE *out, const synth_options *o, char *err, size_t errlen)
{
    if (synth_check(o, err, errlen) < 0)
        return -1;
    synth_state s = {0};
    out_buf *ob = NULL;
    if (state_init(&s, o, err, errlen) < 0)
        goto err;
    if (!(ob = malloc(sizeof *ob))) {
        synth_fail(err, errlen, "out of memory");
        goto err;
    }
    ob->f = out;
    ob->n = 0;
    ob->failed = 0;

    rd_format f = o->format == RD_FORMAT_AUTO ? RD_FORMAT_JSON : o->format;
    if (f == RD_FORMAT_JSON)
        PUT_LIT(ob, "[\n");
    else if (f == RD_FORMAT_CSV)
        PUT_LIT(ob, "model_a,model_b,winner,tstamp\n");
    for (long i = 0; i < o->votes && !ob->failed; i++) {
        vote v;
        draw_vote(&s, o, i, &v);
        out_reserve(ob);
        if (f == RD_FORMAT_CSV) {
            put_csv_vote(ob, &s, &v);
            continue;
        }
        put_json_vote(ob, &s, &v);
        if (f == RD_FORMAT_JSON && i + 1 < o->votes)
            ob->b[ob->n++] = ',';
        ob->b[ob->n++] = '\n';
    }
    out_reserve(ob);
    if (f == RD_FORMAT_JSON)
        PUT_LIT(ob, "]\n");
    out_flush(ob);
    if (ob->failed || fflush(out) != 0) {
        synth_fail(err, errlen, "write error: %s", strerror(errno));
        goto err;
    }
    free(ob);
    state_free(&s);
    return 0;
err:
    free(ob);
    state_free(&s);
    return -1;
}
