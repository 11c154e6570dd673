/* ci.c: bootstrap and sandwich intervals, rank upper bounds (see ci.h). */
#include "ci.h"
#include "bt_solve.h"
#include "multinomial.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ci_opts_default(ci_opts *o)
{
    *o = (ci_opts){ .rounds = 1000, .seed = 42, .threads = 0 };
}

void ci_result_free(ci_result *r)
{
    if (!r) return;
    free(r->lower);
    free(r->median);
    free(r->upper);
    free(r->sd);
    memset(r, 0, sizeof *r);
}

void ci_rank_ub(size_t n, const double *lower, const double *upper, int *rank_ub)
{
    for (size_t i = 0; i < n; i++) {
        int above = 0;
        for (size_t j = 0; j < n; j++) above += lower[j] > upper[i];
        rank_ub[i] = 1 + above;
    }
}

static int result_alloc(ci_result *r, size_t k)
{
    memset(r, 0, sizeof *r);
    r->n_models = k;
    r->lower = calloc(k, sizeof *r->lower);
    r->median = calloc(k, sizeof *r->median);
    r->upper = calloc(k, sizeof *r->upper);
    r->sd = calloc(k, sizeof *r->sd);
    if (r->lower && r->median && r->upper && r->sd) return 0;
    ci_result_free(r);
    return -1;
}

/* eta of a point estimate: ratings back to log-odds, centred per component. */
static void point_eta(const bts_problem *p, const bt_opts *o, const double *rating, double *eta)
{
    double to_eta = log(o->base) / o->scale;
    for (size_t c = 0; c < p->n_comp; c++) {
        size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first;
        double mean = 0;
        for (size_t x = 0; x < m; x++) mean += rating[p->members[first + x]];
        mean /= (double)m;
        for (size_t x = 0; x < m; x++) {
            uint32_t i = p->members[first + x];
            eta[i] = to_eta * (rating[i] - mean);
        }
    }
}

static int check_point(const rt_data *d, const bt_result *point, char *err, size_t errlen)
{
    if (d->n_models < 2 || !d->n_battles) {
        snprintf(err, errlen, "intervals need battles between at least two models (have %zu models, %llu battles)",
                 d->n_models, (unsigned long long)d->n_battles);
        return -1;
    }
    if (!point || point->n_models != d->n_models || !point->rating) {
        snprintf(err, errlen, "intervals need the bt_fit result of the same snapshot");
        return -1;
    }
    return 0;
}

/* ---- rounds on worker threads ---- */

typedef struct job job;

typedef struct worker {
    job       *job;
    pthread_t  thread;
    gsl_rng   *rng;
    bts_work   work;
    unsigned  *counts;      /* [n_triples] BT resample */
    double    *s, *n, *eta; /* [n_pairs], [n_pairs], [k] */
    size_t    *order;       /* [n_seq] Elo resample */
} worker;

/* One round: writes k ratings into out. 0, or -1 (no memory / failed factorisation). */
typedef int (*round_fn)(worker *w, int round, double *out, int *regularised);

struct job {
    const rt_data     *d;
    const bts_problem *p;
    const bt_opts     *bo;
    const elo_opts    *eo;
    long               anchor;
    const double      *eta0;
    gsl_matrix *const *factor;      /* [n_comp] the point's Newton matrix, factorised; NULL
                                       where the point needed the L2 pull or has one model */
    const mn_dist     *dist;        /* the resample: n_battles trials over the triples */
    unsigned long      seed;
    int                rounds;
    round_fn           round;
    double            *out;         /* [rounds * k] */
    atomic_int         next, regularised;

    pthread_mutex_t    lock;
    pthread_cond_t     cond;
    int                done, stop, failed;
};

static void *worker_main(void *arg)
{
    worker *w = arg;
    job *j = w->job;
    size_t k = j->d->n_models;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        int stop = j->stop;
        pthread_mutex_unlock(&j->lock);
        int r = stop ? j->rounds : atomic_fetch_add(&j->next, 1);
        if (r >= j->rounds) break;
        int regularised = 0;
        int rc = j->round(w, r, j->out + (size_t)r * k, &regularised);
        if (regularised) atomic_fetch_add(&j->regularised, 1);
        pthread_mutex_lock(&j->lock);
        j->done++;
        if (rc < 0) j->failed = j->stop = 1;
        pthread_cond_signal(&j->cond);
        pthread_mutex_unlock(&j->lock);
    }
    return NULL;
}

