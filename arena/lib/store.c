/* store.c: the vote store over hiredis async + libevent. See store.h and arena/REDIS.md. */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/sha.h>

#include "config.h"
#include "token.h"

/* ---- the scripts ---- */

/* KEYS[1] battle hash. ARGV[1] ttl, ARGV[2..] field, value, ... */
static const char SCRIPT_SAVE[] =
    "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "return 1\n";

/* Vote once, and import, in one script so both share the vote-once index.
 * KEYS[1] battle hash, KEYS[2] voted index (hash question_id -> stream id), KEYS[3] stream.
 * ARGV[1] question id, ARGV[2] "vote" or "import".
 *   vote:   ARGV[3] winner, ARGV[4] judge, ARGV[5] language, ARGV[6] tstamp ("" for Redis's
 *           clock now), ARGV[7] leak
 *   import: ARGV[3..] the record's field, value pairs, starting with model_a and model_b.
 * Returns {"ok", id, model_a, model_b}, {"already", id, model_a, model_b}, {"unknown"},
 * {"not_done"}. A vote reads the battle first: its "voted" field answers a second vote, so
 * the index is read only when the battle hash is gone (expired, or never served here). */
static const char SCRIPT_VOTE[] =
    "local function already()\n"
    "  local prev = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "  if not prev then return nil end\n"
    "  local m = redis.call('HMGET', KEYS[1], 'model_a', 'model_b')\n"
    "  return {'already', prev, m[1] or '', m[2] or ''}\n"
    "end\n"
    "local rec\n"
    "if ARGV[2] == 'vote' then\n"
    "  local b = redis.call('HMGET', KEYS[1], 'model_a', 'model_b', 'mode', 'turn',\n"
    "                       'status_a', 'status_b', 'conv_a', 'conv_b', 'leak', 'voted')\n"
    "  if not b[1] then return already() or {'unknown'} end\n"
    "  if b[10] then return {'already', b[10], b[1], b[2]} end\n"
    "  if b[5] ~= 'done' or b[6] ~= 'done' then return {'not_done'} end\n"
    "  local leak = (ARGV[7] == '1' or b[9] == '1') and 'true' or 'false'\n"
    "  local tstamp = ARGV[6]\n"
    "  if tstamp == '' then\n"
    "    local t = redis.call('TIME')\n"
    "    tstamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))\n"
    "  end\n"
    "  rec = {'question_id', ARGV[1], 'model_a', b[1], 'model_b', b[2], 'winner', ARGV[3],\n"
    "         'judge', ARGV[4], 'turn', b[4] or '1',\n"
    "         'anony', (b[3] == 'anony') and 'true' or 'false', 'language', ARGV[5],\n"
    "         'tstamp', tstamp, 'conversation_a', b[7] or '[]', 'conversation_b', b[8] or '[]',\n"
    "         'leak', leak, 'mode', b[3] or 'anony'}\n"
    "else\n"
    "  local prev = already()\n"
    "  if prev then return prev end\n"
    "  rec = {'question_id', ARGV[1], unpack(ARGV, 3)}\n"
    "end\n"
    "local id = redis.call('XADD', KEYS[3], '*', unpack(rec))\n"
    "redis.call('HSET', KEYS[2], ARGV[1], id)\n"
    "if ARGV[2] == 'vote' then redis.call('HSET', KEYS[1], 'voted', id) end\n"
    "return {'ok', id, rec[4], rec[6]}\n";

/* A sliding window, estimated from two fixed ones (a fixed window alone lets a client
 * spend its limit at the end of one window and again at the start of the next).
 * KEYS[1] this window's counter, KEYS[2] the previous one's. ARGV[1] window seconds,
 * ARGV[2] the share of the previous window still inside the sliding one, ARGV[3] limit.
 * Returns the hits in the sliding window with this one, rounded up; the hit is counted
 * only when that is within the limit, so refused hits do not extend a block. */
static const char SCRIPT_RATE[] =
    "local n = math.ceil((tonumber(redis.call('GET', KEYS[2])) or 0) * tonumber(ARGV[2]))\n"
    "        + (tonumber(redis.call('GET', KEYS[1])) or 0) + 1\n"
    "if n > tonumber(ARGV[3]) then return n end\n"
    "if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], 2 * tonumber(ARGV[1])) end\n"
    "return n\n";

enum { SC_SAVE, SC_VOTE, SC_RATE, SC_COUNT };
static const char *const script_body[SC_COUNT] = { SCRIPT_SAVE, SCRIPT_VOTE, SCRIPT_RATE };

/* ---- requests and connections ---- */

typedef struct req req;
typedef struct conn conn;

/* Completion of one command: reply NULL when the connection failed or timed out. */
typedef void (*req_done_fn)(req *r, redisReply *reply);

struct req {
    req *prev, *next;           /* in flight on c, oldest first; or the store's failing list */
    conn *c;
    req_done_fn done;
    void *cb, *ud;              /* the caller's callback (its type depends on done) */
    int script;                 /* SC_*, or -1 */
    int timeout_ms;
    int64_t sent_ms;
    int argc;
    const char **argv;          /* copies, in the same allocation as the request */
    size_t *argvlen;
    char *saved;                /* vote with WAIT: the script's answer, kept for the reply */
};

enum { CONN_IDLE, CONN_RESOLVING, CONN_CONNECTING, CONN_READY };

/* Where a connection's replies are built (see "replies" below). */
typedef struct arena_chunk {
    struct arena_chunk *next;   /* older */
    size_t used, cap;
    _Alignas(16) char data[];
} arena_chunk;

typedef struct reply_arena {
    arena_chunk *chunks;        /* newest first; the oldest is kept when the arena is reset */
} reply_arena;

struct conn {
    store *s;
    const char *name;           /* "command", "follow" */
    int state;
    redisAsyncContext *ac;      /* the master connection, or NULL */
    redisAsyncContext *sac;     /* a sentinel query in progress, or NULL */
    size_t sentinel_next;       /* the sentinel the next attempt asks */
    size_t sentinels_tried;     /* in this round */
    int backoff_ms;
    int handshake_left;         /* replies still awaited before READY */
    char host[256];
    int port;
    struct event *timer;        /* back-off, or the attempt's deadline */
    struct event *watchdog;     /* every 100 ms: does the oldest request time out? */
    req *head, *tail;
    reply_arena replies;
};

typedef struct follow {
    int running, in_flight;
    struct event *retry;        /* after an error reply: read again a second later */
    char last_id[64];
    store_records_cb cb;
    void *ud;
} follow;

