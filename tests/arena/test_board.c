/* test_board.c: the live board against a direct fit of the same votes with ratings/
 * (bt_fit, elo_fit, intervals, static join), the anonymous board's exclusions (named
 * battles, identity leaks), its documents (JSON, CSV, matrices), caching and liveness. */
#include <math.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../check.h"
#include "battles.h"
#include "board.h"
#include "bt.h"
#include "ci.h"
#include "elo.h"
#include "static.h"

static const char *const models[] = { "Qwen2.5-72B-Instruct", "Gemma-2-27B-it", "Llama-3-70B-Instruct",
                                      "mixtral-8x7b-instruct-v0.1", "house,model \"x\"" };
#define N_MODELS 5
static const char *const winners[] = { "model_a", "model_b", "tie", "tie (bothbad)" };

typedef struct vote { int a, b, w, anony, leak; double t; } vote;

static unsigned long long rng = 88172645463325252ULL;
static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

static store_vote_record record_of(const vote *v)
{
    return (store_vote_record){ .model_a = models[v->a], .model_b = models[v->b], .winner = winners[v->w],
                                .anony = v->anony, .leak = v->leak, .tstamp = v->t, .turn = 1 };
}

static json_t *get_json(board *b, board_method m, int anony)
{
    board_blob *bl = board_leaderboard_json(b, m, anony);
    json_error_t e;
    json_t *j = bl ? json_loadb(bl->data, bl->len, 0, &e) : NULL;
    board_blob_release(bl);
    return j;
}

static json_t *model_entry(json_t *doc, const char *name)
{
    json_t *ms = json_object_get(doc, "models");
    for (size_t i = 0; i < json_array_size(ms); i++) {
        json_t *m = json_array_get(ms, i);
        if (!strcmp(json_string_value(json_object_get(m, "model")), name)) return m;
    }
    return NULL;
}

/* The direct computation: the same accumulator filter, fits and intervals as the board. */
static int compare_with_direct(board *b, const vote *votes, size_t n, int anony, const st_table *table,
                               int rounds)
{
    char err[256];
    rt_filter f;
    rt_filter_default(&f);
    f.keep_sequence = 1;
    f.anony_only = anony;
    rt_battles *acc = rt_new(&f, err, sizeof err);
    for (size_t i = 0; i < n; i++)
        rt_add(acc, models[votes[i].a], models[votes[i].b], (rt_outcome)votes[i].w, votes[i].t,
               votes[i].anony && !votes[i].leak, err, sizeof err);
    rt_data *d = rt_snapshot(acc, err, sizeof err);
    bt_opts bo;
    bt_opts_default(&bo);
    if (rt_find(d, "mixtral-8x7b-instruct-v0.1") >= 0) {
        bo.anchor_model = "mixtral-8x7b-instruct-v0.1";
        bo.anchor_value = 1114;
    }
    bt_result bt = { 0 };
    bt_fit(d, &bo, &bt, err, sizeof err);
    elo_opts eo;
    elo_opts_default(&eo);
    double *elo = calloc(d->n_models, sizeof *elo);
    elo_fit(d, &eo, elo, err, sizeof err);
    ci_result sw = { 0 }, eb = { 0 };
    ci_bt_sandwich(d, &bo, &bt, &sw, err, sizeof err);
    ci_opts co;
    ci_opts_default(&co);
    co.rounds = rounds;
    co.threads = 1;
    ci_elo_bootstrap(d, &eo, &co, &eb, err, sizeof err);
    st_match *sm = calloc(d->n_models, sizeof *sm);
    st_correlation corr;
    st_join(table, (const char *const *)d->names, bt.rating, d->n_models, sm, &corr);

    json_t *jb = get_json(b, BOARD_BT, anony), *je = get_json(b, BOARD_ELO, anony);
    int ok = jb && je && json_array_size(json_object_get(jb, "models")) == d->n_models &&
             json_integer_value(json_object_get(jb, "total_votes")) == (json_int_t)d->n_battles;
    for (size_t i = 0; ok && i < d->n_models; i++) {
        json_t *mb = model_entry(jb, d->names[i]), *me = model_entry(je, d->names[i]);
        ok = mb && me && json_real_value(json_object_get(mb, "rating")) == bt.rating[i] &&
             json_real_value(json_object_get(mb, "ci_lower")) == sw.lower[i] &&
             json_real_value(json_object_get(mb, "ci_upper")) == sw.upper[i] &&
             json_integer_value(json_object_get(mb, "votes")) == (json_int_t)d->votes[i] &&
             json_integer_value(json_object_get(mb, "rank")) == bt.rank[i] &&
             json_real_value(json_object_get(me, "rating")) == elo[i] &&
             json_real_value(json_object_get(me, "ci_lower")) == eb.lower[i] &&
             json_real_value(json_object_get(me, "ci_upper")) == eb.upper[i] &&
             (sm[i].found ? json_integer_value(json_object_get(mb, "static_rank")) == sm[i].static_rank &&
                                json_integer_value(json_object_get(mb, "rank_delta")) == sm[i].rank_delta
                          : json_is_null(json_object_get(mb, "static_rank")));
        if (!ok) printf("# mismatch at %s\n", d->names[i]);
    }
    json_t *jc = json_object_get(jb, "correlation");
    ok = ok && json_integer_value(json_object_get(jc, "n")) == (json_int_t)corr.n &&
         (!corr.defined || json_real_value(json_object_get(jc, "spearman_rho")) == corr.spearman_rho);
    json_decref(jb);
    json_decref(je);
    ci_result_free(&sw);
    ci_result_free(&eb);
    free(sm);
    free(elo);
    bt_result_free(&bt);
    rt_data_free(d);
    rt_free(acc);
    return ok;
}

