/* test_store.c: the vote store against a real redis-server it starts itself: vote once,
 * the script's four answers, TTLs, the stream record's fields, imports, rate limits, the
 * follower, a flushed script cache, a hung server and a crashed-and-restarted one. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "../check.h"
#include "store_fixture.h"

/* ---- a result slot per request ---- */

typedef struct result {
    volatile int done;
    store_status st;
    char stream_id[64], model_a[64], model_b[64];
    long long count;
    store_battle battle;
    char conv_a[256], voter[64];
} result;

static void on_done(void *ud, store_status st)
{
    result *r = ud;
    r->st = st;
    r->done = 1;
}

static void on_vote(void *ud, store_status st, const store_vote_result *v)
{
    result *r = ud;
    r->st = st;
    if (v) {
        snprintf(r->stream_id, sizeof r->stream_id, "%s", v->stream_id);
        snprintf(r->model_a, sizeof r->model_a, "%s", v->model_a);
        snprintf(r->model_b, sizeof r->model_b, "%s", v->model_b);
    }
    r->done = 1;
}

static void on_load(void *ud, store_status st, const store_battle *b)
{
    result *r = ud;
    r->st = st;
    if (b) {
        r->battle = *b;
        snprintf(r->conv_a, sizeof r->conv_a, "%s", b->conv_a);
        snprintf(r->voter, sizeof r->voter, "%s", b->voter);
        r->battle.model_a = r->battle.model_b = r->battle.conv_a = r->battle.conv_b = r->battle.voter = NULL;
        r->battle.voted = b->voted ? "yes" : NULL;
    }
    r->done = 1;
}

/* Runs the loop until the wall clock is in its first 150 ms of a second, at or after
 * second AT (0: any); returns that second. */
static time_t early_in_second(struct event_base *base, time_t at)
{
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec >= at && now.tv_nsec < 150000000) return now.tv_sec;
        rp_run_for(base, 20);
    }
}

static void on_rate(void *ud, store_status st, long long count)
{
    result *r = ud;
    r->st = st;
    r->count = count;
    r->done = 1;
}

static struct event_base *base;
static store *st;

static store_status save(const char *id, store_side a, store_side b, int anony)
{
    store_battle bt = { .model_a = "alpha", .model_b = "beta", .anony = anony, .tstamp = 1700000000.5,
                        .turn = 1, .status_a = a, .status_b = b,
                        .conv_a = "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"A\"}]",
                        .conv_b = "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"B\"}]",
                        .voter = "203.0.113.7" };
    result r = { 0 };
    if (store_battle_save(st, id, &bt, 3600, on_done, &r) < 0) return (store_status)-1;
    rp_run_until(base, &r.done, 5000);
    return r.done ? r.st : (store_status)-2;
}

static result vote(const char *id, const char *winner, int leak)
{
    result r = { 0 };
    store_vote_req q = { .battle_id = id, .winner = winner, .judge = "arena_user_test", .language = "English",
                         .tstamp = NAN, .leak = leak };
    if (store_vote(st, &q, on_vote, &r) < 0) r.st = (store_status)-1;
    else rp_run_until(base, &r.done, 5000);
    return r;
}

static long long redis_int(redis_proc *rp, const char *fmt, const char *arg)
{
    redisReply *rep = rp_command(rp, fmt, arg);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -99;
    if (rep) freeReplyObject(rep);
    return v;
}

/* A string reply's text (into out), or "" */
static const char *redis_text(redis_proc *rp, const char *fmt, const char *arg, char *out, size_t outlen)
{
    redisReply *rep = rp_command(rp, fmt, arg);
    snprintf(out, outlen, "%s", rep && rep->type == REDIS_REPLY_STRING ? rep->str : "");
    if (rep) freeReplyObject(rep);
    return out;
}

/* ---- the follower ---- */

typedef struct feed {
    size_t n, unavailable;
    size_t longest;             /* the longest conversation_a delivered */
    char last_id[64];
    int out_of_order;
} feed;

