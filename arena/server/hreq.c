/* hreq.c: HTTP/1.1 connections; see hreq.h.
 *
 * A connection is in one of four states: reading a request (C_HEAD), serving one (C_BUSY:
 * the handler holds it), writing its last reply before closing (C_CLOSING), or draining
 * what the client still sends after that reply (C_LINGER: closing at once would reset
 * the connection and could destroy the reply in flight). Requests are served one at a
 * time; pipelined ones wait in the input buffer.
 *
 * A plain connection is a socket with two events: reads are made as data arrives, a
 * reply is written with one writev in the call that makes it, and the write event is
 * armed only when the socket would block. A TLS connection is an OpenSSL bufferevent
 * whose own buffers serve as the connection's.
 *
 * Calls into a connection (its events, and the reply functions handlers call) may close
 * it; the memory is released when the outermost such call returns (enter/leave). A reply
 * function never closes the connection of a request still being served: a failed write
 * marks it broken, and the close (with the gone callback) comes from the loop, so a
 * handler can finish what it is doing with the request. */
#include "hreq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE 16384
#define SMALL_READ 900           /* with the chain's header, within a 1 KB allocation */
#define LINGER_SECONDS 2
#define REPLY_FIELDS 1024        /* bytes of fields a handler may add to one reply */
#define OUT_HIGH 65536           /* replies not yet written before the next request waits */

typedef enum { C_HEAD, C_BUSY, C_CLOSING, C_LINGER } conn_state;

typedef struct conn conn;

struct hreq {
    conn *c;
    h1_request head;             /* slices into c->head, each NUL-terminated */
    int refused;
    const char *why;
    const char *query;           /* NULL when the target has no '?' */
    const char *body;
    size_t body_len;
    int keep_alive;              /* the connection stays open after this reply */
    int chunked;                 /* a streamed reply, chunked (else ended by the close) */
    hreq_callback gone, flushed;
    void *gone_arg, *flushed_arg;
    size_t n_fields;
    char fields[REPLY_FIELDS];
};

struct conn {
    hreq_server *srv;
    evutil_socket_t fd;
    struct bufferevent *tls;     /* TLS connections only */
    struct event *rd, *wr;       /* plain connections only */
    struct event *timer;         /* request deadline, keep-alive idle, linger */
    struct evbuffer *in, *out;   /* plain: the connection's own; TLS: the bufferevent's */
    struct evbuffer *reply;      /* hreq_output */
    conn_state state;
    int head_started;            /* bytes of the next request arrived: its deadline runs */
    int eof;                     /* the client has finished sending */
    int paused;                  /* reading stopped: enough is buffered (plain) */
    int blocked;                 /* the next request waits until the replies are written */
    int broken;                  /* a write failed: the loop closes the connection */
    int continued;               /* "100 Continue" sent for the request being read */
    int processing;              /* process() is on the stack */
    int depth, dead;             /* calls in progress; closed, to be freed when depth is 0 */
    char *head;                  /* the head being read or served, copied out of in */
    size_t head_cap;
    char *body;                  /* its body (chunked: decoded) */
    size_t body_cap;
    char peer[INET6_ADDRSTRLEN];
    conn *prev, *next;
    hreq req;
};

struct hreq_server {
    struct evconnlistener *listener;
    SSL_CTX *tls;
    hreq_limits lim;
    size_t max_buffered;         /* input held while a request is served; past it, reading stops */
    hreq_handler on_request;
    void *arg;
    conn *conns;
    uint64_t slow_clients;
    char too_large[64];
    time_t date_at;
    char date[40];
};

const char *hreq_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 425: return "Too Early";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:  return status < 400 ? "OK" : "Error";
    }
}

