/* h1.c: HTTP/1.1 request heads; see h1.h. */
#include "h1.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* tchar of RFC 9110 5.6.2: the bytes of methods and field names. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value's bytes: visible, space, tab, and obs-text (0x80-0xFF). */
static int is_value_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int slice_is(h1_slice s, const char *word)
{
    size_t n = strlen(word);
    return s.n == n && strncasecmp(s.p, word, n) == 0;
}

static h1_slice trim(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    return (h1_slice){ p, (size_t)(end - p) };
}

/* The end of the line starting at p (its LF, or CR LF), or NULL when it has none before
 * end. *next is where the following line starts. A CR not followed by LF is malformed:
 * *bad is set. */
static const char *line_end(const char *p, const char *end, const char **next, int *bad)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (!lf) return NULL;
    *next = lf + 1;
    const char *e = lf > p && lf[-1] == '\r' ? lf - 1 : lf;
    if (memchr(p, '\r', (size_t)(e - p))) *bad = 1;
    return e;
}

/* Calls f on each comma-separated member of a field value, trimmed; stops at a nonzero
 * return. */
static int each_member(h1_slice v, int (*f)(h1_slice m, void *ud), void *ud)
{
    const char *p = v.p, *end = v.p + v.n;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        h1_slice m = trim(p, stop);
        int r = m.n ? f(m, ud) : 0;
        if (r) return r;
        p = stop + 1;
    }
    return 0;
}

static int connection_member(h1_slice m, void *ud)
{
    h1_request *req = ud;
    if (slice_is(m, "close")) req->keep_alive = 0;
    else if (slice_is(m, "keep-alive") && req->minor == 0) req->keep_alive = 1;
    return 0;
}

/* Transfer-Encoding: remembers whether the last coding is chunked. */
static int coding_member(h1_slice m, void *ud)
{
    *(int *)ud = slice_is(m, "chunked");
    return 0;
}

/* Content-Length: 1 to 15 digits. -1 when not. */
static long long parse_length(h1_slice v)
{
    if (v.n == 0 || v.n > 15) return -1;
    long long n = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return -1;
        n = n * 10 + (v.p[i] - '0');
    }
    return n;
}

#define FAIL(status, msg) do { if (why) *why = (msg); return (status); } while (0)

/* The meaning of the fields the server acts on; 0 or the error. */
static h1_status interpret(h1_request *req, const char **why)
{
    int hosts = 0, te = 0;
    req->content_length = -1;
    req->chunked = 0;
    req->expect_continue = 0;
    req->keep_alive = req->minor >= 1;
    for (size_t i = 0; i < req->n_headers; i++) {
        h1_slice name = req->headers[i].name, v = req->headers[i].value;
        if (slice_is(name, "host")) {
            hosts++;
        } else if (slice_is(name, "content-length")) {
            long long n = parse_length(v);
            if (n < 0) FAIL(H1_BAD, "Content-Length must be a decimal number");
            if (req->content_length >= 0 && req->content_length != n) FAIL(H1_BAD, "conflicting Content-Length fields");
            req->content_length = n;
        } else if (slice_is(name, "transfer-encoding")) {
            te = 1;
            each_member(v, coding_member, &req->chunked);
        } else if (slice_is(name, "connection")) {
            each_member(v, connection_member, req);
        } else if (slice_is(name, "expect")) {
            req->expect_continue = slice_is(v, "100-continue");
        }
    }
    if (req->minor >= 1 && hosts != 1) FAIL(H1_BAD, "an HTTP/1.1 request needs exactly one Host field");
    if (te && req->minor == 0) FAIL(H1_BAD, "Transfer-Encoding is not HTTP/1.0");
    if (te && !req->chunked) FAIL(H1_BAD, "Transfer-Encoding must end in chunked");
    if (te && req->content_length >= 0) FAIL(H1_BAD, "Content-Length and Transfer-Encoding together");
    return H1_OK;
}

/* Methods are case-sensitive (RFC 9110 9.1). */
static h1_method method_of(h1_slice m)
{
    if (m.n == 3 && memcmp(m.p, "GET", 3) == 0) return H1_GET;
    if (m.n == 4 && memcmp(m.p, "HEAD", 4) == 0) return H1_HEAD;
    if (m.n == 4 && memcmp(m.p, "POST", 4) == 0) return H1_POST;
    return H1_OTHER;
}

