/* main.c: bin/arena-server. Flags over a config file, the event loop, clean shutdown on
 * SIGINT/SIGTERM, and `import FILE` (a FastChat clean-battle file into Redis).
 *
 * Exit status: 0 after a clean shutdown or import, 1 on a runtime error, 2 on a usage or
 * configuration error. */
#include "server.h"

#include <event2/thread.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"

static const char usage[] =
    "usage: arena-server [--config FILE] [options]         serve the arena\n"
    "       arena-server import FILE [--config FILE] [options]   load FastChat clean battles into Redis\n"
    "\n"
    "options (each overrides the config file; arena/CONFIG.md lists every field):\n"
    "  --config FILE          JSON config (default: built-in defaults)\n"
    "  --host HOST            listen address (listen.host)\n"
    "  --port PORT            listen port (listen.port)\n"
    "  --tls-cert FILE        serve HTTPS with this PEM certificate chain (listen.tls_cert)\n"
    "  --tls-key FILE         and this PEM private key (listen.tls_key)\n"
    "  --redis URL            redis://[:password@]host[:port][/db] (redis.url)\n"
    "  --redis-password PW    (redis.password)\n"
    "  --web-root DIR         static files (web_root)\n"
    "  --access-log PATH      \"-\" = stderr, \"\" = off (access_log)\n"
    "  --set FIELD=VALUE      any other scalar field, e.g. --set limits.votes_per_day=100\n"
    "  -h, --help             this text\n"
    "The token secret comes from battles.token_secret or the ARENA_TOKEN_SECRET environment variable.\n";

static const struct { const char *flag, *field; } flag_fields[] = {
    {"--host", "listen.host"}, {"--port", "listen.port"}, {"--tls-cert", "listen.tls_cert"},
    {"--tls-key", "listen.tls_key"}, {"--redis", "redis.url"}, {"--redis-password", "redis.password"},
    {"--web-root", "web_root"}, {"--access-log", "access_log"},
};

/* Loads the config named by --config, then applies every other flag in order. Returns the
 * config, or NULL after printing the error. pos gets up to two positional arguments. */
static cfg_config *parse_flags(int argc, char **argv, const char *pos[2])
{
    const char *path = NULL;
    char err[512];
    pos[0] = pos[1] = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) { fputs(usage, stdout); exit(0); }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) path = argv[++i];
    }
    cfg_config *c = cfg_load(path, err, sizeof err);
    if (!c) { fprintf(stderr, "arena-server: %s\n", err); return NULL; }
    const char *secret = getenv("ARENA_TOKEN_SECRET");
    if (secret && *secret && cfg_set(c, "battles.token_secret", secret, err, sizeof err) < 0) goto bad;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) { i++; continue; }
        if (a[0] != '-' || !a[1]) {
            if (pos[1]) { fprintf(stderr, "arena-server: unexpected argument '%s'\n%s", a, usage); goto out; }
            pos[pos[0] ? 1 : 0] = a;
            continue;
        }
        if (i + 1 >= argc) { fprintf(stderr, "arena-server: %s needs a value\n%s", a, usage); goto out; }
        const char *v = argv[++i];
        if (strcmp(a, "--set") == 0) {
            const char *eq = strchr(v, '=');
            char field[128];
            if (!eq || (size_t)(eq - v) >= sizeof field) { fprintf(stderr, "arena-server: --set wants FIELD=VALUE\n"); goto out; }
            memcpy(field, v, (size_t)(eq - v));
            field[eq - v] = '\0';
            if (cfg_set(c, field, eq + 1, err, sizeof err) < 0) goto bad;
            continue;
        }
        size_t k = 0, n = sizeof flag_fields / sizeof *flag_fields;
        while (k < n && strcmp(flag_fields[k].flag, a) != 0) k++;
        if (k == n) { fprintf(stderr, "arena-server: unknown option '%s'\n%s", a, usage); goto out; }
        if (cfg_set(c, flag_fields[k].field, v, err, sizeof err) < 0) goto bad;
    }
    return c;
