/* Bradley-Terry, Elo, intervals and matrices on hand-made battles: exact values,
 * invariances, degenerate inputs, thread-count independence. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include "../check.h"
#include "battles.h"
#include "bt.h"
#include "ci.h"
#include "elo.h"
#include "matrix.h"

static char err[256];

typedef struct battle { int a, b; rt_outcome o; } battle;

static const char *names[] = { "m0", "m1", "m2", "m3", "m4", "m5" };

/* Snapshot of battles taken in the order given by order (NULL: as listed); flip swaps the
 * sides of every battle and the winner with them. */
static rt_data *snapshot(const battle *bs, size_t n, const size_t *order, int flip)
{
    rt_filter f;
    rt_filter_default(&f);
    f.keep_sequence = 1;
    rt_battles *acc = rt_new(&f, err, sizeof err);
    for (size_t i = 0; i < n; i++) {
        battle b = bs[order ? order[i] : i];
        if (flip) {
            int t = b.a; b.a = b.b; b.b = t;
            b.o = b.o == RT_WIN_A ? RT_WIN_B : b.o == RT_WIN_B ? RT_WIN_A : b.o;
        }
        rt_add(acc, names[b.a], names[b.b], b.o, (double)i, 1, err, sizeof err);
    }
    rt_data *d = rt_snapshot(acc, err, sizeof err);
    rt_free(acc);
    return d;
}

static int fit(const rt_data *d, bt_result *r)
{
    bt_opts o;
    bt_opts_default(&o);
    int rc = bt_fit(d, &o, r, err, sizeof err);
    if (rc) printf("# bt_fit: %s\n", err);
    return rc;
}

static double rating_of(const rt_data *d, const bt_result *r, const char *name)
{
    long i = rt_find(d, name);
    return i < 0 ? NAN : r->rating[i];
}

static void test_exact(void)
{
    battle bs[] = { { 0, 1, RT_WIN_A }, { 0, 1, RT_WIN_A }, { 1, 0, RT_WIN_B }, { 1, 0, RT_WIN_A } };
    rt_data *d = snapshot(bs, 4, NULL, 0);
    bt_result r;
    if (fit(d, &r) == 0) {
        double half = 200 * log10(3);             /* 3 wins to 1: theta difference log10(3) */
        CHECK_NEAR(rating_of(d, &r, "m0"), 1000 + half, 1e-9, "3:1 gives 400 log10 3 apart");
        CHECK_NEAR(rating_of(d, &r, "m1"), 1000 - half, 1e-9, "centred at 1000");
        CHECK(r.n_warnings == 0 && r.regularised == 0 && r.rank[0] == 1 && r.rank[1] == 2, "no warning, ranks");
    }
    bt_result_free(&r);
    rt_data_free(d);

    battle ties[] = { { 0, 1, RT_WIN_A }, { 0, 1, RT_TIE }, { 1, 0, RT_TIE_BOTHBAD } };
    d = snapshot(ties, 3, NULL, 0);
    if (fit(d, &r) == 0)
        CHECK_NEAR(rating_of(d, &r, "m0") - rating_of(d, &r, "m1"), 400 * log10(2), 1e-9, "a tie is half a win each");

    bt_opts o;
    bt_opts_default(&o);
    o.anchor_model = "m1";
    o.anchor_value = 1114;
    bt_result_free(&r);
    CHECK(bt_fit(d, &o, &r, err, sizeof err) == 0 && fabs(rating_of(d, &r, "m1") - 1114) < 1e-9 &&
          fabs(rating_of(d, &r, "m0") - 1114 - 400 * log10(2)) < 1e-9, "anchor shifts the component");
    bt_result_free(&r);
    o.anchor_model = "absent";
    CHECK(bt_fit(d, &o, &r, err, sizeof err) == 0 && r.n_warnings == 1 && strstr(r.warnings[0], "absent"),
          "absent anchor warns");
    bt_result_free(&r);
    rt_data_free(d);

    elo_opts eo;
    elo_opts_default(&eo);
    double ra = 1000, rb = 1000;
    elo_update(&eo, &ra, &rb, RT_WIN_A);
    CHECK_NEAR(ra, 1002, 1e-12, "elo: even match, winner +k/2");
    CHECK_NEAR(rb, 998, 1e-12, "elo: loser -k/2");
    double ea = 1 / (1 + pow(10, (ra - rb) / 400.0));
    elo_update(&eo, &rb, &ra, RT_TIE);
    CHECK_NEAR(rb, 998 + 4 * (0.5 - ea), 1e-12, "elo: tie moves toward each other");
}

