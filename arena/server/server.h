/* server.h: the pieces of bin/arena-server and what they share. Everything runs on one
 * event loop, except the board's refits (its own threads, behind board.h) and the board's
 * feed from the vote stream (votes.c: a thread with its own loop and Redis connection).
 *
 *   main.c     flags, config, signals, `import`
 *   hreq.c     HTTP/1.1 connections, plain or TLS (hreq.h: its own header; no policy)
 *   http.c     routing, replies with their headers, access log, static files
 *   battles.c  battle routes: create, stream (two upstream SSE streams fanned into one), turns
 *   votes.c    vote route, rate limits, leaderboard and export routes
 *   health.c   model health probes, /healthz, /readyz, /metrics */
#ifndef ARENA_SERVER_H
#define ARENA_SERVER_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>

#include "battle.h"
#include "board.h"
#include "config.h"
#include "hreq.h"
#include "static.h"
#include "store.h"
#include "token.h"

/* One registry model and what the server knows about it now. */
typedef struct server server;

typedef struct model_state {
    server *s;
    const cfg_model *cfg;
    struct evhttp_uri *uri;         /* parsed endpoint */
    int healthy;                    /* in sampling: see health.c */
    int probed;                     /* at least one probe answered */
    int probe_failures;             /* failed probes in a row */
    int answered;                   /* a probe has succeeded once */
    struct evhttp_connection *probe_conn;
    int probing;                    /* a probe is in flight */
    /* metrics */
    uint64_t streams, stream_errors;
    double   latency_sum;           /* seconds, first token */
    uint64_t latency_count;
    uint64_t latency_buckets[8];    /* first-token latency histogram, see LATENCY_BOUNDS */
} model_state;

#define LATENCY_BOUNDS {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

typedef struct live_battle live_battle;

/* What the server remembers of one client address, in a direct-mapped table (a slot
 * taken by another address starts over): the last pair served to it, so that the next
 * battle avoids it, and its judge name (store_judge, a SHA-256 worth computing once). */
typedef struct voter {
    uint64_t ip_hash;
    int used;
    int a, b;                       /* model indexes of the last pair; -1: none */
    char judge[40];                 /* "" until the first vote */
} voter;

typedef struct metrics {
    uint64_t requests, battles_created, sse_open, sse_total;
    uint64_t votes[8];              /* by store_status, plus VOTE_BAD_TOKEN */
    uint64_t errors_by_status[6];   /* 400 403 404 409 413/425/429 grouped: see health.c */
    uint64_t upstream_errors;
} metrics;

struct server {
    cfg_config          *cfg;
    struct event_base   *base;
    hreq_server         *http;
    SSL_CTX             *tls;       /* server side; NULL for plain HTTP */
    btok_key            *token_key; /* battles.token_secret, keyed once */
    SSL_CTX             *tls_client;/* for https:// upstreams; NULL until needed */
    store               *store;     /* commands: battles, votes, rate limits, exports */
    board               *board;
    struct event_base   *feed_base; /* the feed thread's loop, and its follow-only store */
    store               *feed_store;
    struct event        *feed_stop; /* activated to end the feed's loop (votes.c) */
    pthread_t            feed_thread;
    int                  feed_started;
    st_table            *static_table;
    battle_identity     *identity;
    regex_t             *blocklist;
    size_t               n_blocklist;
    model_state         *models;
    size_t               n_models;
    struct event        *health_timer, *sweep_timer;
    uint64_t             rng;
    FILE                *access_log;
    live_battle        **table;     /* battles in memory, by id (hash, chained) */
    size_t               table_size, n_live;
    live_battle         *oldest, *newest; /* the same battles, least recently active first */
    live_battle         *watched;   /* the battles a browser's stream is attached to */
    struct voter        *voters;    /* what the server remembers of each client address: voter_slot */
    metrics              m;
};

/* ---- upstreams (battles.c) ---- */
/* The TLS client context for https:// endpoints (upstream_ca_file or the system's CAs). */
int  upstream_tls_init(server *s, char *err, size_t errlen);
/* A new connection to m's endpoint (TLS for https://, the certificate checked against the
 * host or IP), with timeout_s and no retries; the caller frees it. NULL on failure. */
