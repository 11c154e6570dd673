/* bench_votes.c: arena-server through its whole HTTP path, on loopback.
 *
 *  1. votes: N finished battles are created through the API (POST /api/battles, then the
 *     stream; the first 100 one at a time on one connection, for the time one battle takes),
 *     then voted on with 64 connections: votes/s and p50/p99 latency, beside
 *     redis-benchmark's INCR rate (64 clients) on the same redis-server in the same run;
 *     The same again on fresh battles with wrk (tests/arena/bench_votes.lua), a client as
 *     light as redis-benchmark: that figure is the one set against INCR, in three rounds of
 *     1 s, each right after its own INCR baseline (the median of the rounds' ratios);
 *  2. leaderboard reads with wrk (64 connections): requests/s from the board's cache;
 *  3. 2,000 SSE streams held open at once: arena-server's RSS growth per stream, and
 *     every token of every stream counted at the end (none lost).
 *
 * The upstream is this program: a minimal OpenAI-compatible streaming server (chat
 * completion chunks, [DONE]) that answers at once, or, for prompts "hold", sends its
 * tokens and keeps the stream open until released, so that streams stay open as long as
 * the measurement needs. Targets (figures only, never asserted): votes >= 0.5 x INCR,
 * p99 < 10 ms; < 64 KB per stream; >= 20,000 leaderboard reads/s. */
#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_proc.h"
#include "sse.h"

enum { N_VOTES = 4000, CONNS = 64, N_STREAMS = 2000, HOLD_TOKENS = 3, SERIAL_BATTLES = 100,
       WRK_ROUNDS = 3, ROUND_BATTLES = 40000, N_WRK_VOTES = WRK_ROUNDS * ROUND_BATTLES };

static struct event_base *base;
static int arena_port;
static pid_t arena_pid;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the fake upstream ---- */

static struct evhttp_request **held;
static int n_held;

static void send_token(struct evhttp_request *req, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}\n\n", text);
    evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
}

static void finish_stream(struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
    evhttp_send_reply_end(req);
}

static void upstream_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_request_get_uri(req);
    if (strcmp(path, "/v1/models") == 0) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "{\"object\":\"list\",\"data\":[]}");
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    int hold = evbuffer_search(in, "\"hold\"", 6, NULL).pos >= 0;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/event-stream");
    evhttp_send_reply_start(req, 200, "OK");
    for (int i = 0; i < HOLD_TOKENS; i++) send_token(req, i ? " tok" : "Tok");
    if (hold) held[n_held++] = req;
    else finish_stream(req);
}

/* ---- the client side ---- */

typedef struct slot {
    struct evhttp_connection *conn;
    int item;        /* the battle this connection works on */
    double sent;
} slot;

static slot slots[CONNS];
static char (*ids)[32], (*tokens)[96];
static double *latency;
static int next_item, done_items, ok_items;

static struct evhttp_connection *arena_conn(void)
{
    struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", (ev_uint16_t)arena_port);
    evhttp_connection_set_timeout(c, 60);
    return c;
}

static struct evhttp_request *new_request(void (*cb)(struct evhttp_request *, void *), void *arg, const char *body)
{
    struct evhttp_request *req = evhttp_request_new(cb, arg);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    if (body) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    return req;
}

/* Phase 1: create a battle, then read its stream to the end (phase 3: create only). */
static void create_next(slot *s);
static int create_total, create_then_stream = 1;
static const char *create_body;

static void on_streamed(struct evhttp_request *req, void *arg)
{
    slot *s = arg;
    done_items++;
    ok_items += req && evhttp_request_get_response_code(req) == 200;
    create_next(s);
}

