/* multinomial.h: repeated multinomial draws for the BT bootstrap. Internal to the
 * library (not installed, not for programs).
 *
 * Method (exact; not gsl_ran_multinomial's conditional binomials, which cost ~100 ns a
 * category): with n trials over categories of probability p_t = count_t / n,
 *   1. draw X_t ~ Poisson(lambda p_t) for every t, independently, lambda = n - 3 sqrt(n);
 *      S = sum X_t is then Poisson(lambda), and given S, X is Multinomial(S, p);
 *   2. when S > n (about 1 draw in 700), start again; otherwise
 *   3. add the n - S remaining trials one at a time (alias table over the categories):
 *      Y ~ Multinomial(n - S, p) given S.
 * Given S = s, X + Y is a sum of independent Multinomial(s, p) and Multinomial(n - s, p),
 * that is Multinomial(n, p) for every s <= n; so the result is Multinomial(n, p), and
 * rejecting S > n does not change it.
 * Step 1 is what makes it fast: lambda is the same for every draw, and categories with
 * equal counts share one Poisson distribution, so each distinct count gets an alias table
 * (built once, over the values whose probability is not negligible: the mass left out is
 * below 1e-20, far under the 2^-32 resolution of a uniform draw) and a Poisson variate
 * costs one uniform. Counts whose tables would pass a memory budget (only very large or
 * very many distinct counts) use gsl_ran_poisson instead.
 *
 * Ownership: mn_dist_init allocates the tables, mn_dist_free releases them. A dist is
 * read-only after init: any number of threads may draw from one, each with its own rng. */
#ifndef ARENA_MULTINOMIAL_H
#define ARENA_MULTINOMIAL_H

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

/* The Poisson law of the categories that share one count. */
typedef struct mn_poisson {
    uint64_t count;
    double   mu;                    /* lambda * count / n */
    unsigned offset;                /* the table draws offset + 0, 1, ... */
    gsl_ran_discrete_t *table;      /* NULL: gsl_ran_poisson(mu) */
} mn_poisson;

typedef struct mn_dist {
    size_t      k;                  /* categories */
    unsigned    n;                  /* trials a draw: the sum of the counts */
    size_t      n_kinds;
    mn_poisson *kinds;              /* [n_kinds] one per distinct count */
    uint32_t   *kind;               /* [k] kinds index of each category */
    gsl_ran_discrete_t *trial;      /* one trial: category t with probability count_t / n */
} mn_dist;

/* The distribution of n = sum(counts) trials with p_t = counts[t] / n (n > 0). 0, or -1
 * when n is 0 or exceeds UINT_MAX, or memory runs out (d is then zeroed). */
int  mn_dist_init(mn_dist *d, const uint64_t *counts, size_t k);
void mn_dist_free(mn_dist *d);

/* One draw: out[k] counts summing to d->n. */
void mn_draw(const mn_dist *d, const gsl_rng *r, unsigned *out);

#endif
