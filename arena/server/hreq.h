/* hreq.h: the server side of HTTP/1.1, built for this server's traffic: small requests,
 * small replies, long event streams. It accepts connections (plain TCP, or TLS through
 * libevent's OpenSSL bufferevents), reads requests with h1.h (keep-alive and pipelining,
 * one request at a time per connection), hands each to one handler, and writes replies:
 * whole (Content-Length) or streamed (chunked). A plain socket's reply is written in the
 * same loop turn as it is made; nothing is allocated per request on the way.
 *
 * Limits are enforced here, before the handler sees the request: a request line over
 * max_head (414), a head over max_head (431), a body over max_body (413), a request not whole within header_timeout of its
 * first byte (or of the accept), a malformed head (400), a version other than 1.0/1.1
 * (505), a chunked body that does not decode (400). Such a request still reaches the
 * handler, with hreq_refused() saying the status and why, so that every reply comes from
 * one place; the connection closes after that reply.
 *
 * Ownership: the layer owns every connection and request. A request is the handler's from
 * on_request until its reply ends (hreq_reply, hreq_end, hreq_abort) or until the client
 * is gone; a handler that answers later must watch the request (hreq_on_gone) and not
 * touch it after its gone callback ran. The gone callback only ever runs from the event
 * loop, never inside a reply function, so a handler may finish a sequence of calls on a
 * request it holds. Slices and strings read from a request stay valid until its reply
 * ends.
 *
 * A client that ends its input (half-close) still gets the replies to every request it
 * sent before; the connection closes after them. A client is gone when a write to it
 * fails, when it stops reading for idle_timeout, or when the server shuts down. */
#ifndef ARENA_HREQ_H
#define ARENA_HREQ_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "h1.h"

typedef struct hreq hreq;
typedef struct hreq_server hreq_server;

typedef void (*hreq_handler)(hreq *req, void *arg);
typedef void (*hreq_callback)(hreq *req, void *arg);

typedef struct hreq_limits {
    size_t max_head, max_body;
    double header_timeout;      /* seconds from a request's first byte to its whole body */
    double idle_timeout;        /* a kept-alive connection's wait for its next request, and
                                   the longest a reply may wait on a client not reading */
} hreq_limits;

/* Listens on host:port (TLS when tls is not NULL; the caller keeps the context alive).
 * NULL with err set on failure. */
hreq_server *hreq_listen(struct event_base *base, const char *host, int port, SSL_CTX *tls,
                         const hreq_limits *limits, hreq_handler on_request, void *arg,
                         char *err, size_t errlen);
/* Stops listening and closes every connection; requests still held get their gone
 * callbacks first. */
void hreq_server_free(hreq_server *srv);
/* Connections cut off because a request was not whole within header_timeout. */
uint64_t hreq_slow_clients(const hreq_server *srv);

/* ---- the request ---- */
/* The status the layer refused this request with (400, 413, 414, 431, 505), and why in the
 * client's terms; 0 for a request to serve. */
int hreq_refused(const hreq *req, const char **why);
h1_method hreq_method(const hreq *req);
const char *hreq_method_name(const hreq *req);   /* as sent; "-" when unreadable */
const char *hreq_path(const hreq *req);          /* as sent, before any '?'; "" when unreadable */
const char *hreq_query(const hreq *req);         /* after the '?', or NULL */
const char *hreq_header(const hreq *req, const char *name);  /* first field of that name, or NULL */
const char *hreq_body(const hreq *req, size_t *len);         /* NUL-terminated; "" when none */
const char *hreq_peer(const hreq *req);          /* the peer's address, numeric */

/* ---- the reply ---- */
/* The buffer a reply's body may be written into (hreq_reply with body NULL sends it). */
struct evbuffer *hreq_output(hreq *req);
/* A field for the reply's head; -1 when it does not fit or holds CR or LF. */
int hreq_add_header(hreq *req, const char *name, const char *value);
/* Fields already written as "Name: value\r\n" lines, n bytes, for fields the server
 * itself fixes (not checked: never pass client text); -1 when they do not fit. */
int hreq_add_fields(hreq *req, const char *lines, size_t n);
/* The whole reply: status, the fields added, Content-Length, then body (NULL: the output
 * buffer); body's contents are moved out. HEAD gets the head alone. Ends the request. */
void hreq_reply(hreq *req, int status, struct evbuffer *body);
/* A streamed reply: the head now, then chunks, then hreq_end. flushed (may be NULL) is
 * called once this chunk has been written to the socket, from the event loop; or, when
 * the client is gone first, right after the gone callback (so that a writer waiting on it
 * can let go). */
void hreq_start(hreq *req, int status);
void hreq_chunk(hreq *req, struct evbuffer *data, hreq_callback flushed, void *arg);
void hreq_end(hreq *req);
/* Closes the connection without finishing the reply (a stream that cannot be completed
 * must not look complete). Ends the request. */
void hreq_abort(hreq *req);
/* gone is called if the client is gone (see above) before the reply ends; gone NULL stops
 * watching. */
void hreq_on_gone(hreq *req, hreq_callback gone, void *arg);

/* The reason phrase of a status. */
const char *hreq_reason(int status);

#endif