static struct timeval seconds_tv(double s)
{
    return (struct timeval){ (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };
}

static void arm(conn *c, double seconds)
{
    struct timeval tv = seconds_tv(seconds);
    evtimer_add(c->timer, &tv);
}

/* ---- closing ---- */

static void conn_free(conn *c)
{
    if (c->rd) event_free(c->rd);
    if (c->wr) event_free(c->wr);
    if (c->timer) event_free(c->timer);
    if (c->tls) {
        bufferevent_free(c->tls);
    } else {
        if (c->in) evbuffer_free(c->in);
        if (c->out) evbuffer_free(c->out);
        if (c->fd >= 0) evutil_closesocket(c->fd);
    }
    if (c->reply) evbuffer_free(c->reply);
    free(c->head);
    free(c->body);
    free(c);
}

/* Runs the callback in *slot, if any, once: the slot is cleared first. */
static void fire(hreq *r, hreq_callback *slot, void *arg)
{
    hreq_callback cb = *slot;
    *slot = NULL;
    if (cb) cb(r, arg);
}

/* Stops the connection and tells the handler, if it holds a request; the memory goes when
 * the outermost call returns. */
static void conn_close(conn *c)
{
    if (c->dead) return;
    c->dead = 1;
    if (c->rd) event_del(c->rd);
    if (c->wr) event_del(c->wr);
    evtimer_del(c->timer);
    if (c->tls) bufferevent_disable(c->tls, EV_READ | EV_WRITE);
    if (c->prev) c->prev->next = c->next;
    else c->srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->state != C_BUSY) return;
    fire(&c->req, &c->req.gone, c->req.gone_arg);
    fire(&c->req, &c->req.flushed, c->req.flushed_arg);
}

static void enter(conn *c) { c->depth++; }
static void leave(conn *c)
{
    if (--c->depth == 0 && c->dead) conn_free(c);
}

/* Reading stops while enough input waits (plain sockets; TLS: the read watermark). */
static void pause_reading(conn *c)
{
    if (c->tls || c->paused) return;
    event_del(c->rd);
    c->paused = 1;
}

static void resume_reading(conn *c)
{
    if (c->paused && !c->eof) event_add(c->rd, NULL);
    c->paused = 0;
}

/* ---- writing ---- */

static void process(conn *c);

static void written(conn *c);

/* Writes what the output holds now (plain), or leaves it to the bufferevent (TLS). A
 * waiting flushed callback, or the close after the last reply, then runs from the loop. */
