/* battles.c: creating battles, streaming both answers at once, follow-up turns.
 *
 * A live battle is in memory on the server that streams it: the battle (battle.h), the
 * browser's SSE request (at most one; a new one replaces it and gets a replay), and two
 * upstream requests, one per side, each an OpenAI streaming chat completion read chunk by
 * chunk through libevent's HTTP client. A side's events go to the browser as they come:
 * `a`/`b` {"text"}, then `done` {"side"} or `error` {"side","message"}. When both sides
 * have ended the battle is saved to Redis (so any server can take the vote) and only then
 * `end` {"saved"} is sent: a vote sent after `end` finds the battle finished in Redis.
 *
 * A battle not in memory (created by another server, or before a restart) is loaded from
 * Redis on demand (battle_restore). A battle leaves memory when it is voted on, or after
 * battles.idle_seconds idle; it stays in Redis until its TTL. */
#include "server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "sse.h"
#include "token.h"

#define VOTER_SLOTS 4096

typedef struct upstream {
    live_battle *lb;
    int side;
    model_state *model;
    struct evhttp_connection *conn;
    sse_parser parser;
    int finished;            /* [DONE] or a finish_reason arrived */
    int http_status;
    int first_token_seen;
    double started;
    char error[160];
} upstream;

struct live_battle {
    server *s;
    battle *b;
    live_battle *next;                 /* hash chain */
    uint64_t hash;                     /* of b->id: a chain skips others without reading their battles */
    live_battle *older, *newer;        /* the server's activity list (what the sweep reads) */
    live_battle *watched_prev, *watched_next;  /* the server's list of battles with a sub */
    hreq *sub;                         /* the browser's SSE request, NULL when none */
    upstream *up[2];
    char voter[64];
    time_t last_active;
    time_t last_sent;                  /* last byte sent on sub */
    int saving;                        /* a save to Redis is in flight */
    int saved;                         /* the ended turn is in Redis */
};

static double now_seconds(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

voter *voter_slot(server *s, const char *ip)
{
    if (!s->voters && !(s->voters = calloc(VOTER_SLOTS, sizeof *s->voters))) return NULL;
    uint64_t h = hash_str(ip);
    voter *v = &s->voters[h % VOTER_SLOTS];
    if (v->ip_hash != h || !v->used) *v = (voter){.ip_hash = h, .used = 1, .a = -1, .b = -1};
    return v;
}

int battles_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > 64) return 0;
    for (; *id; id++)
        if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') || *id == '-' || *id == '_'))
            return 0;
    return 1;
}

/* ---- the table of live battles ---- */

/* h = hash_str(id) */
static live_battle **slot_of(server *s, const char *id, uint64_t h)
{
    live_battle **p = &s->table[h & (s->table_size - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->b->id, id) != 0)) p = &(*p)->next;
    return p;
}

static live_battle *find(server *s, const char *id) { return *slot_of(s, id, hash_str(id)); }

/* Doubles the table once it holds as many battles as buckets, so that chains stay short
 * however many battles are live (a failed allocation keeps the old table). */
static void grow_table(server *s)
{
    size_t size = s->table_size * 2;
    live_battle **table = calloc(size, sizeof *table);
    if (!table) return;
    for (size_t i = 0; i < s->table_size; i++) {
        for (live_battle *lb = s->table[i], *next; lb; lb = next) {
            next = lb->next;
            live_battle **p = &table[lb->hash & (size - 1)];
            lb->next = *p;
            *p = lb;
        }
    }
    free(s->table);
    s->table = table;
    s->table_size = size;
}

/* The activity list is in order of last activity, so the idle sweep reads only the
 * battles it frees; a battle moves to its newest end at each activity. */
static void unlink_activity(live_battle *lb)
{
    server *s = lb->s;
    if (lb->older) lb->older->newer = lb->newer;
    else if (s->oldest == lb) s->oldest = lb->newer;
    if (lb->newer) lb->newer->older = lb->older;
    else if (s->newest == lb) s->newest = lb->older;
    lb->older = lb->newer = NULL;
}

static void touch(live_battle *lb)
{
    server *s = lb->s;
    lb->last_active = time(NULL);
    if (s->newest == lb) return;
    unlink_activity(lb);
    lb->older = s->newest;
    if (s->newest) s->newest->newer = lb;
    else s->oldest = lb;
    s->newest = lb;
}