/* "METHOD SP target SP HTTP/1.x" in [p, e). */
static h1_status request_line(const char *p, const char *e, h1_request *req, const char **why)
{
    const char *m = p;
    while (p < e && is_tchar((unsigned char)*p)) p++;
    if (p == m || p == e || *p != ' ') FAIL(H1_BAD, "malformed request line");
    req->method_text = (h1_slice){ m, (size_t)(p - m) };
    req->method = method_of(req->method_text);
    const char *t = ++p;
    while (p < e && (unsigned char)*p > 0x20 && *p != 0x7f) p++;
    if (p == t || p == e || *p != ' ') FAIL(H1_BAD, "malformed request line");
    req->target = (h1_slice){ t, (size_t)(p - t) };
    p++;
    if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
        FAIL(H1_BAD, "malformed request line");
    if (p[5] != '1') FAIL(H1_BAD_VERSION, "only HTTP/1.0 and HTTP/1.1 are served");
    req->minor = p[7] == '0' ? 0 : 1;
    /* origin-form "/path?query", or absolute-form "http://host/path?query" (RFC 9112 3.2.2) */
    const char *path = t, *tend = t + req->target.n;
    if (*t != '/') {
        const char *scheme_end = tend - t > 3 ? memchr(t, ':', (size_t)(tend - t)) : NULL;
        if (!scheme_end || tend - scheme_end < 3 || memcmp(scheme_end, "://", 3) != 0) FAIL(H1_BAD, "the request target must be a path");
        path = memchr(scheme_end + 3, '/', (size_t)(tend - scheme_end - 3));
        if (!path) path = tend;
    }
    const char *q = memchr(path, '?', (size_t)(tend - path));
    req->path = (h1_slice){ path, (size_t)((q ? q : tend) - path) };
    req->query = q ? (h1_slice){ q + 1, (size_t)(tend - q - 1) } : (h1_slice){ tend, 0 };
    return H1_OK;
}

h1_status h1_parse(const char *buf, size_t len, size_t max_head, h1_request *req, size_t *head_len,
                   const char **why)
{
    const char *p = buf, *end = buf + len, *next;
    int bad = 0;
    /* Empty lines before the request line are ignored (RFC 9112 2.2): some clients send
     * one after a body. */
    while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))) p += *p == '\r' ? 2 : 1;
    /* The whole head must be here before any of it is read. */
    const char *scan = p, *head_end = NULL;
    for (;;) {
        const char *e = line_end(scan, end, &next, &bad);
        if (!e) break;
        if (e == scan && scan != p) { head_end = next; break; }
        scan = next;
    }
    if (!head_end) {
        if (len >= max_head) FAIL(H1_TOO_LARGE, "the request head is too large");
        return H1_INCOMPLETE;
    }
    if ((size_t)(head_end - buf) > max_head) FAIL(H1_TOO_LARGE, "the request head is too large");
    if (bad) FAIL(H1_BAD, "a CR not followed by LF");
    memset(req, 0, sizeof *req);
    const char *e = line_end(p, end, &next, &bad);
    h1_status st = request_line(p, e, req, why);
    if (st != H1_OK) return st;
    for (p = next; (e = line_end(p, end, &next, &bad)) != p; p = next) {
        if (*p == ' ' || *p == '\t') FAIL(H1_BAD, "folded header lines are not accepted");
        const char *n = p;
        while (n < e && is_tchar((unsigned char)*n)) n++;
        if (n == p || n == e || *n != ':') FAIL(H1_BAD, "malformed header field");
        for (const char *v = n + 1; v < e; v++)
            if (!is_value_byte((unsigned char)*v)) FAIL(H1_BAD, "a control byte in a header value");
        if (req->n_headers == H1_MAX_HEADERS) FAIL(H1_TOO_LARGE, "too many header fields");
        req->headers[req->n_headers++] = (h1_header){ { p, (size_t)(n - p) }, trim(n + 1, e) };
    }
    st = interpret(req, why);
    if (st != H1_OK) return st;
    *head_len = (size_t)(head_end - buf);
    return H1_OK;
}