static void flush(conn *c)
{
    if (c->dead) return;
    int notify = c->req.flushed || c->state == C_CLOSING || c->blocked;
    if (c->tls) {
        if (notify && evbuffer_get_length(c->out) == 0)
            bufferevent_trigger(c->tls, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
        return;
    }
    if (c->broken) return;
    if (evbuffer_get_length(c->out) && evbuffer_write(c->out, c->fd) < 0 && errno != EAGAIN && errno != EINTR) {
        c->broken = 1;
        event_active(c->wr, EV_WRITE, 1);
        return;
    }
    if (evbuffer_get_length(c->out)) {
        /* Armed once per wait: more chunks for a client that does not read must not
         * push its deadline back. */
        struct timeval tv = seconds_tv(c->srv->lim.idle_timeout);
        if (!event_pending(c->wr, EV_WRITE, NULL)) event_add(c->wr, &tv);
    } else if (notify) {
        event_active(c->wr, EV_WRITE, 1);
    }
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    enter(c);
    if ((what & EV_TIMEOUT) || c->broken) {
        conn_close(c);          /* the client stopped reading, or is gone */
    } else if (evbuffer_get_length(c->out)) {
        flush(c);
    } else {
        written(c);
    }
    leave(c);
}

/* The output has gone to the socket. */
static void written(conn *c)
{
    if (c->dead) return;
    fire(&c->req, &c->req.flushed, c->req.flushed_arg);
    if (c->dead) return;
    if (c->blocked && evbuffer_get_length(c->out) == 0) {
        c->blocked = 0;
        if (c->state == C_HEAD && !c->processing) process(c);
        if (c->dead) return;
    }
    if (c->state != C_CLOSING || evbuffer_get_length(c->out)) return;
    if (c->tls) {
        conn_close(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    evbuffer_drain(c->in, evbuffer_get_length(c->in));
    if (c->eof) {
        conn_close(c);
        return;
    }
    resume_reading(c);
    arm(c, LINGER_SECONDS);
}

static const char *http_date(hreq_server *srv)
{
    time_t now = time(NULL);
    if (now != srv->date_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof srv->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        srv->date_at = now;
    }
    return srv->date;
}

static char *put_text(char *p, const char *text, size_t n)
{
    memcpy(p, text, n);
    return p + n;
}

static char *put_decimal(char *p, unsigned long long v)
{
    char digits[24];
    size_t k = 0;
    do digits[k++] = (char)('0' + v % 10); while ((v /= 10));
    while (k) *p++ = digits[--k];
    return p;
}

#define PUT(p, literal) put_text(p, literal, sizeof literal - 1)

/* The reply's head: status line, Date, the handler's fields, the framing, the connection.
 * Written without printf: it is on every reply. */
static void put_head(hreq *r, int status, long long length)
{
    conn *c = r->c;
    char head[REPLY_FIELDS + 256], *p = head;
    const char *reason = hreq_reason(status);
    p = PUT(p, "HTTP/1.1 ");
    p = put_decimal(p, (unsigned long long)status);
    *p++ = ' ';
    p = put_text(p, reason, strlen(reason));
    p = PUT(p, "\r\nDate: ");
    p = put_text(p, http_date(c->srv), strlen(c->srv->date));
    p = PUT(p, "\r\n");
    p = put_text(p, r->fields, r->n_fields);
    if (length >= 0) {
        p = PUT(p, "Content-Length: ");
        p = put_decimal(p, (unsigned long long)length);
        p = PUT(p, "\r\n");
    } else if (r->chunked) {
        p = PUT(p, "Transfer-Encoding: chunked\r\n");
    }
    if (!r->keep_alive) p = PUT(p, "Connection: close\r\n");
    else if (r->head.minor == 0) p = PUT(p, "Connection: keep-alive\r\n");
    p = PUT(p, "\r\n");
    evbuffer_add(c->out, head, (size_t)(p - head));
}

/* No request will follow: the connection closes once the replies made are out. */
static void close_after_output(conn *c)
{
    if (evbuffer_get_length(c->out) == 0) {
        conn_close(c);
        return;
    }
    c->state = C_CLOSING;
    flush(c);
}

/* The reply is made: the connection reads the next request, or closes once it is out. */
static void end_request(conn *c)
{
    hreq *r = &c->req;
    r->gone = r->flushed = NULL;
    r->n_fields = 0;
    evbuffer_drain(c->reply, evbuffer_get_length(c->reply));
    if (!r->keep_alive) {
        c->state = C_CLOSING;
    } else {
        c->state = C_HEAD;
        c->head_started = 0;
        arm(c, c->srv->lim.idle_timeout);
        resume_reading(c);
    }
    flush(c);
    if (c->state == C_HEAD && !c->processing) process(c);
}

/* ---- reading ---- */

/* *buf holds at least n bytes (its contents are not kept). */
static int reserve(char **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    char *p = malloc(n);
    if (!p) return -1;
    free(*buf);
    *buf = p;
    *cap = n;
    return 0;
}

/* Makes each slice of the head parsed in c->head a C string: the bytes after them (' ',
 * '?', ':', CR, LF) are free. */
static void terminate_head(conn *c)
{
    hreq *r = &c->req;
    h1_request *h = &r->head;
    char *head = c->head;
    int has_query = h->query.p != h->path.p + h->path.n;
    head[h->method_text.p - head + h->method_text.n] = '\0';
    head[h->path.p - head + h->path.n] = '\0';
    head[h->query.p - head + h->query.n] = '\0';
    for (size_t i = 0; i < h->n_headers; i++) {
        head[h->headers[i].name.p - head + h->headers[i].name.n] = '\0';
        head[h->headers[i].value.p - head + h->headers[i].value.n] = '\0';
    }
    r->query = has_query ? h->query.p : NULL;
}

static void dispatch(conn *c, int refused, const char *why)
{
    hreq *r = &c->req;
    evtimer_del(c->timer);
    c->state = C_BUSY;
    c->continued = 0;
    r->refused = refused;
    r->why = why;
    r->keep_alive = !refused && r->head.keep_alive;
    r->chunked = 0;
    c->srv->on_request(r, c->srv->arg);
}

/* A request the layer will not serve: the handler answers it, then the connection
 * closes. parsed: the head in c->head was read (else none could be). */
static void refuse(conn *c, int status, const char *why, int parsed)
{
    hreq *r = &c->req;
    if (parsed) {
        terminate_head(c);
    } else {
        memset(&r->head, 0, sizeof r->head);
        r->head.minor = 1;
        r->head.method_text = (h1_slice){ "-", 1 };
        r->head.path = (h1_slice){ "", 0 };
        r->query = NULL;
    }
    evbuffer_drain(c->in, evbuffer_get_length(c->in));
    r->body = "";
    r->body_len = 0;
    dispatch(c, status, why);
}

/* Serves the requests whole in the input, one at a time, while the connection reads. */
static void process(conn *c)
{
    const hreq_limits *lim = &c->srv->lim;
    c->processing = 1;
    while (c->state == C_HEAD && !c->dead) {
        size_t len = evbuffer_get_length(c->in), head_len, consumed, body_len;
        if (len == 0) {
            if (c->eof) close_after_output(c);   /* requests sent before the end are all answered */
            break;
        }
        /* A client that pipelines without reading its replies is served no further
         * until they are out: its buffers stay bounded. */
        if (evbuffer_get_length(c->out) > OUT_HIGH) {
            c->blocked = 1;
            if (len >= c->srv->max_buffered) pause_reading(c);
            break;
        }
        if (!c->head_started) {
            c->head_started = 1;
            arm(c, lim->header_timeout);
        }
        /* The head is read in a copy of its own, once (a copy of up to max_head bytes
         * costs less than parsing twice), and its slices stay there while it is served. */
        size_t look = len < lim->max_head ? len : lim->max_head;
        if (reserve(&c->head, &c->head_cap, look + 1) < 0) { conn_close(c); break; }
        evbuffer_copyout(c->in, c->head, look);
        h1_request *h = &c->req.head;
        const char *why = NULL;
        h1_status st = h1_parse(c->head, look, lim->max_head, h, &head_len, &why);
        if (st == H1_INCOMPLETE) {
            if (c->eof) close_after_output(c);
            break;
        }
        if (st == H1_TOO_LARGE && !memchr(c->head, '\n', look)) {
            refuse(c, 414, "the request target is too long", 0);
            continue;
        }
        if (st != H1_OK) {
            refuse(c, st == H1_TOO_LARGE ? 431 : st == H1_BAD_VERSION ? 505 : 400, why, 0);
            continue;
        }
        if (h->chunked) {
            size_t have = len < c->srv->max_buffered ? len : c->srv->max_buffered;
            if (reserve(&c->body, &c->body_cap, lim->max_body + 1) < 0) { conn_close(c); break; }
            const char *p = (const char *)evbuffer_pullup(c->in, (ev_ssize_t)have);
            st = h1_dechunk(c->body, p + head_len, have - head_len, lim->max_body, &consumed, &body_len, &why);
            if (st == H1_INCOMPLETE && have == c->srv->max_buffered) st = H1_TOO_LARGE;
            if (st == H1_INCOMPLETE) {
                if (c->eof) close_after_output(c);
                break;
            }
            if (st != H1_OK) {
                refuse(c, st == H1_TOO_LARGE ? 413 : 400, st == H1_TOO_LARGE ? c->srv->too_large : why, 1);
                continue;
            }
            evbuffer_drain(c->in, head_len + consumed);
        } else {
            long long cl = h->content_length < 0 ? 0 : h->content_length;
            if ((unsigned long long)cl > lim->max_body) {
                refuse(c, 413, c->srv->too_large, 1);
                continue;
            }
            body_len = (size_t)cl;
            if (len < head_len + body_len) {
                if (h->expect_continue && h->minor >= 1 && !c->continued) {
                    c->continued = 1;
                    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                    evbuffer_add(c->out, cont, sizeof cont - 1);
                    flush(c);
                }
                if (c->eof) close_after_output(c);
                break;
            }
            if (reserve(&c->body, &c->body_cap, body_len + 1) < 0) { conn_close(c); break; }
            evbuffer_drain(c->in, head_len);
            evbuffer_remove(c->in, c->body, body_len);
        }
        c->body[body_len] = '\0';
        terminate_head(c);
        c->req.body = c->body;
        c->req.body_len = body_len;
        dispatch(c, 0, NULL);
    }
    c->processing = 0;
}

/* Input arrived (or the end of it: c->eof). */
static void received(conn *c)
{
    switch (c->state) {
    case C_HEAD:
        process(c);
        break;
    case C_BUSY:
        /* An end of input is a half-close as much as a departure: the reply still goes
         * out (the connection closes after it), and a client that is gone shows when a
         * write fails. */
        if (c->eof) break;
        if (c->req.refused) evbuffer_drain(c->in, evbuffer_get_length(c->in));
        else if (evbuffer_get_length(c->in) >= c->srv->max_buffered)
            pause_reading(c);           /* a pipelining client waits for its replies */
        break;
    case C_CLOSING:
    case C_LINGER:
        evbuffer_drain(c->in, evbuffer_get_length(c->in));
        if (c->state == C_LINGER && c->eof) conn_close(c);
        break;
    }
}

/* Reads straight into a small reservation of the input buffer: most requests fit one
 * evbuffer chain of 1 KB, which malloc serves from its per-thread cache; a longer read
 * spills into a stack buffer and is appended (a 16 KB reservation would cost a large
 * allocation, and its consolidation, on every request). evbuffer_read is not used: it
 * first asks the socket how much it holds, one system call more per request. */
static ssize_t read_socket(conn *c)
{
    char spill[READ_SIZE];
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(c->in, SMALL_READ, &v, 1) < 1) return -1;
    struct iovec iov[2] = { { v.iov_base, v.iov_len }, { spill, sizeof spill } };
    ssize_t n = readv(c->fd, iov, 2);
    size_t first = n <= 0 ? 0 : (size_t)n < v.iov_len ? (size_t)n : v.iov_len;
    v.iov_len = first;
    evbuffer_commit_space(c->in, &v, first ? 1 : 0);
    if (n > (ssize_t)first && evbuffer_add(c->in, spill, (size_t)n - first) < 0) return -1;
    return n;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)fd, (void)what;
    enter(c);
    ssize_t n = read_socket(c);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        conn_close(c);
    } else if (n >= 0) {
        if (n == 0) {
            c->eof = 1;
            event_del(c->rd);
        }
        received(c);
    }
    leave(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    (void)fd, (void)what;
    enter(c);
    if (c->state == C_HEAD && !c->head_started && evbuffer_get_length(c->out)) {
        arm(c, c->srv->lim.idle_timeout);   /* still sending replies: the write deadline watches that */
    } else {
        if (c->state == C_HEAD && c->head_started) c->srv->slow_clients++;
        conn_close(c);
    }
    leave(c);
}

static void on_tls_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    (void)bev;
    enter(c);
    received(c);
    leave(c);
}