static live_battle *insert(server *s, battle *b, const char *voter)
{
    if (s->n_live >= s->table_size) grow_table(s);
    live_battle *lb = calloc(1, sizeof *lb);
    if (!lb) return NULL;
    lb->s = s;
    lb->b = b;
    lb->hash = hash_str(b->id);
    touch(lb);
    snprintf(lb->voter, sizeof lb->voter, "%s", voter ? voter : "");
    live_battle **p = slot_of(s, b->id, lb->hash);
    lb->next = *p;
    *p = lb;
    s->n_live++;
    return lb;
}

static void upstream_free(upstream *u)
{
    if (!u) return;
    if (u->conn) evhttp_connection_free(u->conn);
    sse_free(&u->parser);
    free(u);
}

static void live_free(live_battle *lb)
{
    for (int i = 0; i < 2; i++) upstream_free(lb->up[i]);
    battle_free(lb->b);
    free(lb);
}

static void remove_live(server *s, live_battle *lb)
{
    live_battle **p = slot_of(s, lb->b->id, lb->hash);
    if (*p == lb) *p = lb->next;
    unlink_activity(lb);
    s->n_live--;
    live_free(lb);
}

/* This server is working on the battle: streaming it, saving it, or a browser is attached. */
static int busy(const live_battle *lb)
{
    return lb->up[0] || lb->up[1] || lb->saving || lb->sub;
}

const battle *battles_find(server *s, const char *id)
{
    live_battle *lb = find(s, id);
    return lb ? lb->b : NULL;
}

const battle *battles_find_busy(server *s, const char *id)
{
    live_battle *lb = find(s, id);
    return lb && busy(lb) ? lb->b : NULL;
}

/* A voted battle takes no more turns and its record is in Redis: memory keeps it only
 * while a browser stream still holds it (the idle sweep frees it then). */
void battles_mark_voted(server *s, const char *id)
{
    live_battle *lb = find(s, id);
    if (!lb) return;
    battle_vote(lb->b);
    if (!busy(lb)) remove_live(s, lb);
}

void battles_sweep(server *s)
{
    time_t cutoff = time(NULL) - s->cfg->idle_seconds;
    for (live_battle *lb = s->oldest, *newer; lb && lb->last_active < cutoff; lb = newer) {
        newer = lb->newer;
        if (!busy(lb)) remove_live(s, lb);   /* a busy one stays until it is idle */
    }
}

void battles_free_all(server *s)
{
    for (size_t i = 0; s->table && i < s->table_size; i++) {
        while (s->table[i]) {
            live_battle *lb = s->table[i];
            s->table[i] = lb->next;
            http_unwatch(&lb->sub);
            live_free(lb);   /* the lists go with the battles */
        }
    }
    free(s->table);
    s->table = NULL;
    s->oldest = s->newest = s->watched = NULL;
    free(s->voters);
    s->voters = NULL;
}

/* ---- saving ---- */

typedef void (*saved_fn)(live_battle *lb, store_status st, void *arg);

typedef struct save_op {
    live_battle *lb;
    saved_fn then;
    void *arg;
    char *conv[2];
} save_op;

static store_side side_for_store(battle_side_state st)
{
    return st == SIDE_DONE ? STORE_SIDE_DONE : st == SIDE_ERROR ? STORE_SIDE_ERROR : STORE_SIDE_STREAMING;
}

static void on_saved(void *ud, store_status st)
{
    save_op *op = ud;
    op->lb->saving--;
    op->then(op->lb, st, op->arg);
    free(op->conv[0]);
    free(op->conv[1]);
    free(op);
}

/* Writes the battle to Redis; then(lb, status, arg) runs exactly once. */
static void save(live_battle *lb, saved_fn then, void *arg)
{
    server *s = lb->s;
    battle *b = lb->b;
    save_op *op = calloc(1, sizeof *op);
    if (op) {
        op->lb = lb;
        op->then = then;
        op->arg = arg;
        op->conv[0] = battle_conv_json(b, 0);
        op->conv[1] = battle_conv_json(b, 1);
    }
    if (!op || !op->conv[0] || !op->conv[1]) {
        if (op) { free(op->conv[0]); free(op->conv[1]); free(op); }
        then(lb, STORE_UNAVAILABLE, arg);
        return;
    }
    store_battle sb = {
        .model_a = b->side[0].model, .model_b = b->side[1].model, .anony = b->anony, .tstamp = b->tstamp,
        .turn = b->turns, .status_a = side_for_store(b->side[0].state), .status_b = side_for_store(b->side[1].state),
        .conv_a = op->conv[0], .conv_b = op->conv[1], .voter = lb->voter, .leak = battle_leaked(b),
    };
    lb->saving++;
    if (store_battle_save(s->store, b->id, &sb, s->cfg->battle_ttl, on_saved, op) < 0) on_saved(op, STORE_UNAVAILABLE);
}

