/* HTTP/1.1 request heads: what is read, every prefix of a head waiting for more, and each
 * head two parsers could read two ways refused. Chunked bodies: decoded the same in place
 * and out of place, every prefix waiting for more without a byte of it changed, limits
 * and malformed framing refused. */
#include "../check.h"
#include "h1.h"

#include <string.h>

static h1_request req;
static size_t head_len;
static const char *why;

static h1_status parse(const char *text) { return h1_parse(text, strlen(text), 8192, &req, &head_len, &why); }

static int slice_eq(h1_slice s, const char *want) { return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0; }

static char body[256];
static size_t consumed, body_len;

static h1_status dechunk(const char *text, size_t max_body)
{
    return h1_dechunk(body, text, strlen(text), max_body, &consumed, &body_len, &why);
}

static int body_is(const char *want) { return body_len == strlen(want) && memcmp(body, want, body_len) == 0; }

/* Every prefix of text (a whole chunked body) must wait for more, in place without
 * changing a byte; the whole must decode to want, in place as out of place. */
static int arrives_in_pieces(const char *text, const char *want)
{
    char work[256], copy[256];
    size_t len = strlen(text), in_consumed = 0, in_len = 0;
    int good = 1;
    for (size_t n = 0; n < len; n++) {
        memcpy(work, text, len);
        memcpy(copy, text, len);
        good &= h1_dechunk(body, text, n, sizeof body, &consumed, &body_len, &why) == H1_INCOMPLETE;
        good &= h1_dechunk(work, work, n, sizeof body, &consumed, &body_len, &why) == H1_INCOMPLETE;
        good &= memcmp(work, copy, len) == 0;
    }
    memcpy(work, text, len);
    good &= h1_dechunk(work, work, len, sizeof body, &in_consumed, &in_len, &why) == H1_OK;
    good &= dechunk(text, sizeof body) == H1_OK && body_is(want) && consumed == len;
    return good && in_consumed == consumed && in_len == body_len && memcmp(work, body, body_len) == 0;
}

