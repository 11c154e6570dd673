/* bench_board.c: the live board with 40 models and 200,000 votes: vote ingestion rate,
 * the cost of one point refit (BT + Elo, what each debounced refit pays before it
 * publishes) beside a replay of every vote, time to fully published intervals, and
 * leaderboard reads from the cache beside the baseline of serialising the document on
 * every read. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "battles.h"
#include "board.h"
#include "bt.h"
#include "elo.h"

enum { N_MODELS = 40, N_VOTES = 200000, READS = 200000, READERS = 2, REFIT_VOTES = 100 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static board *bd;
static char names[N_MODELS][32];

static void *reader(void *arg)
{
    size_t bytes = 0;
    for (int i = 0; i < READS / READERS; i++) {
        board_blob *b = board_leaderboard_json(bd, BOARD_BT, 1);
        bytes += b->len;
        board_blob_release(b);
    }
    *(size_t *)arg = bytes;
    return NULL;
}

/* The next vote of the synthetic arena: model i beats model j with probability
 * 1 / (1 + e^(strength[j] - strength[i])), 10 % ties. */
static void next_vote(const double *strength, int *a, int *b, rt_outcome *outcome)
{
    *a = (int)(uniform() * N_MODELS);
    *b = (int)(uniform() * (N_MODELS - 1));
    if (*b >= *a) (*b)++;
    double p = 1 / (1 + exp(strength[*b] - strength[*a])), u = uniform();
    *outcome = u < 0.1 ? RT_TIE : u < 0.1 + 0.9 * p ? RT_WIN_A : RT_WIN_B;
}

int main(void)
{
    char err[256];
    board_opts o;
    board_opts_default(&o);
    o.bootstrap_rounds = 100;
    o.debounce_ms = 250;
    bd = board_new(&o, err, sizeof err);
    if (!bd) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double strength[N_MODELS];
    for (int i = 0; i < N_MODELS; i++) {
        snprintf(names[i], sizeof names[i], "model-%02d", i);
        strength[i] = (double)i / 10.0;
    }
    double t0 = now_s();
    static const char *const winners[] = { "model_a", "model_b", "tie" };
    for (int v = 0; v < N_VOTES; v++) {
        int a, b;
        rt_outcome outcome;
        next_vote(strength, &a, &b, &outcome);
        store_vote_record r = { .model_a = names[a], .model_b = names[b], .anony = 1, .turn = 1,
                                .tstamp = 1.7e9 + v, .winner = winners[outcome] };
        board_add_vote(bd, &r);
    }
    double add_s = now_s() - t0;
    t0 = now_s();
    board_sync(bd);
    double sync_s = now_s() - t0;

    /* One point refit on the same votes, measured directly, as the board makes it: the
     * counts, BT on them, and Elo brought up to date with the votes since the last refit
     * (here REFIT_VOTES); beside the baseline of a full replay (the snapshot with the
     * sequence, elo_fit over all of it), which every refit paid before. */
    rt_filter f;
    rt_filter_default(&f);
    f.keep_sequence = 1;
    rt_battles *acc = rt_new(&f, err, sizeof err);
    elo_live *live = elo_live_new(NULL);
    double elo[N_MODELS];
    rng = 0x9E3779B97F4A7C15ULL;
    for (int v = 0; v < N_VOTES; v++) {
        int a, b;
        rt_outcome outcome;
        next_vote(strength, &a, &b, &outcome);
        rt_add(acc, names[a], names[b], outcome, 1.7e9 + v, 1, err, sizeof err);
        if (v == N_VOTES - REFIT_VOTES - 1) {   /* the refit before */
            rt_data *before = rt_snapshot_counts(acc, err, sizeof err);
            elo_live_fit(live, acc, before, elo, err, sizeof err);
            rt_data_free(before);
        }
    }
    double snap_t = now_s();
    rt_data *d = rt_snapshot_counts(acc, err, sizeof err);
    snap_t = now_s() - snap_t;
    bt_opts bo;
    bt_opts_default(&bo);
    bt_result bt = { 0 };
    double fit_t = now_s();
    bt_fit(d, &bo, &bt, err, sizeof err);
    fit_t = now_s() - fit_t;
    double elo_t = now_s();
    elo_live_fit(live, acc, d, elo, err, sizeof err);
    elo_t = now_s() - elo_t;
    double full_t = now_s();
    rt_data *full = rt_snapshot(acc, err, sizeof err);
    double full_elo[N_MODELS];
    elo_fit(full, NULL, full_elo, err, sizeof err);
    full_t = now_s() - full_t;
    int same = memcmp(elo, full_elo, sizeof elo) == 0;

    /* Reads from the cache, READERS threads. */
    pthread_t th[READERS];
    size_t bytes[READERS];
    t0 = now_s();
    for (int i = 0; i < READERS; i++) pthread_create(&th[i], NULL, reader, &bytes[i]);
    for (int i = 0; i < READERS; i++) pthread_join(th[i], NULL);
    double read_s = now_s() - t0;

    /* Baseline: serialise the same document on every read (what an uncached server does). */
    board_blob *doc = board_leaderboard_json(bd, BOARD_BT, 1);
    json_error_t e;
    json_t *j = json_loadb(doc->data, doc->len, 0, &e);
    int base_reads = 20000;
    t0 = now_s();
    for (int i = 0; i < base_reads; i++) free(json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)));
    double base_s = now_s() - t0;
    json_decref(j);

    printf("board: %d models, %d votes\n", N_MODELS, N_VOTES);
    printf("ingest: %.0f votes/s (board_add_vote)\n", N_VOTES / add_s);
    printf("point refit on every publish (%d new votes): counts %.3f ms + BT %.2f ms + Elo %.3f ms\n", REFIT_VOTES,
           snap_t * 1e3, fit_t * 1e3, elo_t * 1e3);
    printf("baseline, replaying every vote: snapshot with the sequence + Elo %.2f ms (%.0fx the refit's counts + Elo; same ratings: %s)\n",
           full_t * 1e3, full_t / (snap_t + elo_t), same ? "yes" : "NO");
    printf("fully published (points, sandwich, Elo bootstrap %d rounds) %.2f s after the last vote\n",
           o.bootstrap_rounds, sync_s);
    printf("leaderboard reads from cache: %.0f reads/s (%d threads, %zu-byte document)\n", READS / read_s, READERS,
           doc->len);
    printf("baseline, serialising per read: %.0f reads/s\n", base_reads / base_s);
    printf("ratio cached / serialising: %.1fx (issue target: >= 20,000 reads/s)\n",
           (READS / read_s) / (base_reads / base_s));
    board_blob_release(doc);
    bt_result_free(&bt);
    rt_data_free(d);
    rt_data_free(full);
    elo_live_free(live);
    rt_free(acc);
    board_free(bd);
    return 0;
}