struct store {
    struct event_base *base;
    char *password, *master_name, *ns;
    char **sentinels;
    size_t n_sentinels;
    int db;
    store_config cfg;           /* scalars and log hook; its strings are not used */
    char script_sha[SC_COUNT][41];
    char key_voted[96], key_votes[96];
    conn cmd, fol;
    follow follow;
    req *fail_head, *fail_tail; /* requests to fail on the next loop turn */
    struct event *fail_ev;
    store_vote_record *recbuf;  /* parsed records of one batch; grows, reused */
    size_t recbuf_cap;
    store_stats stats;
    int closing;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(store *s, const char *fmt, ...)
{
    if (!s->cfg.log) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->cfg.log(s->cfg.log_ud, msg);
}

static void list_push(req **head, req **tail, req *r)
{
    r->next = NULL;
    r->prev = *tail;
    if (*tail) (*tail)->next = r; else *head = r;
    *tail = r;
}

static void list_unlink(req **head, req **tail, req *r)
{
    if (r->prev) r->prev->next = r->next; else *head = r->next;
    if (r->next) r->next->prev = r->prev; else *tail = r->prev;
    r->prev = r->next = NULL;
}

/* One allocation: the request, its argv and argvlen arrays, and copies of the arguments. */
static req *req_new(conn *c, req_done_fn done, void *cb, void *ud, int script, int argc,
                    const char *const *argv, const size_t *argvlen)
{
    size_t bytes = sizeof(req) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < argc; i++) bytes += argvlen[i] + 1;
    req *r = calloc(1, bytes);
    if (!r) return NULL;
    r->c = c;
    r->done = done;
    r->cb = cb;
    r->ud = ud;
    r->script = script;
    r->timeout_ms = c->s->cfg.command_timeout_ms;
    r->argc = argc;
    r->argv = (const char **)(r + 1);
    r->argvlen = (size_t *)(r->argv + argc);
    char *p = (char *)(r->argvlen + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], argvlen[i]);
        p[argvlen[i]] = '\0';
        r->argv[i] = p;
        r->argvlen[i] = argvlen[i];
        p += argvlen[i] + 1;
    }
    return r;
}

static void req_free(req *r)
{
    free(r->saved);
    free(r);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* v in decimal at p, at least min_digits long (zeros in front); the end. Without printf:
 * Redis commands and vote times are written on every vote. */
static char *put_decimal(char *p, unsigned long long v, int min_digits)
{
    char digits[24];
    int k = 0;
    do digits[k++] = (char)('0' + v % 10); while ((v /= 10) || k < min_digits);
    while (k) *p++ = digits[--k];
    return p;
}

/* "<mark><n>\r\n" at p; the bytes written. */
static size_t put_count(char *p, char mark, size_t n)
{
    char *end = put_decimal(p + 1, n, 1);
    p[0] = mark;
    end[0] = '\r';
    end[1] = '\n';
    return (size_t)(end + 2 - p);
}

/* The command in RESP, written here rather than by redisFormatCommandArgv, which spends a
 * sprintf on every argument's length: on the vote path that was a seventh of the request
 * loop's instructions. Small commands are formatted on the stack. */
static int send_argv(redisAsyncContext *ac, req *r)
{
    size_t need = 24;
    for (int i = 0; i < r->argc; i++) need += r->argvlen[i] + 27;
    char small[4096], *buf = need <= sizeof small ? small : malloc(need);
    if (!buf) return -1;
    size_t n = put_count(buf, '*', (size_t)r->argc);
    for (int i = 0; i < r->argc; i++) {
        n += put_count(buf + n, '$', r->argvlen[i]);
        memcpy(buf + n, r->argv[i], r->argvlen[i]);
        n += r->argvlen[i];
        buf[n++] = '\r';
        buf[n++] = '\n';
    }
    int ok = redisAsyncFormattedCommand(ac, on_reply, r, buf, n) == REDIS_OK;
    if (buf != small) free(buf);
    return ok ? 0 : -1;
}

/* Commands written at once rather than at the loop's next turn, in bytes: about seven
 * votes. Redis so starts on a batch's first commands while the loop still parses the
 * rest, and a write still carries several. A write per command cost the request loop
 * about 4 us a vote more, and Redis a read per command; a write per loop turn left Redis
 * idle while the loop parsed its batch. */
enum { SEND_BATCH = 2048 };

/* Hands r to hiredis, or queues it to fail on the next loop turn (never calls back from
 * inside the caller's request). */
static void req_send(req *r)
{
    conn *c = r->c;
    store *s = c->s;
    int ok = 0;
    if (c->ac && !s->closing && (c->state == CONN_READY || c->handshake_left > 0)) {
        if (r->script >= 0) {
            r->argv[0] = "EVALSHA";
            r->argvlen[0] = 7;
            r->argv[1] = s->script_sha[r->script];
            r->argvlen[1] = 40;
        }
        ok = send_argv(c->ac, r) == 0;
    }
    if (ok) {
        r->sent_ms = now_ms();
        list_push(&c->head, &c->tail, r);
        /* A batch's worth (SEND_BATCH) is written now, the rest when the loop comes round
         * to the socket. Only the buffer is written here; on an error the write event
         * stays armed and the loop reports it, so no callback runs inside the caller's
         * request. Disarming the event in the same turn that armed it costs nothing. */
        int done = 0;
        if (c->state == CONN_READY && sdslen(c->ac->c.obuf) >= SEND_BATCH &&
            redisBufferWrite(&c->ac->c, &done) == REDIS_OK && done && c->ac->ev.delWrite)
            c->ac->ev.delWrite(c->ac->ev.data);
    } else {
        list_push(&s->fail_head, &s->fail_tail, r);
        event_active(s->fail_ev, EV_TIMEOUT, 0);
    }
}

/* Sends a request that only a READY connection may carry. */
static int req_submit(conn *c, req_done_fn done, void *cb, void *ud, int script, int argc,
                      const char *const *argv, const size_t *argvlen)
{
    req *r = req_new(c, done, cb, ud, script, argc, argv, argvlen);
    if (!r) return -1;
    if (c->state != CONN_READY) {
        list_push(&c->s->fail_head, &c->s->fail_tail, r);
        event_active(c->s->fail_ev, EV_TIMEOUT, 0);
        return 0;
    }
    req_send(r);
    return 0;
}

static void fail_pending(evutil_socket_t fd, short what, void *arg)
{
    store *s = arg;
    req *r;
    while ((r = s->fail_head)) {
        list_unlink(&s->fail_head, &s->fail_tail, r);
        r->done(r, NULL);
        req_free(r);
    }
}

static void conn_schedule(conn *c, int delay_ms);
static void conn_drop(conn *c, const char *why);

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    req *r = privdata;
    conn *c = r->c;
    redisReply *rep = reply;
    list_unlink(&c->head, &c->tail, r);
    if (!rep) {
        /* The connection is going away: say so now, so that requests made from the
         * callbacks below fail fast instead of landing on a dying context. */
        if (c->ac == ac) c->state = CONN_CONNECTING;
    } else if (rep->type == REDIS_REPLY_ERROR && r->script >= 0 &&
               strncmp(rep->str, "NOSCRIPT", 8) == 0 && ac == c->ac) {
        /* The script cache was flushed or this is a new master: send the body once. */
        r->argv[0] = "EVAL";
        r->argvlen[0] = 4;
        r->argv[1] = script_body[r->script];
        r->argvlen[1] = strlen(script_body[r->script]);
        if (send_argv(ac, r) == 0) {
            r->script = -1;      /* a second NOSCRIPT is impossible; no loop */
            r->sent_ms = now_ms();
            list_push(&c->head, &c->tail, r);
            return;
        }
        rep = NULL;
    } else if (rep->type == REDIS_REPLY_ERROR) {
        c->s->stats.errors++;
        logf_(c->s, "redis %s connection: error reply: %s", c->name, rep->str);
    }
    r->done(r, rep);
    req_free(r);
}