static void on_tls_write(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    (void)bev;
    enter(c);
    written(c);
    leave(c);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    (void)bev;
    enter(c);
    if (what & BEV_EVENT_EOF) {
        c->eof = 1;
        received(c);
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        conn_close(c);
    }
    leave(c);
}

/* ---- accepting ---- */

static int setup_plain(conn *c, struct event_base *base)
{
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    c->rd = event_new(base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    c->wr = event_new(base, c->fd, EV_WRITE, on_write, c);
    return c->in && c->out && c->rd && c->wr && event_add(c->rd, NULL) == 0 ? 0 : -1;
}

static int setup_tls(conn *c, struct event_base *base)
{
    SSL *ssl = SSL_new(c->srv->tls);
    if (!ssl) return -1;
    c->tls = bufferevent_openssl_socket_new(base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (!c->tls) {
        SSL_free(ssl);
        return -1;
    }
    c->fd = -1;  /* the bufferevent closes it */
    bufferevent_openssl_set_allow_dirty_shutdown(c->tls, 1);
    bufferevent_setcb(c->tls, on_tls_read, on_tls_write, on_tls_event, c);
    bufferevent_setwatermark(c->tls, EV_READ, 0, c->srv->max_buffered);
    struct timeval tv = seconds_tv(c->srv->lim.idle_timeout);
    bufferevent_set_timeouts(c->tls, NULL, &tv);
    c->in = bufferevent_get_input(c->tls);
    c->out = bufferevent_get_output(c->tls);
    return bufferevent_enable(c->tls, EV_READ | EV_WRITE);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    hreq_server *srv = arg;
    struct event_base *base = evconnlistener_get_base(l);
    (void)salen;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->req.c = c;
    const void *addr = sa->sa_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr
                                                 : (const void *)&((struct sockaddr_in *)sa)->sin_addr;
    if (!evutil_inet_ntop(sa->sa_family, addr, c->peer, sizeof c->peer)) strcpy(c->peer, "-");
    if (!(c->timer = evtimer_new(base, on_timer, c)) || !(c->reply = evbuffer_new()) ||
        (srv->tls ? setup_tls(c, base) : setup_plain(c, base)) < 0) {
        conn_free(c);
        return;
    }
    c->next = srv->conns;
    if (c->next) c->next->prev = c;
    srv->conns = c;
    c->state = C_HEAD;
    c->head_started = 1;    /* the first request's deadline runs from the accept */
    arm(c, srv->lim.header_timeout);
}

hreq_server *hreq_listen(struct event_base *base, const char *host, int port, SSL_CTX *tls,
                         const hreq_limits *limits, hreq_handler on_request, void *arg,
                         char *err, size_t errlen)
{
    struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = EVUTIL_AI_PASSIVE }, *ai = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    hreq_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->tls = tls;
    srv->lim = *limits;
    srv->max_buffered = limits->max_head + 2 * limits->max_body + 1024;
    srv->on_request = on_request;
    srv->arg = arg;
    snprintf(srv->too_large, sizeof srv->too_large, "the body is larger than %zu bytes", limits->max_body);
    int gai = evutil_getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, evutil_gai_strerror(gai));
        goto err;
    }
    srv->listener = evconnlistener_new_bind(base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                            1024, ai->ai_addr, (int)ai->ai_addrlen);
    if (!srv->listener) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        goto err;
    }
    /* Accepted sockets inherit TCP_NODELAY (Linux): a stream sends one small chunk per
     * token, which Nagle would hold back until the client's delayed ACK, up to 40 ms. */
    int one = 1;
    if (setsockopt(evconnlistener_get_fd(srv->listener), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        snprintf(err, errlen, "cannot set TCP_NODELAY on %s:%d: %s", host, port, strerror(errno));
        goto err;
    }
    evutil_freeaddrinfo(ai);
    return srv;
err:
    if (ai) evutil_freeaddrinfo(ai);
    hreq_server_free(srv);
    return NULL;
}