int main(void)
{
    const char *vote = "POST /api/battles/abc/vote?x=1 HTTP/1.1\r\nHost: arena\r\nContent-Type: application/json\r\n"
                       "Content-Length: 33\r\n\r\n{\"winner\":\"a\",\"token\":\"1.abcdef\"}";
    size_t whole = (size_t)(strstr(vote, "\r\n\r\n") + 4 - vote);
    CHECK(parse(vote) == H1_OK, "a vote's head");
    CHECK(req.method == H1_POST && slice_eq(req.method_text, "POST"), "method");
    CHECK(slice_eq(req.target, "/api/battles/abc/vote?x=1") && slice_eq(req.path, "/api/battles/abc/vote") &&
          slice_eq(req.query, "x=1"), "target, path and query");
    CHECK(req.minor == 1 && req.keep_alive && req.content_length == 33 && !req.chunked && !req.expect_continue,
          "HTTP/1.1, keep-alive, body length");
    CHECK(head_len == whole && req.n_headers == 3, "head length %zu, 3 fields", head_len);
    CHECK(h1_find(&req, "content-type") && slice_eq(*h1_find(&req, "CONTENT-TYPE"), "application/json"), "find is case-insensitive");
    CHECK(!h1_find(&req, "X-Forwarded-For"), "find: absent field");

    /* every proper prefix waits for more; the whole head is read however it arrives */
    int waited = 1;
    for (size_t n = 0; n < whole; n++) waited &= h1_parse(vote, n, 8192, &req, &head_len, &why) == H1_INCOMPLETE;
    CHECK(waited, "every prefix of the head is incomplete");
    CHECK(h1_parse(vote, whole, 8192, &req, &head_len, &why) == H1_OK && head_len == whole, "the head alone is whole");

    CHECK(parse("GET / HTTP/1.1\nHost: a\n\n") == H1_OK && req.method == H1_GET && slice_eq(req.path, "/") && req.query.n == 0,
          "bare LF line ends");
    CHECK(parse("\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n") == H1_OK && slice_eq(req.path, "/x"), "empty lines before the request line");
    CHECK(parse("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n") == H1_OK && req.method == H1_HEAD, "HEAD");
    CHECK(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n") == H1_OK && req.method == H1_OTHER, "methods are case-sensitive");
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") == H1_OK && req.minor == 0 && !req.keep_alive, "HTTP/1.0: no Host needed, closes");
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") == H1_OK && req.keep_alive, "HTTP/1.0 keep-alive");
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n") == H1_OK && !req.keep_alive, "Connection: close");
    CHECK(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == H1_OK && req.minor == 1, "a later 1.x minor is served as 1.1");
    CHECK(parse("GET http://arena.example/api/models?a=b HTTP/1.1\r\nHost: a\r\n\r\n") == H1_OK &&
          slice_eq(req.path, "/api/models") && slice_eq(req.query, "a=b"), "absolute-form target");
    CHECK(parse("GET http://arena.example HTTP/1.1\r\nHost: a\r\n\r\n") == H1_OK && req.path.n == 0, "absolute-form without a path");
    CHECK(parse("POST /v HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n") == H1_OK &&
          req.expect_continue, "Expect: 100-continue");
    CHECK(parse("POST /v HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == H1_OK && req.chunked &&
          req.content_length == -1, "chunked body");
    CHECK(parse("POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n") == H1_OK &&
          req.content_length == 7, "repeated equal Content-Length");
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Note:   spaced value \t\r\n\r\n") == H1_OK &&
          slice_eq(*h1_find(&req, "x-note"), "spaced value"), "value trimmed");
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n") == H1_OK && h1_find(&req, "x-empty")->n == 0, "empty value");
    CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Utf8: caf\xc3\xa9\r\n\r\n") == H1_OK, "obs-text in a value");

    /* refused, with the status a server answers */
    static const struct { const char *head; h1_status st; const char *name; } bad[] = {
        {"GET / HTTP/1.1\r\n\r\n", H1_BAD, "HTTP/1.1 without Host"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", H1_BAD, "two Host fields"},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", H1_BAD_VERSION, "HTTP/2.0"},
        {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", H1_BAD_VERSION, "HTTP/0.9"},
        {"GET / HTTX/1.1\r\nHost: a\r\n\r\n", H1_BAD, "not HTTP"},
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", H1_BAD, "space after the version"},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", H1_BAD, "two spaces"},
        {"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", H1_BAD, "control byte in the target"},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", H1_BAD, "a method that is not a token"},
        {"GET foo HTTP/1.1\r\nHost: a\r\n\r\n", H1_BAD, "target not a path"},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", H1_BAD, "space before the colon"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n", H1_BAD, "folded line"},
        {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", H1_BAD, "field without a colon"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", H1_BAD, "control byte in a value"},
        {"GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", H1_BAD, "bare CR"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", H1_BAD, "negative length"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n", H1_BAD, "length not decimal"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456\r\n\r\n", H1_BAD, "length of 16 digits"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", H1_BAD, "conflicting lengths"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", H1_BAD, "length list"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", H1_BAD, "length and chunked"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", H1_BAD, "chunked not last"},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", H1_BAD, "Transfer-Encoding in HTTP/1.0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why = NULL;
        h1_status st = parse(bad[i].head);
        CHECK(st == bad[i].st && why && *why, "refused: %s (%d, %s)", bad[i].name, st, why ? why : "no reason");
    }

    /* limits: a head larger than max_head, too many fields */
    char big[9000];
    size_t n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ");
    memset(big + n, 'x', sizeof big - n - 1);
    big[sizeof big - 1] = '\0';
    CHECK(h1_parse(big, strlen(big), 8192, &req, &head_len, &why) == H1_TOO_LARGE, "no end within max_head: too large");
    CHECK(h1_parse(big, 4000, 8192, &req, &head_len, &why) == H1_INCOMPLETE, "under max_head: incomplete");
    n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < H1_MAX_HEADERS; i++) n += (size_t)snprintf(big + n, sizeof big - n, "X-%d: v\r\n", i);
    snprintf(big + n, sizeof big - n, "\r\n");
    CHECK(parse(big) == H1_TOO_LARGE, "more than %d fields", H1_MAX_HEADERS);

    /* chunked bodies */
    const char *two = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    CHECK(dechunk(two, sizeof body) == H1_OK && body_is("hello, world") && consumed == strlen(two), "two chunks");
    CHECK(dechunk("5\r\nhello\r\n0\r\n\r\nPOST / HTTP/1.1\r\n", sizeof body) == H1_OK && body_is("hello") && consumed == 15,
          "consumed stops at the end of the body");
    CHECK(dechunk("0\r\n\r\n", sizeof body) == H1_OK && body_len == 0 && consumed == 5, "an empty body");
    CHECK(dechunk("00A\r\n0123456789\r\n000\r\n\r\n", sizeof body) == H1_OK && body_is("0123456789"), "leading zeros, upper-case hex");
    CHECK(dechunk("5;name=value\r\nhello\r\n6 ; a = \"b;c\"\t;x\r\n world\r\n0;last\r\n\r\n", sizeof body) == H1_OK &&
          body_is("hello world"), "extensions skipped");
    const char *trailed = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\t1\r\n\r\n";
    CHECK(dechunk(trailed, sizeof body) == H1_OK && body_is("hello") && consumed == strlen(trailed), "trailer fields skipped");
    const char *lf = "5\nhello\n2\r\n, \n0\n\n";
    CHECK(dechunk(lf, sizeof body) == H1_OK && body_is("hello, ") && consumed == strlen(lf), "bare LF line ends");
    CHECK(arrives_in_pieces(two, "hello, world"), "two chunks, in every split: incomplete until whole, in place untouched");
    CHECK(arrives_in_pieces("3;e=1\nabc\r\n1\r\n\xc3\n0 ;t\r\nTrailer: v\n\r\n", "abc\xc3"),
          "extensions, trailers and mixed line ends, in every split");
    CHECK(dechunk("1000\r\n", 256) == H1_TOO_LARGE && why && *why, "a chunk size over max_body, before its data");
    CHECK(dechunk("ffffffffffffffff\r\n", 256) == H1_TOO_LARGE, "16 hex digits over max_body");
    CHECK(dechunk("80\r\n", 128) == H1_INCOMPLETE, "a chunk of exactly max_body");
    CHECK(dechunk("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 6) == H1_OK && body_is("abcdef"), "a body of exactly max_body");
    CHECK(dechunk("3\r\nabc\r\n3\r\ndef\r\n1\r\n", 6) == H1_TOO_LARGE, "chunks that add up to more than max_body");

    /* many small chunks cost nothing against the extension and trailer allowance */
    static char many[6 * 10000 + 8], many_body[10000];
    n = 0;
    for (int i = 0; i < 10000; i++) n += (size_t)snprintf(many + n, sizeof many - n, "1\r\n%c\r\n", 'a' + i % 26);
    n += (size_t)snprintf(many + n, sizeof many - n, "0\r\n\r\n");
    CHECK(h1_dechunk(many_body, many, n, sizeof many_body, &consumed, &body_len, &why) == H1_OK && body_len == 10000 &&
          consumed == n && many_body[9999] == 'a' + 9999 % 26, "10000 chunks of one byte");
    CHECK(h1_dechunk(many, many, n, sizeof many_body, &consumed, &body_len, &why) == H1_OK && body_len == 10000 &&
          memcmp(many, many_body, body_len) == 0, "10000 chunks of one byte, in place");

    /* extensions and trailers over the allowance, refused before their end arrives */
    n = (size_t)snprintf(big, sizeof big, "1\r\nx\r\n0\r\nX-Pad: ");
    memset(big + n, 'p', H1_MAX_CHUNK_META);
    CHECK(h1_dechunk(body, big, n + H1_MAX_CHUNK_META, sizeof body, &consumed, &body_len, &why) == H1_BAD,
          "a trailer field over %d bytes", H1_MAX_CHUNK_META);
    CHECK(h1_dechunk(body, big, n + H1_MAX_CHUNK_META - 100, sizeof body, &consumed, &body_len, &why) == H1_INCOMPLETE,
          "a trailer field under the allowance waits");
    n = (size_t)snprintf(big, sizeof big, "1;");
    memset(big + n, 'e', H1_MAX_CHUNK_META);
    CHECK(h1_dechunk(body, big, n + H1_MAX_CHUNK_META, sizeof body, &consumed, &body_len, &why) == H1_BAD,
          "an extension over %d bytes", H1_MAX_CHUNK_META);

    static const struct { const char *body; const char *name; } bad_bodies[] = {
        {"g\r\nabc\r\n0\r\n\r\n", "a size that is not hex"},
        {"\r\n\r\n", "an empty size"},
        {"0x5\r\nhello\r\n0\r\n\r\n", "a 0x prefix"},
        {"-5\r\nhello\r\n0\r\n\r\n", "a negative size"},
        {"ffffffffffffffffff\r\n", "a size that overflows"},
        {"00000000000000001\r\nx\r\n0\r\n\r\n", "17 hex digits"},
        {"5 \r\nhello\r\n0\r\n\r\n", "space after the size without an extension"},
        {"5 x\r\nhello\r\n0\r\n\r\n", "an extension without ';'"},
        {"5;a\x01\r\nhello\r\n0\r\n\r\n", "a control byte in an extension"},
        {"5\r\nhelloX\r\n0\r\n\r\n", "chunk data not followed by CRLF"},
        {"5\r\nhello0\r\n\r\n", "the next size right after the data"},
        {"5\r\nhello\rX0\r\n\r\n", "a CR not followed by LF after the data"},
        {"5\rhello\r\n0\r\n\r\n", "a bare CR after the size"},
        {"5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n", "a bare CR in a trailer"},
        {"5\r\nhello\r\n0\r\nX: a\x7f\r\n\r\n", "a control byte in a trailer"},
    };
    for (size_t i = 0; i < sizeof bad_bodies / sizeof *bad_bodies; i++) {
        why = NULL;
        h1_status st = dechunk(bad_bodies[i].body, sizeof body);
        CHECK(st == H1_BAD && why && *why, "refused: %s (%d, %s)", bad_bodies[i].name, st, why ? why : "no reason");
    }
    return check_exit();
}