struct evhttp_connection *upstream_connect(server *s, const model_state *m, double timeout_s);
/* Host and Authorization on req, and into path the endpoint's base path + api_path. */
void upstream_prepare(const model_state *m, struct evhttp_request *req, const char *api_path, char *path, size_t pathlen);

/* ---- http.c ---- */
int  http_start(server *s, char *err, size_t errlen);
void http_stop(server *s);
/* Common headers (security, content type) on a reply about to be sent. */
void http_headers(hreq *req, const char *content_type);
/* Sends body with status and logs the request; body NULL sends what the request's
 * output buffer holds. */
void http_reply(server *s, hreq *req, int status, const char *content_type,
                struct evbuffer *body);
void http_reply_json(server *s, hreq *req, int status, json_t *body); /* steals body */
/* A flat object of n strings, name and value alternating (kv[0] a name, kv[1] its value,
 * ...), written straight into the reply without a JSON tree: the vote's answer. */
void http_reply_strings(server *s, hreq *req, int status, const char *const *kv, size_t n);
/* One JSON string (quoted and escaped) appended to out. 0, or -1 on no memory. */
int http_add_json_string(struct evbuffer *out, const char *text);
/* {"error": {"code": code, "message": msg}} */
void http_error(server *s, hreq *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The request's body parsed as a JSON object, or NULL after an error reply was sent. */
json_t *http_json_body(server *s, hreq *req);
/* The client address: the peer, or the last untrusted hop of X-Forwarded-For when the
 * peer is a trusted proxy. Written into out (>= 64 bytes). */
const char *http_client_ip(server *s, hreq *req, char *out, size_t outlen);
void http_log(server *s, hreq *req, int status, size_t bytes);
/* The value of a query parameter of the request's URI, or NULL (caller frees). */
char *http_query(hreq *req, const char *name);
/* A request answered later (after Redis or an upstream replies) may lose its client
 * meanwhile; the request is then gone. http_watch sets *slot = req and clears *slot when
 * the client leaves; http_unwatch stops watching (call it before replying on *slot). */
void http_watch(hreq *req, hreq **slot);
void http_unwatch(hreq **slot);
/* Unwatches *slot and takes the request out of it (NULL when the client left): for a reply. */
hreq *http_take(hreq **slot);

/* ---- battles.c ---- */
void battles_route(server *s, hreq *req, const char *id, const char *action);
void battles_create(server *s, hreq *req);
void battles_sweep(server *s);      /* drops idle battles from memory (they stay in Redis) */
void battles_keepalive(server *s);  /* a comment on browser streams quiet for a while */
void battles_free_all(server *s);
/* The battle's copy in memory (maybe behind Redis), for the vote's language; NULL when none. */
const battle *battles_find(server *s, const char *id);
/* The battle only while this server streams or saves it: then memory is ahead of Redis. */
const battle *battles_find_busy(server *s, const char *id);
/* Marks the battle voted and frees it from memory unless a browser stream holds it. */
void battles_mark_voted(server *s, const char *id);
/* The slot of client address ip (created on first use); NULL without memory. */
voter *voter_slot(server *s, const char *ip);
int  battles_id_valid(const char *id);

/* ---- votes.c ---- */
void votes_route(server *s, hreq *req, const char *id);
void board_route(server *s, hreq *req, const char *path);
void export_route(server *s, hreq *req, const char *what);
/* The board's feed from the vote stream, on a thread of its own (feed_base, feed_store). */
int  votes_follow_start(server *s, char *err, size_t errlen);
void votes_follow_stop(server *s);   /* joins the thread; frees feed_store and feed_base */

/* ---- health.c ---- */
int  health_start(server *s, char *err, size_t errlen);
void health_route(server *s, hreq *req, const char *path);
void models_route(server *s, hreq *req);
void health_mark(server *s, model_state *m, int healthy);
void health_observe_latency(model_state *m, double seconds);

#endif