/* ---- loading ---- */

typedef void (*loaded_fn)(server *s, live_battle *lb, store_status st, void *arg);

typedef struct load_op {
    server *s;
    loaded_fn then;
    void *arg;
    char id[72];
} load_op;

static battle_side_state side_from_store(store_side st)
{
    return st == STORE_SIDE_DONE ? SIDE_DONE : st == STORE_SIDE_ERROR ? SIDE_ERROR : SIDE_STREAMING;
}

static battle *from_store(const char *id, const store_battle *sb)
{
    return battle_restore(id, sb->model_a, sb->model_b, sb->anony, sb->turn, sb->tstamp,
                          sb->conv_a ? sb->conv_a : "[]", sb->conv_b ? sb->conv_b : "[]",
                          side_from_store(sb->status_a), side_from_store(sb->status_b), sb->leak, sb->voted != NULL);
}

/* Redis's copy replaces an idle one in memory: another server may have advanced the battle
 * since (streamed it, taken a turn, a vote). A copy this server is working on is newer. */
static void on_loaded(void *ud, store_status st, const store_battle *sb)
{
    load_op *op = ud;
    server *s = op->s;
    live_battle *lb = find(s, op->id);  /* another request may have loaded it meanwhile */
    if (st == STORE_OK && (!lb || !busy(lb))) {
        battle *b = from_store(op->id, sb);
        if (b && lb) {
            battle_free(lb->b);
            lb->b = b;
            snprintf(lb->voter, sizeof lb->voter, "%s", sb->voter ? sb->voter : "");
        } else if (!b || !(lb = insert(s, b, sb->voter))) {
            battle_free(b);
            st = STORE_UNAVAILABLE;
        }
        if (lb) lb->saved = 1;
    }
    op->then(s, lb, lb ? STORE_OK : st, op->arg);
    free(op);
}

/* The battle as Redis has it, or the copy in memory while this server works on it (or
 * when Redis cannot answer); then(s, lb or NULL, status, arg). */
static void with_battle(server *s, const char *id, loaded_fn then, void *arg)
{
    live_battle *lb = find(s, id);
    if (lb && busy(lb)) { then(s, lb, STORE_OK, arg); return; }
    load_op *op = calloc(1, sizeof *op);
    if (!op) { then(s, lb, lb ? STORE_OK : STORE_UNAVAILABLE, arg); return; }
    op->s = s;
    op->then = then;
    op->arg = arg;
    snprintf(op->id, sizeof op->id, "%s", id);
    if (store_battle_load(s->store, id, on_loaded, op) < 0) {
        free(op);
        then(s, lb, lb ? STORE_OK : STORE_UNKNOWN, arg);
    }
}

/* ---- browser stream ---- */

static void send_event_buf(live_battle *lb, const char *data, size_t len)
{
    if (!lb->sub) return;
    struct evbuffer *buf = hreq_output(lb->sub);
    evbuffer_add(buf, data, len);
    hreq_chunk(lb->sub, buf, NULL, NULL);
    lb->last_sent = time(NULL);
}

void battles_keepalive(server *s)
{
    time_t cutoff = time(NULL) - s->cfg->keepalive_seconds;
    for (live_battle *lb = s->watched, *next; lb; lb = next) {
        next = lb->watched_next;
        if (lb->last_sent <= cutoff) send_event_buf(lb, ": keepalive\n\n", 13);
    }
}

/* The browser's stream of lb: attached (req) or gone (NULL), and the watched list with it. */
static void set_sub(live_battle *lb, hreq *req)
{
    server *s = lb->s;
    if (lb->sub && !req) {
        if (lb->watched_prev) lb->watched_prev->watched_next = lb->watched_next;
        else s->watched = lb->watched_next;
        if (lb->watched_next) lb->watched_next->watched_prev = lb->watched_prev;
        lb->watched_prev = lb->watched_next = NULL;
    } else if (!lb->sub && req) {
        lb->watched_next = s->watched;
        if (s->watched) s->watched->watched_prev = lb;
        s->watched = lb;
    }
    lb->sub = req;
}

/* Ends the browser stream: the last chunk. */
static void close_sse(live_battle *lb)
{
    hreq *req = lb->sub;
    set_sub(lb, NULL);
    http_unwatch(&req);
    lb->s->m.sse_open--;
    hreq_end(req);
}

