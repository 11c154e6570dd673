/* bt.c: Bradley-Terry maximum likelihood (see bt.h and bt_solve.h). */
#include "bt.h"
#include "bt_solve.h"

#include <float.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bt_opts_default(bt_opts *o)
{
    *o = (bt_opts){ .scale = 400, .base = 10, .init = 1000, .tol = 1e-10, .max_iter = 100, .l2 = 1e-2 };
}

static void gsl_quiet_once(void)
{
    gsl_set_error_handler_off();
}

void bts_gsl_quiet(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, gsl_quiet_once);
}

/* ---- problem structure ---- */

int bts_problem_init(bts_problem *p, const rt_data *d)
{
    memset(p, 0, sizeof *p);
    size_t k = d->n_models, nt = d->n_triples, nc = d->n_components;
    p->k = k;
    p->comp = d->component;
    p->n_triples = nt;
    p->n_comp = nc;
    p->pair_i = malloc((nt + 1) * sizeof *p->pair_i);
    p->pair_j = malloc((nt + 1) * sizeof *p->pair_j);
    p->triple_pair = malloc((nt + 1) * sizeof *p->triple_pair);
    p->comp_start = calloc(nc + 1, sizeof *p->comp_start);
    p->members = malloc((k + 1) * sizeof *p->members);
    p->local = malloc((k + 1) * sizeof *p->local);
    p->comp_pair_start = calloc(nc + 1, sizeof *p->comp_pair_start);
    p->comp_pairs = malloc((nt + 1) * sizeof *p->comp_pairs);
    p->adj_start = calloc(k + 1, sizeof *p->adj_start);
    p->adj = malloc((2 * nt + 1) * sizeof *p->adj);
    size_t *fill = malloc(((k > nc ? k : nc) + 1) * sizeof *fill);   /* counting-sort cursors */
    if (!p->pair_i || !p->pair_j || !p->triple_pair || !p->comp_start || !p->members || !p->local ||
        !p->comp_pair_start || !p->comp_pairs || !p->adj_start || !p->adj || !fill)
        goto err;

    /* Triples are sorted by (a, b, outcome): a pair is a run of equal (a, b). */
    for (size_t t = 0; t < nt; t++) {
        const rt_triple *tr = &d->triples[t];
        if (!p->n_pairs || p->pair_i[p->n_pairs - 1] != tr->a || p->pair_j[p->n_pairs - 1] != tr->b) {
            p->pair_i[p->n_pairs] = tr->a;
            p->pair_j[p->n_pairs] = tr->b;
            p->n_pairs++;
        }
        p->triple_pair[t] = (uint32_t)(p->n_pairs - 1);
    }

    /* Members grouped by component, ascending within each (counting sort). */
    for (size_t i = 0; i < k; i++) p->comp_start[d->component[i] + 1]++;
    for (size_t c = 0; c < nc; c++) p->comp_start[c + 1] += p->comp_start[c];
    for (size_t c = 0; c < nc; c++) {
        size_t m = p->comp_start[c + 1] - p->comp_start[c];
        if (m > p->max_members) p->max_members = m;
    }
    memcpy(fill, p->comp_start, nc * sizeof *fill);
    for (size_t i = 0; i < k; i++) {
        uint32_t c = d->component[i];
        p->local[i] = (uint32_t)(fill[c] - p->comp_start[c]);
        p->members[fill[c]++] = (uint32_t)i;
    }

    /* Pairs grouped by component. */
    for (size_t q = 0; q < p->n_pairs; q++) p->comp_pair_start[d->component[p->pair_i[q]] + 1]++;
    for (size_t c = 0; c < nc; c++) p->comp_pair_start[c + 1] += p->comp_pair_start[c];
    memcpy(fill, p->comp_pair_start, nc * sizeof *fill);
    for (size_t q = 0; q < p->n_pairs; q++) p->comp_pairs[fill[d->component[p->pair_i[q]]]++] = (uint32_t)q;

    /* Adjacency: the pairs touching each model. */
    for (size_t q = 0; q < p->n_pairs; q++) {
        p->adj_start[p->pair_i[q] + 1]++;
        p->adj_start[p->pair_j[q] + 1]++;
    }
    for (size_t i = 0; i < k; i++) p->adj_start[i + 1] += p->adj_start[i];
    memcpy(fill, p->adj_start, k * sizeof *fill);
    for (size_t q = 0; q < p->n_pairs; q++) {
        p->adj[fill[p->pair_i[q]]++] = (uint32_t)q;
        p->adj[fill[p->pair_j[q]]++] = (uint32_t)q;
    }
    free(fill);
    return 0;
err:
    free(fill);
    bts_problem_free(p);
    return -1;
}

