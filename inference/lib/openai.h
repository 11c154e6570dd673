/* openai.h: the OpenAI wire format of the worker, with no I/O.
 *
 * Parses and validates /v1/chat/completions and /v1/completions request bodies
 * (jansson), and writes response objects, server-sent-event chunks and error
 * objects into a growable byte buffer. Text from the model is escaped as JSON
 * and any invalid UTF-8 in it becomes U+FFFD, so every output is valid JSON.
 *
 * Chat template (a per-model setting, OAI_TEMPLATE_*): the story models have no
 * chat format, so LAST_USER makes the prompt the content of the last "user"
 * message, and CONCAT joins the contents of every message with "\n". */
#ifndef ARENA_OPENAI_H
#define ARENA_OPENAI_H

#include <stddef.h>
#include <stdint.h>

enum oai_kind { OAI_CHAT, OAI_COMPLETION };
enum oai_template { OAI_TEMPLATE_LAST_USER, OAI_TEMPLATE_CONCAT };

#define OAI_MAX_STOP 4       /* as OpenAI: up to four stop sequences */
#define OAI_MAX_STOP_LEN 64  /* bytes in one stop sequence */

/* A validated request. Owns prompt and stop[]; release with oai_request_free. */
struct oai_request {
    enum oai_kind kind;
    char *prompt;            /* NUL-terminated, after the chat template */
    int max_tokens;          /* 0 when absent: generate until the context is full */
    float temperature;       /* >= 0; 0 is greedy. Default 1 */
    float top_p;             /* in (0, 1]. Default 1 */
    uint64_t seed;
    int has_seed;
    char *stop[OAI_MAX_STOP];
    int n_stop;
    int stream;
    int include_usage;       /* stream_options.include_usage */
};

/* What went wrong with a request: HTTP status and the fields of OpenAI's error object. */
struct oai_error {
    int status;              /* 400, 404, 405, 413, 503, ... */
    const char *type;        /* "invalid_request_error", ... (static string) */
    const char *code;        /* static string or NULL */
    char param[32];          /* offending field, "" when none */
    char message[256];
};

/* A growable byte buffer. Zero-initialise; reuse with len = 0; free with oai_buf_free. */
struct oai_buf {
    char *data;
    size_t len, cap;
};

/* Identity of one response, shared by all its chunks. */
struct oai_meta {
    enum oai_kind kind;
    const char *id;          /* e.g. "chatcmpl-1f" */
    const char *model;
    long long created;       /* Unix seconds */
};

struct oai_usage {
    int prompt_tokens, completion_tokens;
};

/* "last-user" or "concat" -> *out; -1 for any other name. */
int oai_template_parse(const char *name, enum oai_template *out);

/* Parses body[0..len) as a request of the given kind. model is the served name:
 * a request "model" must equal it when present. On success fills *req (which the
 * caller frees with oai_request_free) and returns 0; on failure fills *err (400)
 * and returns -1, with nothing to free. */
int oai_parse_request(const char *body, size_t len, enum oai_kind kind, const char *model,
                      enum oai_template tmpl, struct oai_request *req, struct oai_error *err);
void oai_request_free(struct oai_request *req);

/* Sets *err; message is printf-style. */
void oai_error_set(struct oai_error *err, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The writers below append to b and return 0, or -1 when out of memory. */

/* {"error":{"message","type","param","code"}} */
int oai_write_error(struct oai_buf *b, const struct oai_error *err);
/* The same as one server-sent event, for a failure after a stream has begun. */
int oai_write_error_event(struct oai_buf *b, const struct oai_error *err);

/* A whole non-streaming response: chat.completion or text_completion. */
int oai_write_response(struct oai_buf *b, const struct oai_meta *m, const char *text, size_t len,
                       const char *finish_reason, const struct oai_usage *u);

/* One server-sent event "data: {chunk}\n\n". first adds delta.role for chat;
 * finish_reason NULL means not finished; include_usage adds "usage":null as OpenAI does. */
int oai_write_chunk(struct oai_buf *b, const struct oai_meta *m, const char *text, size_t len,
                    int first, const char *finish_reason, int include_usage);
/* The final usage event (empty choices) that stream_options.include_usage asks for. */
int oai_write_usage_chunk(struct oai_buf *b, const struct oai_meta *m, const struct oai_usage *u);
/* "data: [DONE]\n\n" */
int oai_write_done(struct oai_buf *b);

/* GET /v1/models: the list with the one served model. */
int oai_write_models(struct oai_buf *b, const char *model, long long created);

/* Raw appends, for other text formats built in the same buffer. */
int oai_buf_add(struct oai_buf *b, const char *s, size_t n);
int oai_buf_printf(struct oai_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void oai_buf_free(struct oai_buf *b);

/* How many bytes at the end of text[0..n) begin a valid UTF-8 sequence that is not
 * complete yet (0..3): a streamer holds them back until the next token completes them. */
size_t oai_utf8_incomplete_tail(const char *text, size_t n);

#endif