/* The generator seed of a round. Mixed rather than seed + round, so that runs with
 * neighbouring seeds do not share all but one of their rounds. */
static unsigned long round_seed(unsigned long seed, int round)
{
    uint64_t x = (uint64_t)seed * 0x9e3779b97f4a7c15ULL + (uint64_t)round + 1;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;     /* splitmix64 finaliser */
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (unsigned long)(x ^ (x >> 31));
}

/* A round stops after a full Newton step smaller than this (log-odds units, 2e-5 rating
 * points): convergence is quadratic there, so what is left is far below 1e-10. It saves
 * the last iteration, whose only use would be to confirm the gradient. */
#define BOOTSTRAP_STEP_TOL 1e-7

/* Chord steps stop below this step (log-odds units; 1.7e-4 rating points), which bounds
 * the error left in each rating of a round: interval bounds move by less than that. */
#define CHORD_STEP_TOL 1e-6

static int bt_round(worker *w, int round, double *out, int *regularised)
{
    const job *j = w->job;
    const bts_problem *p = j->p;
    int iters = 0;
    double max_grad;
    gsl_rng_set(w->rng, round_seed(j->seed, round));
    mn_draw(j->dist, w->rng, w->counts);
    bts_pair_counts(p, j->d, w->counts, w->s, w->n);
    /* Every round starts from the point estimate: a resample is close to the data, so
     * Newton needs few steps, and rounds do not depend on each other. */
    memcpy(w->eta, j->eta0, p->k * sizeof *w->eta);
    for (size_t c = 0; c < p->n_comp; c++) {
        double l2 = 0;
        if (!bts_mle_exists(p, c, w->s, w->n, &w->work)) {
            *regularised = 1;
            l2 = j->bo->l2;
        } else if (j->factor[c]) {
            /* The point's Hessian is close to the round's: chord steps with its factor
             * need no factorisation a round. */
            int rc = bts_chord(p, c, w->s, w->n, j->factor[c], CHORD_STEP_TOL, w->eta, &w->work, &iters);
            if (rc < 0) return -1;
            if (rc == 0) continue;
            for (size_t x = p->comp_start[c]; x < p->comp_start[c + 1]; x++)
                w->eta[p->members[x]] = j->eta0[p->members[x]];
        }
        if (bts_newton(p, c, w->s, w->n, l2, j->bo, BOOTSTRAP_STEP_TOL, w->eta, &w->work, &iters, &max_grad) < 0)
            return -1;
    }
    bts_ratings(p, j->bo, w->eta, j->anchor, out);
    return 0;
}

static int elo_round(worker *w, int round, double *out, int *regularised)
{
    const job *j = w->job;
    size_t n = j->d->n_seq;
    gsl_rng_set(w->rng, round_seed(j->seed, round));
    for (size_t i = 0; i < n; i++) w->order[i] = gsl_rng_uniform_int(w->rng, n);
    elo_replay(j->eo, j->d->seq, w->order, n, j->d->n_models, out);
    return 0;
}

static void worker_free(worker *w)
{
    if (w->rng) gsl_rng_free(w->rng);
    bts_work_free(&w->work);
    free(w->counts);
    free(w->s);
    free(w->n);
    free(w->eta);
    free(w->order);
}

static int worker_init(worker *w, job *j)
{
    memset(w, 0, sizeof *w);
    w->job = j;
    if (!(w->rng = gsl_rng_alloc(gsl_rng_mt19937))) return -1;
    if (j->round == elo_round)
        return (w->order = malloc((j->d->n_seq + 1) * sizeof *w->order)) ? 0 : -1;
    const bts_problem *p = j->p;
    w->counts = malloc((p->n_triples + 1) * sizeof *w->counts);
    w->s = malloc((p->n_pairs + 1) * sizeof *w->s);
    w->n = malloc((p->n_pairs + 1) * sizeof *w->n);
    w->eta = malloc((p->k + 1) * sizeof *w->eta);
    if (!w->counts || !w->s || !w->n || !w->eta || bts_work_init(&w->work, p) < 0) return -1;
    return 0;
}

