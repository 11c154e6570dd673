/* Benchmark of the ratings core: BT fit, 1000 bootstrap rounds, sandwich and Elo on
 * synthetic votes drawn in-process from known strengths, against baselines measured in
 * the same run: FastChat's approach, a gradient-based fit (GSL BFGS2) over every battle
 * row instead of the unique (a, b, outcome) counts; and for a bootstrap round's resample,
 * gsl_ran_multinomial. Prints figures only; no assertions. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "battles.h"
#include "bt.h"
#include "ci.h"
#include "elo.h"
#include "multinomial.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct rows { size_t n; int *a, *b; double *y; int models; } rows;

/* Draws votes from BT strengths (sd 130, 8 % ties) into acc and, when keep is not NULL,
 * as rows for the baseline. */
static void draw(rt_battles *acc, int models, long votes, unsigned long seed, rows *keep)
{
    char (*name)[16] = malloc((size_t)models * sizeof *name);
    double *rating = malloc((size_t)models * sizeof *rating);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (int m = 0; m < models; m++) {
        snprintf(name[m], sizeof name[m], "model-%03d", m + 1);
        rating[m] = 1000 + gsl_ran_gaussian(rng, 130);
    }
    if (keep) {
        keep->n = 0;
        keep->models = models;
        keep->a = malloc((size_t)votes * sizeof *keep->a);
        keep->b = malloc((size_t)votes * sizeof *keep->b);
        keep->y = malloc((size_t)votes * sizeof *keep->y);
    }
    char err[256];
    for (long v = 0; v < votes; v++) {
        int a = (int)gsl_rng_uniform_int(rng, (unsigned long)models), b = (int)gsl_rng_uniform_int(rng, (unsigned long)models - 1);
        if (b >= a) b++;
        double u = gsl_rng_uniform(rng), pa = 1 / (1 + pow(10, (rating[b] - rating[a]) / 400));
        rt_outcome o = u < 0.08 ? RT_TIE : gsl_rng_uniform(rng) < pa ? RT_WIN_A : RT_WIN_B;
        rt_add(acc, name[a], name[b], o, (double)v, 1, err, sizeof err);
        if (keep) {
            keep->a[keep->n] = a;
            keep->b[keep->n] = b;
            keep->y[keep->n++] = o == RT_WIN_A ? 1 : o == RT_WIN_B ? 0 : 0.5;
        }
    }
    gsl_rng_free(rng);
    free(rating);
    free(name);
}

/* ---- the baseline: per-row negative log-likelihood, BFGS ---- */

static void row_fdf(const gsl_vector *x, void *params, double *f, gsl_vector *g)
{
    const rows *r = params;
    double sum = 0, ln10 = log(10);
    if (g) gsl_vector_set_zero(g);
    for (size_t i = 0; i < r->n; i++) {
        double z = ln10 * (gsl_vector_get(x, (size_t)r->a[i]) - gsl_vector_get(x, (size_t)r->b[i]));
        double p = 1 / (1 + exp(-z)), y = r->y[i];
        sum -= y * log(p) + (1 - y) * log1p(-p);
        if (g) {
            double d = ln10 * (p - y);
            *gsl_vector_ptr(g, (size_t)r->a[i]) += d;
            *gsl_vector_ptr(g, (size_t)r->b[i]) -= d;
        }
    }
    if (f) *f = sum;
}
static double row_f(const gsl_vector *x, void *p) { double f; row_fdf(x, p, &f, NULL); return f; }
static void row_df(const gsl_vector *x, void *p, gsl_vector *g) { row_fdf(x, p, NULL, g); }

/* Returns the iterations; theta (log10 units) in x. */
static int baseline_fit(rows *r, gsl_vector *x)
{
    gsl_multimin_function_fdf fn = { .f = row_f, .df = row_df, .fdf = row_fdf, .n = (size_t)r->models, .params = r };
    gsl_multimin_fdfminimizer *s = gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, fn.n);
    gsl_vector_set_zero(x);
    gsl_multimin_fdfminimizer_set(s, &fn, x, 0.01, 0.1);
    int it = 0;
    while (it++ < 1000) {
        if (gsl_multimin_fdfminimizer_iterate(s)) break;
        if (gsl_multimin_test_gradient(s->gradient, 1e-6) == GSL_SUCCESS) break;
    }
    gsl_vector_memcpy(x, s->x);
    gsl_multimin_fdfminimizer_free(s);
    return it;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One round's resample, CPU time: the bootstrap's sampler (multinomial.h) against
 * gsl_ran_multinomial (a conditional binomial a triple), same counts, one thread. */
