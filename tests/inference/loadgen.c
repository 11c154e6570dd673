/* loadgen: a streaming load client for `arena-worker serve` (used by bench_serve.sh).
 *
 *   inference-loadgen URL STREAMS MAX_TOKENS
 *
 * Opens STREAMS connections at once, each POSTing one streamed /v1/completions request
 * ("Once upon a time", temperature 0.8, a different seed each), and reads the SSE events
 * as they arrive. Prints one line of figures:
 *   streams=N ok=N tokens=N wall_s=X tok_s=X ttft_p50_ms=X ttft_p99_ms=X
 * where tokens counts content events, tok_s is tokens / wall time (first request sent
 * to last stream ended) and TTFT is request sent -> first content event, per stream.
 * Exit status 1 when a stream failed. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct stream {
    struct timespec sent;
    double ttft;            /* seconds; < 0 until the first content event */
    long tokens;
    int ok;
};

static int pending;
static struct event_base *base;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* One complete SSE line: a content event counts as a token. */
static void on_line(struct stream *s, const char *line, size_t len)
{
    if (len < 7 || strncmp(line, "data: {", 7) != 0)
        return;
    /* Content events carry "text" with a non-empty value; the finish event has "". */
    const char *text = memmem(line, len, "\"text\":\"", 8);
    if (!text || text[8] == '"')
        return;
    if (s->ttft < 0)
        s->ttft = since(&s->sent);
    s->tokens++;
}

/* libevent hands over whole HTTP chunks and empties the buffer after this callback;
 * the server puts whole SSE events in each chunk (one or several), so no line is ever
 * cut in two. */
static void on_chunk(struct evhttp_request *req, void *arg)
{
    struct stream *s = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n;
    char *line;
    while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
        on_line(s, line, n);
        free(line);
    }
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct stream *s = arg;
    s->ok = req && evhttp_request_get_response_code(req) == 200 && s->tokens > 0;
    if (--pending == 0)
        event_base_loopexit(base, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: inference-loadgen URL STREAMS MAX_TOKENS\n");
        return 2;
    }
    struct evhttp_uri *uri = evhttp_uri_parse(argv[1]);
    int n = atoi(argv[2]), max_tokens = atoi(argv[3]);
    if (!uri || !evhttp_uri_get_host(uri) || evhttp_uri_get_port(uri) <= 0 || n < 1 || max_tokens < 1) {
        fprintf(stderr, "inference-loadgen: bad URL or numbers\n");
        return 2;
    }
    base = event_base_new();
    struct stream *streams = calloc((size_t)n, sizeof *streams);
    struct evhttp_connection **conns = calloc((size_t)n, sizeof *conns);
    if (!base || !streams || !conns)
        return 1;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        struct stream *s = &streams[i];
        char body[256];
        s->ttft = -1;
        conns[i] = evhttp_connection_base_new(base, NULL, evhttp_uri_get_host(uri),
                                              (unsigned short)evhttp_uri_get_port(uri));
        evhttp_connection_set_timeout(conns[i], 300);
        struct evhttp_request *req = evhttp_request_new(on_done, s);
        evhttp_request_set_chunked_cb(req, on_chunk);
        snprintf(body, sizeof body, "{\"prompt\":\"Once upon a time\",\"max_tokens\":%d,"
                 "\"temperature\":0.8,\"seed\":%d,\"stream\":true}", max_tokens, i + 1);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Host", evhttp_uri_get_host(uri));
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
        clock_gettime(CLOCK_MONOTONIC, &s->sent);
        evhttp_make_request(conns[i], req, EVHTTP_REQ_POST, "/v1/completions");
        pending++;
    }
    event_base_dispatch(base);
    double wall = now_s() - t0;

    long tokens = 0;
    int ok = 0, n_ttft = 0;
    double *ttft = calloc((size_t)n, sizeof *ttft);
    for (int i = 0; i < n; i++) {
        tokens += streams[i].tokens;
        ok += streams[i].ok;
        if (streams[i].ttft >= 0)
            ttft[n_ttft++] = streams[i].ttft;
    }
    qsort(ttft, (size_t)n_ttft, sizeof *ttft, cmp_double);
    double p50 = n_ttft ? ttft[(n_ttft - 1) / 2] : 0;
    double p99 = n_ttft ? ttft[(int)((n_ttft - 1) * 0.99 + 0.5)] : 0;
    printf("streams=%d ok=%d tokens=%ld wall_s=%.3f tok_s=%.1f ttft_p50_ms=%.2f ttft_p99_ms=%.2f\n",
           n, ok, tokens, wall, wall > 0 ? (double)tokens / wall : 0, p50 * 1e3, p99 * 1e3);
    for (int i = 0; i < n; i++)
        evhttp_connection_free(conns[i]);
    free(ttft);
    free(conns);
    free(streams);
    evhttp_uri_free(uri);
    event_base_free(base);
    return ok == n ? 0 : 1;
}
