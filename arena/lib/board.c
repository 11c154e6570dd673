/* board.c: the live leaderboard. See board.h. */
#include "board.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "battles.h"
#include "bt.h"
#include "ci.h"
#include "elo.h"
#include "matrix.h"
#include "reader.h"

#define N_METHODS 2
/* Cached documents per board (anony 0/1): leaderboard JSON and CSV per method, matrices. */
enum { DOC_JSON_BT, DOC_JSON_ELO, DOC_CSV_BT, DOC_CSV_ELO, DOC_WINS, DOC_COUNTS, DOC_PREDICTED, N_DOCS };

typedef struct blob_impl {
    board_blob pub;
    atomic_int refs;
    char bytes[];
} blob_impl;

/* What one publish shows for one board: immutable once published. */
typedef struct view {
    rt_data *d;                         /* owned snapshot */
    int fitted;                         /* ratings exist (>= 2 models, fit succeeded) */
    double *rating[N_METHODS];          /* [n] */
    double *lower[N_METHODS], *upper[N_METHODS];   /* [n]; NAN where none */
    int *rank[N_METHODS], *rank_ub[N_METHODS];     /* rank_ub 0 where none */
    size_t *order[N_METHODS];           /* model indices best first */
    st_match *st[N_METHODS];            /* [n]; NULL without a static table */
    st_correlation corr[N_METHODS];
    double last_vote_tstamp;            /* NAN when none */
    long long ci_votes;                 /* the votes the intervals cover; -1: none yet */
    double updated;                     /* publish time */
    int sort_method;                    /* order_by's key while it sorts */
} view;

typedef struct meta {
    char *name, *organization, *license, *static_key;
} meta;

/* Votes waiting for the worker: fixed-size entries plus the model names, copied into one
 * growing buffer (no allocation per vote once the buffers have grown). */
typedef struct queued {
    size_t name_a, name_b;              /* offsets in names */
    double tstamp;
    rd_winner winner;
    int anony;
} queued;

typedef struct queue {
    queued *v;
    size_t n, cap;
    char *names;
    size_t len, names_cap;
} queue;

/* Intervals computed on one snapshot; views take them by model name. */
typedef struct intervals {
    rt_data *d;                         /* the snapshot (for the names); owned */
    double *lower[N_METHODS], *upper[N_METHODS];   /* [d->n_models]; NAN where none */
    uint64_t gen;                       /* the votes they cover */
    int refs;                           /* both boards hold them when their votes are the
                                           same; changed under mu */
} intervals;