/* Runs every round of j on co->threads threads (reporting progress from this thread),
 * then summarises the rounds into out. */
static int run_rounds(job *j, const ci_opts *co, ci_result *out, char *err, size_t errlen)
{
    size_t k = j->d->n_models;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = co->threads > 0 ? co->threads : cores > 0 ? (int)cores : 1, started = 0, rc = -1;
    if (nthreads > j->rounds) nthreads = j->rounds;
    worker *workers = calloc((size_t)nthreads, sizeof *workers);
    double *column = malloc((size_t)j->rounds * sizeof *column);
    j->out = malloc((size_t)j->rounds * k * sizeof *j->out);
    atomic_init(&j->next, 0);
    atomic_init(&j->regularised, 0);
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    if (!workers || !column || !j->out) goto nomem;
    for (int t = 0; t < nthreads; t++)
        if (worker_init(&workers[t], j) < 0) goto nomem;
    /* Threads that fail to start are not needed: the others take every round. */
    for (; started < nthreads; started++)
        if (pthread_create(&workers[started].thread, NULL, worker_main, &workers[started])) break;
    if (!started) {
        snprintf(err, errlen, "cannot start threads");
        goto done;
    }
    pthread_mutex_lock(&j->lock);
    int reported = 0;
    while (j->done < j->rounds && !j->stop) {
        pthread_cond_wait(&j->cond, &j->lock);
        int done = j->done;
        if (co->progress && done != reported) {
            pthread_mutex_unlock(&j->lock);
            int cancel = co->progress(co->progress_ud, done, j->rounds);
            pthread_mutex_lock(&j->lock);
            reported = done;
            if (cancel) j->stop = 1;
        }
    }
    int failed = j->failed, stopped = j->stop;
    pthread_mutex_unlock(&j->lock);
    for (int t = 0; t < started; t++) pthread_join(workers[t].thread, NULL);
    if (failed) {
        snprintf(err, errlen, "bootstrap: a round failed (out of memory or a singular Hessian)");
        goto done;
    }
    if (stopped) {
        snprintf(err, errlen, "cancelled");
        goto done;
    }

    if (result_alloc(out, k) < 0) goto nomem;
    out->rounds = j->rounds;
    out->regularised_rounds = atomic_load(&j->regularised);
    for (size_t i = 0; i < k; i++) {
        for (int r = 0; r < j->rounds; r++) column[r] = j->out[(size_t)r * k + i];
        gsl_sort(column, 1, (size_t)j->rounds);
        out->lower[i] = gsl_stats_quantile_from_sorted_data(column, 1, (size_t)j->rounds, 0.025);
        out->median[i] = gsl_stats_quantile_from_sorted_data(column, 1, (size_t)j->rounds, 0.5);
        out->upper[i] = gsl_stats_quantile_from_sorted_data(column, 1, (size_t)j->rounds, 0.975);
        out->sd[i] = j->rounds > 1 ? gsl_stats_sd(column, 1, (size_t)j->rounds) : 0;
    }
    rc = 0;
    goto done;
nomem:
    snprintf(err, errlen, "out of memory");
done:
    if (workers)
        for (int t = 0; t < nthreads; t++) worker_free(&workers[t]);
    free(workers);
    free(column);
    free(j->out);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    return rc;
}

static int check_opts(const ci_opts *co, char *err, size_t errlen)
{
    if (co->rounds < 1 || co->threads < 0) {
        snprintf(err, errlen, "bootstrap options: need rounds >= 1 and threads >= 0");
        return -1;
    }
    return 0;
}

/* factor[c]: the Newton matrix at the point estimate, factorised, for each component
 * with an MLE and two models or more; NULL elsewhere (and where it is not positive
 * definite: those rounds take exact Newton steps). -1 when out of memory. */
static int point_factors(const bts_problem *p, const rt_data *d, const double *eta0, gsl_matrix **factor)
{
    bts_work w = { 0 };
    double *s = malloc((p->n_pairs + 1) * sizeof *s), *n = malloc((p->n_pairs + 1) * sizeof *n);
    int rc = -1;
    if (!s || !n || bts_work_init(&w, p) < 0) goto done;
    bts_pair_counts(p, d, NULL, s, n);
    for (size_t c = 0; c < p->n_comp; c++) {
        size_t m = p->comp_start[c + 1] - p->comp_start[c];
        if (m < 2 || !bts_mle_exists(p, c, s, n, &w)) continue;
        if (!(factor[c] = gsl_matrix_alloc(m, m))) goto done;
        if (bts_factor(p, c, s, n, 0, eta0, factor[c]) < 0) {
            gsl_matrix_free(factor[c]);
            factor[c] = NULL;
        }
    }
    rc = 0;
done:
    free(s);
    free(n);
    bts_work_free(&w);
    return rc;
}