/* 300 random battles among 5 models. */
static size_t random_battles(battle *bs, size_t n, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (size_t i = 0; i < n; i++) {
        int a = (int)gsl_rng_uniform_int(rng, 5), b = (int)gsl_rng_uniform_int(rng, 4);
        if (b >= a) b++;
        double u = gsl_rng_uniform(rng), pa = 1 / (1 + pow(10, (b - a) * 0.2));
        bs[i] = (battle){ a, b, u < 0.1 ? RT_TIE : u < 0.1 + 0.9 * pa ? RT_WIN_A : RT_WIN_B };
    }
    gsl_rng_free(rng);
    return n;
}

/* A background interval job, as a live board runs one on a snapshot it holds. */
typedef struct background { const rt_data *d; const bt_result *point; ci_result out; int rc; } background;

static void *background_bootstrap(void *arg)
{
    background *b = arg;
    ci_opts co;
    ci_opts_default(&co);
    co.rounds = 200;
    char e[256];
    b->rc = ci_bt_bootstrap(b->d, NULL, b->point, &co, &b->out, e, sizeof e);
    return NULL;
}

static void test_invariances(void)
{
    battle bs[300];
    size_t n = random_battles(bs, 300, 7), order[300];
    for (size_t i = 0; i < n; i++) order[i] = n - 1 - (i * 7) % n;   /* a permutation (7 and 300 coprime) */
    rt_data *d = snapshot(bs, n, NULL, 0), *dp = snapshot(bs, n, order, 0), *df = snapshot(bs, n, NULL, 1);
    bt_result r, rp, rf;
    if (fit(d, &r) || fit(dp, &rp) || fit(df, &rf)) return;
    double perm = 0, flip = 0;
    for (int m = 0; m < 5; m++) {
        perm = fmax(perm, fabs(rating_of(d, &r, names[m]) - rating_of(dp, &rp, names[m])));
        flip = fmax(flip, fabs(rating_of(d, &r, names[m]) - rating_of(df, &rf, names[m])));
    }
    CHECK(perm < 1e-9, "permuting battles changes nothing (%g)", perm);
    CHECK(flip < 1e-9, "swapping sides with the winner changes nothing (%g)", flip);
    CHECK(r.max_grad <= 1e-10, "converged (%g)", r.max_grad);

    /* Intervals: thread count does not matter; sandwich and bootstrap agree roughly. */
    ci_opts co;
    ci_opts_default(&co);
    co.rounds = 200;
    ci_result c1, c2, sw, e1, e2;
    co.threads = 1;
    int rc = ci_bt_bootstrap(d, NULL, &r, &co, &c1, err, sizeof err);
    co.threads = 2;
    rc |= ci_bt_bootstrap(d, NULL, &r, &co, &c2, err, sizeof err);
    CHECK(rc == 0, "bootstraps ran: %s", rc ? err : "ok");
    if (rc == 0) {
        CHECK(!memcmp(c1.lower, c2.lower, 5 * sizeof(double)) && !memcmp(c1.upper, c2.upper, 5 * sizeof(double)) &&
              !memcmp(c1.sd, c2.sd, 5 * sizeof(double)), "bt bootstrap identical on 1 and 2 threads");
        /* Two bootstraps and a fit at once on one snapshot: same results as alone. */
        background bg[2] = { { d, &r, { 0 }, -1 }, { d, &r, { 0 }, -1 } };
        pthread_t th[2];
        for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, background_bootstrap, &bg[t]);
        bt_result again;
        int fit_rc = fit(d, &again);
        for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
        CHECK(fit_rc == 0 && !memcmp(again.rating, r.rating, 5 * sizeof(double)), "fit during background bootstraps");
        for (int t = 0; t < 2; t++) {
            CHECK(bg[t].rc == 0 && !memcmp(bg[t].out.lower, c1.lower, 5 * sizeof(double)) &&
                  !memcmp(bg[t].out.upper, c1.upper, 5 * sizeof(double)), "concurrent bootstrap %d identical", t);
            ci_result_free(&bg[t].out);
        }
        bt_result_free(&again);
        CHECK(ci_bt_sandwich(d, NULL, &r, &sw, err, sizeof err) == 0, "sandwich");
        for (size_t i = 0; i < 5; i++) {
            CHECK(c1.lower[i] < r.rating[i] && r.rating[i] < c1.upper[i], "bootstrap brackets the estimate %zu", i);
            CHECK(fabs(sw.sd[i] / c1.sd[i] - 1) < 0.25, "sandwich sd %.2f ~ bootstrap sd %.2f", sw.sd[i], c1.sd[i]);
        }
        ci_result_free(&sw);
    }
    co.rounds = 50;
    co.threads = 1;
    rc = ci_elo_bootstrap(d, NULL, &co, &e1, err, sizeof err);
    co.threads = 2;
    rc |= ci_elo_bootstrap(d, NULL, &co, &e2, err, sizeof err);
    CHECK(rc == 0 && !memcmp(e1.lower, e2.lower, 5 * sizeof(double)) && !memcmp(e1.upper, e2.upper, 5 * sizeof(double)),
          "elo bootstrap identical on 1 and 2 threads");
    co.seed = 43;
    ci_result e3;
    CHECK(ci_elo_bootstrap(d, NULL, &co, &e3, err, sizeof err) == 0 && memcmp(e1.lower, e3.lower, 5 * sizeof(double)),
          "another seed, other bounds");
    ci_result_free(&e3);
    ci_result_free(&e1);
    ci_result_free(&e2);
    ci_result_free(&c1);
    ci_result_free(&c2);

    double lower[] = { 10, 5, 1, 8 }, upper[] = { 12, 9, 4, 11 };
    int ub[4];
    ci_rank_ub(4, lower, upper, ub);
    CHECK(ub[0] == 1 && ub[1] == 2 && ub[2] == 4 && ub[3] == 1, "rank_ub %d %d %d %d", ub[0], ub[1], ub[2], ub[3]);
    double rt[] = { 3, 5, 3, 1 };
    int rank[4];
    bt_rank(4, rt, rank);
    CHECK(rank[0] == 2 && rank[1] == 1 && rank[2] == 2 && rank[3] == 4, "competition rank");

    bt_result_free(&r);
    bt_result_free(&rp);
    bt_result_free(&rf);
    rt_data_free(d);
    rt_data_free(dp);
    rt_data_free(df);
}