void hreq_server_free(hreq_server *srv)
{
    if (!srv) return;
    if (srv->listener) evconnlistener_free(srv->listener);
    while (srv->conns) {
        conn *c = srv->conns;
        enter(c);
        conn_close(c);
        leave(c);
    }
    free(srv);
}

uint64_t hreq_slow_clients(const hreq_server *srv) { return srv ? srv->slow_clients : 0; }

/* ---- the request ---- */

int hreq_refused(const hreq *req, const char **why)
{
    if (why) *why = req->why;
    return req->refused;
}

h1_method hreq_method(const hreq *req) { return req->head.method; }
const char *hreq_method_name(const hreq *req) { return req->head.method_text.p; }
const char *hreq_path(const hreq *req) { return req->head.path.p; }
const char *hreq_query(const hreq *req) { return req->query; }
const char *hreq_peer(const hreq *req) { return req->c->peer; }

const char *hreq_header(const hreq *req, const char *name)
{
    const h1_slice *v = h1_find(&req->head, name);
    return v ? v->p : NULL;
}

const char *hreq_body(const hreq *req, size_t *len)
{
    *len = req->body_len;
    return req->body;
}

/* ---- the reply ---- */

struct evbuffer *hreq_output(hreq *req) { return req->c->reply; }

int hreq_add_fields(hreq *req, const char *lines, size_t n)
{
    if (req->n_fields + n > sizeof req->fields) return -1;
    memcpy(req->fields + req->n_fields, lines, n);
    req->n_fields += n;
    return 0;
}

