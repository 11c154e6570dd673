/* bt_solve.h: the Bradley-Terry solver shared by bt.c and ci.c. Internal to the library
 * (not installed, not for programs): bt.h is the public interface.
 *
 * Parameters are eta = ln(base) * theta (natural log-odds). For a pair (i, j), i < j, with
 * s = wins of i (a tie is half a win) out of n battles, the negative log-likelihood is
 *   s * softplus(eta_j - eta_i) + (n - s) * softplus(eta_i - eta_j),
 * plus (l2 / 2) * sum eta^2 over a component where the MLE does not exist.
 * Newton matrices are H + l2 I + alpha 1 1^T per component: H 1 = 0, so the alpha term
 * removes the all-ones null direction without changing steps orthogonal to it (the
 * gradient always is), which keeps eta centred. */
#ifndef ARENA_BT_SOLVE_H
#define ARENA_BT_SOLVE_H

#include <gsl/gsl_matrix.h>
#include <stddef.h>
#include <stdint.h>
#include "battles.h"
#include "bt.h"

/* Structure of a snapshot: pairs, components, adjacency. Built once, read-only after;
 * it points into the snapshot, which must outlive it. */
typedef struct bts_problem {
    size_t    k, n_pairs, n_triples;
    uint32_t *pair_i, *pair_j;      /* [n_pairs] */
    uint32_t *triple_pair;          /* [n_triples] pair of each triple */
    size_t    n_comp;
    const uint32_t *comp;           /* [k] the snapshot's component of each model */
    size_t   *comp_start;           /* [n_comp + 1] into members */
    uint32_t *members;              /* models grouped by component, ascending */
    uint32_t *local;                /* [k] position of a model within its component */
    size_t   *comp_pair_start;      /* [n_comp + 1] into comp_pairs */
    uint32_t *comp_pairs;           /* pair indices grouped by component */
    size_t   *adj_start;            /* [k + 1] into adj */
    uint32_t *adj;                  /* pairs touching each model */
    size_t    max_members;          /* size of the largest component */
} bts_problem;

/* Per-thread scratch, sized for the largest component. */
typedef struct bts_work {
    gsl_matrix *m;                  /* Newton matrix / its Cholesky factor */
    gsl_vector *g, *d;
    double     *trial;              /* [k] */
    uint32_t   *stack;              /* [k] */
    unsigned char *seen;            /* [k] */
} bts_work;

/* Turns GSL's abort-on-error handler off, once per process (a global: not written again
 * by every call, so concurrent fits do not race on it). Every status is checked. */
void bts_gsl_quiet(void);

int  bts_problem_init(bts_problem *p, const rt_data *d);
void bts_problem_free(bts_problem *p);
int  bts_work_init(bts_work *w, const bts_problem *p);
void bts_work_free(bts_work *w);

/* s[p], n[p] from per-triple counts (NULL = the snapshot's own counts). */
void bts_pair_counts(const bts_problem *p, const rt_data *d, const unsigned *counts,
                     double *s, double *n);

/* 1 when the MLE of component c exists (its "beats" digraph is strongly connected). */
int bts_mle_exists(const bts_problem *p, size_t c, const double *s, const double *n, bts_work *w);

/* Newton with backtracking on component c, eta[k] in/out (global indices). Stops at
 * max |gradient| <= o->tol, or after a full step of max |step| < step_tol (0: never).
 * step_tol > 0 (warm-started bootstrap rounds) also reuses the Hessian factor once steps
 * are small; step_tol = 0 takes exact Newton steps throughout.
 * 0 converged or stalled at machine precision, -1 factorisation failure. */
int bts_newton(const bts_problem *p, size_t c, const double *s, const double *n, double l2,
               const bt_opts *o, double step_tol, double *eta, bts_work *w, int *iters, double *max_grad);

/* Chord steps (Newton steps with a fixed matrix) on component c from a warm start, for
 * counts whose MLE exists (no L2 pull): eta -= F^-1 g, F a Newton matrix factorised by
 * bts_factor at a nearby point (a bootstrap round uses the point estimate's), until a step
 * of max |step| < step_tol. The error left is then below that step, since each step is
 * at least halved. 0 converged; 1 when steps stop halving (eta is then partly moved:
 * restart it); -1 on a failed solve. */
int bts_chord(const bts_problem *p, size_t c, const double *s, const double *n, const gsl_matrix *factor,
              double step_tol, double *eta, bts_work *w, int *iters);

/* Fills mat (members x members of c) with H + l2 I + alpha 1 1^T at eta, factorised
 * (Cholesky), for the sandwich. -1 when not positive definite. */
int bts_factor(const bts_problem *p, size_t c, const double *s, const double *n, double l2,
               const double *eta, gsl_matrix *mat);

/* eta -> ratings: each component centred at o->init, then the anchor shift (anchor < 0:
 * none). */
void bts_ratings(const bts_problem *p, const bt_opts *o, const double *eta, long anchor,
                 double *rating);

#endif