void bts_problem_free(bts_problem *p)
{
    free(p->pair_i);
    free(p->pair_j);
    free(p->triple_pair);
    free(p->comp_start);
    free(p->members);
    free(p->local);
    free(p->comp_pair_start);
    free(p->comp_pairs);
    free(p->adj_start);
    free(p->adj);
    memset(p, 0, sizeof *p);
}

int bts_work_init(bts_work *w, const bts_problem *p)
{
    size_t m = p->max_members ? p->max_members : 1;
    memset(w, 0, sizeof *w);
    w->m = gsl_matrix_alloc(m, m);
    w->g = gsl_vector_alloc(m);
    w->d = gsl_vector_alloc(m);
    w->trial = malloc((p->k + 1) * sizeof *w->trial);
    w->stack = malloc((p->k + 1) * sizeof *w->stack);
    w->seen = malloc(p->k + 1);
    if (!w->m || !w->g || !w->d || !w->trial || !w->stack || !w->seen) {
        bts_work_free(w);
        return -1;
    }
    return 0;
}

void bts_work_free(bts_work *w)
{
    if (w->m) gsl_matrix_free(w->m);
    if (w->g) gsl_vector_free(w->g);
    if (w->d) gsl_vector_free(w->d);
    free(w->trial);
    free(w->stack);
    free(w->seen);
    memset(w, 0, sizeof *w);
}

void bts_pair_counts(const bts_problem *p, const rt_data *d, const unsigned *counts,
                     double *s, double *n)
{
    memset(s, 0, p->n_pairs * sizeof *s);
    memset(n, 0, p->n_pairs * sizeof *n);
    for (size_t t = 0; t < p->n_triples; t++) {
        double c = counts ? counts[t] : (double)d->triples[t].count;
        uint32_t q = p->triple_pair[t];
        n[q] += c;
        if (d->triples[t].outcome == RT_WIN_A) s[q] += c;
        else if (d->triples[t].outcome == RT_TIE) s[q] += 0.5 * c;
    }
}

/* Does a search from the component's first model reach every member? forward: along
 * "i beat j" edges; otherwise along "i lost to j" edges. */
static int reaches_all(const bts_problem *p, size_t c, const double *s, const double *n, int forward,
                       bts_work *w)
{
    size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first, top = 0, seen = 1;
    for (size_t x = 0; x < m; x++) w->seen[p->members[first + x]] = 0;
    w->stack[top++] = p->members[first];
    w->seen[p->members[first]] = 1;
    while (top) {
        uint32_t i = w->stack[--top];
        for (size_t e = p->adj_start[i]; e < p->adj_start[i + 1]; e++) {
            uint32_t q = p->adj[e];
            int i_is_lo = p->pair_i[q] == i;
            uint32_t j = i_is_lo ? p->pair_j[q] : p->pair_i[q];
            double won = i_is_lo ? s[q] : n[q] - s[q];   /* i's score against j */
            double lost = n[q] - won;
            if (w->seen[j] || !(forward ? won > 0 : lost > 0)) continue;
            w->seen[j] = 1;
            seen++;
            w->stack[top++] = j;
        }
    }
    return seen == m;
}

/* Has the component's first model both won and lost against every other member? Then
 * each member reaches it and is reached from it: strongly connected, without a search
 * (the common case of dense data, as in most bootstrap rounds). */
static int first_meets_all_both_ways(const bts_problem *p, size_t c, const double *s, const double *n)
{
    uint32_t i = p->members[p->comp_start[c]];
    size_t m = p->comp_start[c + 1] - p->comp_start[c], both = 0;
    for (size_t e = p->adj_start[i]; e < p->adj_start[i + 1]; e++) {
        uint32_t q = p->adj[e];
        both += s[q] > 0 && s[q] < n[q];
    }
    return both == m - 1;
}

