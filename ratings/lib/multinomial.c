/* multinomial.c: exact multinomial draws through shared Poisson alias tables (see
 * multinomial.h). */
#include "multinomial.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Alias-table entries over all distinct counts (16 bytes each); past it, gsl_ran_poisson. */
#define TABLE_BUDGET (1u << 21)

/* Poisson(mu) mass outside [mu - 10 sqrt(mu) - 25, mu + 10 sqrt(mu) + 25] is below 1e-20
 * for every mu (Chernoff bounds). */
static void poisson_range(double mu, double *lo, double *hi)
{
    double spread = 10 * sqrt(mu) + 25;
    *lo = fmax(0, floor(mu - spread));
    *hi = ceil(mu + spread);
}

static int by_count(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static int kind_by_count(const void *key, const void *kind)
{
    uint64_t a = *(const uint64_t *)key, b = ((const mn_poisson *)kind)->count;
    return (a > b) - (a < b);
}

/* The kinds of d (one per distinct count, ascending) with their tables, while the budget
 * lasts. -1 when out of memory. */
static int build_kinds(mn_dist *d, const uint64_t *counts, double lambda)
{
    uint64_t *sorted = malloc((d->k + 1) * sizeof *sorted);
    double *pmf = NULL;
    size_t pmf_cap = 0, used = 0;
    int rc = -1;
    if (!sorted) return -1;
    memcpy(sorted, counts, d->k * sizeof *sorted);
    qsort(sorted, d->k, sizeof *sorted, by_count);
    for (size_t t = 0; t < d->k; t++)
        if (!t || sorted[t] != sorted[t - 1]) sorted[d->n_kinds++] = sorted[t];
    if (!(d->kinds = calloc(d->n_kinds, sizeof *d->kinds))) goto done;
    for (size_t x = 0; x < d->n_kinds; x++) {
        mn_poisson *q = &d->kinds[x];
        double lo, hi;
        q->count = sorted[x];
        q->mu = lambda * (double)q->count / d->n;
        poisson_range(q->mu, &lo, &hi);
        if (q->mu == 0) hi = 0;              /* always 0 (and GSL's pdf is NaN there) */
        size_t size = (size_t)(hi - lo) + 1;
        if (used + size > TABLE_BUDGET) continue;
        if (size > pmf_cap) {
            free(pmf);
            if (!(pmf = malloc((pmf_cap = 2 * size) * sizeof *pmf))) goto done;
        }
        for (size_t v = 0; v < size; v++) pmf[v] = q->mu == 0 ? 1 : gsl_ran_poisson_pdf((unsigned)(lo + v), q->mu);
        q->offset = (unsigned)lo;
        if (!(q->table = gsl_ran_discrete_preproc(size, pmf))) goto done;
        used += size;
    }
    rc = 0;
done:
    free(sorted);
    free(pmf);
    return rc;
}

int mn_dist_init(mn_dist *d, const uint64_t *counts, size_t k)
{
    memset(d, 0, sizeof *d);
    uint64_t n = 0;
    for (size_t t = 0; t < k; t++) {
        n += counts[t];
        if (n > UINT_MAX) return -1;
    }
    if (!n) return -1;
    d->k = k;
    d->n = (unsigned)n;
    double *p = malloc((k + 1) * sizeof *p);
    d->kind = malloc((k + 1) * sizeof *d->kind);
    if (!p || !d->kind) goto err;
    for (size_t t = 0; t < k; t++) p[t] = (double)counts[t];
    if (!(d->trial = gsl_ran_discrete_preproc(k, p))) goto err;
    /* S ~ Poisson(lambda) exceeds n with probability about 1/700 */
    if (build_kinds(d, counts, fmax(0, (double)n - 3 * sqrt((double)n))) < 0) goto err;
    for (size_t t = 0; t < k; t++) {
        const mn_poisson *q = bsearch(&counts[t], d->kinds, d->n_kinds, sizeof *d->kinds, kind_by_count);
        d->kind[t] = (uint32_t)(q - d->kinds);
    }
    free(p);
    return 0;
err:
    free(p);
    mn_dist_free(d);
    return -1;
}

void mn_dist_free(mn_dist *d)
{
    for (size_t x = 0; d->kinds && x < d->n_kinds; x++)
        if (d->kinds[x].table) gsl_ran_discrete_free(d->kinds[x].table);
    free(d->kinds);
    free(d->kind);
    if (d->trial) gsl_ran_discrete_free(d->trial);
    memset(d, 0, sizeof *d);
}

void mn_draw(const mn_dist *d, const gsl_rng *r, unsigned *out)
{
    uint64_t sum;
    do {
        sum = 0;
        for (size_t t = 0; t < d->k; t++) {
            const mn_poisson *q = &d->kinds[d->kind[t]];
            out[t] = q->table ? q->offset + (unsigned)gsl_ran_discrete(r, q->table) : gsl_ran_poisson(r, q->mu);
            sum += out[t];
        }
    } while (sum > d->n);
    for (uint64_t left = d->n - sum; left; left--) out[gsl_ran_discrete(r, d->trial)]++;
}