int hreq_add_header(hreq *req, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") || req->n_fields + nl + vl + 4 > sizeof req->fields) return -1;
    char *p = req->fields + req->n_fields;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl);
    memcpy(p + nl + 2 + vl, "\r\n", 2);
    req->n_fields += nl + vl + 4;
    return 0;
}

void hreq_reply(hreq *req, int status, struct evbuffer *body)
{
    conn *c = req->c;
    enter(c);
    if (!body) body = c->reply;
    put_head(req, status, (long long)evbuffer_get_length(body));
    if (req->head.method == H1_HEAD) evbuffer_drain(body, evbuffer_get_length(body));
    else evbuffer_add_buffer(c->out, body);
    end_request(c);
    leave(c);
}

void hreq_start(hreq *req, int status)
{
    conn *c = req->c;
    enter(c);
    /* HTTP/1.0 has no chunks: the close ends the stream. */
    req->chunked = req->head.minor >= 1;
    if (!req->chunked) req->keep_alive = 0;
    put_head(req, status, -1);
    flush(c);
    leave(c);
}

void hreq_chunk(hreq *req, struct evbuffer *data, hreq_callback flushed, void *arg)
{
    conn *c = req->c;
    enter(c);
    size_t n = evbuffer_get_length(data);
    if (req->head.method == H1_HEAD || n == 0) {
        evbuffer_drain(data, n);    /* a chunk of size 0 would end the stream */
    } else if (req->chunked) {
        char size[24];
        int k = snprintf(size, sizeof size, "%zx\r\n", n);
        evbuffer_add(c->out, size, (size_t)k);
        evbuffer_add_buffer(c->out, data);
        evbuffer_add(c->out, "\r\n", 2);
    } else {
        evbuffer_add_buffer(c->out, data);
    }
    req->flushed = flushed;
    req->flushed_arg = arg;
    flush(c);
    leave(c);
}

void hreq_end(hreq *req)
{
    conn *c = req->c;
    enter(c);
    if (req->chunked && req->head.method != H1_HEAD) evbuffer_add(c->out, "0\r\n\r\n", 5);
    end_request(c);
    leave(c);
}

void hreq_abort(hreq *req)
{
    conn *c = req->c;
    enter(c);
    req->gone = req->flushed = NULL;   /* the handler knows */
    conn_close(c);
    leave(c);
}

void hreq_on_gone(hreq *req, hreq_callback gone, void *arg)
{
    req->gone = gone;
    req->gone_arg = arg;
}
