/* votes.c: the vote route (token, rate limits, the store's vote-once script), the live
 * leaderboard routes (documents served from the board's cache without a copy), the
 * streamed exports, and the feed from the vote stream into the board. */
#include "server.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "jflat.h"
#include "token.h"

#define VOTE_BAD_TOKEN 6   /* metrics slot beside the store statuses */
#define EXPORT_PAGE 1000

/* ---- votes ---- */

typedef struct vote_op {
    server *s;
    hreq *req;
    char id[72];
    char ip[64];
    const char *winner;      /* FastChat spelling (static string) */
    const char *answer;      /* as the client sent it (static string) */
    int step;                /* which rate limit is being checked */
} vote_op;

static void vote_op_end(vote_op *op) { http_unwatch(&op->req); free(op); }

static void not_finished(server *s, hreq *req, int side_failed)
{
    if (side_failed) http_error(s, req, 409, "side_failed", "a side failed to answer; regenerate before voting");
    else http_error(s, req, 425, "not_finished", "both answers must be complete before the vote");
}

/* The vote script refused a battle not done: a failed side gets its own answer. */
static void on_refused_loaded(void *ud, store_status st, const store_battle *b)
{
    vote_op *op = ud;
    hreq *req = http_take(&op->req);
    if (req) not_finished(op->s, req, st == STORE_OK && (b->status_a == STORE_SIDE_ERROR || b->status_b == STORE_SIDE_ERROR));
    vote_op_end(op);
}

static void on_voted(void *ud, store_status st, const store_vote_result *r)
{
    vote_op *op = ud;
    server *s = op->s;
    if (st == STORE_NOT_DONE && op->req) {
        s->m.votes[st]++;
        if (store_battle_load(s->store, op->id, on_refused_loaded, op) < 0) on_refused_loaded(op, STORE_UNKNOWN, NULL);
        return;
    }
    hreq *req = http_take(&op->req);
    s->m.votes[st]++;
    if (st == STORE_OK) battles_mark_voted(s, op->id);
    if (req) switch (st) {
    case STORE_OK:
        http_reply_strings(s, req, 200, (const char *const[]){"model_a", r->model_a, "model_b", r->model_b, "winner", op->answer}, 6);
        break;
    case STORE_ALREADY: http_error(s, req, 409, "already_voted", "this battle already has its vote"); break;
    case STORE_UNKNOWN: http_error(s, req, 404, "unknown_battle", "no such battle (or it expired)"); break;
    case STORE_NOT_DONE: not_finished(s, req, 0); break;
    default: http_error(s, req, 503, "unavailable", "the vote was not recorded: the vote store is unavailable; try again"); break;
    }
    vote_op_end(op);
}

static void cast(vote_op *op)
{
    server *s = op->s;
    const battle *b = battles_find(s, op->id);
    const char *prompt = b && b->side[0].n_msgs ? b->side[0].msgs[0] : NULL;
    char judge_buf[40];
    voter *who = voter_slot(s, op->ip);
    const char *judge = who && who->judge[0] ? who->judge
                      : store_judge(op->ip, s->cfg->token_secret, who ? who->judge : judge_buf, sizeof judge_buf);
    store_vote_req v = {
        .battle_id = op->id, .winner = op->winner, .judge = judge,
        .language = prompt ? store_guess_language(prompt) : NULL, .tstamp = NAN, .leak = b ? battle_leaked(b) : 0,
    };
    if (store_vote(s->store, &v, on_voted, op) < 0) on_voted(op, STORE_UNKNOWN, NULL);
}

static void rate_step(vote_op *op);

static void on_vote_rate(void *ud, store_status st, long long count)
{
    vote_op *op = ud;
    server *s = op->s;
    if (st == STORE_OK) { op->step++; rate_step(op); return; }
    hreq *req = http_take(&op->req);
    if (req && st == STORE_DENIED) {
        int daily = op->step == 1;
        hreq_add_header(req, "Retry-After", daily ? "3600" : "60");
        if (daily) http_error(s, req, 429, "daily_cap", "at most %d votes a day from one address", s->cfg->votes_per_day);
        else http_error(s, req, 429, "rate_limited", "at most %d votes a minute from one address", s->cfg->votes_per_minute);
    } else if (req) {
        http_error(s, req, 503, "unavailable", "the vote was not recorded: the vote store is unavailable; try again");
    }
    vote_op_end(op);
}

