/* fuzz_h1: libFuzzer entry point for HTTP/1.1 request heads and chunked bodies
 * (arena/lib/h1.c), the first bytes the server reads from a client.
 *
 * Every slice of an accepted head must lie inside it; a head accepted whole must be
 * incomplete in every shorter prefix (checked at one prefix, set by the first byte), and
 * parsing must not depend on the bytes after the head.
 *
 * The bytes after an accepted head (or all of them, when there is none) are then decoded
 * as a chunked body, with a max_body set by the first byte, into a buffer of exactly that
 * size and in place on a copy: both must agree, stay within the input and max_body, leave
 * the copy unchanged unless whole, and a decoded body must be incomplete at the prefix.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iarena/lib tests/fuzz/fuzz_h1.c \
 *       arena/lib/h1.c -o build/fuzz/fuzz-h1
 *   build/fuzz/fuzz-h1 -max_total_time=60 tests/fuzz/corpus/h1 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"

static int inside(h1_slice s, const char *buf, size_t len)
{
    return s.n == 0 || (s.p >= buf && s.p + s.n <= buf + len);
}

static void check_dechunk(const char *buf, size_t len, size_t max_body, size_t cut)
{
    char *out = malloc(max_body ? max_body : 1), *work = malloc(len ? len : 1);
    if (!out || !work) abort();
    memcpy(work, buf, len);
    size_t consumed = 0, body_len = 0, in_consumed = 0, in_len = 0;
    const char *why = NULL;
    h1_status st = h1_dechunk(out, buf, len, max_body, &consumed, &body_len, &why);
    h1_status in_st = h1_dechunk(work, work, len, max_body, &in_consumed, &in_len, &why);
    if (st != in_st || (st != H1_OK && st != H1_INCOMPLETE && !why)) abort();
    if (st == H1_OK) {
        if (consumed > len || body_len > max_body || body_len > consumed || in_consumed != consumed || in_len != body_len ||
            memcmp(out, work, body_len) != 0)
            abort();
        if (cut < consumed && h1_dechunk(out, buf, cut, max_body, &consumed, &body_len, &why) != H1_INCOMPLETE) abort();
    } else if (memcmp(work, buf, len) != 0) {
        abort();
    }
    free(out);
    free(work);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cut = data[0];
    const char *buf = (const char *)data + 1;
    size_t len = size - 1, head_len = 0;
    h1_request req;
    const char *why = NULL;
    h1_status st = h1_parse(buf, len, 4096, &req, &head_len, &why);
    if (st != H1_OK && st != H1_INCOMPLETE && !why) abort();
    if (st == H1_INCOMPLETE && len >= 4096) abort();
    if (st != H1_OK) {
        check_dechunk(buf, len, cut * 16, cut);
        return 0;
    }
    if (head_len > len || req.n_headers > H1_MAX_HEADERS || !inside(req.target, buf, head_len) ||
        !inside(req.path, buf, head_len) || !inside(req.query, buf, head_len) || req.minor < 0 || req.minor > 1)
        abort();
    for (size_t i = 0; i < req.n_headers; i++)
        if (!req.headers[i].name.n || !inside(req.headers[i].name, buf, head_len) || !inside(req.headers[i].value, buf, head_len))
            abort();
    h1_request again;
    size_t again_len = 0;
    if (h1_parse(buf, head_len, 4096, &again, &again_len, &why) != H1_OK || again_len != head_len ||
        again.n_headers != req.n_headers || again.content_length != req.content_length)
        abort();
    if (cut < head_len && h1_parse(buf, cut, 4096, &again, &again_len, &why) != H1_INCOMPLETE) abort();
    check_dechunk(buf + head_len, len - head_len, cut * 16, cut);
    return 0;
}
