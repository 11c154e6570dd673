/* h1.h: HTTP/1.1 request heads (RFC 9112), parsed in place, and chunked request bodies,
 * decoded in place: no allocation, no I/O.
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
 * buffer and is valid while it is unchanged.
 *
 * Both functions keep nothing between calls: when one says H1_INCOMPLETE, the caller reads
 * more bytes onto the end of the same buffer and calls again from its start. */
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
    H1_OK = 0,        /* a whole head, or a whole body */
    H1_INCOMPLETE,    /* no end yet, and no limit passed: read more */
    H1_BAD,           /* malformed: answer 400 (why says what) */
    H1_TOO_LARGE,     /* over a limit: a head over max_head (answer 431), a body over max_body (413) */
    H1_BAD_VERSION    /* not HTTP/1.0 or 1.1: answer 505 */
} h1_status;

/* Parses the head at the start of buf[0..len). On H1_OK fills req and *head_len. On an
 * error, *why (when why is not NULL) is a static message for the client. */
h1_status h1_parse(const char *buf, size_t len, size_t max_head, h1_request *req, size_t *head_len,
                   const char **why);

/* The value of the first field named name (case-insensitive), or NULL. */
const h1_slice *h1_find(const h1_request *req, const char *name);

/* Extensions and trailer fields of a chunked body are read past, not kept; together they
 * may take this many bytes (line ends aside), so that they cannot make a body endless. */
#define H1_MAX_CHUNK_META 8192

/* Decodes a chunked body (RFC 9112 7.1) from the start of buf[0..len), the bytes after the
 * head, into out, which has room for max_body bytes. On H1_OK, *consumed is the number of
 * bytes of buf the body took (last chunk, trailer fields and final empty line included) and
 * *body_len the decoded length. Lines end in CR LF or a bare LF, as in h1_parse.
 *
 * out is written only on H1_OK (the whole body is checked before any of it is copied), so
 * out may be buf itself: decoding in place, which leaves buf as it was on every other
 * result, and so may be retried after H1_INCOMPLETE like any other call.
 *
 * H1_TOO_LARGE: the chunk sizes come to more than max_body, known at the first chunk that
 * passes it. H1_BAD (why, when not NULL, says what): a chunk size that is not 1 to 16 hex
 * digits, chunk data not followed by a line end, a bare CR, a control byte in an extension
 * or a trailer field, or extensions and trailers over H1_MAX_CHUNK_META bytes. */
h1_status h1_dechunk(char *out, const char *buf, size_t len, size_t max_body, size_t *consumed,
                     size_t *body_len, const char **why);

#endif
