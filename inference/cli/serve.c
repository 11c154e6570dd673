/* serve.c: `arena-worker serve`, flags and HTTP wiring.
 *
 * The libevent loop runs on the main thread; the scheduler (scheduler.h) generates on
 * its own thread and wakes the loop with event_active() on `wake`, whose callback
 * drains the finished pieces into SSE chunks or whole responses. The wire format is
 * openai.h's; this file only routes, counts and moves bytes. */
#include "serve.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "engine.h"
#include "generate.h"
#include "model.h"
#include "openai.h"
#include "scheduler.h"
#include "tokenizer.h"

#define MAX_BODY (1 << 20)       /* request body bytes */
#define MAX_HEADERS (16 << 10)   /* request header bytes */
#define HTTP_TIMEOUT_S 120

struct serve_opts {
    const char *model_path, *tokenizer_path, *name, *host;
    inf_device device;
    enum oai_template chat_template;
    int port, threads, max_batch, max_queue;
};

/* Routes, for dispatch and for the requests_total label. */
enum route { ROUTE_CHAT, ROUTE_COMPLETIONS, ROUTE_MODELS, ROUTE_HEALTH, ROUTE_METRICS, ROUTE_OTHER,
             N_ROUTES };
static const struct {
    const char *path;
    enum evhttp_cmd_type method;
} routes[N_ROUTES] = {
    [ROUTE_CHAT] = {"/v1/chat/completions", EVHTTP_REQ_POST},
    [ROUTE_COMPLETIONS] = {"/v1/completions", EVHTTP_REQ_POST},
    [ROUTE_MODELS] = {"/v1/models", EVHTTP_REQ_GET},
    [ROUTE_HEALTH] = {"/health", EVHTTP_REQ_GET},
    [ROUTE_METRICS] = {"/metrics", EVHTTP_REQ_GET},
    [ROUTE_OTHER] = {"other", 0},
};

/* Statuses the server sends; requests_total has one counter per route and status. */
static const int statuses[] = {200, 400, 404, 405, 413, 500, 503};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])

struct server;

/* One completion in flight: lent to the scheduler until its final event. */
struct stream {
    struct server *srv;
    struct evhttp_request *req;   /* NULL once the client has gone */
    struct sched_req *job;
    struct oai_meta meta;
    char id[48];
    int stream, include_usage, sent_first;
    struct oai_buf text;          /* the whole answer, when not streaming */
    struct stream *prev, *next;
};

struct server {
    const struct serve_opts *opts;
    inf_model *model;
    tok_tokenizer *tok;
    inf_engine *engine;
    struct sched *sched;
    int seq_len;

    struct event_base *base;
    struct evhttp *http;
    struct event *wake, *on_sigint, *on_sigterm;
    struct evbuffer *out;         /* reused for every reply body and chunk */
    struct oai_buf buf;           /* reused JSON scratch */

    struct stream *live;          /* every stream not yet freed */
    struct stream *pending;       /* during a drain: the stream whose events buf holds */
    uint64_t next_id;
    long long started;
    uint64_t requests[N_ROUTES][N_STATUSES];
    uint64_t clients_gone;        /* completions whose client left before the end */
};

/* ---- flags ---- */

static void usage(FILE *f)
{
    fputs("usage: arena-worker serve --model FILE --tokenizer FILE --name NAME --port PORT\n"
          "                          [--host ADDR] [--device cpu|cuda] [--threads N]\n"
          "                          [--max-batch B] [--max-queue Q]\n"
          "                          [--chat-template last-user|concat]\n"
          "  --host           address to listen on (default 127.0.0.1)\n"
          "  --threads        CPU threads of the forward pass (default 0: every core)\n"
          "  --max-batch      sequences generated together (default 32)\n"
          "  --max-queue      requests waiting beyond the batch before 503 (default 64)\n"
          "  --chat-template  chat prompt: the last user message, or all messages joined\n"
          "                   by newlines (default last-user)\n", f);
}