static void on_created(struct evhttp_request *req, void *arg)
{
    slot *s = arg;
    int i = s->item;
    json_t *o = NULL;
    if (req && evhttp_request_get_response_code(req) == 201) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        o = json_loadb((const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in), 0, NULL);
    }
    const char *id = json_string_value(json_object_get(o, "id")), *tok = json_string_value(json_object_get(o, "token"));
    if (!id || !tok) {
        json_decref(o);
        done_items++;
        create_next(s);
        return;
    }
    snprintf(ids[i], sizeof ids[i], "%s", id);
    snprintf(tokens[i], sizeof tokens[i], "%s", tok);
    json_decref(o);
    if (!create_then_stream) {
        done_items++;
        ok_items++;
        create_next(s);
        return;
    }
    char path[96];
    snprintf(path, sizeof path, "/api/battles/%s/stream", ids[i]);
    evhttp_make_request(s->conn, new_request(on_streamed, s, NULL), EVHTTP_REQ_GET, path);
}

static void create_next(slot *s)
{
    if (next_item >= create_total) return;
    s->item = next_item++;
    evhttp_make_request(s->conn, new_request(on_created, s, create_body), EVHTTP_REQ_POST, "/api/battles");
}

/* Phase 2: votes. */
static void vote_next(slot *s);

static void on_voted(struct evhttp_request *req, void *arg)
{
    slot *s = arg;
    latency[done_items++] = now_s() - s->sent;
    ok_items += req && evhttp_request_get_response_code(req) == 200;
    vote_next(s);
}

static void vote_next(slot *s)
{
    if (next_item >= N_VOTES) return;
    int i = next_item++;
    if (!ids[i][0]) { done_items++; vote_next(s); return; }
    char path[96], body[160];
    snprintf(path, sizeof path, "/api/battles/%s/vote", ids[i]);
    snprintf(body, sizeof body, "{\"winner\":\"%s\",\"token\":\"%s\"}", i % 3 ? "a" : "b", tokens[i]);
    s->sent = now_s();
    evhttp_make_request(s->conn, new_request(on_voted, s, body), EVHTTP_REQ_POST, path);
}

/* Phase 3: streams held open; every event parsed and counted. */
typedef struct stream {
    sse_parser p;
    int tokens, ends;
    struct evhttp_connection *conn;
} stream;

static int count_event(void *ud, const char *event, const char *data, size_t len)
{
    stream *st = ud;
    if (strcmp(event, "a") == 0 || strcmp(event, "b") == 0) st->tokens++;
    if (strcmp(event, "end") == 0) st->ends++;
    return 0;
}

static void on_stream_chunk(struct evhttp_request *req, void *arg)
{
    stream *st = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    sse_feed(&st->p, (const char *)evbuffer_pullup(in, -1), n, count_event, st);
    evbuffer_drain(in, n);
}

static void on_stream_done(struct evhttp_request *req, void *arg) { done_items++; }

static stream *streams;

static long total_tokens(void)
{
    long n = 0;
    for (int i = 0; streams && i < N_STREAMS; i++) n += streams[i].tokens;
    return n;
}

/* ---- processes and helpers ---- */

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs the loop until done_items reaches target or timeout_s passes. */
static int run_until(int target, double timeout_s)
{
    double t0 = now_s();
    while (done_items < target && now_s() - t0 < timeout_s) event_base_loop(base, EVLOOP_ONCE);
    return done_items >= target;
}

static double popen_rate(const char *cmd, const char *prefix)
{
    char line[512];
    double rate = 0;
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof line, p)) {
        const char *at = strstr(line, prefix);
        if (at) rate = strtod(at + strlen(prefix), NULL);
    }
    if (p) pclose(p);
    return rate;
}

/* The median of n figures (n odd); sorts them. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void tick(evutil_socket_t fd, short what, void *arg) {}

/* wrk's figures: requests (and how many were not 2xx) in seconds, latency percentiles. */
typedef struct wrk_figures {
    long long requests, non_2xx;
    double seconds, p50_ms, p99_ms;
    double init_cpu_s;   /* what bench_votes.lua's init took, formatting the requests */
} wrk_figures;

/* wrk prints latencies as 812.00us, 1.23ms or 1.02s. */
static double wrk_ms(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    return !strncmp(end, "us", 2) ? v / 1e3 : !strncmp(end, "ms", 2) ? v : v * 1e3;
}