static void send_text(live_battle *lb, int side, const char *text, size_t len)
{
    char small[1024];
    const char *event = side ? "b" : "a";
    size_t need = sse_encode_text(small, sizeof small, event, text, len);
    if (need < sizeof small) { send_event_buf(lb, small, need); return; }
    char *big = malloc(need + 1);
    if (!big) return;
    sse_encode_text(big, need + 1, event, text, len);
    send_event_buf(lb, big, need);
    free(big);
}

static void send_json_event(live_battle *lb, const char *event, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text) return;
    char buf[1024];
    size_t need = sse_encode(buf, sizeof buf, event, text, strlen(text));
    if (need < sizeof buf) send_event_buf(lb, buf, need);
    free(text);
}

static void send_side_end(live_battle *lb, int side, const char *message)
{
    const char *name = side ? "b" : "a";
    if (lb->b->side[side].state == SIDE_DONE)
        send_json_event(lb, "done", json_pack("{s:s}", "side", name));
    else
        send_json_event(lb, "error", json_pack("{s:s, s:s}", "side", name, "message", message ? message : "the answer failed"));
}

static void end_stream(live_battle *lb)
{
    if (!lb->sub) return;
    send_json_event(lb, "end", json_pack("{s:b}", "saved", lb->saved));
    close_sse(lb);
}

static void on_turn_saved(live_battle *lb, store_status st, void *arg)
{
    lb->saved = st == STORE_OK;
    touch(lb);
    end_stream(lb);
}

/* Closes the browser stream we were serving without an `end` (a newer one replaces it). */
static void drop_subscriber(live_battle *lb)
{
    if (lb->sub) close_sse(lb);
}

/* The browser left mid-stream: the stream is no longer open. */
static void on_sub_gone(hreq *req, void *arg)
{
    live_battle *lb = arg;
    (void)req;
    set_sub(lb, NULL);
    lb->s->m.sse_open--;
}

static void start_sse(server *s, live_battle *lb, hreq *req)
{
    drop_subscriber(lb);
    http_headers(req, "text/event-stream; charset=utf-8");
    hreq_add_header(req, "Cache-Control", "no-cache");
    hreq_add_header(req, "X-Accel-Buffering", "no");  /* nginx: pass events through at once */
    http_log(s, req, 200, 0);
    hreq_start(req, 200);
    set_sub(lb, req);
    hreq_on_gone(req, on_sub_gone, lb);
    lb->last_sent = time(NULL);
    s->m.sse_open++;
    s->m.sse_total++;
}

/* What the browser missed: the text so far and the ends already reached. */
static void replay(live_battle *lb)
{
    for (int i = 0; i < 2; i++) {
        battle_side *side = &lb->b->side[i];
        if (side->state == SIDE_STREAMING || side->state == SIDE_DONE) {
            if (side->len) send_text(lb, i, side->answer, side->len);
        }
        if (side->state == SIDE_DONE || side->state == SIDE_ERROR) send_side_end(lb, i, "the answer failed");
    }
}

/* ---- upstreams ---- */

static void free_conn_later(evutil_socket_t fd, short what, void *arg)
{
    evhttp_connection_free(arg);
}

static void side_ended(live_battle *lb, int side, int ok, const char *message)
{
    server *s = lb->s;
    upstream *u = lb->up[side];
    char why[sizeof u->error];
    snprintf(why, sizeof why, "%s", message ? message : "the answer failed");  /* may point into u */
    lb->up[side] = NULL;
    if (u) {
        /* libevent is still inside this connection's callback: free it from the loop. */
        if (u->conn) event_base_once(s->base, -1, EV_TIMEOUT, free_conn_later, u->conn, NULL);
        u->conn = NULL;
        if (!ok) {
            u->model->stream_errors++;
            s->m.upstream_errors++;
        }
        upstream_free(u);
    }
    battle_finish(lb->b, side, ok, s->identity);
    touch(lb);
    send_side_end(lb, side, why);
    if (lb->b->phase == BATTLE_ANSWERED) {
        lb->saved = 0;
        save(lb, on_turn_saved, NULL);
    }
}

static int on_upstream_event(void *ud, const char *event, const char *data, size_t len)
{
    upstream *u = ud;
    live_battle *lb = u->lb;
    char text[4096];
    size_t n;
    switch (sse_openai_chunk(data, len, text, sizeof text, &n)) {
    case SSE_CHUNK_DONE:
        u->finished = 1;
        return 0;
    case SSE_CHUNK_ERROR:
        snprintf(u->error, sizeof u->error, "the model reported: %.120s", text);
        return -1;
    case SSE_CHUNK_INVALID:
        snprintf(u->error, sizeof u->error, "the model sent an event that is not a chat completion chunk");
        return -1;
    case SSE_CHUNK_STOP:
        u->finished = 1;
        /* fall through: a final chunk may carry text */
        __attribute__((fallthrough));
    case SSE_CHUNK_TEXT:
        if (!n) return 0;
        if (!u->first_token_seen) {
            u->first_token_seen = 1;
            health_observe_latency(u->model, now_seconds() - u->started);
        }
        if (battle_append(lb->b, u->side, text, n) != BATTLE_OK) {
            snprintf(u->error, sizeof u->error, "out of memory");
            return -1;
        }
        send_text(lb, u->side, text, n);
        return 0;
    }
    return 0;
}

