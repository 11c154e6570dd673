/* elo.c: online Elo (see elo.h). */
#include "elo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void elo_opts_default(elo_opts *o)
{
    *o = (elo_opts){ .k = 4, .scale = 400, .base = 10, .init = 1000 };
}

/* The FastChat update with c = ln(base) / scale, so base^x is exp(c x). */
static inline void update(double c, double k, double *ra, double *rb, rt_outcome outcome)
{
    double ea = 1 / (1 + exp(c * (*rb - *ra)));
    double sa = outcome == RT_WIN_A ? 1 : outcome == RT_WIN_B ? 0 : 0.5;
    *ra += k * (sa - ea);
    *rb += k * ((1 - sa) - (1 - ea));
}

void elo_update(const elo_opts *o, double *ra, double *rb, rt_outcome outcome)
{
    update(log(o->base) / o->scale, o->k, ra, rb, outcome);
}

#define ELO_PREFETCH 16

void elo_replay(const elo_opts *o, const rt_seq *seq, const size_t *order, size_t n,
                size_t n_models, double *ratings)
{
    double c = log(o->base) / o->scale;
    for (size_t i = 0; i < n_models; i++) ratings[i] = o->init;
    for (size_t i = 0; i < n; i++) {
        /* A resample jumps around the sequence: fetch a few battles ahead. */
        if (order && i + ELO_PREFETCH < n) __builtin_prefetch(&seq[order[i + ELO_PREFETCH]]);
        const rt_seq *s = &seq[order ? order[i] : i];
        update(c, o->k, &ratings[s->a], &ratings[s->b], (rt_outcome)s->outcome);
    }
}

int elo_fit(const rt_data *d, const elo_opts *o, double *ratings, char *err, size_t errlen)
{
    elo_opts def;
    if (!o) elo_opts_default(&def), o = &def;
    if (d->n_models < 2 || !d->n_battles) {
        snprintf(err, errlen, "Elo needs battles between at least two models (have %zu models, %llu battles)",
                 d->n_models, (unsigned long long)d->n_battles);
        return -1;
    }
    if (!d->seq) {
        snprintf(err, errlen, "Elo needs the battle sequence (snapshot taken without keep_sequence)");
        return -1;
    }
    elo_replay(o, d->seq, NULL, d->n_seq, d->n_models, ratings);
    return 0;
}

/* ---- live ---- */

struct elo_live {
    elo_opts o;
    double c;                   /* ln(base) / scale, as elo_replay computes it */
    double *rating;             /* by accumulator index */
    long *slot;                 /* accumulator index -> snapshot index, -1 when dropped */
    size_t n_names, cap;        /* accumulator names the state knows */
    size_t applied;             /* sequence entries applied (or skipped as dropped) */
    double last_t;              /* the latest tstamp applied */
    int any_nan;                /* a kept battle without tstamp was applied */
    int in_order;               /* the applied tstamps never went back */
    int valid;
};

elo_live *elo_live_new(const elo_opts *o)
{
    elo_live *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    if (o) e->o = *o;
    else elo_opts_default(&e->o);
    e->c = log(e->o.base) / e->o.scale;
    return e;
}

void elo_live_free(elo_live *e)
{
    if (!e) return;
    free(e->rating);
    free(e->slot);
    free(e);
}

/* The snapshot's index of each of the n accumulator names (d keeps the accumulator's
 * order among the models it keeps) into e->slot; 1 when the kept models changed. */
static int map_models(elo_live *e, const rt_battles *acc, const rt_data *d, size_t n)
{
    int changed = n < e->n_names;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        long slot = j < d->n_models && strcmp(rt_name(acc, i), d->names[j]) == 0 ? (long)j++ : -1;
        if (i < e->n_names ? slot != e->slot[i] : slot >= 0) changed = 1;
        e->slot[i] = slot;
    }
    return changed;
}

static int replay_sorted(const rt_battles *acc, const elo_opts *o, double *ratings, char *err, size_t errlen)
{
    rt_data *full = rt_snapshot(acc, err, errlen);
    int rc = full ? elo_fit(full, o, ratings, err, errlen) : -1;
    rt_data_free(full);
    return rc;
}

int elo_live_fit(elo_live *e, const rt_battles *acc, const rt_data *d, double *ratings, char *err, size_t errlen)
{
    size_t n_seq, n = rt_n_names(acc);
    const rt_seq *seq = rt_sequence(acc, &n_seq);
    if (d->n_models < 2 || !d->n_battles) return elo_fit(d, &e->o, ratings, err, errlen);
    if (!seq) {
        snprintf(err, errlen, "Elo needs the battle sequence (accumulator without keep_sequence)");
        return -1;
    }
    if (n > e->cap) {
        double *r = realloc(e->rating, n * sizeof *r);
        if (r) e->rating = r;
        long *sl = r ? realloc(e->slot, n * sizeof *sl) : NULL;
        if (sl) e->slot = sl;
        if (!r || !sl) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        e->cap = n;
    }
    if (map_models(e, acc, d, n) || !e->valid || n_seq < e->applied) {
        for (size_t i = 0; i < n; i++) e->rating[i] = e->o.init;
        e->applied = 0;
        e->last_t = -INFINITY;
        e->any_nan = 0;
        e->in_order = 1;
        e->valid = 1;
    }
    for (size_t i = e->n_names; i < n; i++) e->rating[i] = e->o.init;
    e->n_names = n;

    /* The snapshot sorts by tstamp unless a kept battle lacks one: while the arrival order
     * is that order, the new battles extend it. */
    for (; e->applied < n_seq; e->applied++) {
        const rt_seq *s = &seq[e->applied];
        if (e->slot[s->a] < 0 || e->slot[s->b] < 0) continue;
        if (isnan(s->tstamp)) e->any_nan = 1;
        else if (s->tstamp < e->last_t) e->in_order = 0;
        else e->last_t = s->tstamp;
        update(e->c, e->o.k, &e->rating[s->a], &e->rating[s->b], (rt_outcome)s->outcome);
    }
    if (!e->any_nan && !e->in_order) {
        /* The order the snapshot sorts into is not the arrival order: the ratings come from
         * a sorted replay, and the next call starts again from the first battle. */
        e->valid = 0;
        return replay_sorted(acc, &e->o, ratings, err, errlen);
    }
    for (size_t i = 0; i < n; i++)
        if (e->slot[i] >= 0) ratings[e->slot[i]] = e->rating[i];
    return 0;
}