/* The per-minute limit, then the daily cap (each skipped when 0), then the vote. */
static void rate_step(vote_op *op)
{
    server *s = op->s;
    int limit = op->step == 0 ? s->cfg->votes_per_minute : op->step == 1 ? s->cfg->votes_per_day : 0;
    if (op->step > 1) { cast(op); return; }
    if (limit <= 0) { op->step++; rate_step(op); return; }
    char key[96];
    snprintf(key, sizeof key, "%s:%s", op->step == 0 ? "vote" : "voteday", op->ip);
    if (store_rate_hit(s->store, key, op->step == 0 ? 60 : 86400, limit, on_vote_rate, op) < 0)
        on_vote_rate(op, STORE_UNAVAILABLE, 0);
}

/* A string field of a vote body into out: "" when it is longer than out holds (no valid
 * winner or token is), NULL when the body has no such string. */
static const char *copy_field(char *out, size_t outlen, const char *v, size_t n)
{
    if (!v) return NULL;
    if (n >= outlen) n = 0;
    memcpy(out, v, n);
    out[n] = '\0';
    return out;
}

/* The winner and token of a vote body. The plain bodies that clients send are read by
 * jflat, in a small fraction of what jansson takes; anything else goes to jansson, which
 * also words the errors. -1 after an error reply. */
static int vote_body(server *s, hreq *req, char *winner, size_t wlen, char *token, size_t tlen,
                     const char **w, const char **t)
{
    size_t len, n;
    const char *text = hreq_body(req, &len);
    jflat_pair pairs[JFLAT_MAX];
    if (jflat_parse(text, len, pairs, &n) == 0) {
        const jflat_pair *pw = jflat_get(pairs, n, "winner"), *pt = jflat_get(pairs, n, "token");
        *w = copy_field(winner, wlen, pw ? pw->value : NULL, pw ? pw->value_len : 0);
        *t = copy_field(token, tlen, pt ? pt->value : NULL, pt ? pt->value_len : 0);
        return 0;
    }
    json_t *body = http_json_body(s, req);
    if (!body) return -1;
    const char *jw = json_string_value(json_object_get(body, "winner"));
    const char *jt = json_string_value(json_object_get(body, "token"));
    *w = copy_field(winner, wlen, jw, jw ? strlen(jw) : 0);
    *t = copy_field(token, tlen, jt, jt ? strlen(jt) : 0);
    json_decref(body);
    return 0;
}

void votes_route(server *s, hreq *req, const char *id)
{
    static const struct { const char *answer, *winner; } winners[] = {
        {"a", "model_a"}, {"b", "model_b"}, {"tie", "tie"}, {"bothbad", "tie (bothbad)"},
    };
    if (!battles_id_valid(id)) { http_error(s, req, 404, "unknown_battle", "no such battle"); return; }
    char winner_buf[16], token_buf[128];
    const char *w, *token;
    if (vote_body(s, req, winner_buf, sizeof winner_buf, token_buf, sizeof token_buf, &w, &token) < 0) return;
    int k = -1;
    for (int i = 0; w && i < 4; i++)
        if (strcmp(w, winners[i].answer) == 0) k = i;
    if (k < 0 || !token) {
        http_error(s, req, 400, "malformed", "the body must be {\"winner\": \"a\"|\"b\"|\"tie\"|\"bothbad\", \"token\": \"...\"}");
        return;
    }
    btok_status ts = btok_verify(s->token_key, id, token, time(NULL));
    if (ts != BTOK_OK) {
        s->m.votes[VOTE_BAD_TOKEN]++;
        http_error(s, req, 403, "bad_token", ts == BTOK_EXPIRED ? "the battle token expired" : "the battle token is not valid for this battle");
        return;
    }
    /* Early answers from memory only while this server streams the battle (its copy is then
     * the newest); otherwise the battle may have been answered on another server, and the
     * vote script decides from Redis (not_done there too). */
    const battle *b = battles_find_busy(s, id);
    if (b && (b->phase == BATTLE_WAITING || b->phase == BATTLE_STREAMING || battle_can_vote(b) == BATTLE_E_FAILED)) {
        not_finished(s, req, battle_can_vote(b) == BATTLE_E_FAILED);
        return;
    }
    vote_op *op = calloc(1, sizeof *op);
    if (!op) { http_error(s, req, 500, "internal", "out of memory"); return; }
    op->s = s;
    op->winner = winners[k].winner;
    op->answer = winners[k].answer;
    memcpy(op->id, id, strlen(id) + 1);   /* battles_id_valid: at most 64 bytes */
    http_client_ip(s, req, op->ip, sizeof op->ip);
    http_watch(req, &op->req);
    rate_step(op);
}