static void on_upstream_chunk(struct evhttp_request *req, void *arg)
{
    upstream *u = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    u->http_status = evhttp_request_get_response_code(req);
    if (u->http_status != 200 || u->error[0]) {  /* an error body, or after a bad event: ignore */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    size_t len = evbuffer_get_length(in);
    const char *bytes = (const char *)evbuffer_pullup(in, -1);
    if (sse_feed(&u->parser, bytes, len, on_upstream_event, u) < 0 && !u->error[0])
        snprintf(u->error, sizeof u->error, "the model's stream could not be read");
    evbuffer_drain(in, len);
}

static void on_upstream_error(enum evhttp_request_error e, void *arg)
{
    upstream *u = arg;
    if (u->error[0]) return;
    const char *why = e == EVREQ_HTTP_TIMEOUT ? "timed out" : e == EVREQ_HTTP_EOF ? "closed the connection" :
                      e == EVREQ_HTTP_INVALID_HEADER ? "sent an invalid response" :
                      e == EVREQ_HTTP_DATA_TOO_LONG ? "sent too much" : "could not be reached";
    snprintf(u->error, sizeof u->error, "the model %s", why);
}

static void on_upstream_done(struct evhttp_request *req, void *arg)
{
    upstream *u = arg;
    live_battle *lb = u->lb;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (!req || code == 0) {
        if (!u->error[0]) snprintf(u->error, sizeof u->error, "the model could not be reached");
        health_mark(lb->s, u->model, 0);
    } else if (code != 200 && !u->error[0]) {
        snprintf(u->error, sizeof u->error, "the model answered HTTP %d", code);
    } else if (!u->error[0] && !u->finished) {
        snprintf(u->error, sizeof u->error, "the model's stream ended before the answer was complete");
    }
    side_ended(lb, u->side, !u->error[0], u->error);
}

int upstream_tls_init(server *s, char *err, size_t errlen)
{
    const char *ca = s->cfg->upstream_ca_file;
    if (!(s->tls_client = SSL_CTX_new(TLS_client_method()))) { snprintf(err, errlen, "cannot create a TLS client context"); return -1; }
    SSL_CTX_set_min_proto_version(s->tls_client, TLS1_2_VERSION);
    SSL_CTX_set_verify(s->tls_client, SSL_VERIFY_PEER, NULL);
    if (ca ? SSL_CTX_load_verify_locations(s->tls_client, ca, NULL) != 1 : SSL_CTX_set_default_verify_paths(s->tls_client) != 1) {
        snprintf(err, errlen, "%s: field upstream_ca_file: cannot load CA certificates from %s", s->cfg->path, ca ? ca : "the system's store");
        return -1;
    }
    return 0;
}

struct evhttp_connection *upstream_connect(server *s, const model_state *m, double timeout_s)
{
    const char *scheme = evhttp_uri_get_scheme(m->uri), *host = evhttp_uri_get_host(m->uri);
    int https = scheme && strcmp(scheme, "https") == 0, port = evhttp_uri_get_port(m->uri);
    if (port < 0) port = https ? 443 : 80;
    struct bufferevent *bev = NULL;
    if (https) {
        /* The certificate must chain to a trusted CA and name the endpoint's host (or IP). */
        SSL *ssl = s->tls_client ? SSL_new(s->tls_client) : NULL;
        if (!ssl) return NULL;
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1 &&
            (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1)) {
            SSL_free(ssl);
            return NULL;
        }
        if (!(bev = bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS))) {
            SSL_free(ssl);
            return NULL;
        }
    }
    struct evhttp_connection *conn = evhttp_connection_base_bufferevent_new(s->base, NULL, bev, host, (ev_uint16_t)port);
    if (!conn) {
        if (bev) bufferevent_free(bev);
        return NULL;
    }
    struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (time_t)timeout_s) * 1e6)};
    evhttp_connection_set_timeout_tv(conn, &tv);
    evhttp_connection_set_retries(conn, 0);
    return conn;
}