/* ---- connecting ---- */

static void handshake_done(req *r, redisReply *reply);

static void on_connect(const redisAsyncContext *cac, int status)
{
    conn *c = cac->data;
    store *s = c->s;
    if (c->ac != cac) return;
    if (status != REDIS_OK) {
        logf_(s, "redis %s connection: connect to %s:%d failed: %s", c->name, c->host, c->port,
              cac->errstr ? cac->errstr : "error");
        c->ac = NULL;          /* hiredis frees the context after this callback */
        c->state = CONN_IDLE;
        conn_schedule(c, c->backoff_ms);
        return;
    }
    s->stats.connects++;
    /* AUTH, SELECT, ROLE behind a sentinel (its answer may be stale), and SCRIPT LOAD of
     * every script (so that pipelined EVALSHAs never meet NOSCRIPT, whose EVAL retry would
     * run after the requests queued behind it): pipelined; the connection is READY when
     * each has answered as it should. */
    enum { MAX_STEPS = 3 + SC_COUNT };
    const char *argv[3];
    size_t lens[3];
    char dbtext[16];
    req *steps[MAX_STEPS];
    int n = 0;
    c->handshake_left = 0;
    if (s->password) {
        argv[0] = "AUTH"; argv[1] = s->password;
        lens[0] = 4; lens[1] = strlen(s->password);
        steps[n++] = req_new(c, handshake_done, NULL, NULL, -1, 2, argv, lens);
    }
    snprintf(dbtext, sizeof dbtext, "%d", s->db);
    argv[0] = "SELECT"; argv[1] = dbtext;
    lens[0] = 6; lens[1] = strlen(dbtext);
    steps[n++] = req_new(c, handshake_done, NULL, NULL, -1, 2, argv, lens);
    if (s->n_sentinels) {
        argv[0] = "ROLE"; lens[0] = 4;
        steps[n++] = req_new(c, handshake_done, NULL, NULL, -1, 1, argv, lens);
    }
    for (int i = 0; c == &s->cmd && i < SC_COUNT; i++) {
        argv[0] = "SCRIPT"; argv[1] = "LOAD"; argv[2] = script_body[i];
        lens[0] = 6; lens[1] = 4; lens[2] = strlen(script_body[i]);
        steps[n++] = req_new(c, handshake_done, NULL, NULL, -1, 3, argv, lens);
    }
    for (int i = 0; i < n; i++)
        if (!steps[i]) {
            for (int j = 0; j < n; j++) free(steps[j]);
            conn_drop(c, "out of memory");
            return;
        }
    c->handshake_left = n;
    for (int i = 0; i < n; i++) req_send(steps[i]);
}

static void follow_next(store *s);
static void follow_retry(evutil_socket_t fd, short what, void *arg);

static void handshake_done(req *r, redisReply *reply)
{
    conn *c = r->c;
    store *s = c->s;
    if (!reply || c->handshake_left <= 0) return;   /* the connection is already gone */
    const char *why = NULL;
    if (reply->type == REDIS_REPLY_ERROR) {
        why = reply->str;
    } else if (strcmp(r->argv[0], "ROLE") == 0) {
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
            reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "master") != 0)
            why = "not a master (stale sentinel answer)";
    } else if (strcmp(r->argv[0], "SCRIPT") == 0) {
        int known = 0;
        for (int i = 0; reply->type == REDIS_REPLY_STRING && i < SC_COUNT; i++)
            known |= strcmp(reply->str, s->script_sha[i]) == 0;
        if (!known) why = "SCRIPT LOAD answered an unexpected digest";
    }
    if (why) {
        c->handshake_left = 0;
        conn_drop(c, why);
        return;
    }
    if (--c->handshake_left > 0) return;
    evtimer_del(c->timer);
    c->state = CONN_READY;
    c->backoff_ms = s->cfg.backoff_min_ms;
    c->sentinels_tried = 0;
    logf_(s, "redis %s connection: ready on %s:%d", c->name, c->host, c->port);
    if (c == &s->fol) follow_next(s);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    conn *c = cac->data;
    store *s = c->s;
    if (c->ac != cac) return;   /* dropped on purpose; conn_drop has scheduled the retry */
    c->ac = NULL;
    c->state = CONN_IDLE;
    c->handshake_left = 0;
    s->stats.disconnects++;
    logf_(s, "redis %s connection: lost %s:%d: %s", c->name, c->host, c->port,
          cac->errstr && *cac->errstr ? cac->errstr : "closed");
    if (!s->closing) conn_schedule(c, s->cfg.backoff_min_ms);
}

/* ---- replies ----
 * hiredis builds a reply as a tree with a malloc for every object, some 40 for a vote
 * record read back by the follower, and frees them one by one. A master connection's
 * replies are built in an arena instead, reset when hiredis frees the root: hiredis parses
 * one reply at a time and frees each as soon as its callback returns, so the arena never
 * holds more than one reply (and whatever part of the next has arrived). The oldest chunk
 * is kept, so a connection's usual replies take no malloc at all. */

enum { ARENA_CHUNK = 16 * 1024, ARENA_ROOT_HEADER = 16 };

static void *arena_alloc(reply_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_chunk *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        if (!(c = malloc(sizeof *c + cap))) return NULL;
        c->next = a->chunks;
        c->used = 0;
        c->cap = cap;
        a->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void arena_reset(reply_arena *a)
{
    arena_chunk *c = a->chunks;
    while (c && c->next) {
        arena_chunk *older = c->next;
        free(c);
        c = older;
    }
    if (c) c->used = 0;
    a->chunks = c;
}

static void arena_free(reply_arena *a)
{
    arena_reset(a);
    free(a->chunks);
    a->chunks = NULL;
}

/* An object of the reply under construction, linked into its parent as hiredis's own
 * functions do. The root carries its arena in front of it, for arena_free_reply. */
static redisReply *arena_object(const redisReadTask *task, int type)
{
    reply_arena *a = task->privdata;
    char *p = arena_alloc(a, (task->parent ? 0 : ARENA_ROOT_HEADER) + sizeof(redisReply));
    if (!p) return NULL;
    if (!task->parent) {
        memcpy(p, &a, sizeof a);
        p += ARENA_ROOT_HEADER;
    }
    redisReply *r = (redisReply *)p;
    memset(r, 0, sizeof *r);
    r->type = type;
    if (task->parent) ((redisReply *)task->parent->obj)->element[task->idx] = r;
    return r;
}

static void *arena_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = arena_object(task, task->type);
    char *copy = r ? arena_alloc(task->privdata, len + 1) : NULL;
    if (!copy) return NULL;
    memcpy(copy, str, len);
    copy[len] = '\0';
    r->str = copy;
    r->len = len;
    return r;
}

