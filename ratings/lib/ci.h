/* ci.h: confidence intervals for ratings (bootstrap, sandwich) and rank upper bounds.
 *
 * BT bootstrap (FastChat's get_bootstrap_result, on pair counts): each round draws a
 * multinomial resample of the triples' counts (n = n_battles, p = count / n_battles; an
 * exact sampler faster than gsl_ran_multinomial, see multinomial.h), refits BT warm-started
 * from the point estimate (same centring, regularisation and anchor as bt_fit): chord steps
 * with the point's Newton factor until a step is below 1e-6 log-odds (1.7e-4 rating
 * points), exact Newton steps where those do not contract or the round has no MLE, and
 * keeps the ratings. Elo bootstrap: each round draws n_seq battles with replacement
 * from the sequence and replays them in the order drawn (pandas sample(frac=1,
 * replace=True)). Bounds are the 2.5 % / 50 % / 97.5 % quantiles over rounds, linear
 * interpolation (numpy's default).
 *
 * Determinism: round r uses its own gsl_rng (mt19937) seeded with a mix of (seed, r)
 * (not seed + r: neighbouring seeds would share almost every round), and every
 * round starts from the same point estimate, so the result is identical for any number
 * of threads. The rt_data is only read: any number of bootstraps may run on one snapshot
 * concurrently (a live board runs them in a background thread on a snapshot it owns).
 *
 * Sandwich: the robust covariance H^-1 G H^-1 of the BT fit (H: Hessian of the negative
 * log-likelihood at the MLE, G: sum over battles of the outer products of the per-battle
 * scores), per component under the centring constraint; interval = rating +- 1.96 sd.
 *
 * Ownership: ci_* functions fill a caller-provided ci_result whose arrays they allocate;
 * ci_result_free releases them (safe on a zeroed or failed result). */
#ifndef ARENA_CI_H
#define ARENA_CI_H

#include <stddef.h>
#include "battles.h"
#include "bt.h"
#include "elo.h"

typedef struct ci_opts {
    int rounds;              /* 1000 for BT, 100 for Elo (FastChat's defaults) */
    unsigned long seed;      /* 42 */
    int threads;             /* 0 = every online core */
    /* Called from the caller's thread after each finished batch of rounds (may be NULL):
     * done of total. Return nonzero to cancel (the function then fails with "cancelled"). */
    int (*progress)(void *ud, int done, int total);
    void *progress_ud;
} ci_opts;

/* rounds = 1000 (pass 100 for Elo), seed 42, threads 0, no progress. */
void ci_opts_default(ci_opts *o);

typedef struct ci_result {
    size_t  n_models;
    double *lower, *median, *upper;  /* [n_models]; sandwich: median = the point rating */
    double *sd;                      /* [n_models] sd over rounds (bootstrap) or analytic (sandwich) */
    int     rounds;                  /* rounds run (0 for the sandwich) */
    int     regularised_rounds;      /* bootstrap rounds where some component had no MLE and
                                        took the L2 pull (their outer bounds mean little) */
} ci_result;

/* point: the bt_fit result of the same d and bo. 0, or -1 with err set. */
int ci_bt_bootstrap(const rt_data *d, const bt_opts *bo, const bt_result *point,
                    const ci_opts *co, ci_result *out, char *err, size_t errlen);

/* Needs d->seq. 0, or -1 with err set. */
int ci_elo_bootstrap(const rt_data *d, const elo_opts *eo, const ci_opts *co, ci_result *out,
                     char *err, size_t errlen);

/* point: the bt_fit result of the same d and bo. 0, or -1 with err set. */
int ci_bt_sandwich(const rt_data *d, const bt_opts *bo, const bt_result *point, ci_result *out,
                   char *err, size_t errlen);

void ci_result_free(ci_result *r);

/* rank_ub[i] = 1 + number of models j with lower[j] > upper[i] (over all n models). */
void ci_rank_ub(size_t n, const double *lower, const double *upper, int *rank_ub);

#endif