bad:
    fprintf(stderr, "arena-server: %s\n", err);
out:
    cfg_free(c);
    return NULL;
}

static void log_store(void *ud, const char *msg)
{
    fprintf(stderr, "arena-server: redis: %s\n", msg);
}

static store *open_store(const cfg_config *c, struct event_base *base, int connections, char *err, size_t errlen)
{
    store_config sc;
    store_config_default(&sc);
    sc.connections = connections;
    sc.url = c->redis_url;
    sc.password = c->redis_password;
    sc.sentinels = (const char *const *)c->sentinels.v;
    sc.n_sentinels = c->sentinels.n;
    sc.master_name = c->sentinel_master;
    sc.wait_replicas = c->wait_replicas;
    sc.wait_timeout_ms = c->wait_timeout_ms;
    sc.log = log_store;
    return store_new(base, &sc, err, errlen);
}

/* ---- import ---- */

typedef struct import_state {
    struct event_base *base;
    store *st;
    size_t in_flight, added, skipped, failed;
} import_state;

static void on_imported(void *ud, store_status st)
{
    import_state *im = ud;
    im->in_flight--;
    if (st == STORE_OK) im->added++;
    else if (st == STORE_ALREADY) im->skipped++;
    else im->failed++;
}

static int import_one(void *ud, const rd_record *r, char *err, size_t errlen)
{
    import_state *im = ud;
    store_vote_record rec = {
        .question_id = r->question_id, .model_a = r->model_a, .model_b = r->model_b,
        .winner = rd_winner_name(r->winner), .judge = r->judge, .turn = r->turn ? r->turn : 1,
        .anony = r->anony == 1, .language = r->language, .tstamp = r->tstamp,
        .conversation_a = r->conversation_a ? r->conversation_a : "[]",
        .conversation_b = r->conversation_b ? r->conversation_b : "[]",
    };
    if (store_import_vote(im->st, &rec, on_imported, im) < 0) { im->failed++; return 0; }
    im->in_flight++;
    /* The reader pushes; the loop drains. Keep a bounded window of requests in flight. */
    while (im->in_flight >= 512) event_base_loop(im->base, EVLOOP_ONCE);
    if (im->failed) { snprintf(err, errlen, "the vote store is unavailable"); return -1; }
    return 0;
}

static void tick(evutil_socket_t fd, short what, void *arg) {}

/* The main event loop belongs to the main thread alone (the board's threads never touch
 * it; the feed has a loop of its own), so it needs no locks; and since no descriptor it
 * watches is a dup() of another, epoll may batch a request's event changes into one
 * epoll_ctl per descriptor per loop pass. */
static struct event_base *new_event_base(void)
{
    struct event_config *ec = event_config_new();
    if (!ec) return NULL;
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base;
}

static int run_import(cfg_config *c, const char *file)
{
    char err[512];
    int rc = 1;
    import_state im = {0};
    struct event *timer = NULL;
    if (!(im.base = new_event_base())) return 1;
    if (!(im.st = open_store(c, im.base, STORE_COMMANDS, err, sizeof err))) { fprintf(stderr, "arena-server: %s\n", err); goto out; }
    /* A ticking timer so that the loop below wakes up while the connection is made. */
    timer = event_new(im.base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 50000};
    event_add(timer, &tv);
    time_t deadline = time(NULL) + 10;
    while (!store_ready(im.st) && time(NULL) < deadline) event_base_loop(im.base, EVLOOP_ONCE);
    if (!store_ready(im.st)) { fprintf(stderr, "arena-server: import: cannot reach Redis at %s\n", c->redis_url); goto out; }
    rd_stats stats;
    rd_options opt = {.conversations = 1};
    int read_rc = rd_read(file, &opt, import_one, &im, &stats, err, sizeof err);
    while (im.in_flight) event_base_loop(im.base, EVLOOP_ONCE);
    if (read_rc < 0) { fprintf(stderr, "arena-server: import: %s\n", err); goto out; }
    printf("imported %zu battles from %s: %zu added, %zu already present, %zu failed, %zu skipped by the reader\n",
           stats.delivered, file, im.added, im.skipped, im.failed, stats.skipped_self + stats.skipped_winner);
    rc = im.failed ? 1 : 0;
out:
    if (timer) event_free(timer);
    store_free(im.st);
    event_base_free(im.base);
    return rc;
}