static void *arena_array(const redisReadTask *task, int elements)
{
    redisReply *r = arena_object(task, REDIS_REPLY_ARRAY);
    if (r && elements > 0) {
        if (!(r->element = arena_alloc(task->privdata, (size_t)elements * sizeof *r->element))) return NULL;
        memset(r->element, 0, (size_t)elements * sizeof *r->element);
    }
    if (r) r->elements = elements > 0 ? (size_t)elements : 0;
    return r;
}

static void *arena_integer(const redisReadTask *task, long long value)
{
    redisReply *r = arena_object(task, REDIS_REPLY_INTEGER);
    if (r) r->integer = value;
    return r;
}

static void *arena_nil(const redisReadTask *task) { return arena_object(task, REDIS_REPLY_NIL); }

static void arena_free_reply(void *root)
{
    reply_arena *a;
    memcpy(&a, (char *)root - ARENA_ROOT_HEADER, sizeof a);
    arena_reset(a);
}

static redisReplyObjectFunctions arena_functions = {
    arena_string, arena_array, arena_integer, arena_nil, arena_free_reply,
};

static void conn_connect_master(conn *c)
{
    store *s = c->s;
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);
    if (!ac || ac->err) {
        logf_(s, "redis %s connection: %s:%d: %s", c->name, c->host, c->port,
              ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        c->state = CONN_IDLE;
        conn_schedule(c, c->backoff_ms);
        return;
    }
    ac->data = c;
    ac->c.reader->fn = &arena_functions;   /* the reader holds no reply yet */
    ac->c.reader->privdata = &c->replies;
    c->ac = ac;
    c->state = CONN_CONNECTING;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* The attempt's deadline: connect + handshake within the command timeout. */
    struct timeval tv = { s->cfg.command_timeout_ms / 1000, (s->cfg.command_timeout_ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
}

static void sentinel_ask(conn *c);

static void sentinel_failed(conn *c, const char *why)
{
    store *s = c->s;
    logf_(s, "redis %s connection: sentinel %s: %s", c->name,
          s->sentinels[(c->sentinel_next + s->n_sentinels - 1) % s->n_sentinels], why);
    if (++c->sentinels_tried < s->n_sentinels) {
        sentinel_ask(c);
        return;
    }
    c->sentinels_tried = 0;
    c->state = CONN_IDLE;
    conn_schedule(c, c->backoff_ms);
}

static void on_sentinel_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    conn *c = privdata;
    redisReply *r = reply;
    if (c->sac != ac) return;   /* abandoned (deadline) */
    c->sac = NULL;
    redisAsyncFree(ac);         /* deferred by hiredis until this callback returns */
    evtimer_del(c->timer);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        sentinel_failed(c, r ? (r->type == REDIS_REPLY_ERROR ? r->str : "master unknown") : "unreachable");
        return;
    }
    snprintf(c->host, sizeof c->host, "%s", r->element[0]->str);
    c->port = atoi(r->element[1]->str);
    conn_connect_master(c);
}

static void on_sentinel_disconnect(const redisAsyncContext *cac, int status)
{
    conn *c = cac->data;
    if (c->sac == cac) c->sac = NULL;
}

static void sentinel_ask(conn *c)
{
    store *s = c->s;
    const char *addr = s->sentinels[c->sentinel_next];
    c->sentinel_next = (c->sentinel_next + 1) % s->n_sentinels;
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl = (size_t)(colon - addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    redisAsyncContext *ac = redisAsyncConnect(host, atoi(colon + 1));
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac);
        sentinel_failed(c, "cannot connect");
        return;
    }
    ac->data = c;
    c->sac = ac;
    c->state = CONN_RESOLVING;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetDisconnectCallback(ac, on_sentinel_disconnect);
    redisAsyncCommand(ac, on_sentinel_reply, c, "SENTINEL get-master-addr-by-name %s", s->master_name);
    struct timeval tv = { s->cfg.command_timeout_ms / 1000, (s->cfg.command_timeout_ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
}

/* The timer: in IDLE the back-off is over (start an attempt); otherwise the attempt's
 * deadline passed. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    store *s = c->s;
    if (s->closing) return;
    if (c->state == CONN_IDLE) {
        if (s->n_sentinels) sentinel_ask(c);
        else conn_connect_master(c);
        return;
    }
    if (c->state == CONN_RESOLVING && c->sac) {
        redisAsyncContext *ac = c->sac;
        c->sac = NULL;
        redisAsyncFree(ac);
        sentinel_failed(c, "timed out");
        return;
    }
    if (c->state == CONN_CONNECTING) {
        s->stats.timeouts++;
        conn_drop(c, "connect timed out");
    }
}

static void conn_schedule(conn *c, int delay_ms)
{
    store *s = c->s;
    if (s->closing) return;
    c->state = CONN_IDLE;
    struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
    int next = c->backoff_ms * 2;
    c->backoff_ms = next > s->cfg.backoff_max_ms ? s->cfg.backoff_max_ms : next;
}

/* Closes the master connection on purpose; every pending request fails; retries later. */
static void conn_drop(conn *c, const char *why)
{
    store *s = c->s;
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->state = CONN_IDLE;
    c->handshake_left = 0;
    evtimer_del(c->timer);
    if (ac) {
        logf_(s, "redis %s connection: dropping %s:%d: %s", c->name, c->host, c->port, why);
        s->stats.disconnects++;
        redisAsyncFree(ac);    /* pending callbacks run now with a NULL reply */
    }
    if (!s->closing) conn_schedule(c, c->backoff_ms);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    if (c->head && now_ms() - c->head->sent_ms > c->head->timeout_ms) {
        c->s->stats.timeouts++;
        conn_drop(c, "command timed out");
    }
}

static int conn_init(conn *c, store *s, const char *name)
{
    c->s = s;
    c->name = name;
    c->backoff_ms = s->cfg.backoff_min_ms;
    c->timer = evtimer_new(s->base, on_timer, c);
    c->watchdog = event_new(s->base, -1, EV_PERSIST, on_watchdog, c);
    if (!c->timer || !c->watchdog) return -1;
    struct timeval tick = { 0, 100 * 1000 };
    evtimer_add(c->watchdog, &tick);
    return 0;
}

/* The first attempt, on the next loop turn (host:port unused behind sentinels). */
static void conn_start(conn *c, const char *host, int port)
{
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->state = CONN_IDLE;
    struct timeval now = { 0, 0 };
    evtimer_add(c->timer, &now);
}

static void conn_close(conn *c)
{
    if (c->sac) {
        redisAsyncContext *ac = c->sac;
        c->sac = NULL;
        redisAsyncFree(ac);
    }
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        c->state = CONN_IDLE;
        redisAsyncFree(ac);
    }
    if (c->timer) event_free(c->timer);
    if (c->watchdog) event_free(c->watchdog);
    c->timer = c->watchdog = NULL;
    arena_free(&c->replies);
}

/* ---- lifecycle ---- */

