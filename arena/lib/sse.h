/* sse.h: server-sent events, both ways.
 *
 * Parser (upstream streams): bytes go in as they arrive, in pieces of any size (a line
 * may be split across reads); each complete event (ended by a blank line) comes out
 * through a callback with its event name ("message" when none was given) and its data
 * (several data: lines joined with "\n"). Line ends may be \n, \r\n or \r. Comment
 * lines (":...") and unknown fields are ignored, as the SSE specification says.
 *
 *   sse_parser p; sse_init(&p, 1 << 20);
 *   sse_feed(&p, bytes, n, on_event, ud);     // as often as bytes arrive
 *   sse_free(&p);
 *
 * OpenAI streaming: sse_openai_chunk() reads one event's data: "[DONE]", a
 * chat.completion.chunk (its choices[0].delta.content), or an {"error": ...} object.
 *
 * Encoder (browser streams): sse_encode() writes "event: E\ndata: ...\n\n", splitting data
 * on newlines into several data: lines; sse_encode_text() writes data {"text": "..."}.
 *
 * Ownership: the parser owns its buffers (sse_free); data handed to the callback is valid
 * only during the call. The encoders write into caller memory and never allocate. */
#ifndef ARENA_SSE_H
#define ARENA_SSE_H

#include <stddef.h>

typedef struct sse_parser {
    char  *line;   size_t line_len, line_cap;   /* the line being read */
    char  *data;   size_t data_len, data_cap;   /* data of the event being read */
    char   event[64];
    size_t max;                                 /* bound on a line and on an event's data */
    int    after_cr;                            /* last byte was \r: a following \n ends nothing */
    int    has_data;
} sse_parser;

/* Called per complete event. Return 0 to go on, -1 to stop (sse_feed returns -1). */
typedef int (*sse_event_fn)(void *ud, const char *event, const char *data, size_t len);

void sse_init(sse_parser *p, size_t max);
void sse_free(sse_parser *p);

/* 0, or -1 when the callback stopped, a line or an event grew past max, or no memory. */
int sse_feed(sse_parser *p, const char *bytes, size_t n, sse_event_fn fn, void *ud);

typedef enum {
    SSE_CHUNK_TEXT,     /* *text / *len: the content delta (may be empty: role-only chunk) */
    SSE_CHUNK_DONE,     /* data: [DONE] */
    SSE_CHUNK_STOP,     /* a chunk whose finish_reason is set; *text as for TEXT */
    SSE_CHUNK_ERROR,    /* {"error": ...}: *text is its message */
    SSE_CHUNK_INVALID,  /* not JSON or not a chunk */
} sse_chunk_kind;

/* Reads one OpenAI stream event. text is written into buf (NUL-terminated, truncated to
 * buflen - 1 bytes; *len is the length written). */
sse_chunk_kind sse_openai_chunk(const char *data, size_t len, char *buf, size_t buflen, size_t *outlen);

/* Writes one event into out; returns the length it needs (like snprintf: when that is >=
 * cap the output is truncated and must not be sent). event NULL: no event line. */
size_t sse_encode(char *out, size_t cap, const char *event, const char *data, size_t len);

/* The event with data {"text": TEXT} (TEXT JSON-escaped). Same return as sse_encode. */
size_t sse_encode_text(char *out, size_t cap, const char *event, const char *text, size_t len);

/* JSON string escaping of len bytes (no quotes added). Same return convention. */
size_t sse_json_escape(char *out, size_t cap, const char *s, size_t len);

#endif