/* ---- serve ---- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    server *s = arg;
    fprintf(stderr, "arena-server: signal %d: shutting down\n", (int)sig);
    event_base_loopexit(s->base, NULL);
}

/* The registry's runtime state, the identity words and the board (which copies the
 * model metadata it is given). */
static int setup_models(server *s, char *err, size_t errlen)
{
    cfg_config *c = s->cfg;
    int rc = -1;
    const char **names = calloc(2 * c->n_models + 1, sizeof *names);
    board_model *bm = calloc(c->n_models + 1, sizeof *bm);
    size_t n_names = 0;
    if (!names || !bm || !(s->models = calloc(c->n_models, sizeof *s->models))) goto nomem;
    s->n_models = c->n_models;
    for (size_t i = 0; i < c->n_models; i++) {
        model_state *m = &s->models[i];
        m->s = s;
        m->cfg = &c->models[i];
        m->healthy = 1;  /* until a probe says otherwise */
        if (!(m->uri = evhttp_uri_parse(m->cfg->endpoint)) || !evhttp_uri_get_host(m->uri)) {
            snprintf(err, errlen, "%s: models[%zu]: field endpoint: cannot parse '%s'", c->path, i, m->cfg->endpoint);
            goto out;
        }
        names[n_names++] = m->cfg->name;
        if (*m->cfg->organization) names[n_names++] = m->cfg->organization;
        bm[i] = (board_model){m->cfg->name, m->cfg->organization, m->cfg->license, m->cfg->static_key};
    }
    if (!(s->identity = battle_identity_new(names, n_names))) goto nomem;
    if (c->static_table && *c->static_table) {
        if (!(s->static_table = st_load(c->static_table, c->static_key_column, c->static_score_column, err, errlen))) goto out;
        if (c->static_name_map && *c->static_name_map && st_load_map(s->static_table, c->static_name_map, err, errlen) < 0) goto out;
    }
    board_opts bo;
    board_opts_default(&bo);
    bo.models = bm;
    bo.n_models = c->n_models;
    bo.static_table = s->static_table;
    bo.bootstrap_rounds = c->bootstrap_rounds;
    bo.ci_max_share = c->ci_max_share;
    bo.ci_min_period = c->ci_min_period;
    if (board_parse_ci(c->ci_method, &bo.ci) < 0) { snprintf(err, errlen, "%s: field board.ci_method: unknown", c->path); goto out; }
    if (!(s->board = board_new(&bo, err, errlen))) goto out;
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "out of memory");
out:
    free(names);
    free(bm);
    return rc;
}