static int stream_id_le(const char *a, const char *b)
{
    unsigned long long am, as, bm, bs;
    sscanf(a, "%llu-%llu", &am, &as);
    sscanf(b, "%llu-%llu", &bm, &bs);
    return am < bm || (am == bm && as <= bs);
}

static void on_feed(void *ud, store_status s, const store_vote_record *recs, size_t n)
{
    feed *f = ud;
    if (s != STORE_OK) {
        f->unavailable++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (f->last_id[0] && stream_id_le(recs[i].id, f->last_id)) f->out_of_order = 1;
        snprintf(f->last_id, sizeof f->last_id, "%s", recs[i].id);
        size_t len = recs[i].conversation_a ? strlen(recs[i].conversation_a) : 0;
        if (len > f->longest) f->longest = len;
        f->n++;
    }
}

/* ---- scan ---- */

typedef struct scan {
    volatile int done;
    store_status st;
    size_t n;
    store_vote_record first;
    char buf[8][256];
} scan;

static void on_scan(void *ud, store_status s, const store_vote_record *recs, size_t n)
{
    scan *sc = ud;
    sc->st = s;
    sc->n = n;
    if (n) {
        sc->first = recs[0];
        snprintf(sc->buf[0], 256, "%s", recs[0].question_id);
        snprintf(sc->buf[1], 256, "%s", recs[0].model_a);
        snprintf(sc->buf[2], 256, "%s", recs[0].winner);
        snprintf(sc->buf[3], 256, "%s", recs[0].judge);
        snprintf(sc->buf[4], 256, "%s", recs[0].language);
        snprintf(sc->buf[5], 256, "%s", recs[0].conversation_a);
    }
    sc->done = 1;
}

