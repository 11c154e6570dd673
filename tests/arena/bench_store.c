/* bench_store.c: votes through the store's vote script with 64 in flight on one
 * connection: votes/s and p50/p99 latency, beside redis-benchmark's INCR rate (64
 * clients) on the same server in the same run. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "store_fixture.h"

enum { N_VOTES = 20000, IN_FLIGHT = 64 };

static struct event_base *base;
static store *st;
static int next_vote, done_votes, ok_votes, saved;
static double sent_at[N_VOTES], latency[N_VOTES];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void send_vote(void);

static void on_vote(void *ud, store_status s, const store_vote_result *r)
{
    int i = (int)(intptr_t)ud;
    latency[i] = now_s() - sent_at[i];
    done_votes++;
    ok_votes += s == STORE_OK;
    send_vote();
}

static void send_vote(void)
{
    if (next_vote >= N_VOTES) return;
    int i = next_vote++;
    char id[32];
    snprintf(id, sizeof id, "bench-%d", i);
    store_vote_req q = { .battle_id = id, .winner = i % 3 ? "model_a" : "tie", .judge = "arena_user_bench",
                         .language = "English", .tstamp = NAN };
    sent_at[i] = now_s();
    store_vote(st, &q, on_vote, (void *)(intptr_t)i);
}

static void on_saved(void *ud, store_status s)
{
    saved += s == STORE_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    redis_proc rp = { 0 };
    const char *const everysec[] = { "--appendfsync", "everysec", NULL };
    if (rp_start_ex(&rp, everysec, NULL) < 0) {
        fprintf(stderr, "redis-server did not start\n");
        return 1;
    }
    base = event_base_new();
    char url[64], err[256];
    store_config sc;
    sf_config(&sc, &rp, url, sizeof url);
    st = store_new(base, &sc, err, sizeof err);
    if (!sf_wait_ready(base, st, 3000)) {
        fprintf(stderr, "store not ready\n");
        return 1;
    }
    static const char conv[] = "[{\"role\":\"user\",\"content\":\"Write a haiku about the sea.\"},"
                               "{\"role\":\"assistant\",\"content\":\"Waves fold into foam / salt wind carries "
                               "gull voices / the tide keeps its time\"}]";
    for (int i = 0; i < N_VOTES; i++) {
        char id[32];
        snprintf(id, sizeof id, "bench-%d", i);
        store_battle b = { .model_a = "alpha", .model_b = "beta", .anony = 1, .tstamp = NAN, .turn = 1,
                           .status_a = STORE_SIDE_DONE, .status_b = STORE_SIDE_DONE, .conv_a = conv,
                           .conv_b = conv, .voter = "192.0.2.1" };
        store_battle_save(st, id, &b, 3600, on_saved, NULL);
        if (i % 1000 == 999)
            while (saved < i - 200) event_base_loop(base, EVLOOP_ONCE);
    }
    while (saved < N_VOTES) event_base_loop(base, EVLOOP_ONCE);

    double t0 = now_s();
    for (int i = 0; i < IN_FLIGHT; i++) send_vote();
    while (done_votes < N_VOTES) event_base_loop(base, EVLOOP_ONCE);
    double elapsed = now_s() - t0;
    qsort(latency, N_VOTES, sizeof *latency, cmp_double);
    double rate = N_VOTES / elapsed;

    char cmd[160];
    snprintf(cmd, sizeof cmd, "redis-benchmark -p %d -t incr -n 100000 -c 64 --csv 2>/dev/null", rp.port);
    FILE *p = popen(cmd, "r");
    char line[256];
    double incr = NAN;
    while (p && fgets(line, sizeof line, p)) {
        /* --csv: "INCR","48000.00",... (the -q progress lines share one line through \r) */
        if (!strncmp(line, "\"INCR\",\"", 8)) incr = strtod(line + 8, NULL);
    }
    if (p) pclose(p);

    printf("store votes (vote script, %d in flight, one connection, appendfsync everysec): %.0f votes/s, "
           "p50 %.3f ms, p99 %.3f ms, %d recorded of %d\n",
           IN_FLIGHT, rate, latency[N_VOTES / 2] * 1e3, latency[N_VOTES * 99 / 100] * 1e3, ok_votes, N_VOTES);
    printf("baseline redis-benchmark INCR (64 clients): %.0f requests/s\n", incr);
    printf("ratio votes/s / INCR/s: %.2f (issue target for the full HTTP path: >= 0.5)\n", rate / incr);
    store_free(st);
    event_base_free(base);
    rp_destroy(&rp);
    return 0;
}