int bts_mle_exists(const bts_problem *p, size_t c, const double *s, const double *n, bts_work *w)
{
    return first_meets_all_both_ways(p, c, s, n) ||
           (reaches_all(p, c, s, n, 1, w) && reaches_all(p, c, s, n, 0, w));
}

/* Negative log-likelihood of component c (when want_f), its gradient into g (local
 * indices) and, when h is not NULL, H + l2 I + alpha 1 1^T into h. */
static double evaluate(const bts_problem *p, size_t c, const double *s, const double *n, double l2,
                       const double *eta, int want_f, gsl_vector *g, gsl_matrix *h)
{
    size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first;
    double f = 0;
    gsl_vector_set_zero(g);
    if (h) gsl_matrix_set_zero(h);
    for (size_t e = p->comp_pair_start[c]; e < p->comp_pair_start[c + 1]; e++) {
        uint32_t q = p->comp_pairs[e], i = p->pair_i[q], j = p->pair_j[q];
        if (n[q] == 0) continue;
        double x = eta[i] - eta[j], ax = fabs(x), ex = exp(-ax);
        double sig = x >= 0 ? 1 / (1 + ex) : ex / (1 + ex);          /* P(i beats j) */
        if (want_f) {
            double sp = log1p(ex);                                   /* softplus(-|x|) */
            /* s * softplus(-x) + (n - s) * softplus(x) */
            f += x >= 0 ? s[q] * sp + (n[q] - s[q]) * (ax + sp) : s[q] * (ax + sp) + (n[q] - s[q]) * sp;
        }
        double gi = n[q] * sig - s[q];
        size_t li = p->local[i], lj = p->local[j];
        g->data[li * g->stride] += gi;
        g->data[lj * g->stride] -= gi;
        if (h) {
            double w = n[q] * sig * (1 - sig);
            h->data[li * h->tda + li] += w;
            h->data[lj * h->tda + lj] += w;
            h->data[li * h->tda + lj] -= w;
            h->data[lj * h->tda + li] -= w;
        }
    }
    for (size_t x = 0; x < m; x++) {
        double e = eta[p->members[first + x]];
        if (l2 > 0) {
            if (want_f) f += 0.5 * l2 * e * e;
            g->data[x * g->stride] += l2 * e;
        }
    }
    if (h) {
        double trace = 0;
        for (size_t x = 0; x < m; x++) trace += h->data[x * h->tda + x];
        double alpha = trace > 0 ? trace / ((double)m * m) : 1;
        for (size_t x = 0; x < m; x++)
            for (size_t y = 0; y < m; y++)
                h->data[x * h->tda + y] += alpha + (x == y ? l2 : 0);
    }
    return f;
}

static double max_abs(const gsl_vector *v)
{
    double mx = 0;
    for (size_t x = 0; x < v->size; x++) mx = fmax(mx, fabs(gsl_vector_get(v, x)));
    return mx;
}

int bts_factor(const bts_problem *p, size_t c, const double *s, const double *n, double l2,
               const double *eta, gsl_matrix *mat)
{
    size_t m = p->comp_start[c + 1] - p->comp_start[c];
    gsl_vector *g = gsl_vector_alloc(m);
    if (!g) return -1;
    evaluate(p, c, s, n, l2, eta, 0, g, mat);
    gsl_vector_free(g);
    return gsl_linalg_cholesky_decomp1(mat) == GSL_SUCCESS ? 0 : -1;
}

/* With step_tol set (bootstrap rounds), the Newton factor is reused below this step
 * (log-odds units). */
#define KEEP_FACTOR_STEP 0.1

/* Chord steps before giving up: each at least halves the step, and a round's steps
 * usually shrink by 20 to 100 times a step. */
#define CHORD_MAX_ITER 30

