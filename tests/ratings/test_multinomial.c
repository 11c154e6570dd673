/* The bootstrap's multinomial sampler (Poisson tables, then the remaining trials one at a
 * time) against theory: every draw sums to n; chi-square goodness of fit of the joint law
 * on small cases (one drawn by the remaining-trial step alone, one mostly by the Poisson
 * tables); marginal means and variances on many categories like a bootstrap's, and on
 * counts too large for tables (gsl_ran_poisson). Seeds are fixed: deterministic. */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_gamma.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include "../check.h"
#include "multinomial.h"

#define DRAWS 200000

static void test_many_categories(gsl_rng *r)
{
    mn_dist d;
    uint64_t too_many[2] = { UINT_MAX, 1 };
    CHECK(mn_dist_init(&d, too_many, 2) == -1 && !d.kinds, "multinomial: more than UINT_MAX trials refused");
    uint64_t none[2] = { 0, 0 };
    CHECK(mn_dist_init(&d, none, 2) == -1, "multinomial: no trials refused");

    /* Many categories of a few dozen each, like a bootstrap over pair counts, zeros in
     * between and at the end: every draw sums to n, zeros stay zero, and each marginal
     * is Binomial(n, p_t), so the standardised squares average about 1. */
    enum { K = 3000, ROUNDS = 300 };
    uint64_t *counts = malloc(K * sizeof *counts);
    unsigned *out = malloc(K * sizeof *out);
    double *sum = calloc(K, sizeof *sum), *sq = calloc(K, sizeof *sq);
    uint64_t total = 0;
    for (size_t t = 0; t < K; t++) total += counts[t] = t % 7 == 3 || t >= K - 2 ? 0 : 1 + t % 90;
    CHECK(mn_dist_init(&d, counts, K) == 0 && d.n == total, "multinomial: %llu trials over %d categories",
          (unsigned long long)total, K);
    int sums = 1, zeros = 1;
    for (int round = 0; round < ROUNDS; round++) {
        mn_draw(&d, r, out);
        uint64_t s = 0;
        for (size_t t = 0; t < K; t++) {
            s += out[t];
            zeros &= counts[t] || !out[t];
            double mean = (double)counts[t];
            sum[t] += out[t] - mean;
            sq[t] += (out[t] - mean) * (out[t] - mean);
        }
        sums &= s == total;
    }
    CHECK(sums, "multinomial: every draw sums to n");
    CHECK(zeros, "multinomial: empty categories stay empty");
    double z_max = 0, z_var = 0;
    int used = 0;
    for (size_t t = 0; t < K; t++) {
        if (!counts[t]) continue;
        double p = (double)counts[t] / total, var = total * p * (1 - p);
        z_max = fmax(z_max, fabs(sum[t] / sqrt(ROUNDS * var)));
        z_var += sq[t] / (ROUNDS * var);
        used++;
    }
    /* each z about N(0, 1): the largest of 2570 stays below 5.5 but for a 1e-4 chance;
     * z_var: a mean of ratios of sd about sqrt(2 / ROUNDS) each */
    CHECK(z_max < 5.5, "multinomial: marginal means (largest |z| %.2f of %d)", z_max, used);
    CHECK_NEAR(z_var / used, 1, 5 * sqrt(2.0 / ROUNDS / used) + 0.005, "multinomial: marginal variances");
    mn_dist_free(&d);
    free(counts);
    free(out);
    free(sum);
    free(sq);
}

/* Chi-square of DRAWS draws over 3 categories against the multinomial law of every
 * outcome (x0, x1, n - x0 - x1); outcomes expected fewer than 5 times share one cell. */