struct board {
    pthread_mutex_t mu;
    pthread_cond_t wake;                /* votes or intervals arrived, or stop */
    pthread_cond_t ci_wake;             /* an interval job arrived, or stop */
    pthread_cond_t synced;              /* done_gen moved */
    pthread_t worker, ci_worker;
    int started, ci_started, stop;
    /* Under mu. */
    queue in;                           /* filled by board_add_vote */
    uint64_t added_gen, done_gen;       /* votes queued / votes published with intervals */
    rt_data *job[2];                    /* snapshots waiting for the interval thread */
    int job_shared;                     /* job[0] serves both boards (job[1] NULL) */
    uint64_t job_gen;
    intervals *res[2];                  /* finished intervals not yet taken by the worker */
    view *view[2];                      /* replaced only by the worker */
    /* The worker's own (no lock): the accumulators are only touched by the worker, so
     * neither rt_add nor rt_snapshot ever holds up board_add_vote. */
    queue work;
    rt_battles *acc[2];                 /* [0] all votes, [1] anonymous board */
    elo_live *elo[2];                   /* their Elo, brought up to date at each refit */
    double last_tstamp[2];
    intervals *cur[2];                  /* the newest intervals */
    uint64_t points_gen, handed_gen;
    blob_impl *docs[2][N_DOCS];
    /* options (read-only after board_new) */
    meta *models;
    size_t n_models;
    const st_table *table;
    board_ci ci;
    int rounds, threads, debounce_ms;
    double ci_max_share, ci_min_period;
    unsigned long seed;
    char *anchor_model;
    double anchor_value;
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- options and names ---- */

void board_opts_default(board_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ci = BOARD_CI_SANDWICH;
    o->bootstrap_rounds = 200;
    o->seed = 42;
    o->threads = 1;
    o->debounce_ms = 250;
    o->ci_max_share = 0.1;
    o->anchor_model = "mixtral-8x7b-instruct-v0.1";   /* arena-ratings' default anchor */
    o->anchor_value = 1114.0;
}

const char *board_method_name(board_method m)
{
    return m == BOARD_ELO ? "elo" : "bt";
}

int board_parse_method(const char *s, board_method *out)
{
    if (!s) return -1;
    if (!strcmp(s, "bt")) *out = BOARD_BT;
    else if (!strcmp(s, "elo")) *out = BOARD_ELO;
    else return -1;
    return 0;
}

int board_parse_matrix(const char *s, board_matrix *out)
{
    if (!s) return -1;
    if (!strcmp(s, "wins")) *out = BOARD_WINS;
    else if (!strcmp(s, "counts")) *out = BOARD_COUNTS;
    else if (!strcmp(s, "predicted")) *out = BOARD_PREDICTED;
    else return -1;
    return 0;
}

static const char *ci_name(board_ci c)
{
    return c == BOARD_CI_SANDWICH ? "sandwich" : c == BOARD_CI_BOOTSTRAP ? "bootstrap" : "none";
}

int board_parse_ci(const char *s, board_ci *out)
{
    if (!s) return -1;
    if (!strcmp(s, "none")) *out = BOARD_CI_NONE;
    else if (!strcmp(s, "sandwich")) *out = BOARD_CI_SANDWICH;
    else if (!strcmp(s, "bootstrap")) *out = BOARD_CI_BOOTSTRAP;
    else return -1;
    return 0;
}

static const meta *meta_find(const board *b, const char *name)
{
    for (size_t i = 0; i < b->n_models; i++)
        if (!strcmp(b->models[i].name, name)) return &b->models[i];
    return NULL;
}

/* ---- blobs ---- */

static blob_impl *blob_new(const char *data, size_t len)
{
    blob_impl *bl = malloc(sizeof *bl + len + 1);
    if (!bl) return NULL;
    memcpy(bl->bytes, data, len);
    bl->bytes[len] = '\0';
    bl->pub.data = bl->bytes;
    bl->pub.len = len;
    atomic_init(&bl->refs, 1);
    return bl;
}

static void blob_unref(blob_impl *bl)
{
    if (bl && atomic_fetch_sub(&bl->refs, 1) == 1) free(bl);
}

void board_blob_release(board_blob *blob)
{
    if (blob) blob_unref((blob_impl *)((char *)blob - offsetof(blob_impl, pub)));
}

/* ---- views: fitting ---- */

static void view_free(view *v)
{
    if (!v) return;
    for (int m = 0; m < N_METHODS; m++) {
        free(v->rating[m]);
        free(v->lower[m]);
        free(v->upper[m]);
        free(v->rank[m]);
        free(v->rank_ub[m]);
        free(v->order[m]);
        free(v->st[m]);
    }
    rt_data_free(v->d);
    free(v);
}

/* Best rating first, then by name: arena-ratings' order. */
static int by_rating(const void *pa, const void *pb, void *arg)
{
    const view *v = arg;
    const double *rating = v->rating[v->sort_method];
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (rating[a] != rating[b]) return rating[a] > rating[b] ? -1 : 1;
    return strcmp(v->d->names[a], v->d->names[b]);
}

static void order_by(view *v, int m)
{
    for (size_t i = 0; i < v->d->n_models; i++) v->order[m][i] = i;
    v->sort_method = m;
    qsort_r(v->order[m], v->d->n_models, sizeof *v->order[m], by_rating, v);
}

static int cancel_if_stopping(void *ud, int done, int total)
{
    board *b = ud;
    pthread_mutex_lock(&b->mu);
    int stop = b->stop;
    pthread_mutex_unlock(&b->mu);
    return stop;
}

static void bt_options(const board *b, const rt_data *d, bt_opts *bo)
{
    bt_opts_default(bo);
    if (b->anchor_model && rt_find(d, b->anchor_model) >= 0) {
        bo->anchor_model = b->anchor_model;
        bo->anchor_value = b->anchor_value;
    }
}

static void intervals_free(intervals *iv)
{
    if (!iv || --iv->refs > 0) return;
    for (int m = 0; m < N_METHODS; m++) {
        free(iv->lower[m]);
        free(iv->upper[m]);
    }
    rt_data_free(iv->d);
    free(iv);
}

/* The intervals of every method on snapshot d (which they take), as arena-ratings
 * computes them: BT by sandwich or bootstrap from the BT point fit, Elo by bootstrap.
 * Where a method fails (fewer than two models, cancelled) its bounds are NAN. NULL
 * only when out of memory. */
static intervals *compute_intervals(board *b, rt_data *d, uint64_t gen)
{
    char err[256];
    intervals *iv = calloc(1, sizeof *iv);
    size_t n = d->n_models, k = n ? n : 1;
    if (!iv) {
        rt_data_free(d);
        return NULL;
    }
    iv->d = d;
    iv->gen = gen;
    iv->refs = 1;
    for (int m = 0; m < N_METHODS; m++) {
        if (!(iv->lower[m] = malloc(k * sizeof(double))) || !(iv->upper[m] = malloc(k * sizeof(double)))) {
            intervals_free(iv);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) iv->lower[m][i] = iv->upper[m][i] = NAN;
    }
    bt_opts bo;
    bt_options(b, d, &bo);
    elo_opts eo;
    elo_opts_default(&eo);
    ci_opts co;
    ci_opts_default(&co);
    co.rounds = b->rounds;
    co.seed = b->seed;
    co.threads = b->threads;
    co.progress = cancel_if_stopping;
    co.progress_ud = b;
    bt_result point = { 0 };
    ci_result r[N_METHODS] = { { 0 } };
    int have[N_METHODS] = { 0 };
    if (n >= 2 && d->n_battles > 0 && bt_fit(d, &bo, &point, err, sizeof err) == 0) {
        if (b->ci == BOARD_CI_SANDWICH)
            have[BOARD_BT] = ci_bt_sandwich(d, &bo, &point, &r[BOARD_BT], err, sizeof err) == 0;
        else
            have[BOARD_BT] = ci_bt_bootstrap(d, &bo, &point, &co, &r[BOARD_BT], err, sizeof err) == 0;
        have[BOARD_ELO] = ci_elo_bootstrap(d, &eo, &co, &r[BOARD_ELO], err, sizeof err) == 0;
    }
    for (int m = 0; m < N_METHODS; m++) {
        if (have[m]) {
            memcpy(iv->lower[m], r[m].lower, n * sizeof(double));
            memcpy(iv->upper[m], r[m].upper, n * sizeof(double));
        }
        ci_result_free(&r[m]);
    }
    bt_result_free(&point);
    return iv;
}

/* Fills the view's intervals of method m from iv by model name (NAN for models iv does
 * not know, e.g. new ones) and the rank upper bounds among the models that have one. */
static void set_intervals(view *v, int m, const intervals *iv)
{
    size_t n = v->d->n_models;
    for (size_t i = 0; i < n; i++) {
        long j = iv ? rt_find(iv->d, v->d->names[i]) : -1;
        v->lower[m][i] = j >= 0 ? iv->lower[m][j] : NAN;
        v->upper[m][i] = j >= 0 ? iv->upper[m][j] : NAN;
        v->rank_ub[m][i] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (isnan(v->upper[m][i])) continue;
        int above = 0;
        for (size_t j = 0; j < n; j++) above += !isnan(v->lower[m][j]) && v->lower[m][j] > v->upper[m][i];
        v->rank_ub[m][i] = 1 + above;
    }
}

/* The static join of method m's ratings. */
static int join_static(const board *b, view *v, int m)
{
    size_t n = v->d->n_models;
    if (!b->table) return 0;
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return -1;
    for (size_t i = 0; i < n; i++) {
        const meta *mt = meta_find(b, v->d->names[i]);
        keys[i] = mt && mt->static_key ? mt->static_key : v->d->names[i];
    }
    int rc = st_join(b->table, keys, v->rating[m], n, v->st[m], &v->corr[m]);
    free(keys);
    return rc;
}

/* The point estimates of view a from snapshot d (which the view takes; the counts alone,
 * Elo follows the accumulator), with the intervals iv. */
static view *fit_view(board *b, int a, rt_data *d, const intervals *iv, double last_tstamp)
{
    char err[256];
    view *v = calloc(1, sizeof *v);
    if (!v) {
        rt_data_free(d);
        return NULL;
    }
    v->d = d;
    v->last_vote_tstamp = last_tstamp;
    v->ci_votes = iv ? (long long)iv->d->n_battles : -1;
    size_t n = d->n_models, k = n ? n : 1;
    for (int m = 0; m < N_METHODS; m++) {
        v->rating[m] = calloc(k, sizeof(double));
        v->lower[m] = calloc(k, sizeof(double));
        v->upper[m] = calloc(k, sizeof(double));
        v->rank[m] = calloc(k, sizeof(int));
        v->rank_ub[m] = calloc(k, sizeof(int));
        v->order[m] = calloc(k, sizeof(size_t));
        v->st[m] = calloc(k, sizeof(st_match));
        if (!v->rating[m] || !v->lower[m] || !v->upper[m] || !v->rank[m] || !v->rank_ub[m] || !v->order[m] ||
            !v->st[m])
            goto fail;
    }
    bt_opts bo;
    bt_options(b, d, &bo);
    bt_result point = { 0 };
    if (n >= 2 && d->n_battles > 0 && bt_fit(d, &bo, &point, err, sizeof err) == 0 &&
        elo_live_fit(b->elo[a], b->acc[a], d, v->rating[BOARD_ELO], err, sizeof err) == 0) {
        v->fitted = 1;
        memcpy(v->rating[BOARD_BT], point.rating, n * sizeof(double));
        for (int m = 0; m < N_METHODS; m++) {
            set_intervals(v, m, iv);
            bt_rank(n, v->rating[m], v->rank[m]);
            order_by(v, m);
            if (join_static(b, v, m) < 0) {
                bt_result_free(&point);
                goto fail;
            }
        }
    }
    bt_result_free(&point);
    v->updated = wall_now();
    return v;
fail:
    view_free(v);
    return NULL;
}

/* ---- the threads ---- */

static void publish(board *b, int anony, view *v)
{
    pthread_mutex_lock(&b->mu);
    view *old = b->view[anony];
    b->view[anony] = v;
    for (int k = 0; k < N_DOCS; k++) {
        blob_unref(b->docs[anony][k]);
        b->docs[anony][k] = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    view_free(old);
}

static void queue_free(queue *q)
{
    free(q->v);
    free(q->names);
}

/* Moves the worker's queue into the accumulators. */
static void drain(board *b)
{
    queue *q = &b->work;
    char err[128];
    for (size_t i = 0; i < q->n; i++) {
        const queued *v = &q->v[i];
        for (int a = 0; a < 2; a++)
            if (rt_add(b->acc[a], q->names + v->name_a, q->names + v->name_b, (rt_outcome)v->winner, v->tstamp,
                       v->anony, err, sizeof err) == 1 &&
                isfinite(v->tstamp) && !(v->tstamp <= b->last_tstamp[a]))
                b->last_tstamp[a] = v->tstamp;
    }
    q->n = q->len = 0;
}

/* The worker: counts queued votes, fits the point estimates and publishes views (it
 * alone replaces them), with the newest intervals; hands snapshots of new votes to the
 * interval thread. So points never wait for a bootstrap. Called with mu held. */
static void worker_round(board *b)
{
    if (b->added_gen != b->points_gen) {
        /* Debounce: let a burst of votes land before fitting. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = until.tv_nsec + (long)b->debounce_ms * 1000000L;
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec = ns % 1000000000L;
        while (!b->stop && pthread_cond_timedwait(&b->wake, &b->mu, &until) != ETIMEDOUT) {}
        if (b->stop) return;
        uint64_t gen = b->added_gen;
        queue t = b->in;
        b->in = b->work;
        b->work = t;
        pthread_mutex_unlock(&b->mu);
        drain(b);
        pthread_mutex_lock(&b->mu);
        b->points_gen = gen;
    }
    for (int a = 0; a < 2; a++)
        if (b->res[a]) {
            intervals_free(b->cur[a]);
            b->cur[a] = b->res[a];
            b->res[a] = NULL;
        }
    pthread_mutex_unlock(&b->mu);

    char err[256];
    for (int a = 0; a < 2; a++) {
        rt_data *d = rt_snapshot_counts(b->acc[a], err, sizeof err);
        view *v = d ? fit_view(b, a, d, b->cur[a], b->last_tstamp[a]) : NULL;
        if (v) publish(b, a, v);
    }
    rt_data *job[2] = { NULL, NULL };
    int hand = b->ci != BOARD_CI_NONE && b->handed_gen != b->points_gen;
    /* When the anonymous board lost no vote to its filter (an arena without named battles
     * or leaks), both boards hold the same battles in the same order: one job serves both. */
    rt_stats all, anony;
    rt_get_stats(b->acc[0], &all);
    rt_get_stats(b->acc[1], &anony);
    int shared = all.counted == anony.counted;
    for (int a = 0; hand && a < (shared ? 1 : 2); a++) job[a] = rt_snapshot(b->acc[a], err, sizeof err);

    pthread_mutex_lock(&b->mu);
    if (hand) {
        for (int a = 0; a < 2; a++) {   /* a job not started yet is stale: replace it */
            rt_data_free(b->job[a]);
            b->job[a] = job[a];
        }
        b->job_shared = shared;
        b->job_gen = b->handed_gen = b->points_gen;
        pthread_cond_signal(&b->ci_wake);
    }
    int complete = b->ci == BOARD_CI_NONE || (b->cur[0] && b->cur[0]->gen == b->points_gen);
    if (complete && b->done_gen != b->points_gen) {
        b->done_gen = b->points_gen;
        pthread_cond_broadcast(&b->synced);
    }
}

static void *worker(void *arg)
{
    board *b = arg;
    pthread_setname_np(pthread_self(), "board-points");
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        if (b->added_gen == b->points_gen && !b->res[0] && !b->res[1]) {
            pthread_cond_wait(&b->wake, &b->mu);
            continue;
        }
        worker_round(b);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static struct timespec mono_after(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double ns = (double)t.tv_nsec + seconds * 1e9;
    t.tv_sec += (time_t)(ns / 1e9);
    t.tv_nsec = (long)fmod(ns, 1e9);
    return t;
}

static double mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The interval thread: one job at a time, always the newest (a job is never cancelled
 * for a newer one, so intervals keep coming under a steady stream of votes). After a job
 * of T seconds it rests T (1 - share) / share before the next, so a bootstrap never takes
 * more than ci_max_share of a core from the server under load, and at least until
 * ci_min_period has passed since the job started (intervals move little between two
 * recomputations a fraction of a second apart); jobs that arrive meanwhile are replaced
 * by newer ones, and the rest only delays intervals, never points. */
static void *ci_worker(void *arg)
{
    board *b = arg;
    pthread_setname_np(pthread_self(), "board-interval");
    /* Idle priority (Linux SCHED_IDLE: per thread, and inherited by the bootstrap's
     * threads): a bootstrap runs only on a core nothing else wants, and a request that
     * wakes up takes the core from it at once, so no request waits behind one. Where the
     * policy is refused, the lowest nice level. Best effort: without either, the rest
     * below still bounds the share. */
    struct sched_param idle = { 0 };
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    struct timespec rest_until = mono_after(0);
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        if (!b->job[0] && !b->job[1]) {
            pthread_cond_wait(&b->ci_wake, &b->mu);
            continue;
        }
        if (pthread_cond_timedwait(&b->ci_wake, &b->mu, &rest_until) != ETIMEDOUT)
            continue;   /* woken early (a newer job, or stop): look again */
        rt_data *job[2] = { b->job[0], b->job[1] };
        int shared = b->job_shared;
        uint64_t gen = b->job_gen;
        b->job[0] = b->job[1] = NULL;
        pthread_mutex_unlock(&b->mu);
        double t0 = mono_now();
        intervals *iv[2];
        for (int a = 0; a < 2; a++) iv[a] = job[a] ? compute_intervals(b, job[a], gen) : NULL;
        if (shared && iv[0]) {
            iv[1] = iv[0];
            iv[0]->refs++;
        }
        double took = mono_now() - t0, rest = took * (1 - b->ci_max_share) / b->ci_max_share;
        rest_until = mono_after(rest > b->ci_min_period - took ? rest : b->ci_min_period - took);
        pthread_mutex_lock(&b->mu);
        for (int a = 0; a < 2; a++) {
            intervals_free(b->res[a]);
            b->res[a] = iv[a];
        }
        pthread_cond_signal(&b->wake);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- lifecycle and votes ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

board *board_new(const board_opts *o, char *err, size_t errlen)
{
    board_opts def;
    if (!o) {
        board_opts_default(&def);
        o = &def;
    }
    if (o->bootstrap_rounds < 1 || o->debounce_ms < 0 || o->threads < 0 || (o->n_models && !o->models) ||
        !(o->ci_max_share > 0 && o->ci_max_share <= 1) || !(o->ci_min_period >= 0)) {
        snprintf(err, errlen, "bad board options (rounds >= 1, debounce >= 0, threads >= 0, 0 < ci_max_share <= 1, ci_min_period >= 0)");
        return NULL;
    }
    board *b = calloc(1, sizeof *b);
    if (!b) goto nomem;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_condattr_t mono;   /* the interval thread's rests are timed on CLOCK_MONOTONIC */
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&b->ci_wake, &mono);
    pthread_condattr_destroy(&mono);
    pthread_cond_init(&b->synced, NULL);
    b->table = o->static_table;
    b->ci = o->ci;
    b->rounds = o->bootstrap_rounds;
    b->threads = o->threads;
    b->debounce_ms = o->debounce_ms;
    b->ci_max_share = o->ci_max_share;
    b->ci_min_period = o->ci_min_period;
    b->seed = o->seed;
    b->anchor_value = o->anchor_value;
    b->last_tstamp[0] = b->last_tstamp[1] = NAN;
    if (o->anchor_model && !(b->anchor_model = strdup(o->anchor_model))) goto nomem;
    if (o->n_models) {
        if (!(b->models = calloc(o->n_models, sizeof *b->models))) goto nomem;
        b->n_models = o->n_models;
        for (size_t i = 0; i < o->n_models; i++) {
            const board_model *m = &o->models[i];
            meta *t = &b->models[i];
            if (!m->name) {
                snprintf(err, errlen, "board model %zu has no name", i);
                board_free(b);
                return NULL;
            }
            t->name = strdup(m->name);
            t->organization = strdup(m->organization ? m->organization : "");
            t->license = strdup(m->license ? m->license : "");
            t->static_key = dup_or_null(m->static_key);
            if (!t->name || !t->organization || !t->license || (m->static_key && !t->static_key)) goto nomem;
        }
    }
    for (int a = 0; a < 2; a++) {
        rt_filter f;
        rt_filter_default(&f);
        f.keep_sequence = 1;   /* Elo replays the sequence */
        f.anony_only = a;
        if (!(b->acc[a] = rt_new(&f, err, errlen)) || !(b->elo[a] = elo_live_new(NULL))) {
            if (b->acc[a]) snprintf(err, errlen, "out of memory");
            board_free(b);
            return NULL;
        }
    }
    if (pthread_create(&b->worker, NULL, worker, b) != 0) {
        snprintf(err, errlen, "cannot start the board thread");
        board_free(b);
        return NULL;
    }
    b->started = 1;
    if (pthread_create(&b->ci_worker, NULL, ci_worker, b) != 0) {
        snprintf(err, errlen, "cannot start the board's interval thread");
        board_free(b);
        return NULL;
    }
    b->ci_started = 1;
    return b;
nomem:
    snprintf(err, errlen, "out of memory");
    board_free(b);
    return NULL;
}

void board_free(board *b)
{
    if (!b) return;
    if (b->started) {
        pthread_mutex_lock(&b->mu);
        b->stop = 1;
        pthread_cond_broadcast(&b->wake);
        pthread_cond_broadcast(&b->ci_wake);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->worker, NULL);
        if (b->ci_started) pthread_join(b->ci_worker, NULL);
    }
    for (int a = 0; a < 2; a++) {
        for (int k = 0; k < N_DOCS; k++) blob_unref(b->docs[a][k]);
        view_free(b->view[a]);
        rt_free(b->acc[a]);
        elo_live_free(b->elo[a]);
        rt_data_free(b->job[a]);
        intervals_free(b->res[a]);
        intervals_free(b->cur[a]);
    }
    queue_free(&b->in);
    queue_free(&b->work);
    for (size_t i = 0; i < b->n_models; i++) {
        free(b->models[i].name);
        free(b->models[i].organization);
        free(b->models[i].license);
        free(b->models[i].static_key);
    }
    free(b->models);
    free(b->anchor_model);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->ci_wake);
    pthread_cond_destroy(&b->synced);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int board_add_vote(board *b, const store_vote_record *r)
{
    rd_winner w;
    if (!r || !r->model_a || !r->model_b || !r->winner || rd_parse_winner(r->winner, strlen(r->winner), &w) < 0)
        return 0;
    if (!strcmp(r->model_a, r->model_b)) return 0;   /* never counted (battles.h) */
    size_t la = strlen(r->model_a) + 1, lb = strlen(r->model_b) + 1;
    pthread_mutex_lock(&b->mu);
    queue *q = &b->in;
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 1024;
        queued *nv = realloc(q->v, cap * sizeof *nv);
        if (!nv) goto nomem;
        q->v = nv;
        q->cap = cap;
    }
    if (q->len + la + lb > q->names_cap) {
        size_t cap = q->names_cap ? 2 * q->names_cap : 65536;
        while (cap < q->len + la + lb) cap *= 2;
        char *nn = realloc(q->names, cap);
        if (!nn) goto nomem;
        q->names = nn;
        q->names_cap = cap;
    }
    /* The anonymous board takes anonymous battles without an identity leak: rt_add's
     * anony flag says exactly that (the export writes the same flag). */
    q->v[q->n++] = (queued){ .name_a = q->len, .name_b = q->len + la, .tstamp = r->tstamp, .winner = w,
                             .anony = r->anony && !r->leak };
    memcpy(q->names + q->len, r->model_a, la);
    memcpy(q->names + q->len + la, r->model_b, lb);
    q->len += la + lb;
    /* Only an idle worker needs waking: a busy or debouncing one looks at added_gen
     * before it waits again (a signal per vote costs the loop a futex call). */
    if (b->added_gen++ == b->points_gen) pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    return 1;
nomem:
    pthread_mutex_unlock(&b->mu);
    return -1;
}

void board_sync(board *b)
{
    pthread_mutex_lock(&b->mu);
    uint64_t want = b->added_gen;
    while (!b->stop && b->done_gen < want) pthread_cond_wait(&b->synced, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

/* ---- documents ---- */

/* A finite number, or null: documents never hold NaN. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static blob_impl *blob_from_json(json_t *root)
{
    if (!root) return NULL;
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text) return NULL;
    blob_impl *bl = blob_new(text, strlen(text));
    free(text);
    return bl;
}

static blob_impl *leaderboard_json(const board *b, const view *v, int m, int anony)
{
    json_t *root = json_object(), *models = json_array();
    if (!root || !models) {
        json_decref(root);
        json_decref(models);
        return NULL;
    }
    json_object_set_new(root, "method", json_string(board_method_name((board_method)m)));
    json_object_set_new(root, "anony", json_boolean(anony));
    json_object_set_new(root, "ci_method",
                        json_string(m == BOARD_ELO && b->ci != BOARD_CI_NONE ? "bootstrap" : ci_name(b->ci)));
    for (size_t k = 0; v && v->fitted && k < v->d->n_models; k++) {
        size_t i = v->order[m][k];
        const meta *mt = meta_find(b, v->d->names[i]);
        const st_match *sm = &v->st[m][i];
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(v->rank[m][i]));
        json_object_set_new(o, "rank_ub", v->rank_ub[m][i] ? json_integer(v->rank_ub[m][i]) : json_null());
        json_object_set_new(o, "model", json_string(v->d->names[i]));
        json_object_set_new(o, "rating", num(v->rating[m][i]));
        json_object_set_new(o, "ci_lower", num(v->lower[m][i]));
        json_object_set_new(o, "ci_upper", num(v->upper[m][i]));
        json_object_set_new(o, "votes", json_integer((json_int_t)v->d->votes[i]));
        json_object_set_new(o, "organization", json_string(mt ? mt->organization : ""));
        json_object_set_new(o, "license", json_string(mt ? mt->license : ""));
        json_object_set_new(o, "static_score", sm->found ? num(sm->static_score) : json_null());
        json_object_set_new(o, "static_rank", sm->found ? json_integer(sm->static_rank) : json_null());
        json_object_set_new(o, "rank_delta", sm->found ? json_integer(sm->rank_delta) : json_null());
        json_array_append_new(models, o);
    }
    json_object_set_new(root, "models", models);
    if (b->table && v && v->fitted) {
        const st_correlation *c = &v->corr[m];
        json_t *corr = json_object();
        json_object_set_new(corr, "n", json_integer((json_int_t)c->n));
        json_object_set_new(corr, "spearman_rho", c->defined ? num(c->spearman_rho) : json_null());
        json_object_set_new(corr, "spearman_p", c->defined ? num(c->spearman_p) : json_null());
        json_object_set_new(corr, "kendall_tau_b", c->defined ? num(c->kendall_tau_b) : json_null());
        json_object_set_new(corr, "kendall_p", c->defined ? num(c->kendall_p) : json_null());
        json_object_set_new(root, "correlation", corr);
    } else {
        json_object_set_new(root, "correlation", json_null());
    }
    json_object_set_new(root, "last_vote_tstamp", v ? num(v->last_vote_tstamp) : json_null());
    json_object_set_new(root, "total_votes", json_integer(v ? (json_int_t)v->d->n_battles : 0));
    /* Intervals lag the points under load (board.ci_min_period, ci_max_share): how many
     * of the votes they cover. */
    json_object_set_new(root, "ci_total_votes", v && v->ci_votes >= 0 ? json_integer((json_int_t)v->ci_votes) : json_null());
    json_object_set_new(root, "updated", v ? num(v->updated) : json_null());
    return blob_from_json(root);
}

/* Appends to a growing string; -1 on no memory. */
typedef struct sbuf { char *p; size_t len, cap; int failed; } sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...)
{
    if (s->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { s->failed = 1; return; }
        if (s->p && s->len + (size_t)n < s->cap) { s->len += (size_t)n; return; }
        size_t cap = (s->cap ? s->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(s->p, cap);
        if (!np) { s->failed = 1; return; }
        s->p = np;
        s->cap = cap;
    }
}

static void sb_csv_field(sbuf *s, const char *f)
{
    if (!strpbrk(f, ",\"\r\n")) {
        sb_printf(s, "%s", f);
        return;
    }
    sb_printf(s, "\"");
    for (const char *q = f; *q; q++) sb_printf(s, *q == '"' ? "\"\"" : "%c", *q);
    sb_printf(s, "\"");
}

/* arena-ratings' CSV: the same columns, numbers and empty fields. */
static blob_impl *leaderboard_csv(const board *b, const view *v, int m)
{
    sbuf s = { 0 };
    sb_printf(&s, "rank,rank_ub,model,rating,ci_lower,ci_upper,votes%s\n",
              b->table ? ",static_rank,static_score,rank_delta" : "");
    for (size_t k = 0; v && v->fitted && k < v->d->n_models; k++) {
        size_t i = v->order[m][k];
        sb_printf(&s, "%d,", v->rank[m][i]);
        if (v->rank_ub[m][i]) sb_printf(&s, "%d", v->rank_ub[m][i]);
        sb_printf(&s, ",");
        sb_csv_field(&s, v->d->names[i]);
        sb_printf(&s, ",%.17g,", v->rating[m][i]);
        if (isfinite(v->lower[m][i]) && isfinite(v->upper[m][i]))
            sb_printf(&s, "%.17g,%.17g", v->lower[m][i], v->upper[m][i]);
        else
            sb_printf(&s, ",");
        sb_printf(&s, ",%llu", (unsigned long long)v->d->votes[i]);
        if (b->table) {
            const st_match *sm = &v->st[m][i];
            if (sm->found) sb_printf(&s, ",%d,%.17g,%d", sm->static_rank, sm->static_score, sm->rank_delta);
            else sb_printf(&s, ",,,");
        }
        sb_printf(&s, "\n");
    }
    blob_impl *bl = s.failed ? NULL : blob_new(s.p, s.len);
    free(s.p);
    return bl;
}

static blob_impl *matrix_json(const board *b, const view *v, board_matrix kind, int anony)
{
    static const char *const kinds[] = { "wins", "counts", "predicted" };
    json_t *root = json_object(), *models = json_array(), *rows = json_array();
    size_t n = v && v->fitted ? v->d->n_models : 0;
    double *cells = malloc((n ? n * n : 1) * sizeof *cells);
    if (!root || !models || !rows || !cells) {
        json_decref(root);
        json_decref(models);
        json_decref(rows);
        free(cells);
        return NULL;
    }
    if (n) {
        if (kind == BOARD_WINS) mx_win_fraction(v->d, cells);
        else if (kind == BOARD_COUNTS) mx_battle_counts(v->d, cells);
        else {
            bt_opts bo;
            bt_opts_default(&bo);
            mx_predicted_win(n, v->rating[BOARD_BT], bo.scale, bo.base, cells);
        }
    }
    const size_t *ord = n ? v->order[BOARD_BT] : NULL;
    for (size_t r = 0; r < n; r++) {
        json_array_append_new(models, json_string(v->d->names[ord[r]]));
        json_t *row = json_array();
        for (size_t c = 0; c < n; c++) json_array_append_new(row, num(cells[ord[r] * n + ord[c]]));
        json_array_append_new(rows, row);
    }
    free(cells);
    json_object_set_new(root, "kind", json_string(kinds[kind]));
    json_object_set_new(root, "anony", json_boolean(anony));
    json_object_set_new(root, "models", models);
    json_object_set_new(root, "matrix", rows);
    return blob_from_json(root);
}

/* A new reference to document k of board anony, built on first use after a publish. */
static board_blob *get_doc(board *b, int anony, int k)
{
    anony = anony ? 1 : 0;
    pthread_mutex_lock(&b->mu);
    blob_impl *bl = b->docs[anony][k];
    if (!bl) {
        const view *v = b->view[anony];
        switch (k) {
        case DOC_JSON_BT: case DOC_JSON_ELO: bl = leaderboard_json(b, v, k - DOC_JSON_BT, anony); break;
        case DOC_CSV_BT: case DOC_CSV_ELO: bl = leaderboard_csv(b, v, k - DOC_CSV_BT); break;
        default: bl = matrix_json(b, v, (board_matrix)(k - DOC_WINS), anony); break;
        }
        b->docs[anony][k] = bl;
    }
    if (bl) atomic_fetch_add(&bl->refs, 1);
    pthread_mutex_unlock(&b->mu);
    return bl ? &bl->pub : NULL;
}

board_blob *board_leaderboard_json(board *b, board_method m, int anony)
{
    return get_doc(b, anony, m == BOARD_ELO ? DOC_JSON_ELO : DOC_JSON_BT);
}

board_blob *board_leaderboard_csv(board *b, board_method m, int anony)
{
    return get_doc(b, anony, m == BOARD_ELO ? DOC_CSV_ELO : DOC_CSV_BT);
}

board_blob *board_matrix_json(board *b, board_matrix kind, int anony)
{
    if ((unsigned)kind > BOARD_PREDICTED) return NULL;
    return get_doc(b, anony, DOC_WINS + (int)kind);
}