const char *store_status_name(store_status st)
{
    static const char *const names[] = { "ok", "already", "unknown", "not_done", "denied", "unavailable" };
    return (unsigned)st < sizeof names / sizeof *names ? names[st] : "?";
}

void store_config_default(store_config *c)
{
    memset(c, 0, sizeof *c);
    c->url = "redis://127.0.0.1:6379/0";
    c->master_name = "arena";
    c->ns = "a";
    c->command_timeout_ms = 2000;
    c->backoff_min_ms = 50;
    c->backoff_max_ms = 2000;
    c->follow_block_ms = 1000;
    c->follow_count = 512;
    c->follow_pause_ms = 50;
    c->connections = STORE_COMMANDS | STORE_FOLLOWER;
    c->wait_timeout_ms = 100;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void sha1_hex(const char *text, char out[41])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)text, strlen(text), md);
    btok_hex(md, SHA_DIGEST_LENGTH, out);
}

static int valid_ns(const char *ns)
{
    size_t n = strlen(ns);
    if (n == 0 || n > 32) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)ns[i]) && ns[i] != '_' && ns[i] != '-') return 0;
    return 1;
}

store *store_new(struct event_base *base, const store_config *cfg, char *err, size_t errlen)
{
    store_config def;
    if (!cfg) {
        store_config_default(&def);
        cfg = &def;
    }
    char host[256], password[256];
    int port, db;
    const char *url = cfg->url ? cfg->url : "redis://127.0.0.1:6379/0";
    if (cfg_parse_redis_url(url, host, sizeof host, &port, &db, password, sizeof password, err, errlen) < 0)
        return NULL;
    const char *ns = cfg->ns ? cfg->ns : "a";
    if (!valid_ns(ns)) {
        snprintf(err, errlen, "bad key namespace \"%s\" (1-32 of [A-Za-z0-9_-])", ns);
        return NULL;
    }
    if (cfg->command_timeout_ms <= 0 || cfg->backoff_min_ms <= 0 || cfg->backoff_max_ms < cfg->backoff_min_ms ||
        cfg->follow_block_ms <= 0 || cfg->follow_count <= 0 || cfg->follow_pause_ms < 0 || cfg->wait_replicas < 0 ||
        !cfg->connections || (cfg->connections & ~(STORE_COMMANDS | STORE_FOLLOWER))) {
        snprintf(err, errlen, "bad store timing options");
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_sentinels; i++) {
        const char *a = cfg->sentinels[i], *colon = a ? strrchr(a, ':') : NULL;
        if (!colon || colon == a || (size_t)(colon - a) >= 256 || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
            snprintf(err, errlen, "bad sentinel address \"%s\" (expected host:port)", a ? a : "(null)");
            return NULL;
        }
    }
    store *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->base = base;
    s->cfg = *cfg;
    s->cfg.url = NULL;
    s->db = db;
    s->ns = strdup(ns);
    s->master_name = strdup(cfg->master_name ? cfg->master_name : "arena");
    const char *pw = cfg->password && *cfg->password ? cfg->password : *password ? password : NULL;
    if (!s->ns || !s->master_name || (pw && !(s->password = strdup(pw)))) goto nomem;
    if (cfg->n_sentinels) {
        s->sentinels = calloc(cfg->n_sentinels, sizeof *s->sentinels);
        if (!s->sentinels) goto nomem;
        s->n_sentinels = cfg->n_sentinels;
        for (size_t i = 0; i < cfg->n_sentinels; i++)
            if (!(s->sentinels[i] = dup_or_null(cfg->sentinels[i]))) goto nomem;
    }
    for (int i = 0; i < SC_COUNT; i++) sha1_hex(script_body[i], s->script_sha[i]);
    snprintf(s->key_voted, sizeof s->key_voted, "arena:{%s}:voted", s->ns);
    snprintf(s->key_votes, sizeof s->key_votes, "arena:{%s}:votes", s->ns);
    s->fail_ev = event_new(base, -1, 0, fail_pending, s);
    s->follow.retry = evtimer_new(base, follow_retry, s);
    if (!s->fail_ev || !s->follow.retry || conn_init(&s->cmd, s, "command") < 0 || conn_init(&s->fol, s, "follow") < 0)
        goto nomem;
    if (cfg->connections & STORE_COMMANDS) conn_start(&s->cmd, host, port);
    if (cfg->connections & STORE_FOLLOWER) conn_start(&s->fol, host, port);
    return s;
nomem:
    snprintf(err, errlen, "out of memory");
    store_free(s);
    return NULL;
}

void store_free(store *s)
{
    if (!s) return;
    s->closing = 1;
    s->follow.running = 0;
    conn_close(&s->cmd);
    conn_close(&s->fol);
    if (s->fail_ev) {
        fail_pending(-1, 0, s);
        event_free(s->fail_ev);
    }
    if (s->follow.retry) event_free(s->follow.retry);
    for (size_t i = 0; i < s->n_sentinels; i++) free(s->sentinels[i]);
    free(s->sentinels);
    free(s->password);
    free(s->master_name);
    free(s->ns);
    free(s->recbuf);
    free(s);
}

int store_ready(const store *s)
{
    return s->cmd.state == CONN_READY;
}

void store_get_stats(const store *s, store_stats *out)
{
    *out = s->stats;
}

/* ---- argument lists ---- */

#define MAX_ARGS 40

typedef struct args {
    int n;
    const char *v[MAX_ARGS];
    size_t len[MAX_ARGS];
    char nums[8][32];           /* text of numeric arguments */
    int n_nums;
} args;

static void arg(args *a, const char *s)
{
    a->v[a->n] = s;
    a->len[a->n++] = strlen(s);
}

static void argf(args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void argf(args *a, const char *fmt, ...)
{
    char *buf = a->nums[a->n_nums++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof a->nums[0], fmt, ap);
    va_end(ap);
    arg(a, buf);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds with six decimals (what "%.6f" writes, but for a last digit of an exact tie),
 * without printf's floating-point path; NAN is now. */
static void arg_time(args *a, double t)
{
    if (!isfinite(t)) t = wall_now();
    if (!(t >= 0 && t < 1e12)) { argf(a, "%.6f", t); return; }
    double whole = floor(t);
    unsigned long long us = (unsigned long long)whole * 1000000ULL + (unsigned long long)llround((t - whole) * 1e6);
    char *buf = a->nums[a->n_nums++], *p = put_decimal(buf, us / 1000000, 1);
    *p++ = '.';
    *put_decimal(p, us % 1000000, 6) = '\0';
    arg(a, buf);
}

/* EVALSHA <sha> <numkeys>: the sha is filled in by req_send. */
static void arg_script(args *a, int nkeys)
{
    arg(a, "EVALSHA");
    arg(a, "");
    argf(a, "%d", nkeys);
}

static int valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '_' && id[i] != '-') return 0;
    return 1;
}

/* arena:{ns}:battle:id, cut short at outlen (ids are checked short beforehand); written
 * without printf, as it is on every vote. */