static void run_wrk(const char *cmd, wrk_figures *f)
{
    char line[512];
    memset(f, 0, sizeof *f);
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof line, p)) {
        char unit[8];
        const char *s = line + strspn(line, " ");
        if (sscanf(s, "%lld requests in %lf%7s", &f->requests, &f->seconds, unit) == 3 && !strcmp(unit, "ms,"))
            f->seconds /= 1e3;
        else if (!strncmp(s, "50%", 3)) f->p50_ms = wrk_ms(s + 3 + strspn(s + 3, " "));
        else if (!strncmp(s, "99%", 3)) f->p99_ms = wrk_ms(s + 3 + strspn(s + 3, " "));
        else if (!strncmp(s, "Non-2xx or 3xx responses:", 25)) f->non_2xx = strtoll(s + 25, NULL, 10);
        else if (!strncmp(s, "script init CPU:", 16)) f->init_cpu_s += strtod(s + 16, NULL);
    }
    if (p) pclose(p);
}

/* CPU time (user + system, ns) of /proc/PID/stat or /proc/PID/task/TID/stat: a process's
 * figure includes its threads that have already ended (the bootstraps' workers come and
 * go), which a sum over the live threads would miss. */
static long long stat_cpu_ns(const char *path)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    char *p = f && fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    if (f) fclose(f);
    unsigned long long utime, stime;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return 0;
    return (long long)((utime + stime) * (1000000000.0 / sysconf(_SC_CLK_TCK)));
}

/* arena-server's threads shown apart, by the names it gives them (the main thread keeps
 * the program's); the interval thread and its bootstraps' ended workers are the rest. */
enum { ROLE_LOOP, ROLE_FEED, ROLE_POINTS, N_ROLES };
static const char *const role_name[N_ROLES] = { "arena-server", "arena-feed", "board-points" };

/* The process's CPU time, and in role_ns (when not NULL) that of its threads by role. */
static long long cpu_ns(pid_t pid, long long role_ns[N_ROLES])
{
    char path[300];
    if (role_ns) {
        memset(role_ns, 0, N_ROLES * sizeof *role_ns);
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
        DIR *dir = opendir(path);
        for (struct dirent *e; dir && (e = readdir(dir));) {
            char comm[32] = "";
            snprintf(path, sizeof path, "/proc/%d/task/%s/comm", (int)pid, e->d_name);
            FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
            if (!f) continue;
            if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
            fclose(f);
            for (int k = 0; k < N_ROLES; k++)
                if (!strcmp(comm, role_name[k])) {
                    snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
                    role_ns[k] += stat_cpu_ns(path);
                }
        }
        if (dir) closedir(dir);
    }
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return stat_cpu_ns(path);
}

static long long children_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static long long redis_xlen(const redis_proc *rp)
{
    redisReply *r = rp_command(rp, "XLEN arena:{a}:votes");
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return n;
}

/* The Redis work of one vote, without arena-server: redis-benchmark runs a script that
 * reads a battle-sized hash (the newest vote's record, copied), appends it to a stream
 * and sets two hash fields, on the same server, durable the same way. Its rate bounds
 * what any vote path can reach on this Redis; 0 when no record was found. */
static double vote_writes_rate(const redis_proc *rp)
{
    redisContext *c = rp_connect(rp);
    redisReply *last = c ? redisCommand(c, "XREVRANGE arena:{a}:votes + - COUNT 1") : NULL;
    double rate = 0;
    if (last && last->type == REDIS_REPLY_ARRAY && last->elements == 1 && last->element[0]->elements == 2) {
        redisReply *fields = last->element[0]->element[1];
        const char *argv[64];
        size_t lens[64], n = 0;
        argv[n] = "HSET", lens[n++] = 4;
        argv[n] = "bench:{w}:battle", lens[n++] = 16;
        for (size_t i = 0; i < fields->elements && n < 64; i++) argv[n] = fields->element[i]->str, lens[n++] = fields->element[i]->len;
        redisReply *set = redisCommandArgv(c, (int)n, argv, lens);
        if (set) freeReplyObject(set);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "redis-benchmark -p %d -n 100000 -c 64 --csv EVAL "
                 "\"local r = redis.call('HGETALL', KEYS[1]) "
                 "local id = redis.call('XADD', KEYS[2], '*', unpack(r)) "
                 "redis.call('HSET', KEYS[3], ARGV[1], id) redis.call('HSET', KEYS[4], 'voted', id) return 1\" "
                 "4 bench:{w}:battle bench:{w}:votes bench:{w}:voted bench:{w}:scratch __rand_int__ 2>/dev/null", rp->port);
        rate = popen_rate(cmd, "\",\"");
        redisReply *del = redisCommand(c, "DEL bench:{w}:battle bench:{w}:votes bench:{w}:voted bench:{w}:scratch");
        if (del) freeReplyObject(del);
    }
    if (last) freeReplyObject(last);
    if (c) redisFree(c);
    return rate;
}