static void test_degenerate(void)
{
    bt_result r;
    battle ties[] = { { 0, 1, RT_TIE }, { 1, 2, RT_TIE_BOTHBAD }, { 2, 0, RT_TIE }, { 0, 1, RT_TIE } };
    rt_data *d = snapshot(ties, 4, NULL, 0);
    if (fit(d, &r) == 0)
        CHECK(fabs(r.rating[0] - 1000) < 1e-9 && fabs(r.rating[1] - 1000) < 1e-9 && fabs(r.rating[2] - 1000) < 1e-9 &&
              r.n_warnings == 0, "all ties: all equal");
    bt_result_free(&r);
    rt_data_free(d);

    /* m0 never loses: no MLE; finite ratings, a warning naming it. */
    battle unbeaten[] = { { 0, 1, RT_WIN_A }, { 2, 0, RT_WIN_B }, { 1, 2, RT_WIN_A }, { 2, 1, RT_WIN_A },
                          { 0, 2, RT_WIN_A } };
    d = snapshot(unbeaten, 5, NULL, 0);
    if (fit(d, &r) == 0) {
        CHECK(isfinite(r.rating[0]) && isfinite(r.rating[1]) && isfinite(r.rating[2]) && r.rank[0] == 1,
              "unbeaten model: finite ratings (%.1f %.1f %.1f)", r.rating[0], r.rating[1], r.rating[2]);
        CHECK(r.regularised == 1 && r.n_warnings == 1 && strstr(r.warnings[0], "never lose (m0)"),
              "unbeaten model: warning: %s", r.n_warnings ? r.warnings[0] : "none");
        ci_result sw, bs;
        ci_opts co;
        ci_opts_default(&co);
        co.rounds = 100;
        CHECK(ci_bt_sandwich(d, NULL, &r, &sw, err, sizeof err) == 0 && isfinite(sw.lower[0]) && isfinite(sw.upper[0]),
              "unbeaten model: finite sandwich");
        CHECK(ci_bt_bootstrap(d, NULL, &r, &co, &bs, err, sizeof err) == 0 && isfinite(bs.lower[0]) &&
              isfinite(bs.upper[0]) && bs.regularised_rounds == 100, "unbeaten model: finite bootstrap");
        ci_result_free(&sw);
        ci_result_free(&bs);
    }
    bt_result_free(&r);
    rt_data_free(d);

    /* Two models, one battle. */
    d = snapshot(unbeaten, 1, NULL, 0);
    CHECK(fit(d, &r) == 0 && r.rating[0] > r.rating[1] && isfinite(r.rating[0]), "one battle: finite");
    bt_result_free(&r);
    rt_data_free(d);

    /* Empty and one model (self-battles only): errors, not NaN. */
    battle self[] = { { 3, 3, RT_WIN_A } };
    d = snapshot(self, 1, NULL, 0);
    bt_opts o;
    bt_opts_default(&o);
    CHECK(bt_fit(d, &o, &r, err, sizeof err) == -1 && r.rating == NULL, "one model: error: %s", err);
    double elo[1];
    CHECK(elo_fit(d, NULL, elo, err, sizeof err) == -1, "elo, no battles: error: %s", err);
    ci_result c;
    CHECK(ci_elo_bootstrap(d, NULL, NULL, &c, err, sizeof err) == -1, "elo bootstrap, no battles: error");
    CHECK(ci_bt_sandwich(d, NULL, &r, &c, err, sizeof err) == -1, "sandwich without a fit: error: %s", err);
    bt_result_free(&r);
    rt_data_free(d);
}

