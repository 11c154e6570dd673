/* fuzz_sse: libFuzzer entry point for what the arena server parses from the network
 * outside libevent: the upstream event-stream parser, OpenAI stream chunks
 * (arena/lib/sse.c) and battle tokens from vote requests (arena/lib/token.c).
 *
 * The first input byte sets the size of the pieces the bytes are fed in (a line split
 * across reads is the parser's hard case); the rest is the stream. Each event's data goes
 * through sse_openai_chunk; the start of the input is also checked as a vote token. And a
 * round trip: an event written by sse_encode and parsed back gives the same data.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iarena/lib tests/fuzz/fuzz_sse.c \
 *       arena/lib/sse.c arena/lib/token.c -ljansson -lcrypto -o build/fuzz/fuzz-sse
 *   build/fuzz/fuzz-sse -max_total_time=60 tests/fuzz/corpus/sse */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "token.h"

typedef struct seen {
    size_t events, bytes;
    const char *want;        /* round trip: the data expected back */
    size_t want_len;
    int matched;
} seen;

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
    seen *s = ud;
    char text[256];
    size_t n = 0;
    if (!event || strlen(event) >= 64)
        __builtin_trap();
    sse_chunk_kind k = sse_openai_chunk(data, len, text, sizeof text, &n);
    if (k > SSE_CHUNK_INVALID || n >= sizeof text || text[n] != '\0')
        __builtin_trap();
    s->events++;
    s->bytes += len;
    if (s->want && len == s->want_len && memcmp(data, s->want, len) == 0)
        s->matched = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)(data[0] % 16) + 1;
    const char *bytes = (const char *)data + 1;
    size_t n = size - 1;

    sse_parser p;
    sse_init(&p, 4096);
    seen s = {0};
    for (size_t off = 0; off < n; off += piece) {
        size_t len = n - off < piece ? n - off : piece;
        if (sse_feed(&p, bytes + off, len, on_event, &s) < 0)
            break;    /* over the bound: the caller drops the stream */
    }
    sse_free(&p);

    /* A vote token is whatever the client sent: at most 127 bytes of it here. */
    char token[128];
    size_t tl = n < sizeof token - 1 ? n : sizeof token - 1;
    memcpy(token, bytes, tl);
    token[tl] = '\0';
    static btok_key *key;
    if (!key) key = btok_key_new("fuzz-secret-0123456789", 22);
    if (btok_verify(key, "battle", token, 1000) == BTOK_OK)
        __builtin_trap();    /* nobody forges a MAC by chance */

    /* Round trip: data without CR or NUL, encoded then parsed, comes back unchanged. */
    if (n <= 1024 && !memchr(bytes, '\r', n) && !memchr(bytes, '\0', n)) {
        char *out = malloc(4 * n + 64);
        size_t need = out ? sse_encode(out, 4 * n + 64, "a", bytes, n) : 0;
        if (out && need < 4 * n + 64) {
            sse_parser q;
            sse_init(&q, 1 << 16);
            seen r = {.want = bytes, .want_len = n};
            if (sse_feed(&q, out, need, on_event, &r) < 0 || r.events != 1 || !r.matched)
                __builtin_trap();
            sse_free(&q);
        }
        free(out);
    }
    return 0;
}