/* How many of this process's threads have the value wanted in field field_wanted of their stat. */
static int threads_with_stat(int field_wanted, int wanted)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        char path[300], line[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = e->d_name[0] == '.' ? NULL : fopen(path, "r");
        if (!f) continue;
        const char *p = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
        fclose(f);
        int field = 2, value = 0;
        for (; p && *p && field < field_wanted; p++)
            if (*p == ' ') field++;
        if (p && sscanf(p, "%d", &value) == 1 && value == wanted) n++;
    }
    if (d) closedir(d);
    return n;
}

int main(void)
{
    char err[256];
    st_table *table = st_load("data/open_llm_leaderboard_v2.csv", "model", "average", err, sizeof err);
    CHECK(table && st_load_map(table, "data/model_name_map.csv", err, sizeof err) == 0, "static table loads (%s)",
          table ? "ok" : err);

    board_model meta[] = { { .name = "Qwen2.5-72B-Instruct", .organization = "Alibaba", .license = "Qwen" },
                           { .name = "Gemma-2-27B-it", .organization = "Google", .license = "Gemma" } };
    board_opts o;
    board_opts_default(&o);
    o.models = meta;
    o.n_models = 2;
    o.static_table = table;
    o.bootstrap_rounds = 50;
    o.debounce_ms = 20;
    board *b = board_new(&o, err, sizeof err);
    CHECK(b != NULL, "board_new");

    /* empty board */
    board_sync(b);
    json_t *j = get_json(b, BOARD_BT, 1);
    CHECK(j && json_array_size(json_object_get(j, "models")) == 0 &&
          json_integer_value(json_object_get(j, "total_votes")) == 0, "empty board: no models, no votes");
    json_decref(j);

    /* 600 votes; model 4 meets the others only in named battles; some leaks */
    enum { N = 600 };
    static vote votes[N];
    for (size_t i = 0; i < N; i++) {
        vote *v = &votes[i];
        v->a = (int)(next_rand() % N_MODELS);
        do v->b = (int)(next_rand() % N_MODELS); while (v->b == v->a);
        int strong = v->a < v->b ? v->a : v->b;   /* lower index is stronger, mostly */
        unsigned r = next_rand() % 10;
        v->w = r < 2 ? 2 + (int)(r % 2) : (r < 8) == (strong == v->a) ? 0 : 1;
        v->anony = !(v->a == 4 || v->b == 4) && (i % 7 != 0);
        v->leak = i % 13 == 0;
        v->t = 1700000000.0 + (double)i * 3.5;
        store_vote_record rec = record_of(v);
        board_add_vote(b, &rec);
    }
    store_vote_record self = { .model_a = "x", .model_b = "x", .winner = "tie", .tstamp = 1 };
    CHECK(board_add_vote(b, &self) == 0, "self-battle not counted");
    store_vote_record badw = { .model_a = "x", .model_b = "y", .winner = "left?", .tstamp = 1 };
    CHECK(board_add_vote(b, &badw) == 0, "unknown winner not counted");
    board_sync(b);

    CHECK(compare_with_direct(b, votes, N, 0, table, 50), "all votes: BT, sandwich, Elo, Elo bootstrap, static "
          "join equal to a direct fit");
    CHECK(compare_with_direct(b, votes, N, 1, table, 50), "anonymous board: equal to a direct fit of anony, "
          "non-leak votes");
    size_t anony_votes = 0;
    for (size_t i = 0; i < N; i++) anony_votes += votes[i].anony && !votes[i].leak;
    j = get_json(b, BOARD_BT, 1);
    CHECK(json_integer_value(json_object_get(j, "total_votes")) == (json_int_t)anony_votes &&
          !model_entry(j, models[4]), "named and leak votes stay out of the anonymous board (%zu of %d)",
          anony_votes, N);
    json_t *q = model_entry(j, "Qwen2.5-72B-Instruct");
    CHECK(q && !strcmp(json_string_value(json_object_get(q, "organization")), "Alibaba") &&
          !strcmp(json_string_value(json_object_get(q, "license")), "Qwen") &&
          json_is_integer(json_object_get(q, "static_rank")) && json_is_real(json_object_get(q, "static_score")),
          "registry metadata and static columns joined");
    CHECK(json_real_value(json_object_get(j, "last_vote_tstamp")) > 1700000000.0 &&
          !strcmp(json_string_value(json_object_get(j, "ci_method")), "sandwich") &&
          json_is_true(json_object_get(j, "anony")), "document header fields");
    json_t *mix = model_entry(j, "mixtral-8x7b-instruct-v0.1");
    CHECK(mix && json_real_value(json_object_get(mix, "rating")) == 1114.0, "default anchor as in arena-ratings");
    json_decref(j);

    /* caching: the same blob until the next publish; blobs outlive the board */
    board_blob *c1 = board_leaderboard_csv(b, BOARD_BT, 0), *c2 = board_leaderboard_csv(b, BOARD_BT, 0);
    CHECK(c1 && c1 == c2, "documents are cached");
    CHECK(!strncmp(c1->data, "rank,rank_ub,model,rating,ci_lower,ci_upper,votes,static_rank,static_score,rank_delta\n",
                   86) && strstr(c1->data, "\"house,model \"\"x\"\"\""), "CSV header and quoting as arena-ratings");
    board_blob_release(c2);

    board_blob *mx = board_matrix_json(b, BOARD_COUNTS, 0);
    json_error_t e;
    j = mx ? json_loadb(mx->data, mx->len, 0, &e) : NULL;
    json_t *rows = json_object_get(j, "matrix");
    int sym = json_array_size(rows) == N_MODELS;
    double total = 0;
    for (size_t r = 0; sym && r < N_MODELS; r++)
        for (size_t c = 0; c < N_MODELS; c++) {
            json_t *x = json_array_get(json_array_get(rows, r), c), *y = json_array_get(json_array_get(rows, c), r);
            if (r == c) { sym = sym && json_is_null(x); continue; }
            sym = sym && json_number_value(x) == json_number_value(y);
            total += json_number_value(x);
        }
    CHECK(sym && total == 2.0 * N, "count matrix: symmetric, null diagonal, every vote counted");
    json_decref(j);
    board_blob_release(mx);
    mx = board_matrix_json(b, BOARD_PREDICTED, 1);
    j = mx ? json_loadb(mx->data, mx->len, 0, &e) : NULL;
    rows = json_object_get(j, "matrix");
    double p01 = json_number_value(json_array_get(json_array_get(rows, 0), 1));
    double p10 = json_number_value(json_array_get(json_array_get(rows, 1), 0));
    CHECK(json_array_size(rows) == N_MODELS - 1 && fabs(p01 + p10 - 1) < 1e-12 && p01 > 0.5,
          "predicted matrix: p + p' = 1, best model first");
    json_decref(j);
    board_blob_release(mx);
    board_blob *wins = board_matrix_json(b, BOARD_WINS, 0);
    CHECK(wins && strstr(wins->data, "\"kind\":\"wins\""), "win-fraction matrix");
    board_blob_release(wins);

    /* liveness: a new vote shows within a second without board_sync */
    store_vote_record late = { .model_a = models[0], .model_b = models[1], .winner = "model_b", .anony = 1,
                               .tstamp = 1800000000.0, .turn = 1 };
    board_add_vote(b, &late);
    int seen = 0;
    for (int t = 0; t < 100 && !seen; t++) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
        j = get_json(b, BOARD_BT, 0);
        seen = json_integer_value(json_object_get(j, "total_votes")) == N + 1;
        json_decref(j);
    }
    CHECK(seen, "a new vote reaches the board within a second");
    board_blob *c3 = board_leaderboard_csv(b, BOARD_BT, 0);
    CHECK(c3 != c1, "a publish replaces the cached document");
    board_blob_release(c3);

    board_free(b);

    /* an arena without named battles or leaks: one interval job serves both boards, and
     * each still equals its direct fit */
    board *only_anony = board_new(&o, err, sizeof err);
    static vote anon[N];
    for (size_t i = 0; only_anony && i < N; i++) {
        anon[i] = votes[i];
        anon[i].anony = 1;
        anon[i].leak = 0;
        store_vote_record rec = record_of(&anon[i]);
        board_add_vote(only_anony, &rec);
    }
    if (only_anony) board_sync(only_anony);
    CHECK(only_anony && compare_with_direct(only_anony, anon, N, 0, table, 50) &&
          compare_with_direct(only_anony, anon, N, 1, table, 50),
          "every vote anonymous: both boards equal to their direct fits, intervals included");
    board_free(only_anony);
    CHECK(c1->len > 100 && c1->data[c1->len] == '\0', "a blob held across board_free stays valid");
    board_blob_release(c1);

    /* Points do not wait for intervals: with a bootstrap that takes seconds, a new vote
     * still shows within a second, and board_free cancels the bootstrap. */
    board_opts slow;
    board_opts_default(&slow);
    slow.ci = BOARD_CI_BOOTSTRAP;
    slow.bootstrap_rounds = 200000;
    slow.debounce_ms = 10;
    board *sb = board_new(&slow, err, sizeof err);
    for (size_t i = 0; i < N; i++) {
        store_vote_record rec = record_of(&votes[i]);
        board_add_vote(sb, &rec);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int shown = 0;
    for (int t = 0; t < 200 && !shown; t++) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
        j = get_json(sb, BOARD_BT, 0);
        shown = json_integer_value(json_object_get(j, "total_votes")) == N;
        json_decref(j);
    }
    board_add_vote(sb, &late);
    int shown2 = 0;
    for (int t = 0; t < 200 && !shown2; t++) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
        j = get_json(sb, BOARD_BT, 0);
        shown2 = json_integer_value(json_object_get(j, "total_votes")) == N + 1 &&
                 json_is_null(json_object_get(json_array_get(json_object_get(j, "models"), 0), "ci_lower"));
        json_decref(j);
    }
    CHECK(shown && shown2, "points are published while a long bootstrap runs");
    board_free(sb);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(took < 10, "board_free cancels a running bootstrap (%.2f s in all)", took);

    /* ci_min_period: the next interval job starts no sooner than that after the last one
     * started (a lower bound, so this holds however slow the machine is). */
    board_opts spaced;
    board_opts_default(&spaced);
    spaced.ci_min_period = 1;
    spaced.debounce_ms = 0;
    board *pb = board_new(&spaced, err, sizeof err);
    store_vote_record first = record_of(&votes[0]);
    board_add_vote(pb, &first);
    board_sync(pb);                     /* the first job: no rest before it */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    board_add_vote(pb, &late);
    board_sync(pb);                     /* the second waits out the period */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(waited >= 0.5, "intervals recomputed no more often than ci_min_period (next after %.2f s)", waited);
    j = get_json(pb, BOARD_BT, 0);
    CHECK(json_integer_value(json_object_get(j, "ci_total_votes")) == 2 && json_integer_value(json_object_get(j, "total_votes")) == 2,
          "ci_total_votes: the votes the intervals cover (2 after the sync)");
    json_decref(j);
    CHECK(threads_with_stat(41, SCHED_IDLE) >= 1, "the interval thread runs at idle priority (stat field 41, the policy)");
    board_free(pb);
    spaced.ci_min_period = -1;
    CHECK(board_new(&spaced, err, sizeof err) == NULL, "a negative ci_min_period refused");

    board_opts bad;
    board_opts_default(&bad);
    bad.bootstrap_rounds = 0;
    CHECK(board_new(&bad, err, sizeof err) == NULL, "bad options refused: %s", err);
    board_method m;
    board_matrix k;
    board_ci ci;
    CHECK(board_parse_method("elo", &m) == 0 && m == BOARD_ELO && board_parse_method("x", &m) < 0 &&
          board_parse_matrix("predicted", &k) == 0 && k == BOARD_PREDICTED && board_parse_ci("bootstrap", &ci) == 0,
          "parsers");
    st_free(table);
    return check_exit();
}