int bts_newton(const bts_problem *p, size_t c, const double *s, const double *n, double l2,
               const bt_opts *o, double step_tol, double *eta, bts_work *w, int *iters, double *max_grad)
{
    size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first;
    gsl_matrix_view hv = gsl_matrix_submatrix(w->m, 0, 0, m, m);
    gsl_vector_view gv = gsl_vector_subvector(w->g, 0, m), dv = gsl_vector_subvector(w->d, 0, m);
    gsl_matrix *h = &hv.matrix;
    gsl_vector *g = &gv.vector, *dir = &dv.vector;
    const uint32_t *mem = p->members + first;
    *max_grad = 0;
    if (m < 2) return 0;

    /* f (the objective) is computed only when a step has to be checked by backtracking:
     * from a warm start the full step nearly always lowers the gradient and is taken.
     * In bootstrap mode (step_tol > 0), once steps are small the Hessian barely moves,
     * so its factor is kept (steps then contract linearly at a rate of about the step
     * size, for a fraction of the cost of a factorisation); a step that fails to lower
     * the gradient refreshes it. A point fit takes full Newton steps to the end. */
    double f = NAN;
    int factored = 0;
    evaluate(p, c, s, n, l2, eta, 0, g, h);
    for (int it = 0; it < o->max_iter; it++) {
        double grad = max_abs(g);
        *max_grad = grad;
        if (grad <= o->tol) return 0;
        if (!factored && gsl_linalg_cholesky_decomp1(h) != GSL_SUCCESS) return -1;
        if (gsl_linalg_cholesky_solve(h, g, dir) != GSL_SUCCESS) return -1;
        gsl_vector_scale(dir, -1);
        double slope, step_max = max_abs(dir), t = 1;
        gsl_blas_ddot(g, dir, &slope);
        (*iters)++;
        factored = step_tol > 0 && step_max < KEEP_FACTOR_STEP;
        for (size_t x = 0; x < m; x++) w->trial[mem[x]] = eta[mem[x]] + gsl_vector_get(dir, x);
        evaluate(p, c, s, n, l2, w->trial, 0, g, factored ? NULL : h);
        if (max_abs(g) < grad) {
            f = NAN;
        } else {
            /* Backtracking on f while the decrease is measurable; below the rounding of f
             * the full step is taken (quadratic region). */
            factored = 0;
            if (isnan(f)) f = evaluate(p, c, s, n, l2, eta, 1, g, NULL);
            int measurable = -slope > 64 * DBL_EPSILON * (1 + fabs(f));
            for (;;) {
                for (size_t x = 0; x < m; x++) w->trial[mem[x]] = eta[mem[x]] + t * gsl_vector_get(dir, x);
                double f_new = evaluate(p, c, s, n, l2, w->trial, 1, g, h);
                if (!measurable || f_new <= f + 1e-4 * t * slope) {
                    f = f_new;
                    break;
                }
                t *= 0.5;
                if (t < 1e-12) {          /* no descent left: stalled at machine precision */
                    *max_grad = grad;
                    return 0;
                }
            }
        }
        for (size_t x = 0; x < m; x++) eta[mem[x]] = w->trial[mem[x]];
        *max_grad = max_abs(g);
        if (t * step_max < 1e-15 || (t == 1 && step_max < step_tol)) return 0;
    }
    return 0;
}

/* The gradient of component c (no L2 term) into g, with P(i beats j) = e_i / (e_i + e_j),
 * e = exp(eta - max eta): a division a pair instead of an exponential. Falls back to
 * evaluate() when eta spans more than exp can hold. */
static void chord_gradient(const bts_problem *p, size_t c, const double *s, const double *n,
                           const double *eta, gsl_vector *g, bts_work *w)
{
    size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first;
    const uint32_t *mem = p->members + first;
    double top = -INFINITY, bottom = INFINITY;
    for (size_t x = 0; x < m; x++) {
        top = fmax(top, eta[mem[x]]);
        bottom = fmin(bottom, eta[mem[x]]);
    }
    if (!(top - bottom < 600)) {
        evaluate(p, c, s, n, 0, eta, 0, g, NULL);
        return;
    }
    double *e = w->trial;                           /* indexed by model, like eta */
    for (size_t x = 0; x < m; x++) e[mem[x]] = exp(eta[mem[x]] - top);
    gsl_vector_set_zero(g);
    for (size_t k = p->comp_pair_start[c]; k < p->comp_pair_start[c + 1]; k++) {
        uint32_t q = p->comp_pairs[k], i = p->pair_i[q], j = p->pair_j[q];
        double gi = n[q] * e[i] / (e[i] + e[j]) - s[q];
        g->data[p->local[i] * g->stride] += gi;
        g->data[p->local[j] * g->stride] -= gi;
    }
}