static void battle_key(const store *s, const char *id, char *out, size_t outlen)
{
    const char *parts[] = {"arena:{", s->ns, "}:battle:", id};
    size_t pos = 0;
    for (size_t i = 0; i < 4 && outlen; i++) {
        size_t n = strlen(parts[i]);
        if (n > outlen - 1 - pos) n = outlen - 1 - pos;
        memcpy(out + pos, parts[i], n);
        pos += n;
    }
    if (outlen) out[pos] = '\0';
}

/* ---- battles ---- */

static const char *side_name(store_side st)
{
    return st == STORE_SIDE_DONE ? "done" : st == STORE_SIDE_ERROR ? "error" : "streaming";
}

static store_side side_parse(const char *s)
{
    return strcmp(s, "done") == 0 ? STORE_SIDE_DONE : strcmp(s, "error") == 0 ? STORE_SIDE_ERROR
                                                                              : STORE_SIDE_STREAMING;
}

static void save_done(req *r, redisReply *reply)
{
    store_done_cb cb = (store_done_cb)r->cb;
    if (cb) cb(r->ud, reply && reply->type == REDIS_REPLY_INTEGER ? STORE_OK : STORE_UNAVAILABLE);
}

int store_battle_save(store *s, const char *id, const store_battle *b, int ttl_s,
                      store_done_cb cb, void *ud)
{
    if (!valid_id(id) || !b || !b->model_a || !b->model_b || ttl_s <= 0) return -1;
    char key[128];
    battle_key(s, id, key, sizeof key);
    args a = { 0 };
    arg_script(&a, 1);
    arg(&a, key);
    argf(&a, "%d", ttl_s);
    arg(&a, "model_a"); arg(&a, b->model_a);
    arg(&a, "model_b"); arg(&a, b->model_b);
    arg(&a, "mode"); arg(&a, b->anony ? "anony" : "named");
    arg(&a, "tstamp"); arg_time(&a, b->tstamp);
    arg(&a, "turn"); argf(&a, "%d", b->turn);
    arg(&a, "status_a"); arg(&a, side_name(b->status_a));
    arg(&a, "status_b"); arg(&a, side_name(b->status_b));
    arg(&a, "conv_a"); arg(&a, b->conv_a ? b->conv_a : "[]");
    arg(&a, "conv_b"); arg(&a, b->conv_b ? b->conv_b : "[]");
    arg(&a, "voter"); arg(&a, b->voter ? b->voter : "");
    arg(&a, "leak"); arg(&a, b->leak ? "1" : "0");
    return req_submit(&s->cmd, save_done, (void *)cb, ud, SC_SAVE, a.n, a.v, a.len);
}

static void load_done(req *r, redisReply *reply)
{
    store_battle_cb cb = (store_battle_cb)r->cb;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        cb(r->ud, STORE_UNAVAILABLE, NULL);
        return;
    }
    if (reply->elements == 0) {
        cb(r->ud, STORE_UNKNOWN, NULL);
        return;
    }
    store_battle b = { .anony = 1, .tstamp = NAN, .conv_a = "[]", .conv_b = "[]", .voter = "" };
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *f = reply->element[i]->str, *v = reply->element[i + 1]->str;
        if (!f || !v) continue;
        if (!strcmp(f, "model_a")) b.model_a = v;
        else if (!strcmp(f, "model_b")) b.model_b = v;
        else if (!strcmp(f, "mode")) b.anony = strcmp(v, "named") != 0;
        else if (!strcmp(f, "tstamp")) b.tstamp = strtod(v, NULL);
        else if (!strcmp(f, "turn")) b.turn = atoi(v);
        else if (!strcmp(f, "status_a")) b.status_a = side_parse(v);
        else if (!strcmp(f, "status_b")) b.status_b = side_parse(v);
        else if (!strcmp(f, "conv_a")) b.conv_a = v;
        else if (!strcmp(f, "conv_b")) b.conv_b = v;
        else if (!strcmp(f, "voter")) b.voter = v;
        else if (!strcmp(f, "leak")) b.leak = !strcmp(v, "1");
        else if (!strcmp(f, "voted")) b.voted = v;
    }
    if (!b.model_a || !b.model_b) {   /* a hash someone else wrote: not ours */
        cb(r->ud, STORE_UNKNOWN, NULL);
        return;
    }
    cb(r->ud, STORE_OK, &b);
}

int store_battle_load(store *s, const char *id, store_battle_cb cb, void *ud)
{
    if (!valid_id(id) || !cb) return -1;
    char key[128];
    battle_key(s, id, key, sizeof key);
    args a = { 0 };
    arg(&a, "HGETALL");
    arg(&a, key);
    return req_submit(&s->cmd, load_done, (void *)cb, ud, -1, a.n, a.v, a.len);
}

/* ---- votes ---- */

static int valid_winner(const char *w)
{
    return w && (!strcmp(w, "model_a") || !strcmp(w, "model_b") || !strcmp(w, "tie") ||
                 !strcmp(w, "tie (bothbad)"));
}

/* The script's answer: status and, for ok/already, id and both model names. */
static store_status vote_reply(redisReply *reply, store_vote_result *res)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return STORE_UNAVAILABLE;
    const char *what = reply->element[0]->str;
    if (!strcmp(what, "unknown")) return STORE_UNKNOWN;
    if (!strcmp(what, "not_done")) return STORE_NOT_DONE;
    if (reply->elements < 4) return STORE_UNAVAILABLE;
    res->stream_id = reply->element[1]->str;
    res->model_a = reply->element[2]->str;
    res->model_b = reply->element[3]->str;
    if (!res->stream_id || !res->model_a || !res->model_b) return STORE_UNAVAILABLE;
    return !strcmp(what, "ok") ? STORE_OK : !strcmp(what, "already") ? STORE_ALREADY : STORE_UNAVAILABLE;
}

/* After WAIT: the saved answer is "id\0model_a\0model_b\0". */
static void vote_wait_done(req *r, redisReply *reply)
{
    store *s = r->c->s;
    store_vote_cb cb = (store_vote_cb)r->cb;
    if (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer < s->cfg.wait_replicas) {
        if (reply) logf_(s, "vote %s: only %lld of %d replicas acknowledged", r->saved,
                         reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1LL, s->cfg.wait_replicas);
        cb(r->ud, STORE_UNAVAILABLE, NULL);
        return;
    }
    store_vote_result res;
    res.stream_id = r->saved;
    res.model_a = res.stream_id + strlen(res.stream_id) + 1;
    res.model_b = res.model_a + strlen(res.model_a) + 1;
    s->stats.votes_recorded++;
    cb(r->ud, STORE_OK, &res);
}