const h1_slice *h1_find(const h1_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (slice_is(req->headers[i].name, name)) return &req->headers[i].value;
    return NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads past the line of value bytes at p (the rest of a chunk-size line, or a trailer
 * field), charging its bytes, not its line end (a plain chunk costs nothing), to *budget.
 * On H1_OK, *next is the following line and *empty says whether this one held nothing.
 * Bytes are checked as they come, so that a bad line is refused before its end arrives. */
static h1_status skip_meta_line(const char *p, const char *end, size_t *budget, const char **next, int *empty,
                                const char **why)
{
    const char *q = p;
    while (q < end && is_value_byte((unsigned char)*q)) q++;
    const char *stop = q;
    if (q < end && *q == '\r') {
        if (q + 1 < end && q[1] != '\n') FAIL(H1_BAD, "a CR not followed by LF");
        q++;
    }
    if ((size_t)(stop - p) > *budget) FAIL(H1_BAD, "chunk extensions and trailer fields are too large");
    if (q == end) return H1_INCOMPLETE;
    if (*q != '\n') FAIL(H1_BAD, "a control byte in a chunk extension or trailer field");
    *next = q + 1;
    *budget -= (size_t)(stop - p);
    *empty = stop == p;
    return H1_OK;
}

/* One pass over a chunked body: checks all of it, and copies the chunk data into out when
 * out is not NULL. h1_dechunk makes a checking pass first, so a copying pass cannot fail. */
static h1_status dechunk_pass(char *out, const char *buf, size_t len, size_t max_body, size_t *consumed,
                              size_t *body_len, const char **why)
{
    const char *p = buf, *end = buf + len, *next;
    size_t total = 0, budget = H1_MAX_CHUNK_META;
    int empty;
    for (;;) {
        /* chunk-size: 16 hex digits fill 64 bits, and no body needs more */
        const char *digits = p;
        uint64_t size = 0;
        for (int d; p < end && (d = hex_digit(*p)) >= 0; p++) {
            if (p - digits == 16) FAIL(H1_BAD, "a chunk size of more than 16 hex digits");
            size = size << 4 | (uint64_t)d;
        }
        if (p == end) return H1_INCOMPLETE;
        if (p == digits || !*p || !strchr("; \t\r\n", *p)) FAIL(H1_BAD, "a chunk size must be hex digits");
        if (size > max_body - total) FAIL(H1_TOO_LARGE, "the request body is too large");
        /* chunk-ext: BWS ";" ..., read past; spaces alone may not trail the size */
        const char *ext = p;
        while (ext < end && (*ext == ' ' || *ext == '\t')) ext++;
        if (ext != p && ext < end && *ext != ';') FAIL(H1_BAD, "malformed chunk extension");
        h1_status st = skip_meta_line(p, end, &budget, &next, &empty, why);
        if (st != H1_OK) return st;
        p = next;
        if (size == 0) break;
        if ((uint64_t)(end - p) < size) return H1_INCOMPLETE;
        /* in place, out + total never passes p: each chunk's size line is behind it */
        if (out) memmove(out + total, p, (size_t)size);
        p += size;
        total += (size_t)size;
        if (p < end && *p == '\r') p++;
        if (p == end) return H1_INCOMPLETE;
        if (*p++ != '\n') FAIL(H1_BAD, "chunk data not followed by CRLF");
    }
    /* trailer fields, read past up to the empty line */
    do {
        h1_status st = skip_meta_line(p, end, &budget, &next, &empty, why);
        if (st != H1_OK) return st;
        p = next;
    } while (!empty);
    *consumed = (size_t)(p - buf);
    *body_len = total;
    return H1_OK;
}

h1_status h1_dechunk(char *out, const char *buf, size_t len, size_t max_body, size_t *consumed,
                     size_t *body_len, const char **why)
{
    h1_status st = dechunk_pass(NULL, buf, len, max_body, consumed, body_len, why);
    return st == H1_OK ? dechunk_pass(out, buf, len, max_body, consumed, body_len, why) : st;
}
