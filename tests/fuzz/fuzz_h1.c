/* fuzz_h1: libFuzzer entry point for HTTP/1.1 request heads (arena/lib/h1.c), the first
 * bytes the server reads from a client.
 *
 * Every slice of an accepted head must lie inside it; a head accepted whole must be
 * incomplete in every shorter prefix (checked at one prefix, set by the first byte), and
 * parsing must not depend on the bytes after the head.
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
    if (st != H1_OK) return 0;
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
    return 0;
}