static void resample_baseline(const rt_data *d)
{
    enum { REPS = 20 };
    size_t k = d->n_triples;
    uint64_t *counts = malloc(k * sizeof *counts);
    double *p = malloc(k * sizeof *p);
    unsigned *out = malloc(k * sizeof *out);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    mn_dist dist;
    for (size_t t = 0; t < k; t++) p[t] = (double)(counts[t] = d->triples[t].count);
    if (mn_dist_init(&dist, counts, k) == 0) {
        double t0 = cpu_now();
        for (int i = 0; i < REPS; i++) gsl_ran_multinomial(rng, k, (unsigned)d->n_battles, p, out);
        double t_gsl = (cpu_now() - t0) / REPS;
        t0 = cpu_now();
        for (int i = 0; i < REPS; i++) mn_draw(&dist, rng, out);
        double t_ours = (cpu_now() - t0) / REPS;
        printf("  resample of %zu triples, CPU a round: ours %.3f ms, baseline gsl_ran_multinomial %.3f ms, "
               "ratio ours/baseline %.3f\n", k, 1e3 * t_ours, 1e3 * t_gsl, t_ours / t_gsl);
        mn_dist_free(&dist);
    }
    gsl_rng_free(rng);
    free(counts);
    free(p);
    free(out);
}

static void run(const char *title, int models, long votes, int elo_rounds, int with_baseline)
{
    char err[512];
    rt_filter f;
    rt_filter_default(&f);
    f.keep_sequence = 1;
    rt_battles *acc = rt_new(&f, err, sizeof err);
    rows r = { 0 };
    double t0 = now();
    draw(acc, models, votes, 1, with_baseline ? &r : NULL);
    double t_draw = now() - t0;
    t0 = now();
    rt_data *d = rt_snapshot(acc, err, sizeof err);
    double t_snap = now() - t0;

    bt_result bt;
    ci_result boot, sand, eboot;
    ci_opts co;
    ci_opts_default(&co);
    t0 = now();
    bt_fit(d, NULL, &bt, err, sizeof err);
    double t_fit = now() - t0;
    t0 = now();
    clock_t cpu0 = clock();
    if (ci_bt_bootstrap(d, NULL, &bt, &co, &boot, err, sizeof err) < 0) printf("bootstrap: %s\n", err);
    double t_boot = now() - t0, cpu_boot = (double)(clock() - cpu0) / CLOCKS_PER_SEC;
    t0 = now();
    ci_bt_sandwich(d, NULL, &bt, &sand, err, sizeof err);
    double t_sand = now() - t0;
    double *elo = malloc(d->n_models * sizeof *elo);
    t0 = now();
    elo_fit(d, NULL, elo, err, sizeof err);
    double t_elo = now() - t0;
    co.rounds = elo_rounds;
    t0 = now();
    ci_elo_bootstrap(d, NULL, &co, &eboot, err, sizeof err);
    double t_eboot = now() - t0;

    printf("%s: %d models, %ld votes, %zu unique (a, b, outcome) triples, %ld online cores\n", title, models, votes,
           d->n_triples, sysconf(_SC_NPROCESSORS_ONLN));
    printf("  accumulate %.3f s (incl. drawing the votes), snapshot %.4f s\n", t_draw, t_snap);
    printf("  BT fit              %9.4f s  (%d Newton iterations, max|grad| %.1e)\n", t_fit, bt.iterations, bt.max_grad);
    printf("  BT bootstrap x1000  %9.4f s  (%.2f ms a round; %.2f s of CPU over all threads, so the wall\n"
           "                                 time on otherwise idle cores is about that / threads)\n",
           t_boot, t_boot, cpu_boot);
    printf("  sandwich            %9.4f s\n", t_sand);
    printf("  Elo fit             %9.4f s, Elo bootstrap x%d %.4f s\n", t_elo, elo_rounds, t_eboot);
    printf("  split: accumulate %.3f / fit %.3f / intervals %.3f s; fit + 1000 rounds = %.3f s\n",
           t_draw + t_snap, t_fit, t_boot + t_sand, t_fit + t_boot);
    resample_baseline(d);
    if (with_baseline) {
        gsl_vector *x = gsl_vector_alloc((size_t)models);
        int reps = 5, it = 0;
        t0 = now();
        for (int i = 0; i < reps; i++) it = baseline_fit(&r, x);
        double t_base = (now() - t0) / reps;
        double diff = 0, mean = 0;
        for (int m = 0; m < models; m++) mean += gsl_vector_get(x, (size_t)m) / models;
        for (int m = 0; m < models; m++) {
            char name[16];
            snprintf(name, sizeof name, "model-%03d", m + 1);
            long i = rt_find(d, name);
            if (i >= 0) diff = fmax(diff, fabs(bt.rating[i] - (1000 + 400 * (gsl_vector_get(x, (size_t)m) - mean))));
        }
        printf("  baseline (BFGS2 over %zu battle rows, |grad| < 1e-6): %.4f s a fit, %d iterations, "
               "max |rating difference| %.3f\n", r.n, t_base, it, diff);
        printf("  ratio ours/baseline: fit %.4f; fit + 1000 rounds %.4f (baseline 1000 rounds = 1000 fits, %.1f s)\n",
               t_fit / t_base, (t_fit + t_boot) / (1001 * t_base), 1001 * t_base);
        gsl_vector_free(x);
        free(r.a);
        free(r.b);
        free(r.y);
    }
    free(elo);
    ci_result_free(&boot);
    ci_result_free(&sand);
    ci_result_free(&eboot);
    bt_result_free(&bt);
    rt_data_free(d);
    rt_free(acc);
}

int main(void)
{
    gsl_set_error_handler_off();
    run("small arena", 60, 9000, 100, 1);
    run("large arena", 200, 3000000, 10, 0);
    return 0;
}