int bts_chord(const bts_problem *p, size_t c, const double *s, const double *n, const gsl_matrix *factor,
              double step_tol, double *eta, bts_work *w, int *iters)
{
    size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first;
    gsl_vector_view gv = gsl_vector_subvector(w->g, 0, m), dv = gsl_vector_subvector(w->d, 0, m);
    gsl_vector *g = &gv.vector, *dir = &dv.vector;
    const uint32_t *mem = p->members + first;
    double last_step = INFINITY;
    if (m < 2) return 0;
    for (int it = 0; it < CHORD_MAX_ITER; it++) {
        chord_gradient(p, c, s, n, eta, g, w);
        if (gsl_linalg_cholesky_solve(factor, g, dir) != GSL_SUCCESS) return -1;
        double step = max_abs(dir);
        (*iters)++;
        /* A step that does not halve means the matrix is too far from this round's
         * Hessian (or the round's MLE runs away): exact Newton takes over. */
        if (!isfinite(step) || step > 0.5 * last_step) return 1;
        for (size_t x = 0; x < m; x++) eta[mem[x]] -= gsl_vector_get(dir, x);
        if (step < step_tol) return 0;
        last_step = step;
    }
    return 1;
}

void bts_ratings(const bts_problem *p, const bt_opts *o, const double *eta, long anchor,
                 double *rating)
{
    double to_rating = o->scale / log(o->base);
    for (size_t c = 0; c < p->n_comp; c++) {
        size_t first = p->comp_start[c], m = p->comp_start[c + 1] - first;
        double mean = 0;
        for (size_t x = 0; x < m; x++) mean += eta[p->members[first + x]];
        mean /= (double)m;
        for (size_t x = 0; x < m; x++) {
            uint32_t i = p->members[first + x];
            rating[i] = o->init + to_rating * (eta[i] - mean);
        }
    }
    if (anchor >= 0) {
        double shift = o->anchor_value - rating[anchor];
        uint32_t c = p->comp[anchor];
        for (size_t x = p->comp_start[c]; x < p->comp_start[c + 1]; x++) rating[p->members[x]] += shift;
    }
}

