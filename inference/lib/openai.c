/* openai.c: OpenAI request parsing (jansson) and response writing (by hand, so a
 * streamed token costs no allocation once the buffer has grown). */
#include "openai.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

static int buf_reserve(struct oai_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int oai_buf_add(struct oai_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int buf_cstr(struct oai_buf *b, const char *s) { return oai_buf_add(b, s, strlen(s)); }

int oai_buf_printf(struct oai_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void oai_buf_free(struct oai_buf *b)
{
    free(b->data);
    *b = (struct oai_buf){0};
}

/* ---- UTF-8 ---- */

/* For a lead byte c: the sequence length and the allowed range of the second byte
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). 0 when c cannot lead. */
static size_t utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* How many of s[0..n) (n >= 1) agree with a valid sequence; its full length in *want. */
static size_t utf8_prefix(const unsigned char *s, size_t n, size_t *want)
{
    unsigned char lo, hi;
    *want = utf8_lead(s[0], &lo, &hi);
    if (*want == 0)
        return 0;
    size_t i = 1;
    if (i < n && i < *want && s[i] >= lo && s[i] <= hi)
        i++;
    else
        return i < *want && i < n ? 0 : i;
    while (i < n && i < *want && (s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

/* Length of the valid sequence at s[0..n), or 0 when invalid or cut short. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t want, got = utf8_prefix(s, n, &want);
    return want && got == want ? want : 0;
}

size_t oai_utf8_incomplete_tail(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    /* A sequence is at most 4 bytes, so only a lead in the last 3 bytes can be cut short. */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        if ((s[n - back] & 0xC0) == 0x80)
            continue;
        size_t want, got = utf8_prefix(s + n - back, back, &want);
        return want > back && got == back ? back : 0;
    }
    return 0;
}

/* Appends s[0..n) as a JSON string literal; invalid UTF-8 bytes become U+FFFD. */
static int buf_json_str(struct oai_buf *b, const char *text, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    if (buf_reserve(b, n + 2) < 0 || oai_buf_add(b, "\"", 1) < 0)
        return -1;
    size_t i = 0;
    while (i < n) {
        size_t run = i;   /* copy plain runs in one go */
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i && oai_buf_add(b, text + i, run - i) < 0)
            return -1;
        i = run;
        if (i == n)
            break;
        unsigned char c = s[i];
        int rc;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = oai_buf_add(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n') rc = oai_buf_add(b, "\\n", 2);
            else if (c == '\r') rc = oai_buf_add(b, "\\r", 2);
            else if (c == '\t') rc = oai_buf_add(b, "\\t", 2);
            else rc = oai_buf_add(b, esc, 6);
            i++;
        } else {
            size_t len = utf8_seq(s + i, n - i);
            if (len) {
                rc = oai_buf_add(b, text + i, len);
                i += len;
            } else {
                rc = oai_buf_add(b, "\\ufffd", 6);
                i++;
            }
        }
        if (rc < 0)
            return -1;
    }
    return oai_buf_add(b, "\"", 1);
}

static int buf_json_cstr(struct oai_buf *b, const char *s) { return buf_json_str(b, s, strlen(s)); }

/* ---- requests ---- */

int oai_template_parse(const char *name, enum oai_template *out)
{
    if (!strcmp(name, "last-user"))
        *out = OAI_TEMPLATE_LAST_USER;
    else if (!strcmp(name, "concat"))
        *out = OAI_TEMPLATE_CONCAT;
    else
        return -1;
    return 0;
}

void oai_error_set(struct oai_error *err, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...)
{
    va_list ap;
    err->status = status;
    err->type = type;
    err->code = code;
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

#define BAD(param, ...) \
    (oai_error_set(err, 400, "invalid_request_error", NULL, param, __VA_ARGS__), -1)

void oai_request_free(struct oai_request *req)
{
    free(req->prompt);
    for (int i = 0; i < req->n_stop; i++)
        free(req->stop[i]);
    *req = (struct oai_request){0};
}

/* A field that is absent or JSON null counts as not given. */
static json_t *field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static int parse_number(json_t *root, const char *key, double lo, double hi, int lo_open,
                        float *out, struct oai_error *err)
{
    json_t *v = field(root, key);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return BAD(key, "'%s' must be a number", key);
    double x = json_number_value(v);
    if (x < lo || x > hi || (lo_open && x == lo))
        return BAD(key, "'%s' must be in %c%g, %g]", key, lo_open ? '(' : '[', lo, hi);
    *out = (float)x;
    return 0;
}

static int add_stop(struct oai_request *req, json_t *s, struct oai_error *err)
{
    if (!json_is_string(s))
        return BAD("stop", "'stop' must be a string or an array of strings");
    size_t n = json_string_length(s);
    if (n == 0 || n > OAI_MAX_STOP_LEN)
        return BAD("stop", "each stop sequence must have 1 to %d bytes", OAI_MAX_STOP_LEN);
    if (req->n_stop == OAI_MAX_STOP)
        return BAD("stop", "at most %d stop sequences", OAI_MAX_STOP);
    if (!(req->stop[req->n_stop] = strdup(json_string_value(s))))
        return BAD("stop", "out of memory");
    req->n_stop++;
    return 0;
}

static int parse_stop(json_t *root, struct oai_request *req, struct oai_error *err)
{
    json_t *v = field(root, "stop");
    if (!v)
        return 0;
    if (!json_is_array(v))
        return add_stop(req, v, err);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
        if (add_stop(req, s, err) < 0)
            return -1;
    return 0;
}

/* The prompt of a chat request, by template. */
static int chat_prompt(json_t *root, enum oai_template tmpl, struct oai_request *req,
                       struct oai_error *err)
{
    json_t *msgs = field(root, "messages"), *m;
    size_t i;
    if (!msgs)
        return BAD("messages", "'messages' is required");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return BAD("messages", "'messages' must be a non-empty array");
    const char *last_user = NULL;
    size_t total = 0;
    json_array_foreach(msgs, i, m) {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_object(m) || !json_is_string(role))
            return BAD("messages", "messages[%zu] must be an object with a string 'role'", i);
        int user = !strcmp(json_string_value(role), "user");
        /* OpenAI lets an assistant or tool message have null content: it adds no text. */
        if (!json_is_string(content) && (user || !json_is_null(content)))
            return BAD("messages", "messages[%zu].content must be a string", i);
        if (user)
            last_user = json_string_value(content);
        total += json_string_length(content) + 1;   /* 0 for null */
    }
    if (tmpl == OAI_TEMPLATE_LAST_USER) {
        if (!last_user)
            return BAD("messages", "'messages' has no message with role 'user'");
        req->prompt = strdup(last_user);
    } else if ((req->prompt = malloc(total))) {
        char *p = req->prompt;
        json_array_foreach(msgs, i, m) {
            json_t *content = json_object_get(m, "content");
            if (!json_is_string(content))
                continue;
            size_t n = json_string_length(content);
            memcpy(p, json_string_value(content), n);
            p += n;
            *p++ = '\n';
        }
        *(p > req->prompt ? p - 1 : p) = '\0';
    }
    return req->prompt ? 0 : BAD("messages", "out of memory");
}

static int completion_prompt(json_t *root, struct oai_request *req, struct oai_error *err)
{
    json_t *p = field(root, "prompt");
    if (!p)
        return BAD("prompt", "'prompt' is required");
    if (json_is_array(p) && json_array_size(p) == 1)
        p = json_array_get(p, 0);   /* a batch of one prompt */
    if (!json_is_string(p))
        return BAD("prompt", "'prompt' must be a string");
    req->prompt = strdup(json_string_value(p));
    return req->prompt ? 0 : BAD("prompt", "out of memory");
}

static int parse_fields(json_t *root, enum oai_kind kind, const char *model, enum oai_template tmpl,
                        struct oai_request *req, struct oai_error *err)
{
    json_t *v;
    if ((v = field(root, "model"))) {
        if (!json_is_string(v))
            return BAD("model", "'model' must be a string");
        if (strcmp(json_string_value(v), model)) {
            oai_error_set(err, 400, "invalid_request_error", "model_not_found", "model",
                          "The model '%.100s' does not exist; this worker serves '%.100s'",
                          json_string_value(v), model);
            return -1;
        }
    }
    if ((kind == OAI_CHAT ? chat_prompt(root, tmpl, req, err) : completion_prompt(root, req, err)) < 0)
        return -1;
    const char *max_key = kind == OAI_CHAT && field(root, "max_completion_tokens")
                              ? "max_completion_tokens" : "max_tokens";
    if ((v = field(root, max_key))) {
        if (!json_is_integer(v))
            return BAD(max_key, "'%s' must be an integer", max_key);
        json_int_t n = json_integer_value(v);
        if (n < 1 || n > 1 << 30)
            return BAD(max_key, "'%s' must be at least 1", max_key);
        req->max_tokens = (int)n;
    }
    if (parse_number(root, "temperature", 0, 2, 0, &req->temperature, err) < 0 ||
        parse_number(root, "top_p", 0, 1, 1, &req->top_p, err) < 0)
        return -1;
    if ((v = field(root, "seed"))) {
        if (!json_is_integer(v))
            return BAD("seed", "'seed' must be an integer");
        req->seed = (uint64_t)json_integer_value(v);
        req->has_seed = 1;
    }
    if ((v = field(root, "n")) && (!json_is_integer(v) || json_integer_value(v) != 1))
        return BAD("n", "only n = 1 is supported");
    if (parse_stop(root, req, err) < 0)
        return -1;
    if ((v = field(root, "stream"))) {
        if (!json_is_boolean(v))
            return BAD("stream", "'stream' must be a boolean");
        req->stream = json_is_true(v);
    }
    if ((v = field(root, "stream_options"))) {
        json_t *u = field(v, "include_usage");
        if (!json_is_object(v) || (u && !json_is_boolean(u)))
            return BAD("stream_options", "'stream_options' must be an object with a boolean 'include_usage'");
        req->include_usage = req->stream && json_is_true(u);
    }
    return 0;
}

int oai_parse_request(const char *body, size_t len, enum oai_kind kind, const char *model,
                      enum oai_template tmpl, struct oai_request *req, struct oai_error *err)
{
    json_error_t jerr;
    *req = (struct oai_request){.kind = kind, .temperature = 1.0f, .top_p = 1.0f};
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return BAD(NULL, "We could not parse the JSON body of your request: %s (line %d, column %d)",
                   jerr.text, jerr.line, jerr.column);
    int rc = json_is_object(root) ? parse_fields(root, kind, model, tmpl, req, err)
                                  : BAD(NULL, "The request body must be a JSON object");
    json_decref(root);
    if (rc < 0)
        oai_request_free(req);
    return rc;
}

/* ---- responses ---- */

int oai_write_error_event(struct oai_buf *b, const struct oai_error *err)
{
    if (buf_cstr(b, "data: ") < 0 || oai_write_error(b, err) < 0)
        return -1;
    return buf_cstr(b, "\n\n");
}

int oai_write_error(struct oai_buf *b, const struct oai_error *err)
{
    if (buf_cstr(b, "{\"error\":{\"message\":") < 0 || buf_json_cstr(b, err->message) < 0 ||
        buf_cstr(b, ",\"type\":") < 0 || buf_json_cstr(b, err->type) < 0 ||
        buf_cstr(b, ",\"param\":") < 0 ||
        (err->param[0] ? buf_json_cstr(b, err->param) : buf_cstr(b, "null")) < 0 ||
        buf_cstr(b, ",\"code\":") < 0 ||
        (err->code ? buf_json_cstr(b, err->code) : buf_cstr(b, "null")) < 0)
        return -1;
    return buf_cstr(b, "}}");
}

/* {"id":..,"object":..,"created":..,"model":.., -- the head every response shares. */
/* V in decimal: the head of every streamed token carries one, and printf's two passes
 * cost more than the rest of the chunk. */
static int buf_llong(struct oai_buf *b, long long v)
{
    char digits[24], *p = digits + sizeof digits;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return oai_buf_add(b, p, (size_t)(digits + sizeof digits - p));
}

static int write_head(struct oai_buf *b, const struct oai_meta *m, const char *object)
{
    if (buf_cstr(b, "{\"id\":") < 0 || buf_json_cstr(b, m->id) < 0 || buf_cstr(b, ",\"object\":\"") < 0 ||
        buf_cstr(b, object) < 0 || buf_cstr(b, "\",\"created\":") < 0 || buf_llong(b, m->created) < 0 ||
        buf_cstr(b, ",\"model\":") < 0 || buf_json_cstr(b, m->model) < 0)
        return -1;
    return buf_cstr(b, ",");
}

static int write_finish(struct oai_buf *b, const char *finish_reason)
{
    return finish_reason ? oai_buf_printf(b, "\"finish_reason\":\"%s\"}]", finish_reason)
                         : buf_cstr(b, "\"finish_reason\":null}]");
}

static int write_usage(struct oai_buf *b, const struct oai_usage *u)
{
    return oai_buf_printf(b, "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
                      u->prompt_tokens, u->completion_tokens, u->prompt_tokens + u->completion_tokens);
}

int oai_write_response(struct oai_buf *b, const struct oai_meta *m, const char *text, size_t len,
                       const char *finish_reason, const struct oai_usage *u)
{
    int chat = m->kind == OAI_CHAT;
    if (write_head(b, m, chat ? "chat.completion" : "text_completion") < 0 ||
        buf_cstr(b, chat ? "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                         : "\"choices\":[{\"index\":0,\"text\":") < 0 ||
        buf_json_str(b, text, len) < 0 ||
        buf_cstr(b, chat ? "},\"logprobs\":null," : ",\"logprobs\":null,") < 0 ||
        write_finish(b, finish_reason) < 0 || buf_cstr(b, ",") < 0 || write_usage(b, u) < 0)
        return -1;
    return buf_cstr(b, "}");
}

int oai_write_chunk(struct oai_buf *b, const struct oai_meta *m, const char *text, size_t len,
                    int first, const char *finish_reason, int include_usage)
{
    int chat = m->kind == OAI_CHAT;
    if (buf_cstr(b, "data: ") < 0 ||
        write_head(b, m, chat ? "chat.completion.chunk" : "text_completion") < 0)
        return -1;
    int rc;
    if (chat) {
        rc = buf_cstr(b, "\"choices\":[{\"index\":0,\"delta\":{");
        if (rc == 0 && first)
            rc = buf_cstr(b, len ? "\"role\":\"assistant\"," : "\"role\":\"assistant\"");
        if (rc == 0 && len)
            rc = buf_cstr(b, "\"content\":") < 0 || buf_json_str(b, text, len) < 0 ? -1 : 0;
        if (rc == 0)
            rc = buf_cstr(b, "},\"logprobs\":null,");
    } else {
        rc = buf_cstr(b, "\"choices\":[{\"index\":0,\"text\":") < 0 || buf_json_str(b, text, len) < 0 ||
             buf_cstr(b, ",\"logprobs\":null,") < 0 ? -1 : 0;
    }
    if (rc < 0 || write_finish(b, finish_reason) < 0 ||
        (include_usage && buf_cstr(b, ",\"usage\":null") < 0))
        return -1;
    return buf_cstr(b, "}\n\n");
}

int oai_write_usage_chunk(struct oai_buf *b, const struct oai_meta *m, const struct oai_usage *u)
{
    if (buf_cstr(b, "data: ") < 0 ||
        write_head(b, m, m->kind == OAI_CHAT ? "chat.completion.chunk" : "text_completion") < 0 ||
        buf_cstr(b, "\"choices\":[],") < 0 || write_usage(b, u) < 0)
        return -1;
    return buf_cstr(b, "}\n\n");
}

int oai_write_done(struct oai_buf *b) { return buf_cstr(b, "data: [DONE]\n\n"); }

int oai_write_models(struct oai_buf *b, const char *model, long long created)
{
    if (buf_cstr(b, "{\"object\":\"list\",\"data\":[{\"id\":") < 0 || buf_json_cstr(b, model) < 0)
        return -1;
    return oai_buf_printf(b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"arena\"}]}", created);
}