static void test_matrices(void)
{
    battle bs[] = { { 0, 1, RT_WIN_A }, { 1, 0, RT_WIN_A }, { 0, 1, RT_TIE }, { 1, 0, RT_WIN_B }, { 2, 3, RT_WIN_A } };
    rt_data *d = snapshot(bs, 5, NULL, 0);
    double wf[16], bc[16], pw[4];
    mx_win_fraction(d, wf);
    mx_battle_counts(d, bc);
    CHECK(wf[0 * 4 + 1] == 0.5 && wf[1 * 4 + 0] == 0.25, "win fraction: ties in the denominator only");
    CHECK(isnan(wf[0]) && isnan(wf[0 * 4 + 2]) && wf[2 * 4 + 3] == 1 && wf[3 * 4 + 2] == 0, "win fraction: NAN where unmet");
    CHECK(bc[1] == 4 && bc[4] == 4 && bc[2] == 0 && bc[11] == 1 && isnan(bc[5]), "battle counts");
    double rating[] = { 1100, 1000 };
    mx_predicted_win(2, rating, 400, 10, pw);
    CHECK_NEAR(pw[1], 1 / (1 + pow(10, -0.25)), 1e-12, "predicted win");
    CHECK_NEAR(pw[1] + pw[2], 1, 1e-12, "predicted win sums to 1");
    rt_data_free(d);
}

/* elo_live against elo_fit on a full snapshot, after every batch of votes: bit for bit,
 * through votes in time order, a vote out of order, votes without a time, and a model that
 * min_votes keeps only once it has enough battles. Returns the batches that matched. */
typedef enum { LIVE_IN_ORDER, LIVE_ONE_LATE, LIVE_SOME_UNTIMED, LIVE_LATE_MODEL } live_case;

static int live_batches_matching(live_case lc, int batches, int per_batch)
{
    rt_filter f;
    rt_filter_default(&f);
    f.keep_sequence = 1;
    f.min_votes = lc == LIVE_LATE_MODEL ? 30 : 0;
    rt_battles *acc = rt_new(&f, err, sizeof err);
    elo_live *live = elo_live_new(NULL);
    unsigned long long x = 88172645463325252ULL;
    int matched = 0, t = 0;
    for (int batch = 0; acc && live && batch < batches; batch++) {
        for (int i = 0; i < per_batch; i++, t++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* the last model plays a few battles at first (too few for min_votes: dropped
             * with them), then as often as the others from the third batch on */
            int rare = lc == LIVE_LATE_MODEL && batch < 2, pool = rare ? 5 : 6;
            int a = rare && i % 50 == 0 ? 5 : (int)(x % (unsigned)pool), b = (int)((x >> 8) % 5u);
            if (a == b) b = (b + 1) % 5;
            double tstamp = lc == LIVE_ONE_LATE && batch == 3 && i == 0 ? t - 500.5
                          : lc == LIVE_SOME_UNTIMED ? (t % 97 == 5 ? NAN : -(double)t)   /* arrival order stands */
                          : (double)t;
            rt_add(acc, names[a], names[b], (rt_outcome)((x >> 16) % 3), tstamp, 1, err, sizeof err);
        }
        rt_data *counts = rt_snapshot_counts(acc, err, sizeof err), *full = rt_snapshot(acc, err, sizeof err);
        double want[6], got[6];
        if (counts && full && !counts->seq && counts->n_models == full->n_models &&
            elo_fit(full, NULL, want, err, sizeof err) == 0 &&
            elo_live_fit(live, acc, counts, got, err, sizeof err) == 0 &&
            memcmp(want, got, full->n_models * sizeof *want) == 0)
            matched++;
        rt_data_free(counts);
        rt_data_free(full);
    }
    elo_live_free(live);
    rt_free(acc);
    return matched;
}

static void test_elo_live(void)
{
    CHECK(live_batches_matching(LIVE_IN_ORDER, 8, 250) == 8, "elo_live: votes in time order, 8 refits equal elo_fit bit for bit");
    CHECK(live_batches_matching(LIVE_ONE_LATE, 8, 250) == 8, "elo_live: after a vote out of time order, it replays in the snapshot's order");
    CHECK(live_batches_matching(LIVE_SOME_UNTIMED, 8, 250) == 8, "elo_live: with votes without a time, the arrival order stands");
    CHECK(live_batches_matching(LIVE_LATE_MODEL, 8, 250) == 8, "elo_live: a model kept by min_votes only later restarts the replay");
}

int main(void)
{
    test_exact();
    test_invariances();
    test_degenerate();
    test_matrices();
    test_elo_live();
    return check_exit();
}