void upstream_prepare(const model_state *m, struct evhttp_request *req, const char *api_path, char *path, size_t pathlen)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *host = evhttp_uri_get_host(m->uri);
    int port = evhttp_uri_get_port(m->uri);
    char hostport[300];
    if (port < 0) snprintf(hostport, sizeof hostport, "%s", host);
    else snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    evhttp_add_header(h, "Host", hostport);
    if (m->cfg->api_key) {
        char auth[512];
        snprintf(auth, sizeof auth, "Bearer %s", m->cfg->api_key);
        evhttp_add_header(h, "Authorization", auth);
    }
    const char *base_path = evhttp_uri_get_path(m->uri);
    size_t bl = base_path ? strlen(base_path) : 0;
    while (bl && base_path[bl - 1] == '/') bl--;
    snprintf(path, pathlen, "%.*s%s", (int)bl, base_path ? base_path : "", api_path);
}

/* Starts side's request; on a failure to start, the side ends at once with an error. */
static void start_upstream(live_battle *lb, int side)
{
    server *s = lb->s;
    battle *b = lb->b;
    model_state *m = NULL;
    for (size_t i = 0; i < s->n_models; i++)
        if (strcmp(s->models[i].cfg->name, b->side[side].model) == 0) m = &s->models[i];
    if (!m) { side_ended(lb, side, 0, "the model is no longer configured"); return; }
    upstream *u = calloc(1, sizeof *u);
    char *conv = NULL;
    if (!u) goto fail;
    u->lb = lb;
    u->side = side;
    u->model = m;
    u->started = now_seconds();
    sse_init(&u->parser, 1 << 20);
    m->streams++;
    lb->up[side] = u;

    if (!(u->conn = upstream_connect(s, m, s->cfg->upstream_timeout))) goto fail;

    struct evhttp_request *req = evhttp_request_new(on_upstream_done, u);
    if (!req) goto fail;
    struct evbuffer *body = evhttp_request_get_output_buffer(req);
    if (!(conv = battle_conv_json(b, side)) || evbuffer_add(body, "{\"model\":", 9) < 0 ||
        http_add_json_string(body, m->cfg->upstream_model) < 0 ||
        evbuffer_add_printf(body, ",\"messages\":%s,\"stream\":true,\"max_tokens\":%d,\"temperature\":%.9g}",
                            conv, s->cfg->max_tokens, s->cfg->temperature) < 0) {
        evhttp_request_free(req);
        goto fail;
    }
    evhttp_request_set_chunked_cb(req, on_upstream_chunk);
    evhttp_request_set_error_cb(req, on_upstream_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char path[512];
    upstream_prepare(m, req, "/v1/chat/completions", path, sizeof path);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Accept", "text/event-stream");
    if (evhttp_make_request(u->conn, req, EVHTTP_REQ_POST, path) < 0) goto fail;  /* req freed by libevent */
    free(conv);
    return;
fail:
    free(conv);
    side_ended(lb, side, 0, "the request to the model could not be made");
}

/* ---- routes ---- */

/* Prompt checks shared by a new battle and a follow-up: 0 or an error reply sent. */
static int check_prompt(server *s, hreq *req, json_t *body, const char **prompt)
{
    json_t *p = json_object_get(body, "prompt");
    if (!json_is_string(p) || !json_string_length(p)) {
        http_error(s, req, 400, "malformed", "\"prompt\" must be a non-empty string");
        return -1;
    }
    *prompt = json_string_value(p);
    size_t chars = 0;
    for (const char *c = *prompt; *c; c++) chars += ((unsigned char)*c & 0xc0) != 0x80;
    if (chars > (size_t)s->cfg->max_prompt_chars) {
        http_error(s, req, 400, "prompt_too_long", "the prompt has %zu characters; the limit is %d", chars, s->cfg->max_prompt_chars);
        return -1;
    }
    for (size_t i = 0; i < s->n_blocklist; i++)
        if (regexec(&s->blocklist[i], *prompt, 0, NULL, 0) == 0) {
            http_error(s, req, 400, "blocked", "the prompt was refused by the moderation filter");
            return -1;
        }
    return 0;
}

typedef struct create_op {
    server *s;
    hreq *req;
    json_t *body;
    char ip[64];
    int named;
    live_battle *lb;
} create_op;

static void create_op_free(create_op *op)
{
    http_unwatch(&op->req);
    json_decref(op->body);
    free(op);
}

static void on_created(live_battle *lb, store_status st, void *arg)
{
    create_op *op = arg;
    server *s = op->s;
    hreq *req = http_take(&op->req);
    if (st != STORE_OK) {
        remove_live(s, lb);
        if (req) http_error(s, req, 503, "unavailable", "the battle could not be stored; try again");
    } else if (req) {
        char tok[BTOK_MAX];
        btok_sign(s->token_key, lb->b->id, time(NULL) + s->cfg->battle_ttl, tok, sizeof tok);
        s->m.battles_created++;
        http_reply_json(s, req, 201, json_pack("{s:s, s:s, s:s}", "id", lb->b->id, "token", tok, "mode", lb->b->anony ? "anony" : "named"));
    }
    create_op_free(op);
}

static int model_index(server *s, const char *name)
{
    for (size_t i = 0; name && i < s->n_models; i++)
        if (strcmp(s->models[i].cfg->name, name) == 0) return (int)i;
    return -1;
}

static void create_battle(create_op *op)
{
    server *s = op->s;
    hreq *req = op->req;
    const char *prompt = json_string_value(json_object_get(op->body, "prompt"));
    int a, b;
    if (op->named) {
        a = model_index(s, json_string_value(json_object_get(op->body, "model_a")));
        b = model_index(s, json_string_value(json_object_get(op->body, "model_b")));
    } else {
        voter *v = voter_slot(s, op->ip);
        int avoid_a = v ? v->a : -1, avoid_b = v ? v->b : -1;
        double w[s->n_models];
        int ok[s->n_models];
        for (size_t i = 0; i < s->n_models; i++) {
            w[i] = s->models[i].cfg->weight;
            ok[i] = s->models[i].cfg->enabled && s->models[i].healthy;
        }
        if (battle_pick(w, ok, s->n_models, avoid_a, avoid_b, &s->rng, &a, &b) < 0) {
            http_take(&op->req);
            http_error(s, req, 503, "no_models", "fewer than two models are available now");
            create_op_free(op);
            return;
        }
        if (v) v->a = a, v->b = b;
    }
    unsigned char raw[12];
    char id[25];
    if (RAND_bytes(raw, sizeof raw) != 1) goto fail;
    btok_hex(raw, sizeof raw, id);
    battle *bt = battle_new(id, s->models[a].cfg->name, s->models[b].cfg->name, !op->named, prompt, now_seconds());
    live_battle *lb = bt ? insert(s, bt, op->ip) : NULL;
    if (!lb) { battle_free(bt); goto fail; }
    save(lb, on_created, op);
    return;
fail:
    http_take(&op->req);
    http_error(s, req, 500, "internal", "out of memory");
    create_op_free(op);
}

static void on_battle_rate(void *ud, store_status st, long long count)
{
    create_op *op = ud;
    server *s = op->s;
    if (st == STORE_OK) { create_battle(op); return; }
    hreq *req = http_take(&op->req);
    if (req && st == STORE_DENIED) {
        hreq_add_header(req, "Retry-After", "60");
        http_error(s, req, 429, "rate_limited", "at most %d new battles a minute", s->cfg->battles_per_minute);
    } else if (req) {
        http_error(s, req, 503, "unavailable", "the vote store is unavailable; try again");
    }
    create_op_free(op);
}

void battles_create(server *s, hreq *req)
{
    json_t *body = http_json_body(s, req);
    const char *prompt;
    if (!body || check_prompt(s, req, body, &prompt) < 0) { json_decref(body); return; }
    const char *mode = json_string_value(json_object_get(body, "mode"));
    int named = mode && strcmp(mode, "named") == 0;
    if (mode && !named && strcmp(mode, "anony") != 0) {
        http_error(s, req, 400, "malformed", "\"mode\" must be \"anony\" or \"named\"");
        json_decref(body);
        return;
    }
    if (named) {
        int a = model_index(s, json_string_value(json_object_get(body, "model_a")));
        int b = model_index(s, json_string_value(json_object_get(body, "model_b")));
        if (a < 0 || b < 0 || a == b || !s->models[a].cfg->enabled || !s->models[b].cfg->enabled) {
            http_error(s, req, 400, "bad_models", "named mode needs two different enabled models in \"model_a\" and \"model_b\"");
            json_decref(body);
            return;
        }
    }
    create_op *op = calloc(1, sizeof *op);
    if (!op) { json_decref(body); http_error(s, req, 500, "internal", "out of memory"); return; }
    op->s = s;
    op->body = body;
    op->named = named;
    http_client_ip(s, req, op->ip, sizeof op->ip);
    http_watch(req, &op->req);
    if (s->cfg->battles_per_minute > 0) {
        char key[96];
        snprintf(key, sizeof key, "battle:%s", op->ip);
        if (store_rate_hit(s->store, key, 60, s->cfg->battles_per_minute, on_battle_rate, op) < 0)
            on_battle_rate(op, STORE_UNAVAILABLE, 0);
    } else {
        create_battle(op);
    }
}

/* Starts streaming the turn that waits, or joins the one running, or replays a finished one. */
static void stream_battle(server *s, live_battle *lb, hreq *req)
{
    start_sse(s, lb, req);
    touch(lb);
    if (lb->b->phase == BATTLE_WAITING) {
        battle_start(lb->b);
        lb->saved = 0;
        start_upstream(lb, 0);
        if (lb->b->phase == BATTLE_STREAMING) start_upstream(lb, 1);
        return;
    }
    replay(lb);
    if (lb->b->phase != BATTLE_STREAMING && !lb->saving) end_stream(lb);
}

typedef struct turn_op {
    hreq *req;
    json_t *body;
    char action[16];
    char id[72];
} turn_op;

static void turn_op_free(turn_op *op)
{
    http_unwatch(&op->req);
    json_decref(op->body);
    free(op);
}

static void on_turn_stored(live_battle *lb, store_status st, void *arg)
{
    turn_op *op = arg;
    server *s = lb->s;
    hreq *req = http_take(&op->req);
    if (req && st != STORE_OK) http_error(s, req, 503, "unavailable", "the battle could not be stored; try again");
    else if (req) http_reply_json(s, req, 200, json_pack("{s:s, s:i}", "id", lb->b->id, "turn", lb->b->turns));
    turn_op_free(op);
}

static void status_error(server *s, hreq *req, battle_status st)
{
    switch (st) {
    case BATTLE_E_VOTED: http_error(s, req, 409, "already_voted", "the battle was voted on and takes no more turns"); break;
    case BATTLE_E_TURNS: http_error(s, req, 409, "turn_limit", "the battle reached its turn limit of %d", s->cfg->max_turns); break;
    case BATTLE_E_FAILED: http_error(s, req, 409, "side_failed", "a side failed; regenerate the answers first"); break;
    case BATTLE_E_BUSY: http_error(s, req, 425, "not_finished", "the answers are not finished yet"); break;
    default: http_error(s, req, 500, "internal", "out of memory"); break;
    }
}

static void on_turn_battle(server *s, live_battle *lb, store_status st, void *arg)
{
    turn_op *op = arg;
    hreq *req = op->req;
    if (!req) { turn_op_free(op); return; }
    if (!lb) {
        http_take(&op->req);
        if (st == STORE_UNAVAILABLE) http_error(s, req, 503, "unavailable", "the vote store is unavailable; try again");
        else http_error(s, req, 404, "unknown_battle", "no such battle");
        turn_op_free(op);
        return;
    }
    if (strcmp(op->action, "stream") == 0) {
        http_take(&op->req);
        turn_op_free(op);
        stream_battle(s, lb, req);
        return;
    }
    const char *token = json_string_value(json_object_get(op->body, "token"));
    if (token && btok_verify(s->token_key, lb->b->id, token, time(NULL)) != BTOK_OK) {
        http_take(&op->req);
        http_error(s, req, 403, "bad_token", "the battle token is not valid for this battle");
        turn_op_free(op);
        return;
    }
    battle_status bs = strcmp(op->action, "messages") == 0
                           ? battle_follow_up(lb->b, json_string_value(json_object_get(op->body, "prompt")), s->cfg->max_turns)
                           : battle_regenerate(lb->b);
    if (bs != BATTLE_OK) {
        http_take(&op->req);
        status_error(s, req, bs);
        turn_op_free(op);
        return;
    }
    touch(lb);
    save(lb, on_turn_stored, op);
}

void battles_route(server *s, hreq *req, const char *id, const char *action)
{
    if (!battles_id_valid(id)) { http_error(s, req, 404, "unknown_battle", "no such battle"); return; }
    json_t *body = NULL;
    const char *prompt;
    if (strcmp(action, "stream") != 0) {
        if (!(body = http_json_body(s, req))) return;
        if (strcmp(action, "messages") == 0 && check_prompt(s, req, body, &prompt) < 0) { json_decref(body); return; }
    }
    turn_op *op = calloc(1, sizeof *op);
    if (!op) { json_decref(body); http_error(s, req, 500, "internal", "out of memory"); return; }
    op->body = body;
    snprintf(op->action, sizeof op->action, "%s", action);
    snprintf(op->id, sizeof op->id, "%s", id);
    http_watch(req, &op->req);
    with_battle(s, id, on_turn_battle, op);
}