int main(void)
{
    redis_proc rp = { 0 };
    if (!(base = sf_start(&rp)))
        return 1;
    char err[256], url[64];
    store_config sc;
    sf_config(&sc, &rp, url, sizeof url);
    sc.command_timeout_ms = 400;
    sc.follow_block_ms = 200;
    sc.log = sf_log;
    st = store_new(base, &sc, err, sizeof err);
    CHECK(st != NULL, "store_new (%s)", st ? "ok" : err);
    if (!st) return check_exit();
    CHECK(sf_wait_ready(base, st, 3000), "store becomes ready");

    /* bad arguments are refused before any I/O */
    store_config bad;
    store_config_default(&bad);
    bad.url = "http://x";
    CHECK(store_new(base, &bad, err, sizeof err) == NULL, "bad URL refused: %s", err);
    result dummy = { 0 };
    CHECK(store_vote(st, &(store_vote_req){ .battle_id = "b1", .winner = "left-ish" }, on_vote, &dummy) == -1,
          "bad winner refused");
    CHECK(store_vote(st, &(store_vote_req){ .battle_id = "bad id!", .winner = "tie" }, on_vote, &dummy) == -1,
          "bad battle id refused");

    /* battle state: save, TTL, load */
    CHECK(save("b1", STORE_SIDE_DONE, STORE_SIDE_STREAMING, 1) == STORE_OK, "battle saved");
    long long ttl = redis_int(&rp, "TTL %s", "arena:{a}:battle:b1");
    CHECK(ttl > 3500 && ttl <= 3600, "battle hash has its TTL (%lld)", ttl);
    char text[64];
    CHECK(!strcmp(redis_text(&rp, "HGET %s tstamp", "arena:{a}:battle:b1", text, sizeof text), "1700000000.500000"),
          "tstamp stored as seconds with six decimals (%s)", text);
    result l = { 0 };
    store_battle_load(st, "b1", on_load, &l);
    rp_run_until(base, &l.done, 3000);
    CHECK(l.st == STORE_OK && l.battle.status_a == STORE_SIDE_DONE && l.battle.status_b == STORE_SIDE_STREAMING &&
          l.battle.anony == 1 && l.battle.turn == 1 && fabs(l.battle.tstamp - 1700000000.5) < 1e-6 &&
          strstr(l.conv_a, "\"A\"") && !strcmp(l.voter, "203.0.113.7") && !l.battle.voted,
          "battle loads back with every field");
    result l2 = { 0 };
    store_battle_load(st, "nosuch", on_load, &l2);
    rp_run_until(base, &l2.done, 3000);
    CHECK(l2.st == STORE_UNKNOWN, "unknown battle loads as STORE_UNKNOWN");

    /* the vote script's answers */
    result v = vote("b1", "model_a", 0);
    CHECK(v.st == STORE_NOT_DONE, "vote before both sides are done: not_done (%s)", store_status_name(v.st));
    v = vote("nosuch", "model_a", 0);
    CHECK(v.st == STORE_UNKNOWN, "vote on an unknown battle: unknown");
    save("b1", STORE_SIDE_DONE, STORE_SIDE_DONE, 1);
    v = vote("b1", "model_b", 0);
    CHECK(v.st == STORE_OK && v.stream_id[0] && !strcmp(v.model_a, "alpha") && !strcmp(v.model_b, "beta"),
          "vote recorded, models revealed");
    char first_id[64];
    snprintf(first_id, sizeof first_id, "%s", v.stream_id);
    result v2 = vote("b1", "model_a", 0);
    CHECK(v2.st == STORE_ALREADY && !strcmp(v2.stream_id, first_id), "second vote: already, same entry");
    result l3 = { 0 };
    store_battle_load(st, "b1", on_load, &l3);
    rp_run_until(base, &l3.done, 3000);
    CHECK(l3.st == STORE_OK && l3.battle.voted, "battle hash marks the vote");

    /* the stream record holds every FastChat field */
    redisContext *c = rp_connect(&rp);
    redisReply *rep = c ? redisCommand(c, "XRANGE arena:{a}:votes - +") : NULL;
    int fields_ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1;
    static const char *const want[] = { "question_id", "model_a", "model_b", "winner", "judge", "turn", "anony",
                                        "language", "tstamp", "conversation_a", "conversation_b", "leak", "mode" };
    for (size_t i = 0; fields_ok && i < sizeof want / sizeof *want; i++) {
        redisReply *kv = rep->element[0]->element[1];
        int found = 0;
        for (size_t j = 0; j + 1 < kv->elements; j += 2)
            if (!strcmp(kv->element[j]->str, want[i])) found = 1;
        if (!found) { printf("# missing field %s\n", want[i]); fields_ok = 0; }
    }
    CHECK(fields_ok, "stream record has every FastChat clean-battle field plus leak and mode");
    if (rep) freeReplyObject(rep);

    /* concurrent duplicates: 20 votes in flight on one connection and 20 on another */
    save("b2", STORE_SIDE_DONE, STORE_SIDE_DONE, 1);
    store *st2 = store_new(base, &sc, err, sizeof err);
    sf_wait_ready(base, st2, 3000);
    result many[40];
    memset(many, 0, sizeof many);
    for (int i = 0; i < 40; i++) {
        store_vote_req q = { .battle_id = "b2", .winner = i % 2 ? "tie" : "model_a", .tstamp = NAN };
        store_vote(i % 2 ? st2 : st, &q, on_vote, &many[i]);
    }
    int recorded = 0, already = 0;
    for (int i = 0; i < 40; i++) {
        rp_run_until(base, &many[i].done, 3000);
        recorded += many[i].st == STORE_OK;
        already += many[i].st == STORE_ALREADY;
    }
    CHECK(recorded == 1 && already == 39, "40 concurrent votes on two connections: exactly one recorded (%d, %d)",
          recorded, already);
    store_free(st2);
    CHECK(redis_int(&rp, "XLEN %s", "arena:{a}:votes") == 2, "stream holds exactly the recorded votes");

    /* a flushed script cache: EVALSHA fails with NOSCRIPT, the body is sent */
    rep = c ? redisCommand(c, "SCRIPT FLUSH") : NULL;
    if (rep) freeReplyObject(rep);
    save("b3", STORE_SIDE_DONE, STORE_SIDE_DONE, 0);
    v = vote("b3", "tie (bothbad)", 1);
    CHECK(v.st == STORE_OK, "vote after SCRIPT FLUSH goes through (EVAL fallback)");

    /* votes without a time take Redis's clock as they are recorded: in stream order */
    {
        redisReply *all = c ? redisCommand(c, "XRANGE arena:{a}:votes - +") : NULL;
        double prev = 0, now = (double)time(NULL);
        int in_order = all && all->type == REDIS_REPLY_ARRAY && all->elements >= 3;
        for (size_t i = 0; in_order && i < all->elements; i++) {
            redisReply *fields = all->element[i]->element[1];
            for (size_t k = 0; k + 1 < fields->elements; k += 2)
                if (!strcmp(fields->element[k]->str, "tstamp")) {
                    double t = atof(fields->element[k + 1]->str);
                    in_order = t >= prev && fabs(t - now) < 60 && strchr(fields->element[k + 1]->str, '.') &&
                               strlen(strchr(fields->element[k + 1]->str, '.')) == 7;
                    prev = t;
                }
        }
        if (all) freeReplyObject(all);
        CHECK(in_order, "votes without a time: Redis's clock, six decimals, in stream order");
    }

    /* scan: paging and parsed records */
    scan s1 = { 0 };
    store_scan_votes(st, NULL, 1, on_scan, &s1);
    rp_run_until(base, &s1.done, 3000);
    CHECK(s1.st == STORE_OK && s1.n == 1 && !strcmp(s1.buf[0], "b1") && !strcmp(s1.buf[1], "alpha") &&
          !strcmp(s1.buf[2], "model_b") && !strcmp(s1.buf[3], "arena_user_test") && !strcmp(s1.buf[4], "English") &&
          strstr(s1.buf[5], "\"A\"") && s1.first.anony == 1 && s1.first.turn == 1 && isfinite(s1.first.tstamp),
          "scan: first page, one parsed record");
    scan s2 = { 0 };
    store_scan_votes(st, first_id, 10, on_scan, &s2);
    rp_run_until(base, &s2.done, 3000);
    CHECK(s2.st == STORE_OK && s2.n == 2 && !s2.first.leak, "scan: second page after the first id");

    /* imports are idempotent */
    store_vote_record imp = { .question_id = "q-imported-1", .model_a = "gamma", .model_b = "alpha",
                              .winner = "model_a", .judge = "arena_user_x", .turn = 1, .anony = 1,
                              .tstamp = 1690000000.25 };
    result i1 = { 0 }, i2 = { 0 }, i3 = { 0 }, i4 = { 0 };
    store_import_vote(st, &imp, on_done, &i1);
    store_import_vote(st, &imp, on_done, &i2);
    imp.question_id = NULL;
    store_import_vote(st, &imp, on_done, &i3);
    store_import_vote(st, &imp, on_done, &i4);
    rp_run_until(base, &i4.done, 3000);
    CHECK(i1.st == STORE_OK && i2.st == STORE_ALREADY, "import by question_id: added once");
    CHECK(i3.st == STORE_OK && i4.st == STORE_ALREADY, "import without question_id: hashed id, added once");
    CHECK(redis_int(&rp, "XLEN %s", "arena:{a}:votes") == 5, "stream has 5 records");

    /* rate limits: a sliding window estimated from fixed ones */
    time_t second = early_in_second(base, 0);   /* the four hits share one 1-second window */
    result rr[4];
    memset(rr, 0, sizeof rr);
    for (int i = 0; i < 4; i++) store_rate_hit(st, "vote:198.51.100.1", 1, 3, on_rate, &rr[i]);
    rp_run_until(base, &rr[3].done, 3000);
    CHECK(rr[0].st == STORE_OK && rr[2].st == STORE_OK && rr[2].count == 3 && rr[3].st == STORE_DENIED &&
          rr[3].count == 4, "rate limit: three allowed, the fourth denied");
    rep = c ? redisCommand(c, "KEYS arena:a:rl:*") : NULL;
    long long rl_ttl = -5;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1)
        rl_ttl = redis_int(&rp, "PTTL %s", rep->element[0]->str);
    if (rep) freeReplyObject(rep);
    CHECK(rl_ttl > 1000 && rl_ttl <= 2000, "one counter (refusals are not counted), kept for two windows (%lld ms)", rl_ttl);
    early_in_second(base, second + 1);
    result r5 = { 0 };
    store_rate_hit(st, "vote:198.51.100.1", 1, 3, on_rate, &r5);
    rp_run_until(base, &r5.done, 3000);
    CHECK(r5.st == STORE_DENIED && r5.count == 4, "rate limit: early in the next window the last one's hits still count (%lld)", r5.count);
    early_in_second(base, second + 2);
    result r6 = { 0 };
    store_rate_hit(st, "vote:198.51.100.1", 1, 3, on_rate, &r6);
    rp_run_until(base, &r6.done, 3000);
    CHECK(r6.st == STORE_OK && r6.count == 1, "rate limit: two windows later the count starts at 1 (%lld)", r6.count);

    /* the follower sees every record once, in order */
    feed f = { 0 };
    CHECK(store_follow_votes(st, "0", on_feed, &f) == 0, "follower starts");
    CHECK(store_follow_votes(st, "0", on_feed, &f) == -1, "a second follower is refused");
    for (int t = 0; t < 3000 && f.n < 5; t += 20) rp_run_for(base, 20);
    CHECK(f.n == 5, "follower delivered the 5 records (%zu)", f.n);

    /* a reply many times the size of a reply arena's chunk, then small ones again */
    {
        enum { BIG = 300000 };
        char *conv = malloc(BIG + 64);
        int len = conv ? snprintf(conv, 64, "[{\"role\":\"user\",\"content\":\"") : 0;
        if (conv) {
            memset(conv + len, 'x', BIG);
            strcpy(conv + len + BIG, "\"}]");
        }
        store_vote_record big = { .question_id = "q-big", .model_a = "gamma", .model_b = "alpha", .winner = "tie",
                                  .anony = 1, .tstamp = 1690000001, .conversation_a = conv };
        store_vote_record small = { .question_id = "q-small", .model_a = "gamma", .model_b = "alpha", .winner = "tie",
                                    .anony = 1, .tstamp = 1690000002 };
        result ib = { 0 }, is = { 0 };
        store_import_vote(st, &big, on_done, &ib);
        store_import_vote(st, &small, on_done, &is);
        rp_run_until(base, &is.done, 3000);
        for (int t = 0; t < 3000 && f.n < 7; t += 20) rp_run_for(base, 20);
        CHECK(ib.st == STORE_OK && is.st == STORE_OK && f.n == 7 && f.longest == strlen(conv ? conv : "") && !f.out_of_order,
              "a 300 KB record and a small one after it are read back whole (%zu records, longest %zu)", f.n, f.longest);
        free(conv);
    }

    /* a follower whose stream key holds something else gets errors, then recovers */
    {
        redisReply *x = c ? redisCommand(c, "SET arena:{w}:votes not-a-stream") : NULL;
        if (x) freeReplyObject(x);
        store_config wc = sc;
        wc.ns = "w";
        store *sw = store_new(base, &wc, err, sizeof err);
        feed fw = { 0 };
        store_follow_votes(sw, "0", on_feed, &fw);
        for (int t = 0; t < 3000 && !fw.unavailable; t += 20) rp_run_for(base, 20);
        x = c ? redisCommand(c, "DEL arena:{w}:votes") : NULL;
        if (x) freeReplyObject(x);
        store_vote_record one = { .question_id = "w1", .model_a = "m1", .model_b = "m2", .winner = "tie",
                                  .anony = 1, .tstamp = 1 };
        result iw = { 0 };
        store_import_vote(sw, &one, on_done, &iw);
        for (int t = 0; t < 4000 && fw.n < 1; t += 20) rp_run_for(base, 20);
        CHECK(fw.unavailable >= 1 && fw.n == 1, "follower retries after an error reply (%zu errors, %zu records)",
              fw.unavailable, fw.n);
        store_free(sw);
    }

    /* a hung server: requests time out, fail, then work again */
    kill(rp.pid, SIGSTOP);
    v = vote("b3", "tie", 0);
    CHECK(v.st == STORE_UNAVAILABLE, "hung server: vote unavailable after the timeout");
    kill(rp.pid, SIGCONT);
    CHECK(sf_wait_ready(base, st, 5000), "ready again after the server resumes");

    /* a crash: votes are unavailable meanwhile; after the restart they go through and
     * nothing acknowledged is lost */
    int acked = 3;   /* b1, b2, b3 */
    save("c0", STORE_SIDE_DONE, STORE_SIDE_DONE, 1);
    v = vote("c0", "model_a", 0);
    acked += v.st == STORE_OK;
    rp_run_for(base, 150);   /* past the follower's rest: its next XREAD is in flight, so it sees the crash */
    redisFree(c);
    rp_stop(&rp, SIGKILL);
    v = vote("c0", "model_b", 0);
    CHECK(v.st == STORE_UNAVAILABLE, "redis down: vote unavailable");
    rp_run_for(base, 100);
    CHECK(!store_ready(st), "redis down: not ready");
    v = vote("c0", "model_b", 0);
    CHECK(v.st == STORE_UNAVAILABLE, "redis down: still unavailable, answered at once");
    CHECK(rp_start(&rp) == 0, "redis-server restarts on the same port");
    CHECK(sf_wait_ready(base, st, 5000), "store reconnects");
    save("c1", STORE_SIDE_DONE, STORE_SIDE_DONE, 1);
    v = vote("c1", "tie", 0);
    CHECK(v.st == STORE_OK, "vote after the restart recorded");
    acked += v.st == STORE_OK;
    long long xlen = redis_int(&rp, "XLEN %s", "arena:{a}:votes");
    CHECK(xlen == acked + 4, "every acknowledged vote survived the crash (%lld records, %d votes + 4 imports)",
          xlen, acked);
    for (int t = 0; t < 5000 && f.n < (size_t)xlen; t += 20) rp_run_for(base, 20);
    CHECK(f.n == (size_t)xlen && !f.out_of_order && f.unavailable >= 1,
          "follower resumed after the crash: every record once, in order (%zu of %lld)", f.n, xlen);

    store_status_name(STORE_OK);
    char judge[64];
    store_judge("203.0.113.7", "salt", judge, sizeof judge);
    CHECK(!strncmp(judge, "arena_user_", 11) && strlen(judge) == 27 && !strstr(judge, "203"),
          "judge hashes the address: %s", judge);
    CHECK(!strcmp(store_guess_language("What is the capital of France?"), "English") &&
          !strcmp(store_guess_language("日本の首都はどこですか"), "unknown"), "language guess");

    /* pending requests get their callback from store_free */
    result pend = { 0 };
    save("c2", STORE_SIDE_DONE, STORE_SIDE_DONE, 1);
    store_vote(st, &(store_vote_req){ .battle_id = "c2", .winner = "tie", .tstamp = NAN }, on_vote, &pend);
    store_free(st);
    CHECK(pend.done && pend.st == STORE_UNAVAILABLE, "store_free calls pending callbacks");
    event_base_free(base);
    rp_destroy(&rp);
    return check_exit();
}
