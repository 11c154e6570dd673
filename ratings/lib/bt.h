/* bt.h: Bradley-Terry maximum likelihood, FastChat's objective solved exactly.
 *
 * Each decisive battle is one win; a tie (either kind) is half a win for each side.
 * P(a beats b) = 1 / (1 + base^((theta_b - theta_a))), rating = scale * theta + init.
 * The fit works on the pair counts of an rt_data (not on battle rows): Newton steps on
 * the exact Hessian (GSL Cholesky) with backtracking, until max |gradient| <= tol.
 *
 * Each connected component of the comparison graph is fitted on its own and centred at
 * mean rating `init`; the offset between components is not identified by the data, so
 * several components produce a warning naming the groups. When the MLE of a component
 * does not exist (some group of models never loses, or never wins, against the rest of
 * its component) that component is fitted with a small L2 pull toward its mean
 * (opts.l2), which keeps every rating finite, and a warning names the models involved.
 * An anchor (anchor_model = anchor_value) then shifts the anchor's component so the
 * anchor model gets exactly that value; other components are not moved.
 *
 * Ownership: bt_fit fills a caller-provided bt_result whose arrays and strings it
 * allocates; bt_result_free releases them (safe on a zeroed or failed result). */
#ifndef ARENA_BT_H
#define ARENA_BT_H

#include <stddef.h>
#include "battles.h"

typedef struct bt_opts {
    double scale, base, init;   /* 400, 10, 1000 */
    double tol;                 /* stop when max |gradient of the NLL| <= tol; 1e-10 */
    int    max_iter;            /* Newton iterations per component; 100 */
    double l2;                  /* pull used only where the MLE does not exist; 1e-2
                                   (in natural-log-odds units per model) */
    const char *anchor_model;   /* NULL = no anchor; an absent model is not an error but a
                                   warning ("anchor X not present") */
    double anchor_value;
} bt_opts;

void bt_opts_default(bt_opts *o);

typedef struct bt_result {
    size_t  n_models;           /* == d->n_models */
    double *rating;             /* [n_models], Elo scale */
    int    *rank;               /* [n_models] 1 + number of models with a higher rating */
    size_t  n_warnings;
    char  **warnings;           /* [n_warnings] human-readable sentences, no newline */
    int     iterations;         /* Newton iterations, summed over components */
    double  max_grad;           /* final max |gradient| over all components */
    int     regularised;        /* number of components fitted with the L2 pull */
} bt_result;

/* 0, or -1 with err set: fewer than two models / no battles, no memory, a failed
 * factorisation. On error *out is left zeroed (nothing to free, freeing is harmless). */
int bt_fit(const rt_data *d, const bt_opts *o, bt_result *out, char *err, size_t errlen);
void bt_result_free(bt_result *r);

/* Plain competition rank: rank[i] = 1 + number of j with rating[j] > rating[i]. */
void bt_rank(size_t n, const double *rating, int *rank);

#endif