static void vote_done(req *r, redisReply *reply)
{
    store *s = r->c->s;
    store_vote_cb cb = (store_vote_cb)r->cb;
    store_vote_result res = { 0 };
    store_status st = vote_reply(reply, &res);
    if (st == STORE_OK && s->cfg.wait_replicas > 0) {
        args a = { 0 };
        arg(&a, "WAIT");
        argf(&a, "%d", s->cfg.wait_replicas);
        argf(&a, "%d", s->cfg.wait_timeout_ms);
        req *w = req_new(r->c, vote_wait_done, r->cb, r->ud, -1, a.n, a.v, a.len);
        size_t l1 = strlen(res.stream_id) + 1, l2 = strlen(res.model_a) + 1, l3 = strlen(res.model_b) + 1;
        if (w && (w->saved = malloc(l1 + l2 + l3))) {
            memcpy(w->saved, res.stream_id, l1);
            memcpy(w->saved + l1, res.model_a, l2);
            memcpy(w->saved + l1 + l2, res.model_b, l3);
            w->timeout_ms += s->cfg.wait_timeout_ms;
            req_send(w);
            return;
        }
        free(w);
        st = STORE_UNAVAILABLE;
    }
    if (st == STORE_OK) s->stats.votes_recorded++;
    cb(r->ud, st, st == STORE_OK || st == STORE_ALREADY ? &res : NULL);
}

int store_vote(store *s, const store_vote_req *q, store_vote_cb cb, void *ud)
{
    if (!q || !valid_id(q->battle_id) || !valid_winner(q->winner) || !cb) return -1;
    char key[128];
    battle_key(s, q->battle_id, key, sizeof key);
    args a = { 0 };
    arg_script(&a, 3);
    arg(&a, key);
    arg(&a, s->key_voted);
    arg(&a, s->key_votes);
    arg(&a, q->battle_id);
    arg(&a, "vote");
    arg(&a, q->winner);
    arg(&a, q->judge ? q->judge : "arena_user");
    arg(&a, q->language ? q->language : "unknown");
    if (isfinite(q->tstamp)) arg_time(&a, q->tstamp);
    else arg(&a, "");   /* the script reads Redis's clock: one clock for every server, in stream order */
    arg(&a, q->leak ? "1" : "0");
    return req_submit(&s->cmd, vote_done, (void *)cb, ud, SC_VOTE, a.n, a.v, a.len);
}

static void import_done(req *r, redisReply *reply)
{
    store_done_cb cb = (store_done_cb)r->cb;
    store_vote_result res;
    store_status st = vote_reply(reply, &res);
    if (st != STORE_OK && st != STORE_ALREADY) st = STORE_UNAVAILABLE;
    if (cb) cb(r->ud, st);
}

static void sha256_hex16(const char *text, char out[17])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), md);
    btok_hex(md, 8, out);
}

int store_import_vote(store *s, const store_vote_record *rec, store_done_cb cb, void *ud)
{
    if (!rec || !rec->model_a || !*rec->model_a || !rec->model_b || !*rec->model_b ||
        !valid_winner(rec->winner))
        return -1;
    char tstamp[32] = "", turn[16], derived[24], battle[160];
    if (isfinite(rec->tstamp)) snprintf(tstamp, sizeof tstamp, "%.6f", rec->tstamp);
    snprintf(turn, sizeof turn, "%d", rec->turn > 0 ? rec->turn : 1);
    const char *qid = rec->question_id;
    if (!qid || !*qid) {
        char *text;
        if (asprintf(&text, "%s\n%s\n%s\n%s\n%s\n%s", rec->model_a, rec->model_b, rec->winner,
                     rec->judge ? rec->judge : "", tstamp, turn) < 0)
            return -1;
        char hex[17];
        sha256_hex16(text, hex);
        free(text);
        snprintf(derived, sizeof derived, "imp-%s", hex);
        qid = derived;
    }
    if (strlen(qid) > 128) return -1;
    snprintf(battle, sizeof battle, "arena:{%s}:battle:%s", s->ns, qid);
    args a = { 0 };
    arg_script(&a, 3);
    arg(&a, battle);
    arg(&a, s->key_voted);
    arg(&a, s->key_votes);
    arg(&a, qid);
    arg(&a, "import");
    arg(&a, "model_a"); arg(&a, rec->model_a);
    arg(&a, "model_b"); arg(&a, rec->model_b);
    arg(&a, "winner"); arg(&a, rec->winner);
    arg(&a, "judge"); arg(&a, rec->judge ? rec->judge : "");
    arg(&a, "turn"); arg(&a, turn);
    arg(&a, "anony"); arg(&a, rec->anony ? "true" : "false");
    arg(&a, "language"); arg(&a, rec->language ? rec->language : "unknown");
    if (*tstamp) { arg(&a, "tstamp"); arg(&a, tstamp); }
    arg(&a, "conversation_a"); arg(&a, rec->conversation_a ? rec->conversation_a : "[]");
    arg(&a, "conversation_b"); arg(&a, rec->conversation_b ? rec->conversation_b : "[]");
    arg(&a, "leak"); arg(&a, rec->leak ? "true" : "false");
    arg(&a, "mode"); arg(&a, rec->anony ? "anony" : "named");
    return req_submit(&s->cmd, import_done, (void *)cb, ud, SC_VOTE, a.n, a.v, a.len);
}

char *store_judge(const char *ip, const char *salt, char *out, size_t outlen)
{
    char *text, hex[17];
    if (asprintf(&text, "%s%s", salt ? salt : "", ip ? ip : "") < 0) {
        snprintf(out, outlen, "arena_user");
        return out;
    }
    sha256_hex16(text, hex);
    free(text);
    snprintf(out, outlen, "arena_user_%s", hex);
    return out;
}

const char *store_guess_language(const char *text)
{
    size_t ascii = 0, other = 0;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        if (isalpha(*p)) ascii++;
        else if (*p >= 0xC0) other++;   /* the lead byte of a non-ASCII UTF-8 character */
    }
    return ascii > 0 && ascii >= 9 * other ? "English" : "unknown";
}

/* ---- reading the stream ---- */

static int is_true(const char *v)
{
    return !strcmp(v, "true") || !strcmp(v, "1");
}

/* One stream entry [id, [field, value, ...]] into rec (pointers into the reply). */
static int parse_entry(const redisReply *e, store_vote_record *rec)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    *rec = (store_vote_record){ .id = e->element[0]->str, .tstamp = NAN, .anony = 1, .turn = 1,
                                .language = "unknown", .judge = "", .question_id = "",
                                .conversation_a = "[]", .conversation_b = "[]" };
    const redisReply *kv = e->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        const char *f = kv->element[i]->str, *v = kv->element[i + 1]->str;
        if (!f || !v) continue;
        /* By length first: the follower reads every field of every vote. */
        switch (kv->element[i]->len) {
        case 4:
            if (!memcmp(f, "turn", 4)) rec->turn = atoi(v);
            else if (!memcmp(f, "leak", 4)) rec->leak = is_true(v);
            break;
        case 5:
            if (!memcmp(f, "judge", 5)) rec->judge = v;
            else if (!memcmp(f, "anony", 5)) rec->anony = is_true(v);
            break;
        case 6:
            if (!memcmp(f, "winner", 6)) rec->winner = v;
            else if (!memcmp(f, "tstamp", 6)) rec->tstamp = *v ? strtod(v, NULL) : NAN;
            break;
        case 7:
            if (!memcmp(f, "model_a", 7)) rec->model_a = v;
            else if (!memcmp(f, "model_b", 7)) rec->model_b = v;
            break;
        case 8:
            if (!memcmp(f, "language", 8)) rec->language = v;
            break;
        case 11:
            if (!memcmp(f, "question_id", 11)) rec->question_id = v;
            break;
        case 14:
            if (!memcmp(f, "conversation_a", 14)) rec->conversation_a = v;
            else if (!memcmp(f, "conversation_b", 14)) rec->conversation_b = v;
            break;
        }
    }
    return rec->model_a && rec->model_b && rec->winner ? 0 : -1;
}