/* Parses a decimal int in [lo, hi]; 0 on success. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},     {"tokenizer", required_argument, 0, 'z'},
        {"name", required_argument, 0, 'n'},      {"port", required_argument, 0, 'p'},
        {"host", required_argument, 0, 'H'},      {"device", required_argument, 0, 'd'},
        {"threads", required_argument, 0, 't'},   {"max-batch", required_argument, 0, 'b'},
        {"max-queue", required_argument, 0, 'q'}, {"chat-template", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    *o = (struct serve_opts){.host = "127.0.0.1", .device = INF_DEVICE_CPU,
                             .chat_template = OAI_TEMPLATE_LAST_USER,
                             .port = -1, .threads = 0, .max_batch = 32, .max_queue = 64};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': o->model_path = optarg; break;
        case 'z': o->tokenizer_path = optarg; break;
        case 'n': o->name = optarg; break;
        case 'H': o->host = optarg; break;
        case 'd':
            if (!strcmp(optarg, "cpu"))
                o->device = INF_DEVICE_CPU;
            else if (!strcmp(optarg, "cuda"))
                o->device = INF_DEVICE_CUDA;
            else
                bad = 1;
            break;
        case 'c': bad = oai_template_parse(optarg, &o->chat_template); break;
        case 'p': bad = parse_int(optarg, 0, 65535, &o->port); break;
        case 't': bad = parse_int(optarg, 0, 1024, &o->threads); break;
        case 'b': bad = parse_int(optarg, 1, 4096, &o->max_batch); break;
        case 'q': bad = parse_int(optarg, 0, 1 << 20, &o->max_queue); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (bad) {
            const struct option *lo = longopts;
            while (lo->val != c)
                lo++;
            fprintf(stderr, "arena-worker serve: bad value for --%s: '%s'\n", lo->name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "arena-worker serve: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->model_path || !o->tokenizer_path || !o->name || o->port < 0) {
        fprintf(stderr, "arena-worker serve: --model, --tokenizer, --name and --port are required\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- replies ---- */

static void count(struct server *srv, enum route route, int status)
{
    for (size_t i = 0; i < N_STATUSES; i++)
        if (statuses[i] == status)
            srv->requests[route][i]++;
}

static void set_content_type(struct evhttp_request *req, const char *type)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
}

/* Sends srv->buf as the whole reply. */
static void reply(struct server *srv, struct evhttp_request *req, enum route route, int status,
                  const char *content_type)
{
    count(srv, route, status);
    set_content_type(req, content_type);
    evbuffer_add(srv->out, srv->buf.data, srv->buf.len);
    evhttp_send_reply(req, status, NULL, srv->out);   /* NULL: the standard reason */
    evbuffer_drain(srv->out, evbuffer_get_length(srv->out));
}

static void reply_error(struct server *srv, struct evhttp_request *req, enum route route,
                        const struct oai_error *err)
{
    srv->buf.len = 0;
    if (err->status == 503)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    if (err->status == 405)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          route <= ROUTE_COMPLETIONS ? "POST" : "GET");
    oai_write_error(&srv->buf, err);
    reply(srv, req, route, err->status, "application/json");
}

/* Sends srv->buf as one chunk of a streamed reply. */
static void send_chunk(struct server *srv, struct evhttp_request *req)
{
    evbuffer_add(srv->out, srv->buf.data, srv->buf.len);
    evhttp_send_reply_chunk(req, srv->out);
}

/* ---- streams ---- */

static void stream_free(struct stream *st)
{
    struct server *srv = st->srv;
    if (st->prev)
        st->prev->next = st->next;
    else
        srv->live = st->next;
    if (st->next)
        st->next->prev = st->prev;
    sched_req_free(st->job);
    oai_buf_free(&st->text);
    free(st);
}

