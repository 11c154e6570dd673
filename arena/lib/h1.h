/* h1.h: HTTP/1.1 request heads (RFC 9112), parsed in place: no allocation, no I/O.
 *
 * The parser reads the request line and the header fields from the start of the caller's
 * buffer and describes them as slices of that buffer, with what a server needs to go on:
 * the body's length (Content-Length, or chunked), whether the connection may carry
 * another request, and Expect: 100-continue. Heads that could be read two ways by two
 * parsers (request smuggling) are refused: Content-Length with Transfer-Encoding,
 * conflicting Content-Lengths, whitespace before a field's colon, folded lines, control
 * bytes in values.
 *
 * Ownership: the caller owns the buffer and the h1_request; every slice points into the
 * buffer and is valid while it is unchanged. */
#ifndef ARENA_H1_H
#define ARENA_H1_H

#include <stddef.h>

#define H1_MAX_HEADERS 64

typedef struct h1_slice {
    const char *p;
    size_t n;
} h1_slice;

typedef struct h1_header {
    h1_slice name, value;             /* value without surrounding spaces and tabs */
} h1_header;

typedef enum { H1_GET, H1_HEAD, H1_POST, H1_OTHER } h1_method;

typedef struct h1_request {
    h1_method method;
    h1_slice method_text;
    h1_slice target;                  /* as sent: path and query */
    h1_slice path, query;             /* target split at the first '?' (query without it) */
    int minor;                        /* HTTP/1.<minor>: 0 or 1 */
    h1_header headers[H1_MAX_HEADERS];
    size_t n_headers;
    long long content_length;         /* -1: none given */
    int chunked;                      /* Transfer-Encoding: ..., chunked */
    int keep_alive;                   /* another request may follow on the connection */
    int expect_continue;              /* Expect: 100-continue */
} h1_request;

typedef enum {
    H1_OK = 0,        /* a whole head: *head_len bytes, the final empty line included */
    H1_INCOMPLETE,    /* no end of head yet, and fewer than max_head bytes: read more */
    H1_BAD,           /* malformed: answer 400 (why says what) */
    H1_TOO_LARGE,     /* no end of head within max_head bytes: answer 431 */
    H1_BAD_VERSION    /* not HTTP/1.0 or 1.1: answer 505 */
} h1_status;

/* Parses the head at the start of buf[0..len). On H1_OK fills req and *head_len. On an
 * error, *why (when why is not NULL) is a static message for the client. */
h1_status h1_parse(const char *buf, size_t len, size_t max_head, h1_request *req, size_t *head_len,
                   const char **why);

/* The value of the first field named name (case-insensitive), or NULL. */
const h1_slice *h1_find(const h1_request *req, const char *name);

#endif
