/* Recovery on synthetic battles drawn from known Bradley-Terry strengths (synth.h, no
 * ties so that the model is exactly right): the fit correlates with the truth, and about
 * 95 % of the true values lie inside the 95 % bootstrap and sandwich intervals. */
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "../check.h"
#include "battles.h"
#include "bt.h"
#include "ci.h"
#include "reader.h"
#include "synth.h"
#include "load.h"

#define MODELS 30
#define SEEDS 5

int main(void)
{
    char err[512];
    int covered_boot = 0, covered_sandwich = 0, total = 0;
    for (unsigned long seed = 1; seed <= SEEDS; seed++) {
        synth_options so = { .models = MODELS, .votes = 20000, .seed = seed, .ties = 0, .format = RD_FORMAT_JSONL };
        double truth[MODELS];
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        int rc = mem && synth_true_ratings(&so, truth, err, sizeof err) == 0 && synth_write(mem, &so, err, sizeof err) == 0;
        if (mem) fclose(mem);
        CHECK(rc, "seed %lu: synthesised %zu bytes", seed, len);
        rt_battles *acc = rt_new(NULL, err, sizeof err);
        rt_data *d = NULL;
        if (rc && rd_read_buffer(buf, len, "synth", NULL, load_add, acc, NULL, err, sizeof err) == 0)
            d = rt_snapshot(acc, err, sizeof err);
        free(buf);
        rt_free(acc);
        CHECK(d && d->n_models == MODELS && d->n_components == 1, "seed %lu: %d models, one component", seed, MODELS);
        if (!d || d->n_models != MODELS) { rt_data_free(d); continue; }

        bt_result bt;
        ci_result boot, sand;
        ci_opts co;
        ci_opts_default(&co);
        CHECK(bt_fit(d, NULL, &bt, err, sizeof err) == 0, "seed %lu: fit", seed);
        if (ci_bt_bootstrap(d, NULL, &bt, &co, &boot, err, sizeof err) < 0 ||
            ci_bt_sandwich(d, NULL, &bt, &sand, err, sizeof err) < 0) {
            CHECK(0, "seed %lu: intervals: %s", seed, err);
            bt_result_free(&bt);
            rt_data_free(d);
            continue;
        }
        /* Both sides centred the same way: the truth at its mean, the fit at 1000. */
        double aligned[MODELS], est[MODELS], mean = 0;
        for (int m = 0; m < MODELS; m++) mean += truth[m] / MODELS;
        for (int m = 0; m < MODELS; m++) {
            char name[32];
            snprintf(name, sizeof name, "model-%03d", m + 1);
            long i = rt_find(d, name);
            aligned[m] = truth[m] - mean + 1000;
            est[m] = i < 0 ? NAN : bt.rating[i];
            if (i < 0) continue;
            covered_boot += boot.lower[i] <= aligned[m] && aligned[m] <= boot.upper[i];
            covered_sandwich += sand.lower[i] <= aligned[m] && aligned[m] <= sand.upper[i];
            total++;
        }
        double r = gsl_stats_correlation(est, 1, aligned, 1, MODELS);
        CHECK(r > 0.99, "seed %lu: correlation with the truth %.4f", seed, r);
        ci_result_free(&boot);
        ci_result_free(&sand);
        bt_result_free(&bt);
        rt_data_free(d);
    }
    double fb = (double)covered_boot / total, fs = (double)covered_sandwich / total;
    CHECK(fb >= 0.85 && fb <= 1, "bootstrap 95%% intervals cover %.1f%% of true ratings", 100 * fb);
    CHECK(fs >= 0.85 && fs <= 1, "sandwich 95%% intervals cover %.1f%% of true ratings", 100 * fs);
    return check_exit();
}