/* Parses the entries of an XRANGE reply into s->recbuf; entries not ours are skipped. */
static int parse_entries(store *s, const redisReply *list, size_t *n_out)
{
    if (list->elements > s->recbuf_cap) {
        store_vote_record *nb = realloc(s->recbuf, list->elements * sizeof *nb);
        if (!nb) return -1;
        s->recbuf = nb;
        s->recbuf_cap = list->elements;
    }
    size_t n = 0;
    for (size_t i = 0; i < list->elements; i++)
        if (parse_entry(list->element[i], &s->recbuf[n]) == 0) n++;
    *n_out = n;
    return 0;
}

static void follow_done(req *r, redisReply *reply)
{
    store *s = r->c->s;
    follow *f = &s->follow;
    f->in_flight = 0;
    if (!f->running) return;
    if (!reply || (reply->type != REDIS_REPLY_ARRAY && reply->type != REDIS_REPLY_NIL)) {
        f->cb(f->ud, STORE_UNAVAILABLE, NULL, 0);
        if (reply && f->running) {   /* an error reply on a live connection: try again later */
            struct timeval later = { 1, 0 };
            evtimer_add(f->retry, &later);
        }
        return;   /* otherwise it resumes when the follow connection is ready again */
    }
    const redisReply *entries = NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
        entries = reply->element[0]->element[1];
    if (entries && entries->type == REDIS_REPLY_ARRAY && entries->elements) {
        size_t n;
        if (parse_entries(s, entries, &n) < 0) {
            f->cb(f->ud, STORE_UNAVAILABLE, NULL, 0);
            return;
        }
        /* The last entry's id even when it was not one of ours, so it is not read again. */
        const redisReply *last = entries->element[entries->elements - 1];
        if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1 && last->element[0]->str)
            snprintf(f->last_id, sizeof f->last_id, "%s", last->element[0]->str);
        if (n) f->cb(f->ud, STORE_OK, s->recbuf, n);
        if (f->running && entries->elements < (size_t)s->cfg.follow_count && s->cfg.follow_pause_ms > 0) {
            struct timeval pause = { s->cfg.follow_pause_ms / 1000, (s->cfg.follow_pause_ms % 1000) * 1000 };
            evtimer_add(f->retry, &pause);
            return;
        }
    }
    if (f->running) follow_next(s);
}

static void follow_retry(evutil_socket_t fd, short what, void *arg)
{
    follow_next(arg);
}

static void follow_next(store *s)
{
    follow *f = &s->follow;
    if (!f->running || f->in_flight || s->fol.state != CONN_READY) return;
    args a = { 0 };
    arg(&a, "XREAD");
    arg(&a, "COUNT");
    argf(&a, "%d", s->cfg.follow_count);
    arg(&a, "BLOCK");
    argf(&a, "%d", s->cfg.follow_block_ms);
    arg(&a, "STREAMS");
    arg(&a, s->key_votes);
    arg(&a, f->last_id);
    req *r = req_new(&s->fol, follow_done, NULL, NULL, -1, a.n, a.v, a.len);
    if (!r) return;
    r->timeout_ms += s->cfg.follow_block_ms;
    f->in_flight = 1;
    req_send(r);
}

static int valid_stream_id(const char *id)
{
    if (!strcmp(id, "$")) return 1;
    size_t n = strlen(id);
    if (n == 0 || n > 40) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)id[i]) && id[i] != '-') return 0;
    return 1;
}

int store_follow_votes(store *s, const char *from_id, store_records_cb cb, void *ud)
{
    follow *f = &s->follow;
    if (f->running || !cb || !from_id || !valid_stream_id(from_id)) return -1;
    f->running = 1;
    f->cb = cb;
    f->ud = ud;
    snprintf(f->last_id, sizeof f->last_id, "%s", from_id);
    follow_next(s);
    return 0;
}

void store_follow_stop(store *s)
{
    s->follow.running = 0;
    evtimer_del(s->follow.retry);
}

static void scan_done(req *r, redisReply *reply)
{
    store *s = r->c->s;
    store_records_cb cb = (store_records_cb)r->cb;
    size_t n;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || parse_entries(s, reply, &n) < 0) {
        cb(r->ud, STORE_UNAVAILABLE, NULL, 0);
        return;
    }
    cb(r->ud, STORE_OK, s->recbuf, n);
}

int store_scan_votes(store *s, const char *after_id, size_t count, store_records_cb cb, void *ud)
{
    if (!cb || count == 0 || count > 100000) return -1;
    char start[48] = "-";
    if (after_id && *after_id) {
        if (!valid_stream_id(after_id) || !strcmp(after_id, "$")) return -1;
        snprintf(start, sizeof start, "(%s", after_id);
    }
    args a = { 0 };
    arg(&a, "XRANGE");
    arg(&a, s->key_votes);
    arg(&a, start);
    arg(&a, "+");
    arg(&a, "COUNT");
    argf(&a, "%zu", count);
    return req_submit(&s->cmd, scan_done, (void *)cb, ud, -1, a.n, a.v, a.len);
}

/* ---- rate limits ---- */

static void rate_done(req *r, redisReply *reply)
{
    store_rate_cb cb = (store_rate_cb)r->cb;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        cb(r->ud, STORE_UNAVAILABLE, 0);
        return;
    }
    /* The limit travels in the request: its last argument. */
    long long limit = atoll(r->argv[r->argc - 1]);
    cb(r->ud, reply->integer <= limit ? STORE_OK : STORE_DENIED, reply->integer);
}

int store_rate_hit(store *s, const char *key, int window_s, long long limit, store_rate_cb cb, void *ud)
{
    if (!key || !*key || strlen(key) > 200 || window_s <= 0 || limit < 0 || !cb) return -1;
    double now = wall_now();
    long long window = (long long)(now / window_s);
    double prev_share = 1.0 - (now - (double)window * window_s) / window_s;
    char cur[300], prev[300];
    snprintf(cur, sizeof cur, "arena:%s:rl:{%s}:%lld", s->ns, key, window);
    snprintf(prev, sizeof prev, "arena:%s:rl:{%s}:%lld", s->ns, key, window - 1);
    args a = { 0 };
    arg_script(&a, 2);
    arg(&a, cur);
    arg(&a, prev);
    argf(&a, "%d", window_s);
    argf(&a, "%.6f", prev_share < 0 ? 0 : prev_share > 1 ? 1 : prev_share);
    argf(&a, "%lld", limit);   /* last: read back by rate_done */
    return req_submit(&s->cmd, rate_done, (void *)cb, ud, SC_RATE, a.n, a.v, a.len);
}