int ci_bt_bootstrap(const rt_data *d, const bt_opts *bo, const bt_result *point,
                    const ci_opts *co, ci_result *out, char *err, size_t errlen)
{
    bts_problem p = { 0 };
    double *eta0 = NULL;
    gsl_matrix **factor = NULL;
    uint64_t *counts = NULL;
    mn_dist dist = { 0 };
    bt_opts bdef;
    ci_opts cdef;
    int rc = -1;

    memset(out, 0, sizeof *out);
    bts_gsl_quiet();
    if (!bo) bt_opts_default(&bdef), bo = &bdef;
    if (!co) ci_opts_default(&cdef), co = &cdef;
    if (check_point(d, point, err, errlen) < 0 || check_opts(co, err, errlen) < 0) return -1;
    if (d->n_battles > UINT_MAX) {
        snprintf(err, errlen, "bootstrap: %llu battles is more than a resample can hold", (unsigned long long)d->n_battles);
        return -1;
    }
    if (bts_problem_init(&p, d) < 0) goto nomem;
    eta0 = malloc(p.k * sizeof *eta0);
    factor = calloc(p.n_comp, sizeof *factor);
    if (!eta0 || !factor) goto nomem;
    point_eta(&p, bo, point->rating, eta0);
    if (point_factors(&p, d, eta0, factor) < 0) goto nomem;
    if (!(counts = malloc((p.n_triples + 1) * sizeof *counts))) goto nomem;
    for (size_t t = 0; t < p.n_triples; t++) counts[t] = d->triples[t].count;
    if (mn_dist_init(&dist, counts, p.n_triples) < 0) goto nomem;

    job j = { .d = d, .p = &p, .bo = bo, .anchor = bo->anchor_model ? rt_find(d, bo->anchor_model) : -1,
              .eta0 = eta0, .factor = factor, .dist = &dist, .seed = co->seed, .rounds = co->rounds,
              .round = bt_round };
    rc = run_rounds(&j, co, out, err, errlen);
    goto done;
nomem:
    snprintf(err, errlen, "out of memory");
done:
    for (size_t c = 0; factor && c < p.n_comp; c++)
        if (factor[c]) gsl_matrix_free(factor[c]);
    free(factor);
    free(eta0);
    free(counts);
    mn_dist_free(&dist);
    bts_problem_free(&p);
    return rc;
}

int ci_elo_bootstrap(const rt_data *d, const elo_opts *eo, const ci_opts *co, ci_result *out,
                     char *err, size_t errlen)
{
    elo_opts edef;
    ci_opts cdef;
    memset(out, 0, sizeof *out);
    bts_gsl_quiet();
    if (!eo) elo_opts_default(&edef), eo = &edef;
    if (!co) ci_opts_default(&cdef), cdef.rounds = 100, co = &cdef;
    if (check_opts(co, err, errlen) < 0) return -1;
    if (d->n_models < 2 || !d->n_battles) {
        snprintf(err, errlen, "intervals need battles between at least two models (have %zu models, %llu battles)",
                 d->n_models, (unsigned long long)d->n_battles);
        return -1;
    }
    if (!d->seq) {
        snprintf(err, errlen, "Elo needs the battle sequence (snapshot taken without keep_sequence)");
        return -1;
    }
    if (d->n_seq > 0xffffffffUL) {
        snprintf(err, errlen, "Elo bootstrap: %zu battles is more than the generator can index", d->n_seq);
        return -1;
    }
    job j = { .d = d, .eo = eo, .seed = co->seed, .rounds = co->rounds, .round = elo_round };
    return run_rounds(&j, co, out, err, errlen);
}

/* V = M^-1 G M^-1 for component c, where M = H + l2 I + alpha 1 1^T at eta and G sums the
 * outer products of the per-battle scores; G 1 = 0, so the alpha term drops out and V is
 * the covariance under the centring constraint. Writes sd (log-odds) of each member. */