/* The client went away: the scheduler drops the job between two steps. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
    struct stream *st = arg;
    struct evhttp_request *req = st->req;
    st->req = NULL;
    st->srv->clients_gone++;
    sched_cancel(st->srv->sched, st->job);
    /* A request cut off mid-reply is detached from its connection and ours to free;
     * otherwise the connection frees it after this callback. */
    if (req && !evhttp_request_get_connection(req))
        evhttp_request_free(req);
}

/* A non-streaming reply writes nothing until the end, so libevent would not notice a
 * client that has left; peek at the socket instead (0: orderly close). */
static int client_gone(struct evhttp_request *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    char c;
    if (!bev)
        return 0;
    ssize_t n = recv(bufferevent_getfd(bev), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static const char *finish_reason(enum sched_status status)
{
    return status == SCHED_STOP ? "stop" : "length";
}

static void finish_stream(struct server *srv, struct stream *st, enum sched_status status)
{
    struct evhttp_request *req = st->req;
    struct oai_usage usage = {sched_req_prompt_tokens(st->job), sched_req_completion_tokens(st->job)};
    struct oai_error err;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
    if (status == SCHED_ERROR || status == SCHED_CANCELLED)
        oai_error_set(&err, 500, "server_error", NULL, NULL, "generation failed");
    if (!st->stream) {
        if (status == SCHED_ERROR || status == SCHED_CANCELLED) {
            reply_error(srv, req, st->meta.kind == OAI_CHAT ? ROUTE_CHAT : ROUTE_COMPLETIONS, &err);
            return;
        }
        oai_write_response(&srv->buf, &st->meta, st->text.data, st->text.len, finish_reason(status),
                           &usage);
        reply(srv, req, st->meta.kind == OAI_CHAT ? ROUTE_CHAT : ROUTE_COMPLETIONS, 200,
              "application/json");
        return;
    }
    /* The status line is sent already: a failure can only be reported in the stream. */
    if (status == SCHED_ERROR || status == SCHED_CANCELLED) {
        oai_write_error_event(&srv->buf, &err);
    } else {
        oai_write_chunk(&srv->buf, &st->meta, "", 0, !st->sent_first, finish_reason(status),
                        st->include_usage);
        if (st->include_usage)
            oai_write_usage_chunk(&srv->buf, &st->meta, &usage);
    }
    oai_write_done(&srv->buf);
    send_chunk(srv, req);
    evhttp_send_reply_end(req);
}

/* A drain delivers each stream's events together; they leave as one HTTP chunk of
 * several SSE events (one per token), which saves work when the loop lags behind. */
static void flush_pending(struct server *srv)
{
    if (srv->pending && srv->pending->req && srv->buf.len)
        send_chunk(srv, srv->pending->req);
    srv->pending = NULL;
    srv->buf.len = 0;
}

/* sched_drain() callback: one token's text, or the end. */
static void on_event(void *arg, struct sched_req *job, void *user, const char *text, size_t len,
                     enum sched_status status)
{
    struct server *srv = arg;
    struct stream *st = user;
    if (srv->pending != st)
        flush_pending(srv);
    if (status == SCHED_RUNNING) {
        if (!st->req)
            return;
        if (!st->stream) {
            if (client_gone(st->req))   /* on_close() runs and cancels the job */
                evhttp_connection_free(evhttp_request_get_connection(st->req));
            else if (oai_buf_add(&st->text, text, len) < 0)
                sched_cancel(srv->sched, job);
            return;
        }
        srv->pending = st;
        oai_write_chunk(&srv->buf, &st->meta, text, len, !st->sent_first, NULL, st->include_usage);
        st->sent_first = 1;
        return;
    }
    if (st->req)
        finish_stream(srv, st, status);   /* sends what buf holds with the end */
    srv->pending = NULL;
    srv->buf.len = 0;
    stream_free(st);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    sched_drain(srv->sched, on_event, srv);
    flush_pending(srv);
}

/* Called on the generation thread: only wakes the loop. */
static void notify(void *arg)
{
    struct server *srv = arg;
    event_active(srv->wake, EV_READ, 0);
}

/* ---- handlers ---- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void handle_completion(struct server *srv, struct evhttp_request *req, enum route route)
{
    enum oai_kind kind = route == ROUTE_CHAT ? OAI_CHAT : OAI_COMPLETION;
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t body_len = evbuffer_get_length(body);
    const char *body_data = (const char *)evbuffer_pullup(body, -1);
    struct oai_request or;
    struct oai_error err;
    char msg[200];
    struct stream *st = NULL;

    if (oai_parse_request(body_data ? body_data : "", body_len, kind, srv->opts->name,
                          srv->opts->chat_template, &or, &err) < 0) {
        reply_error(srv, req, route, &err);
        return;
    }
    uint64_t n = srv->next_id++;
    inf_gen_params gp = {
        .temperature = or.temperature,
        .top_p = or.top_p,
        .seed = or.has_seed ? or.seed : splitmix64((uint64_t)time(NULL) ^ (n << 32)),
        .max_new_tokens = or.max_tokens,
        .stop_at_eos = 1,
        .stop = (const char *const *)or.stop,
        .n_stop = or.n_stop,
    };
    if (!(st = calloc(1, sizeof *st))) {
        oai_error_set(&err, 500, "server_error", NULL, NULL, "out of memory");
        goto err;
    }
    st->srv = srv;
    st->req = req;
    st->stream = or.stream;
    st->include_usage = or.include_usage;
    snprintf(st->id, sizeof st->id, "%s-%llx%06" PRIx64, kind == OAI_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)srv->started, n);
    st->meta = (struct oai_meta){kind, st->id, srv->opts->name, (long long)time(NULL)};
    if (!(st->job = sched_req_new(srv->sched, or.prompt, &gp, st, msg, sizeof msg))) {
        oai_error_set(&err, 400, "invalid_request_error", NULL, kind == OAI_CHAT ? "messages" : "prompt",
                      "%s", msg);
        goto err;
    }
    if (sched_req_prompt_tokens(st->job) > srv->seq_len) {
        oai_error_set(&err, 413, "invalid_request_error", "context_length_exceeded",
                      kind == OAI_CHAT ? "messages" : "prompt",
                      "The prompt has %d tokens; this model's context is %d tokens",
                      sched_req_prompt_tokens(st->job), srv->seq_len);
        goto err;
    }
    if (sched_submit(srv->sched, st->job) < 0) {
        oai_error_set(&err, 503, "server_error", "server_busy",
                      NULL, "The server is busy (queue full); retry shortly");
        goto err;
    }
    oai_request_free(&or);
    if ((st->next = srv->live))
        st->next->prev = st;
    srv->live = st;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, st);
    if (st->stream) {
        set_content_type(req, "text/event-stream");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
        count(srv, route, 200);
        evhttp_send_reply_start(req, 200, "OK");
    }
    return;
err:
    if (st) {
        sched_req_free(st->job);
        free(st);
    }
    oai_request_free(&or);
    reply_error(srv, req, route, &err);
}

static void handle_metrics(struct server *srv, struct evhttp_request *req)
{
    struct sched_stats s;
    struct oai_buf *b = &srv->buf;
    sched_get_stats(srv->sched, &s);
    b->len = 0;
    oai_buf_printf(b, "# HELP arena_worker_requests_total HTTP requests by route and status.\n"
                      "# TYPE arena_worker_requests_total counter\n");
    for (int r = 0; r < N_ROUTES; r++)
        for (size_t i = 0; i < N_STATUSES; i++)
            if (srv->requests[r][i])
                oai_buf_printf(b, "arena_worker_requests_total{route=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                               routes[r].path, statuses[i], srv->requests[r][i]);
    oai_buf_printf(b,
        "# HELP arena_worker_tokens_generated_total Tokens sampled since start.\n"
        "# TYPE arena_worker_tokens_generated_total counter\n"
        "arena_worker_tokens_generated_total %" PRIu64 "\n"
        "# HELP arena_worker_clients_gone_total Completions cancelled because the client left.\n"
        "# TYPE arena_worker_clients_gone_total counter\n"
        "arena_worker_clients_gone_total %" PRIu64 "\n"
        "# HELP arena_worker_tokens_per_second Tokens sampled per second over the last 5 s.\n"
        "# TYPE arena_worker_tokens_per_second gauge\n"
        "arena_worker_tokens_per_second %.1f\n"
        "# HELP arena_worker_queue_depth Requests waiting for a batch slot.\n"
        "# TYPE arena_worker_queue_depth gauge\n"
        "arena_worker_queue_depth %d\n"
        "# HELP arena_worker_batch_active Requests in the batch now.\n"
        "# TYPE arena_worker_batch_active gauge\n"
        "arena_worker_batch_active %d\n"
        "# HELP arena_worker_batch_max Batch slots.\n"
        "# TYPE arena_worker_batch_max gauge\n"
        "arena_worker_batch_max %d\n"
        "# HELP arena_worker_batch_active_peak The most requests in the batch at once since start.\n"
        "# TYPE arena_worker_batch_active_peak gauge\n"
        "arena_worker_batch_active_peak %d\n"
        "# HELP arena_worker_time_to_first_token_seconds From admission to the queue to the first sampled token.\n"
        "# TYPE arena_worker_time_to_first_token_seconds histogram\n",
        s.tokens_total, srv->clients_gone, s.tokens_per_s, s.queued, s.active, srv->opts->max_batch,
        s.peak_active);
    for (int i = 0; i < SCHED_TTFT_BUCKETS; i++)
        oai_buf_printf(b, "arena_worker_time_to_first_token_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                       sched_ttft_bounds[i], s.ttft_le[i]);
    oai_buf_printf(b,
        "arena_worker_time_to_first_token_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
        "arena_worker_time_to_first_token_seconds_sum %.6f\n"
        "arena_worker_time_to_first_token_seconds_count %" PRIu64 "\n",
        s.ttft_count, s.ttft_sum, s.ttft_count);
    reply(srv, req, ROUTE_METRICS, 200, "text/plain; version=0.0.4");
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum route route = ROUTE_OTHER;
    struct oai_error err;
    for (int r = 0; r < ROUTE_OTHER; r++)
        if (path && !strcmp(path, routes[r].path))
            route = (enum route)r;
    if (route == ROUTE_OTHER) {
        oai_error_set(&err, 404, "invalid_request_error", "unknown_url", NULL,
                      "Unknown request URL: %.100s", path ? path : "");
        reply_error(srv, req, route, &err);
        return;
    }
    if (evhttp_request_get_command(req) != routes[route].method) {
        oai_error_set(&err, 405, "invalid_request_error", "method_not_allowed", NULL,
                      "%s only accepts %s", routes[route].path,
                      routes[route].method == EVHTTP_REQ_POST ? "POST" : "GET");
        reply_error(srv, req, route, &err);
        return;
    }
    srv->buf.len = 0;
    switch (route) {
    case ROUTE_CHAT:
    case ROUTE_COMPLETIONS:
        handle_completion(srv, req, route);
        break;
    case ROUTE_MODELS:
        oai_write_models(&srv->buf, srv->opts->name, srv->started);
        reply(srv, req, route, 200, "application/json");
        break;
    case ROUTE_HEALTH:
        oai_buf_printf(&srv->buf, "{\"status\":\"ok\"}");
        reply(srv, req, route, 200, "application/json");
        break;
    case ROUTE_METRICS:
        handle_metrics(srv, req);
        break;
    default:
        break;
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    fprintf(stderr, "arena-worker serve: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_base_loopexit(srv->base, NULL);
}

/* ---- lifetime ---- */

static int server_open(struct server *srv, const struct serve_opts *o)
{
    char err[256];
    srv->opts = o;
    srv->started = (long long)time(NULL);
    if (!(srv->model = inf_model_open(o->model_path, err, sizeof err)))
        goto err;
    srv->seq_len = inf_model_config(srv->model)->seq_len;
    if (!(srv->tok = tok_open(o->tokenizer_path, inf_model_config(srv->model)->vocab_size, err, sizeof err)))
        goto err;
    inf_engine_opts eo = {.device = o->device, .max_batch = o->max_batch, .threads = o->threads};
    if (!(srv->engine = inf_engine_new(srv->model, &eo, err, sizeof err)))
        goto err;
    if (evthread_use_pthreads() < 0 || !(srv->base = event_base_new()) ||
        !(srv->http = evhttp_new(srv->base)) || !(srv->out = evbuffer_new()) ||
        !(srv->wake = event_new(srv->base, -1, 0, on_wake, srv)) ||
        !(srv->on_sigint = evsignal_new(srv->base, SIGINT, on_signal, srv)) ||
        !(srv->on_sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv)) ||
        event_add(srv->on_sigint, NULL) < 0 || event_add(srv->on_sigterm, NULL) < 0) {
        snprintf(err, sizeof err, "cannot set up the event loop");
        goto err;
    }
    if (!(srv->sched = sched_new(srv->engine, srv->tok, o->max_queue, notify, srv, err, sizeof err)))
        goto err;
    evhttp_set_max_body_size(srv->http, MAX_BODY);
    evhttp_set_max_headers_size(srv->http, MAX_HEADERS);
    evhttp_set_timeout(srv->http, HTTP_TIMEOUT_S);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                               EVHTTP_REQ_PATCH);
    evhttp_set_gencb(srv->http, on_request, srv);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(srv->http, o->host, (ev_uint16_t)o->port);
    if (!bound) {
        snprintf(err, sizeof err, "cannot listen on %s:%d: %s", o->host, o->port, strerror(errno));
        goto err;
    }
    /* Accepted connections inherit TCP_NODELAY (Linux): a stream's chunks are small, and
     * Nagle would hold each one back until the client's delayed ACK, up to 40 ms. */
    int one = 1;
    if (setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        snprintf(err, sizeof err, "cannot set TCP_NODELAY on %s:%d: %s", o->host, o->port, strerror(errno));
        goto err;
    }
    return 0;
err:
    fprintf(stderr, "arena-worker serve: %s\n", err);
    return -1;
}