static void check_joint(gsl_rng *r, const uint64_t counts[3])
{
    mn_dist d;
    unsigned x[3];
    int rc = mn_dist_init(&d, counts, 3);
    CHECK(rc == 0, "multinomial: %u trials over (%llu, %llu, %llu)", d.n, (unsigned long long)counts[0],
          (unsigned long long)counts[1], (unsigned long long)counts[2]);
    if (rc) return;
    unsigned n = d.n, *seen = calloc((size_t)(n + 1) * (n + 1), sizeof *seen);
    double lp[3];
    for (int c = 0; c < 3; c++) lp[c] = log((double)counts[c] / n);
    for (int i = 0; i < DRAWS; i++) {
        mn_draw(&d, r, x);
        if (x[0] + x[1] + x[2] == n) seen[x[0] * (n + 1) + x[1]]++;
    }
    double chi2 = 0, pooled_seen = 0, pooled_want = 0;
    int cells = 0;
    for (unsigned a = 0; a <= n; a++)
        for (unsigned b = 0; a + b <= n; b++) {
            unsigned c = n - a - b;
            double e = DRAWS * exp(gsl_sf_lnfact(n) - gsl_sf_lnfact(a) - gsl_sf_lnfact(b) - gsl_sf_lnfact(c) +
                                   a * lp[0] + b * lp[1] + c * lp[2]);
            double o = seen[a * (n + 1) + b];
            if (e < 5) {
                pooled_seen += o;
                pooled_want += e;
                continue;
            }
            chi2 += (o - e) * (o - e) / e;
            cells++;
        }
    if (pooled_want > 0) {
        chi2 += (pooled_seen - pooled_want) * (pooled_seen - pooled_want) / pooled_want;
        cells++;
    }
    double pvalue = gsl_cdf_chisq_Q(chi2, cells - 1);
    CHECK(pvalue > 1e-4, "multinomial: chi-square %.1f over %d outcome cells, p-value %.3g", chi2, cells, pvalue);
    free(seen);
    mn_dist_free(&d);
}

/* Counts whose Poisson tables would pass the memory budget: gsl_ran_poisson draws them. */
static void test_large_counts(gsl_rng *r)
{
    enum { K = 10, ROUNDS = 40 };
    uint64_t counts[K];
    unsigned out[K];
    double sum[K] = { 0 }, sq[K] = { 0 };
    for (int t = 0; t < K; t++) counts[t] = 400000000 + (uint64_t)t;
    mn_dist d;
    int rc = mn_dist_init(&d, counts, K);
    CHECK(rc == 0, "multinomial: %u trials over %d categories", d.n, K);
    if (rc) return;
    int tables = 0;
    for (size_t x = 0; x < d.n_kinds; x++) tables += d.kinds[x].table != NULL;
    CHECK(tables > 0 && tables < K, "multinomial: %d of %d counts have tables", tables, K);
    int sums = 1;
    for (int i = 0; i < ROUNDS; i++) {
        mn_draw(&d, r, out);
        uint64_t s = 0;
        for (int t = 0; t < K; t++) {
            s += out[t];
            sum[t] += out[t] - (double)counts[t];
            sq[t] += (out[t] - (double)counts[t]) * (out[t] - (double)counts[t]);
        }
        sums &= s == d.n;
    }
    CHECK(sums, "multinomial, large counts: every draw sums to n");
    double z_max = 0, z_var = 0;
    for (int t = 0; t < K; t++) {
        double p = (double)counts[t] / d.n, var = d.n * p * (1 - p);
        z_max = fmax(z_max, fabs(sum[t] / sqrt(ROUNDS * var)));
        z_var += sq[t] / (ROUNDS * var);
    }
    CHECK(z_max < 5, "multinomial, large counts: marginal means (largest |z| %.2f)", z_max);
    CHECK_NEAR(z_var / K, 1, 5 * sqrt(2.0 / ROUNDS / K), "multinomial, large counts: marginal variances");
    mn_dist_free(&d);
}

int main(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 12345);
    test_many_categories(r);
    /* 6 trials: lambda = 0, the remaining-trial step alone; 100 trials: lambda = 70 */
    check_joint(r, (const uint64_t[3]){ 3, 2, 1 });
    check_joint(r, (const uint64_t[3]){ 50, 30, 20 });
    test_large_counts(r);
    gsl_rng_free(r);
    return check_exit();
}