static int add_warning(bt_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_warning(bt_result *r, const char *fmt, ...)
{
    char **w = realloc(r->warnings, (r->n_warnings + 1) * sizeof *w);
    if (!w) return -1;
    r->warnings = w;
    va_list ap;
    va_start(ap, fmt);
    int len = vasprintf(&w[r->n_warnings], fmt, ap);
    va_end(ap);
    if (len < 0) return -1;
    r->n_warnings++;
    return 0;
}

/* Names the models of component c that never lose (never_lose) or never win into buf. */
static void list_one_sided(const bts_problem *p, const rt_data *d, size_t c, const double *s,
                           const double *n, int never_lose, char *buf, size_t buflen)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t x = p->comp_start[c]; x < p->comp_start[c + 1] && len < buflen; x++) {
        uint32_t i = p->members[x];
        double score = 0, total = 0;
        for (size_t e = p->adj_start[i]; e < p->adj_start[i + 1]; e++) {
            uint32_t q = p->adj[e];
            score += p->pair_i[q] == i ? s[q] : n[q] - s[q];
            total += n[q];
        }
        if (never_lose ? score < total : score > 0) continue;
        int w = snprintf(buf + len, buflen - len, "%s%s", len ? ", " : "", d->names[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (!len) snprintf(buf, buflen, "none alone");
}

int bt_fit(const rt_data *d, const bt_opts *opts, bt_result *out, char *err, size_t errlen)
{
    bt_opts o;
    bts_problem p = { 0 };
    bts_work w = { 0 };
    double *s = NULL, *n = NULL, *eta = NULL;
    char names[8192], lose[4096], win[4096];

    memset(out, 0, sizeof *out);
    bts_gsl_quiet();
    if (opts) o = *opts;
    else bt_opts_default(&o);
    if (!(o.scale > 0) || !(o.base > 1) || !(o.tol > 0) || o.max_iter < 1 || !(o.l2 > 0)) {
        snprintf(err, errlen, "Bradley-Terry options: need scale > 0, base > 1, tol > 0, max_iter >= 1, l2 > 0");
        return -1;
    }
    if (d->n_models < 2 || !d->n_battles) {
        snprintf(err, errlen, "Bradley-Terry needs battles between at least two models (have %zu models, %llu battles)",
                 d->n_models, (unsigned long long)d->n_battles);
        return -1;
    }
    out->n_models = d->n_models;
    out->rating = calloc(d->n_models, sizeof *out->rating);
    out->rank = calloc(d->n_models, sizeof *out->rank);
    eta = calloc(d->n_models, sizeof *eta);
    if (!out->rating || !out->rank || !eta || bts_problem_init(&p, d) < 0 || bts_work_init(&w, &p) < 0)
        goto nomem;
    s = malloc((p.n_pairs + 1) * sizeof *s);
    n = malloc((p.n_pairs + 1) * sizeof *n);
    if (!s || !n) goto nomem;
    bts_pair_counts(&p, d, NULL, s, n);

    for (size_t c = 0; c < p.n_comp; c++) {
        double l2 = 0, max_grad;
        if (!bts_mle_exists(&p, c, s, n, &w)) {
            l2 = o.l2;
            out->regularised++;
            list_one_sided(&p, d, c, s, n, 1, lose, sizeof lose);
            list_one_sided(&p, d, c, s, n, 0, win, sizeof win);
            if (add_warning(out, "the maximum-likelihood ratings of %s do not exist: some models never lose "
                            "(%s) or never win (%s) against the rest; they are pulled toward the mean (l2 = %g) "
                            "and their distance from the others means little",
                            rt_component_names(d, c, names, sizeof names), lose, win, o.l2) < 0)
                goto nomem;
        }
        if (bts_newton(&p, c, s, n, l2, &o, 0, eta, &w, &out->iterations, &max_grad) < 0) {
            snprintf(err, errlen, "Bradley-Terry: the Hessian of %s is not positive definite",
                     rt_component_names(d, c, names, sizeof names));
            goto err;
        }
        out->max_grad = fmax(out->max_grad, max_grad);
    }
    if (p.n_comp > 1) {
        if (add_warning(out, "the battles form %zu groups that never meet; each group is centred at mean %g "
                        "and ratings are not comparable across groups:", p.n_comp, o.init) < 0)
            goto nomem;
        for (size_t c = 0; c < p.n_comp; c++)
            if (add_warning(out, "group %zu: %s", c + 1, rt_component_names(d, c, names, sizeof names)) < 0)
                goto nomem;
    }
    long anchor = -1;
    if (o.anchor_model && (anchor = rt_find(d, o.anchor_model)) < 0 &&
        add_warning(out, "anchor %s is not among the rated models; no anchor applied", o.anchor_model) < 0)
        goto nomem;
    bts_ratings(&p, &o, eta, anchor, out->rating);
    bt_rank(d->n_models, out->rating, out->rank);
    free(s);
    free(n);
    free(eta);
    bts_work_free(&w);
    bts_problem_free(&p);
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
err:
    free(s);
    free(n);
    free(eta);
    bts_work_free(&w);
    bts_problem_free(&p);
    bt_result_free(out);
    return -1;
}

void bt_result_free(bt_result *r)
{
    if (!r) return;
    free(r->rating);
    free(r->rank);
    for (size_t i = 0; i < r->n_warnings; i++) free(r->warnings[i]);
    free(r->warnings);
    memset(r, 0, sizeof *r);
}

void bt_rank(size_t n, const double *rating, int *rank)
{
    for (size_t i = 0; i < n; i++) {
        int higher = 0;
        for (size_t j = 0; j < n; j++) higher += rating[j] > rating[i];
        rank[i] = 1 + higher;
    }
}