static void server_close(struct server *srv)
{
    /* Stop generating first: after sched_free() no thread touches a stream. */
    sched_free(srv->sched);
    while (srv->live) {
        if (srv->live->req)   /* evhttp_free() below must not call on_close() */
            evhttp_connection_set_closecb(evhttp_request_get_connection(srv->live->req), NULL, NULL);
        stream_free(srv->live);
    }
    if (srv->http)
        evhttp_free(srv->http);
    if (srv->wake)
        event_free(srv->wake);
    if (srv->on_sigint)
        event_free(srv->on_sigint);
    if (srv->on_sigterm)
        event_free(srv->on_sigterm);
    if (srv->out)
        evbuffer_free(srv->out);
    if (srv->base)
        event_base_free(srv->base);
    oai_buf_free(&srv->buf);
    inf_engine_free(srv->engine);
    tok_close(srv->tok);
    inf_model_close(srv->model);
    libevent_global_shutdown();
}

int serve_main(int argc, char **argv)
{
    struct serve_opts o;
    struct server srv = {0};
    if (parse_opts(argc, argv, &o) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    int rc = 1;
    if (server_open(&srv, &o) == 0) {
        fprintf(stderr, "arena-worker serve: %s on http://%s:%d (batch %d, queue %d)\n",
                o.name, o.host, o.port, o.max_batch, o.max_queue);
        rc = event_base_dispatch(srv.base) < 0 ? 1 : 0;
    }
    server_close(&srv);
    return rc;
}