/* ---- leaderboard ---- */

static void release_blob(const void *data, size_t len, void *arg) { board_blob_release(arg); }

static void send_blob(server *s, hreq *req, board_blob *blob, const char *type)
{
    if (!blob) { http_error(s, req, 500, "internal", "out of memory"); return; }
    struct evbuffer *buf = evbuffer_new();
    if (!buf || evbuffer_add_reference(buf, blob->data, blob->len, release_blob, blob) < 0) {
        board_blob_release(blob);
        if (buf) evbuffer_free(buf);
        http_error(s, req, 500, "internal", "out of memory");
        return;
    }
    hreq_add_header(req, "Cache-Control", "no-cache");
    http_reply(s, req, 200, type, buf);
    evbuffer_free(buf);
}

/* ?anony=0|1 (default 1); -1 on a bad value. */
static int anony_param(hreq *req)
{
    char *v = http_query(req, "anony");
    int r = !v || strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ? 1 : strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ? 0 : -1;
    free(v);
    return r;
}

static int method_param(hreq *req, board_method *m)
{
    char *v = http_query(req, "method");
    int r = v ? board_parse_method(v, m) : (*m = BOARD_BT, 0);
    free(v);
    return r;
}

void board_route(server *s, hreq *req, const char *path)
{
    int anony = anony_param(req);
    if (anony < 0) { http_error(s, req, 400, "bad_parameter", "anony must be 0 or 1"); return; }
    if (strcmp(path, "leaderboard") == 0) {
        board_method m;
        if (method_param(req, &m) < 0) { http_error(s, req, 400, "bad_parameter", "method must be bt or elo"); return; }
        send_blob(s, req, board_leaderboard_json(s->board, m, anony), "application/json");
        return;
    }
    char *kind = http_query(req, "kind");
    board_matrix k = BOARD_WINS;
    int bad = kind && board_parse_matrix(kind, &k) < 0;
    free(kind);
    if (bad) { http_error(s, req, 400, "bad_parameter", "kind must be wins, counts or predicted"); return; }
    send_blob(s, req, board_matrix_json(s->board, k, anony), "application/json");
}

/* ---- exports ---- */

typedef struct export_op {
    server *s;
    hreq *req;
    export_writer *w;
    export_format fmt;
    struct evbuffer *buf;
    char after[64];
    int started;
    int more;                /* the last page was full: ask for the next */
} export_op;

static void export_op_free(export_op *op)
{
    http_unwatch(&op->req);
    export_free(op->w);
    if (op->buf) evbuffer_free(op->buf);
    free(op);
}

static int to_buffer(void *ud, const char *data, size_t len) { return evbuffer_add(ud, data, len); }

static void next_page(export_op *op);

static void on_flushed(hreq *req, void *arg)
{
    export_op *op = arg;
    if (!op->req) { export_op_free(op); return; }
    next_page(op);
}

static void on_page(void *ud, store_status st, const store_vote_record *recs, size_t n)
{
    export_op *op = ud;
    server *s = op->s;
    if (!op->req) { export_op_free(op); return; }
    if (st != STORE_OK) {
        hreq *req = http_take(&op->req);
        if (!op->started) http_error(s, req, 503, "unavailable", "the vote store is unavailable; try again");
        else hreq_abort(req);  /* truncated: no final chunk */
        export_op_free(op);
        return;
    }
    if (!op->started) {
        op->started = 1;
        http_headers(op->req, export_content_type(op->fmt));
        http_log(s, op->req, 200, 0);
        hreq_start(op->req, 200);
        export_begin(op->w);
    }
    for (size_t i = 0; i < n; i++) export_record(op->w, &recs[i]);
    if (n) snprintf(op->after, sizeof op->after, "%s", recs[n - 1].id);
    op->more = n == EXPORT_PAGE;
    if (!op->more) {
        export_end(op->w);
        hreq *req = http_take(&op->req);
        hreq_chunk(req, op->buf, NULL, NULL);
        hreq_end(req);
        export_op_free(op);
        return;
    }
    hreq_chunk(op->req, op->buf, on_flushed, op);
}

