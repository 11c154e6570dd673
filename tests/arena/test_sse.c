/* SSE parser fed in every split, OpenAI chunks, encoder round trip. */
#include "../check.h"
#include "sse.h"

#include <stdio.h>
#include <string.h>

typedef struct { char log[4096]; int n; } sink;

static int collect(void *ud, const char *event, const char *data, size_t len)
{
    sink *s = ud;
    size_t used = strlen(s->log);
    snprintf(s->log + used, sizeof s->log - used, "[%s|%.*s]", event, (int)len, data);
    s->n++;
    return 0;
}

static int stop_at_first(void *ud, const char *event, const char *data, size_t len) { return -1; }

int main(void)
{
    const char *stream = ": comment\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: one\ndata: two\n\nid: 7\nretry: 5\n\rdata: [DONE]\n\ndata: tail";
    const char *want = "[message|{\"a\":1}][x|one\ntwo][message|[DONE]]";
    size_t n = strlen(stream);
    int all = 1;
    for (size_t cut1 = 0; cut1 <= n; cut1++)
        for (size_t cut2 = cut1; cut2 <= n; cut2 += 3) {
            sse_parser p;
            sink s = {{0}, 0};
            sse_init(&p, 1024);
            sse_feed(&p, stream, cut1, collect, &s);
            sse_feed(&p, stream + cut1, cut2 - cut1, collect, &s);
            sse_feed(&p, stream + cut2, n - cut2, collect, &s);
            if (strcmp(s.log, want) != 0) {
                if (all) printf("# split %zu/%zu: %s\n", cut1, cut2, s.log);
                all = 0;
            }
            sse_free(&p);
        }
    CHECK(all, "every split of the stream gives the same events");

    sse_parser p;
    sink s = {{0}, 0};
    sse_init(&p, 16);
    CHECK(sse_feed(&p, "data: 0123456789abcdefghij\n\n", 28, collect, &s) < 0, "overlong line refused");
    sse_free(&p);
    sse_init(&p, 64);
    CHECK(sse_feed(&p, "data: a\n\ndata: b\n\n", 18, stop_at_first, NULL) < 0, "callback stops the feed");
    sse_free(&p);

    char buf[64];
    size_t len;
    const char *c1 = "{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \\\"there\\\"\"},\"finish_reason\":null}]}";
    CHECK(sse_openai_chunk(c1, strlen(c1), buf, sizeof buf, &len) == SSE_CHUNK_TEXT && strcmp(buf, "Hi \"there\"") == 0 && len == 10, "text chunk");
    const char *c2 = "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}";
    CHECK(sse_openai_chunk(c2, strlen(c2), buf, sizeof buf, &len) == SSE_CHUNK_STOP && len == 0, "stop chunk");
    CHECK(sse_openai_chunk("[DONE]", 6, buf, sizeof buf, &len) == SSE_CHUNK_DONE, "done");
    const char *c3 = "{\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\"}}";
    CHECK(sse_openai_chunk(c3, strlen(c3), buf, sizeof buf, &len) == SSE_CHUNK_ERROR && strcmp(buf, "model overloaded") == 0, "error object");
    CHECK(sse_openai_chunk("{nope", 5, buf, sizeof buf, &len) == SSE_CHUNK_INVALID, "not JSON");
    CHECK(sse_openai_chunk("{\"x\":1}", 7, buf, sizeof buf, &len) == SSE_CHUNK_INVALID, "not a chunk");

    char out[256];
    size_t need = sse_encode(out, sizeof out, "a", "l1\nl2", 5);
    CHECK(need == strlen(out) && strcmp(out, "event: a\ndata: l1\ndata: l2\n\n") == 0, "encode splits lines");
    need = sse_encode_text(out, sizeof out, "b", "say \"hi\"\n\\\x01", 11);
    CHECK(strcmp(out, "event: b\ndata: {\"text\":\"say \\\"hi\\\"\\n\\\\\\u0001\"}\n\n") == 0 && need == strlen(out), "encode text escapes: %s", out);
    char small[8];
    size_t whole = sse_encode_text(NULL, 0, "b", "hello", 5);
    CHECK(whole > sizeof small && sse_encode_text(small, sizeof small, "b", "hello", 5) == whole && small[7] == '\0',
          "truncation reports the length needed");

    /* encoder -> parser round trip */
    sink r = {{0}, 0};
    sse_init(&p, 1024);
    sse_encode(out, sizeof out, "end", "x\n\ny", 4);
    sse_feed(&p, out, strlen(out), collect, &r);
    CHECK(strcmp(r.log, "[end|x\n\ny]") == 0, "round trip keeps blank data lines: %s", r.log);
    sse_free(&p);
    return check_exit();
}