static int setup(server *s, char *err, size_t errlen)
{
    cfg_config *c = s->cfg;
    s->table_size = 4096;
    if (!(s->table = calloc(s->table_size, sizeof *s->table))) { snprintf(err, errlen, "out of memory"); return -1; }
    s->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (!(s->token_key = btok_key_new(c->token_secret, strlen(c->token_secret)))) {
        snprintf(err, errlen, "cannot key HMAC-SHA256 (OpenSSL) for battle tokens");
        return -1;
    }
    if (!*c->access_log) s->access_log = NULL;
    else if (strcmp(c->access_log, "-") == 0) s->access_log = stderr;
    else if (!(s->access_log = fopen(c->access_log, "a"))) { snprintf(err, errlen, "%s: cannot open the access log", c->access_log); return -1; }
    if (s->access_log) setvbuf(s->access_log, NULL, _IOLBF, 0);
    if (c->blocklist.n && !(s->blocklist = calloc(c->blocklist.n, sizeof *s->blocklist))) { snprintf(err, errlen, "out of memory"); return -1; }
    for (size_t i = 0; i < c->blocklist.n; i++) {
        if (regcomp(&s->blocklist[i], c->blocklist.v[i], REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
            snprintf(err, errlen, "%s: field limits.blocklist: element %zu: not a valid regular expression", c->path, i);
            return -1;
        }
        s->n_blocklist++;
    }
    if (setup_models(s, err, errlen) < 0) return -1;
    int https = 0;
    for (size_t i = 0; i < s->n_models; i++) {
        const char *scheme = evhttp_uri_get_scheme(s->models[i].uri);
        https |= scheme && strcmp(scheme, "https") == 0;
    }
    if ((https || c->upstream_ca_file) && upstream_tls_init(s, err, errlen) < 0) return -1;
    if (!(s->store = open_store(c, s->base, STORE_COMMANDS, err, errlen))) return -1;
    if (!(s->feed_base = event_base_new()) || !(s->feed_store = open_store(c, s->feed_base, STORE_FOLLOWER, err, errlen)) ||
        votes_follow_start(s, err, errlen) < 0) {
        if (!s->feed_base) snprintf(err, errlen, "cannot create the feed's event loop");
        return -1;
    }
    if (health_start(s, err, errlen) < 0) return -1;
    return http_start(s, err, errlen);
}

static void teardown(server *s)
{
    http_stop(s);                    /* closes client connections: pending requests are dropped */
    votes_follow_stop(s);
    store_free(s->store);            /* pending store callbacks run (unavailable) */
    battles_free_all(s);
    for (size_t i = 0; i < s->n_models; i++) {
        if (s->models[i].probe_conn) evhttp_connection_free(s->models[i].probe_conn);
        if (s->models[i].uri) evhttp_uri_free(s->models[i].uri);
    }
    free(s->models);
    if (s->health_timer) event_free(s->health_timer);
    board_free(s->board);
    st_free(s->static_table);
    battle_identity_free(s->identity);
    for (size_t i = 0; i < s->n_blocklist; i++) regfree(&s->blocklist[i]);
    free(s->blocklist);
    SSL_CTX_free(s->tls_client);
    btok_key_free(s->token_key);
    if (s->access_log && s->access_log != stderr) fclose(s->access_log);
}

int main(int argc, char **argv)
{
    const char *pos[2];
    cfg_config *c = parse_flags(argc, argv, pos);
    char err[512];
    if (!c) return 2;
    signal(SIGPIPE, SIG_IGN);
    if (pos[0]) {
        int rc = 2;
        if (strcmp(pos[0], "import") != 0) fprintf(stderr, "arena-server: unknown command '%s'\n%s", pos[0], usage);
        else if (!pos[1]) fprintf(stderr, "arena-server: import needs a FILE\n%s", usage);
        else rc = run_import(c, pos[1]);
        cfg_free(c);
        return rc;
    }
    if (cfg_check(c, err, sizeof err) < 0) {
        fprintf(stderr, "arena-server: %s\n", err);
        cfg_free(c);
        return 2;
    }
    evthread_use_pthreads();   /* for the feed's loop, stopped from this thread */
    server s = {.cfg = c};
    int rc = 1;
    struct event *sigint = NULL, *sigterm = NULL;
    if (!(s.base = new_event_base())) { fprintf(stderr, "arena-server: cannot create the event loop\n"); goto out; }
    if (setup(&s, err, sizeof err) < 0) { fprintf(stderr, "arena-server: %s\n", err); goto out; }
    sigint = evsignal_new(s.base, SIGINT, on_signal, &s);
    sigterm = evsignal_new(s.base, SIGTERM, on_signal, &s);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    fprintf(stderr, "arena-server: listening on %s://%s:%d/ with %zu models\n", c->tls_cert ? "https" : "http", c->host, c->port, c->n_models);
    event_base_dispatch(s.base);
    rc = 0;
out:
    if (sigint) event_free(sigint);
    if (sigterm) event_free(sigterm);
    teardown(&s);
    if (s.base) event_base_free(s.base);
    cfg_free(c);
    return rc;
}