static void next_page(export_op *op)
{
    if (store_scan_votes(op->s->store, op->after, EXPORT_PAGE, on_page, op) < 0) on_page(op, STORE_UNAVAILABLE, NULL, 0);
}

void export_route(server *s, hreq *req, const char *what)
{
    int anony = anony_param(req);
    if (strcmp(what, "leaderboard.csv") == 0) {
        board_method m;
        if (anony < 0 || method_param(req, &m) < 0) { http_error(s, req, 400, "bad_parameter", "method must be bt or elo, anony 0 or 1"); return; }
        send_blob(s, req, board_leaderboard_csv(s->board, m, anony), "text/csv; charset=utf-8");
        return;
    }
    export_format fmt;
    if (strcmp(what, "battles.json") == 0) fmt = EXPORT_JSON;
    else if (strcmp(what, "battles.csv") == 0) fmt = EXPORT_CSV;
    else { http_error(s, req, 404, "not_found", "no such export"); return; }
    /* Exports default to every vote; ?anony=1 keeps the anonymous board's votes. */
    char *a = http_query(req, "anony"), *since = http_query(req, "since");
    export_filter f = {.anony_only = a && anony == 1, .since = NAN};
    char *end = NULL;
    int bad = anony < 0;
    if (since) {
        f.since = strtod(since, &end);
        bad |= end == since || *end || !isfinite(f.since);
    }
    free(a);
    free(since);
    if (bad) { http_error(s, req, 400, "bad_parameter", "anony must be 0 or 1, since a number of seconds"); return; }
    export_op *op = calloc(1, sizeof *op);
    char err[128];
    if (!op || !(op->buf = evbuffer_new()) || !(op->w = export_new(fmt, &f, to_buffer, op->buf, err, sizeof err))) {
        if (op) export_op_free(op);
        http_error(s, req, 500, "internal", "out of memory");
        return;
    }
    op->s = s;
    op->fmt = fmt;
    http_watch(req, &op->req);
    next_page(op);
}

/* ---- the board's feed ---- */

/* Reading every vote back from the stream (every field, conversations included) costs
 * more under load than the vote route itself, so it runs on a thread of its own, with its
 * own event loop and Redis connection, beside the request loop; board_add_vote is
 * thread-safe. */
static void on_votes(void *ud, store_status st, const store_vote_record *recs, size_t n)
{
    server *s = ud;
    for (size_t i = 0; st == STORE_OK && i < n; i++) board_add_vote(s->board, &recs[i]);
}

/* Stopping goes through an event, not event_base_loopbreak from the other thread: a break
 * requested before the thread's loop starts is forgotten (the loop clears it as it
 * starts), and the thread would then run for ever; an active event waits for the loop. */
static void on_feed_stop(evutil_socket_t fd, short what, void *arg) { event_base_loopbreak(arg); }

static void *feed_main(void *arg)
{
    server *s = arg;
    pthread_setname_np(pthread_self(), "arena-feed");   /* as top -H and /proc show it */
    event_base_loop(s->feed_base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

int votes_follow_start(server *s, char *err, size_t errlen)
{
    if (!(s->feed_stop = event_new(s->feed_base, -1, 0, on_feed_stop, s->feed_base)) ||
        store_follow_votes(s->feed_store, "0", on_votes, s) < 0 || pthread_create(&s->feed_thread, NULL, feed_main, s) != 0) {
        snprintf(err, errlen, "cannot start the board's feed");
        return -1;
    }
    s->feed_started = 1;
    return 0;
}

void votes_follow_stop(server *s)
{
    if (s->feed_started) {
        event_active(s->feed_stop, EV_TIMEOUT, 0);   /* the feed's loop has locks: safe from here */
        pthread_join(s->feed_thread, NULL);
        s->feed_started = 0;
    }
    if (s->feed_stop) event_free(s->feed_stop);
    s->feed_stop = NULL;
    if (s->feed_store) store_follow_stop(s->feed_store);
    store_free(s->feed_store);
    s->feed_store = NULL;
    if (s->feed_base) event_base_free(s->feed_base);
    s->feed_base = NULL;
}
