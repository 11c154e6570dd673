/* matrix.c: pairwise matrices (see matrix.h). */
#include "matrix.h"

#include <math.h>

void mx_battle_counts(const rt_data *d, double *out)
{
    size_t n = d->n_models;
    for (size_t i = 0; i < n * n; i++) out[i] = i % (n + 1) ? 0 : NAN;
    for (size_t t = 0; t < d->n_triples; t++) {
        const rt_triple *tr = &d->triples[t];
        out[tr->a * n + tr->b] += (double)tr->count;
        out[tr->b * n + tr->a] += (double)tr->count;
    }
}

void mx_win_fraction(const rt_data *d, double *out)
{
    size_t n = d->n_models;
    for (size_t i = 0; i < n * n; i++) out[i] = NAN;
    /* Triples are sorted by pair: each run of equal (a, b) is one pair's battles. */
    for (size_t t = 0; t < d->n_triples;) {
        uint32_t a = d->triples[t].a, b = d->triples[t].b;
        double total = 0, a_wins = 0, b_wins = 0;
        for (; t < d->n_triples && d->triples[t].a == a && d->triples[t].b == b; t++) {
            double c = (double)d->triples[t].count;
            total += c;
            if (d->triples[t].outcome == RT_WIN_A) a_wins += c;
            else if (d->triples[t].outcome == RT_WIN_B) b_wins += c;
        }
        out[a * n + b] = a_wins / total;
        out[b * n + a] = b_wins / total;
    }
}

void mx_predicted_win(size_t n, const double *rating, double scale, double base, double *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            out[i * n + j] = i == j ? NAN : 1 / (1 + pow(base, (rating[j] - rating[i]) / scale));
}