static void on_ready(struct evhttp_request *req, void *arg)
{
    *(int *)arg = req && evhttp_request_get_response_code(req) == 200 ? 1 : -1;
}

/* GET /readyz: 1 when arena-server has Redis and two models. */
static int ready(void)
{
    int status = 0;
    evhttp_make_request(slots[0].conn, new_request(on_ready, &status, NULL), EVHTTP_REQ_GET, "/readyz");
    double t0 = now_s();
    while (!status && now_s() - t0 < 5) event_base_loop(base, EVLOOP_ONCE);
    return status == 1;
}

/* Starts arena-server on arena_port and waits until it is ready (listening, Redis
 * connected, the upstreams probed). */
static void start_arena(const char *exe, const char *cfg_path)
{
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", arena_port);
    if ((arena_pid = fork()) == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl(exe, exe, "--config", cfg_path, "--port", port_arg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !ready(); i++) rp_run_for(base, 200);
}

int main(void)
{
    const char *bin = getenv("ARENA_BIN") ? getenv("ARENA_BIN") : "bin";
    const char *root = getenv("ARENA_ROOT") ? getenv("ARENA_ROOT") : ".";   /* the repository */
    redis_proc rp = {0};
    char cfg_path[256], cmd[512], exe[300];
    int rc = 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    struct event *ticker = event_new(base, -1, EV_PERSIST, tick, NULL);
    event_add(ticker, &(struct timeval){0, 20000});
    held = calloc(2 * N_STREAMS + 16, sizeof *held);
    ids = calloc(N_WRK_VOTES, sizeof *ids);       /* the most battles any phase makes */
    tokens = calloc(N_WRK_VOTES, sizeof *tokens);
    latency = calloc(N_VOTES, sizeof *latency);
    if (!base || !held || !ids || !tokens || !latency) return 1;
    /* appendfsync everysec for both the votes and the INCR baseline (ops/redis.conf may say
     * always); no automatic AOF rewrite: the bench writes about 100 MB, and a rewrite (a
     * fork that copies it all) falling in one measured phase and not in another skewed
     * their ratio either way; battle hashes in the compact encoding, as ops/redis.conf
     * keeps them */
    static const char *const everysec[] = {"--appendfsync", "everysec", "--auto-aof-rewrite-percentage", "0",
                                           "--hash-max-ziplist-value", "4096", NULL};
    if (rp_start_ex(&rp, everysec, NULL) < 0) { fprintf(stderr, "bench: cannot start redis-server\n"); return 1; }

    struct evhttp *up = evhttp_new(base);
    int up_port = rp_free_port();
    evhttp_set_gencb(up, upstream_cb, NULL);
    struct evhttp_bound_socket *up_sock = evhttp_bind_socket_with_handle(up, "127.0.0.1", (ev_uint16_t)up_port);
    if (!up_sock) { fprintf(stderr, "bench: cannot bind\n"); goto out; }
    int one = 1;   /* as OpenAI-compatible servers do: each token goes out at once */
    setsockopt(evhttp_bound_socket_get_fd(up_sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    arena_port = rp_free_port();
    snprintf(cfg_path, sizeof cfg_path, "%s/arena.json", rp.dir);
    FILE *f = fopen(cfg_path, "w");
    fprintf(f, "{\"redis\": {\"url\": \"redis://127.0.0.1:%d/0\"}, \"battles\": {\"token_secret\": \"bench-secret-0123456789abcdef\"},"
               " \"limits\": {\"battles_per_minute\": 0, \"votes_per_minute\": 0, \"votes_per_day\": 0, \"health_interval\": 1},"
               " \"board\": {\"ci_method\": \"sandwich\"}, \"access_log\": \"\","
               " \"models\": [{\"name\": \"m1\", \"endpoint\": \"http://127.0.0.1:%d\"}, {\"name\": \"m2\", \"endpoint\": \"http://127.0.0.1:%d\"},"
               " {\"name\": \"m3\", \"endpoint\": \"http://127.0.0.1:%d\"}]}\n", rp.port, up_port, up_port, up_port);
    fclose(f);
    snprintf(exe, sizeof exe, "%s/arena-server", bin);
    for (int i = 0; i < CONNS; i++) slots[i].conn = arena_conn();
    start_arena(exe, cfg_path);

    /* 1. battles (the first ones one at a time, for the latency of one), then votes */
    create_body = "{\"prompt\": \"Once upon a time\"}";
    create_total = SERIAL_BATTLES;
    double t0 = now_s();
    create_next(&slots[0]);
    if (!run_until(SERIAL_BATTLES, 60)) { fprintf(stderr, "bench: battles not created in time (%d)\n", done_items); goto out; }
    printf("one battle at a time (1 connection): create + both streams to the end: %.2f ms each\n",
           (now_s() - t0) * 1e3 / SERIAL_BATTLES);
    create_total = N_VOTES;
    t0 = now_s();
    for (int i = 0; i < CONNS; i++) create_next(&slots[i]);
    if (!run_until(N_VOTES, 300)) { fprintf(stderr, "bench: battles not created in time (%d)\n", done_items); goto out; }
    printf("battles created and streamed (64 connections): %d of %d in %.2f s (%.0f battles/s)\n", ok_items, N_VOTES,
           now_s() - t0, (N_VOTES - SERIAL_BATTLES) / (now_s() - t0));
    next_item = done_items = ok_items = 0;
    t0 = now_s();
    for (int i = 0; i < CONNS; i++) vote_next(&slots[i]);
    if (!run_until(N_VOTES, 120)) { fprintf(stderr, "bench: votes not done in time\n"); goto out; }
    double secs = now_s() - t0;
    qsort(latency, N_VOTES, sizeof *latency, cmp_double);
    double votes_s = N_VOTES / secs;
    printf("votes through HTTP, libevent client (64 connections, token check, rate-limit off, vote script): %d acknowledged of %d\n", ok_items, N_VOTES);
    printf("  %.0f votes/s, p50 %.2f ms, p99 %.2f ms\n", votes_s, latency[N_VOTES / 2] * 1e3, latency[N_VOTES * 99 / 100] * 1e3);
    fflush(stdout);

    /* 1b. the same through wrk, a C client as light as redis-benchmark is (the libevent
     * client above costs the shared cores about as much as the server's vote path) */
    next_item = done_items = ok_items = 0;
    create_total = N_WRK_VOTES;
    for (int i = 0; i < CONNS; i++) create_next(&slots[i]);
    if (!run_until(N_WRK_VOTES, 300)) { fprintf(stderr, "bench: battles not created in time (%d)\n", done_items); goto out; }
    /* Rounds of 1 s, each right after its own INCR baseline: the machine's other load
     * drifts over seconds, and a ratio of two figures taken apart would carry it. */
    double round_rate[WRK_ROUNDS], round_incr[WRK_ROUNDS], round_ratio[WRK_ROUNDS], worst_p99 = 0;
    long long cpu_arena = 0, cpu_role[N_ROLES] = { 0 }, cpu_redis = 0, cpu_client = 0, sent = 0, acked = 0, refused = 0;
    long long before = redis_xlen(&rp);
    for (int r = 0; r < WRK_ROUNDS; r++) {
        char list_path[300];
        snprintf(list_path, sizeof list_path, "%s/battles-%d.txt", rp.dir, r);
        FILE *list = fopen(list_path, "w");
        for (int i = r * ROUND_BATTLES; list && i < (r + 1) * ROUND_BATTLES; i++)
            if (ids[i][0]) fprintf(list, "%s %s\n", ids[i], tokens[i]);
        if (!list || fclose(list) != 0) { fprintf(stderr, "bench: cannot write %s\n", list_path); goto out; }
        snprintf(cmd, sizeof cmd, "redis-benchmark -p %d -t incr -n 50000 -c 64 --csv 2>/dev/null", rp.port);
        round_incr[r] = popen_rate(cmd, "\"INCR\",\"");
        wrk_figures wf;
        snprintf(cmd, sizeof cmd, "wrk -t1 -c64 -d1s --latency -s %s/tests/arena/bench_votes.lua http://127.0.0.1:%d -- %s 2>/dev/null",
                 root, arena_port, list_path);
        long long role0[N_ROLES], role1[N_ROLES], arena0 = cpu_ns(arena_pid, role0), redis0 = cpu_ns(rp.pid, NULL);
        long long client0 = children_cpu_ns();
        run_wrk(cmd, &wf);
        long long arena1 = cpu_ns(arena_pid, role1), redis1 = cpu_ns(rp.pid, NULL);
        cpu_arena += arena1 - arena0;
        for (int k = 0; k < N_ROLES; k++) cpu_role[k] += role1[k] - role0[k];
        cpu_redis += redis1 - redis0;
        cpu_client += children_cpu_ns() - client0 - (long long)(wf.init_cpu_s * 1e9);
        sent += wf.requests;
        acked += wf.requests - wf.non_2xx;
        refused += wf.non_2xx;
        round_rate[r] = wf.requests > 0 ? (wf.requests - wf.non_2xx) / wf.seconds : 0;
        round_ratio[r] = round_incr[r] > 0 ? round_rate[r] / round_incr[r] : 0;
        if (wf.p99_ms > worst_p99) worst_p99 = wf.p99_ms;
        printf("  round %d: INCR %.0f/s, then votes %.0f/s (p50 %.2f ms, p99 %.2f ms): ratio %.2f%s\n",
               r + 1, round_incr[r], round_rate[r], wf.p50_ms, wf.p99_ms, round_ratio[r],
               wf.non_2xx > 0 ? " (a lower bound: the round used up its battles)" : "");
    }
    long long recorded = redis_xlen(&rp) - before;
    double wrk_s = median(round_rate, WRK_ROUNDS), incr = median(round_incr, WRK_ROUNDS);
    printf("votes through HTTP, wrk (one thread, 64 connections, %d rounds of 1 s, %d battles ready each): %lld acknowledged, %lld refused, %lld recorded in the stream\n",
           WRK_ROUNDS, ROUND_BATTLES, acked, refused, recorded);
    printf("  %.0f votes/s (median round), p99 at most %.2f ms (target p99 < 10 ms)\n", wrk_s, worst_p99);
    double done = (double)(sent > 0 ? sent : 1) * 1e3;   /* ns per vote -> microseconds */
    /* Each figure is counted in clock ticks, read a moment apart: the rest may come out a
     * tick below zero when the interval thread did nothing. */
    long long rest = cpu_arena - cpu_role[ROLE_LOOP] - cpu_role[ROLE_FEED] - cpu_role[ROLE_POINTS];
    if (rest < 0) rest = 0;
    printf("  CPU per vote: arena-server %.0f us (request loop %.0f, vote feed %.1f, point refits %.1f, intervals %.1f), "
           "redis-server %.0f us, wrk %.0f us\n",
           cpu_arena / done, cpu_role[ROLE_LOOP] / done, cpu_role[ROLE_FEED] / done, cpu_role[ROLE_POINTS] / done,
           rest / done, cpu_redis / done, cpu_client / done);
    printf("  baseline redis-benchmark INCR (64 clients, same server, appendfsync everysec as for the votes): %.0f requests/s (median round); "
           "ratio %.2f (median of the rounds' ratios; target >= 0.5); libevent client: %.2f\n",
           incr, median(round_ratio, WRK_ROUNDS), incr > 0 ? votes_s / incr : 0);
    fflush(stdout);
    double writes = vote_writes_rate(&rp);
    printf("  a vote's Redis work alone (redis-benchmark, 64 clients: read a battle hash, XADD the record, two HSETs, in one script): "
           "%.0f/s = %.2f of INCR; votes through HTTP reach %.2f of it\n",
           writes, incr > 0 ? writes / incr : 0, writes > 0 ? wrk_s / writes : 0);

    /* 2. leaderboard reads */
    rp_run_for(base, 500);
    snprintf(cmd, sizeof cmd, "wrk -t2 -c64 -d5s http://127.0.0.1:%d/api/leaderboard 2>/dev/null", arena_port);
    double reads = popen_rate(cmd, "Requests/sec:");
    printf("leaderboard reads (wrk, 64 connections, 5 s): %.0f requests/s (target >= 20000)\n", reads);

    /* 3. SSE streams held open: battles first (POST only), then every stream at once. On a
     * fresh server, whose heap has no room left by the battles above, so that its growth is
     * the streams' own. */
    kill(arena_pid, SIGTERM);
    waitpid(arena_pid, NULL, 0);
    start_arena(exe, cfg_path);
    next_item = done_items = ok_items = 0;
    create_total = N_STREAMS;
    create_then_stream = 0;
    create_body = "{\"prompt\": \"hold\"}";
    for (int i = 0; i < CONNS; i++) create_next(&slots[i]);
    if (!run_until(N_STREAMS, 120) || ok_items < N_STREAMS) {
        fprintf(stderr, "bench: stream battles not created (%d of %d)\n", ok_items, N_STREAMS);
        goto out;
    }
    rp_run_for(base, 300);
    long rss0 = rss_kb(arena_pid);
    streams = calloc(N_STREAMS, sizeof *streams);
    if (!streams) goto out;
    done_items = 0;
    for (int i = 0; i < N_STREAMS; i++) {
        stream *st = &streams[i];
        char path[96];
        sse_init(&st->p, 1 << 16);
        st->conn = arena_conn();
        struct evhttp_request *req = new_request(on_stream_done, st, NULL);
        evhttp_request_set_chunked_cb(req, on_stream_chunk);
        snprintf(path, sizeof path, "/api/battles/%s/stream", ids[i]);
        evhttp_make_request(st->conn, req, EVHTTP_REQ_GET, path);
    }
    t0 = now_s();
    long want = (long)N_STREAMS * 2 * HOLD_TOKENS;
    while (total_tokens() < want && now_s() - t0 < 120) event_base_loop(base, EVLOOP_ONCE);
    rp_run_for(base, 300);
    long rss1 = rss_kb(arena_pid), got = total_tokens();
    printf("SSE streams held open: %d (each with two upstream streams); tokens so far %ld of %ld\n", n_held / 2, got, want);
    printf("  arena-server RSS %ld KB -> %ld KB: %.1f KB per stream (target < 64 KB)\n", rss0, rss1,
           (double)(rss1 - rss0) / N_STREAMS);
    for (int i = 0; i < n_held; i++) finish_stream(held[i]);
    n_held = 0;
    run_until(N_STREAMS, 120);
    long ended = 0;
    for (int i = 0; i < N_STREAMS; i++) ended += streams[i].ends == 1 && streams[i].tokens == 2 * HOLD_TOKENS;
    printf("  after release: %ld of %d streams ended with all %d tokens; tokens lost: %ld\n", ended, N_STREAMS,
           2 * HOLD_TOKENS, want - total_tokens());
    rc = 0;
out:
    if (arena_pid > 0) { kill(arena_pid, SIGTERM); waitpid(arena_pid, NULL, 0); }
    for (int i = 0; i < CONNS; i++) if (slots[i].conn) evhttp_connection_free(slots[i].conn);
    for (int i = 0; streams && i < N_STREAMS; i++) {
        if (streams[i].conn) evhttp_connection_free(streams[i].conn);
        sse_free(&streams[i].p);
    }
    free(streams);
    evhttp_free(up);
    event_free(ticker);
    event_base_free(base);
    rp_destroy(&rp);
    return rc;
}
