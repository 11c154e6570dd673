/* elo.c: online Elo (see elo.h). */
#include "elo.h"

#include <math.h>
#include <stdio.h>

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