static int sandwich_component(const bts_problem *p, const rt_data *d, size_t c, const double *s,
                              const double *n, double l2, const double *eta, double *sd_eta)
{
    size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first;
    int rc = -1;
    gsl_matrix *minv = gsl_matrix_alloc(m, m), *g = gsl_matrix_calloc(m, m), *x = gsl_matrix_alloc(m, m);
    if (!minv || !g || !x) goto done;
    if (bts_factor(p, c, s, n, l2, eta, minv) < 0 || gsl_linalg_cholesky_invert(minv) != GSL_SUCCESS) goto done;
    for (size_t t = 0; t < d->n_triples; t++) {
        const rt_triple *tr = &d->triples[t];
        if (d->component[tr->a] != c) continue;
        double y = tr->outcome == RT_WIN_A ? 1 : tr->outcome == RT_WIN_B ? 0 : 0.5;
        double prob = 1 / (1 + exp(eta[tr->b] - eta[tr->a]));
        double v = (double)tr->count * (y - prob) * (y - prob);
        size_t a = p->local[tr->a], b = p->local[tr->b];
        *gsl_matrix_ptr(g, a, a) += v;
        *gsl_matrix_ptr(g, b, b) += v;
        *gsl_matrix_ptr(g, a, b) -= v;
        *gsl_matrix_ptr(g, b, a) -= v;
    }
    if (gsl_blas_dsymm(CblasLeft, CblasUpper, 1, minv, g, 0, x) != GSL_SUCCESS) goto done;
    for (size_t i = 0; i < m; i++) {
        double v = 0;
        for (size_t k = 0; k < m; k++) v += gsl_matrix_get(x, i, k) * gsl_matrix_get(minv, k, i);
        sd_eta[p->members[first + i]] = sqrt(fmax(v, 0));
    }
    rc = 0;
done:
    if (minv) gsl_matrix_free(minv);
    if (g) gsl_matrix_free(g);
    if (x) gsl_matrix_free(x);
    return rc;
}

int ci_bt_sandwich(const rt_data *d, const bt_opts *bo, const bt_result *point, ci_result *out,
                   char *err, size_t errlen)
{
    bts_problem p = { 0 };
    bts_work w = { 0 };
    double *eta = NULL, *s = NULL, *n = NULL;
    bt_opts bdef;
    int rc = -1;

    memset(out, 0, sizeof *out);
    bts_gsl_quiet();
    if (!bo) bt_opts_default(&bdef), bo = &bdef;
    if (check_point(d, point, err, errlen) < 0) return -1;
    if (bts_problem_init(&p, d) < 0 || bts_work_init(&w, &p) < 0 || result_alloc(out, d->n_models) < 0) goto nomem;
    eta = malloc(p.k * sizeof *eta);
    s = malloc((p.n_pairs + 1) * sizeof *s);
    n = malloc((p.n_pairs + 1) * sizeof *n);
    if (!eta || !s || !n) goto nomem;
    point_eta(&p, bo, point->rating, eta);
    bts_pair_counts(&p, d, NULL, s, n);
    for (size_t c = 0; c < p.n_comp; c++) {
        double l2 = bts_mle_exists(&p, c, s, n, &w) ? 0 : bo->l2;
        if (p.comp_start[c + 1] - p.comp_start[c] < 2) continue;
        if (sandwich_component(&p, d, c, s, n, l2, eta, out->sd) < 0) {
            snprintf(err, errlen, "sandwich: the Hessian of a component is not positive definite (or out of memory)");
            goto err;
        }
    }
    double to_rating = bo->scale / log(bo->base);
    for (size_t i = 0; i < p.k; i++) {
        out->sd[i] *= to_rating;
        out->median[i] = point->rating[i];
        out->lower[i] = point->rating[i] - 1.959963984540054 * out->sd[i];
        out->upper[i] = point->rating[i] + 1.959963984540054 * out->sd[i];
    }
    rc = 0;
    goto done;
nomem:
    snprintf(err, errlen, "out of memory");
err:
    ci_result_free(out);
done:
    free(eta);
    free(s);
    free(n);
    bts_work_free(&w);
    bts_problem_free(&p);
    return rc;
}
