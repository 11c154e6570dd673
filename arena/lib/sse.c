/* sse.c: incremental server-sent-events parser, OpenAI chunk reader, event encoder. */
#include "sse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sse_init(sse_parser *p, size_t max)
{
    memset(p, 0, sizeof *p);
    p->max = max;
}

void sse_free(sse_parser *p)
{
    free(p->line);
    free(p->data);
    memset(p, 0, sizeof *p);
}

/* Appends n bytes to a growing buffer, keeping it NUL-terminated, bounded by max. */
static int grow_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n, size_t max)
{
    if (*len + n > max) return -1;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 128;
        while (c < *len + n + 1) c *= 2;
        char *b = realloc(*buf, c);
        if (!b) return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int end_line(sse_parser *p, sse_event_fn fn, void *ud)
{
    const char *line = p->line ? p->line : "";
    size_t n = p->line_len;
    p->line_len = 0;
    if (n == 0) {  /* blank line: dispatch */
        int rc = 0;
        if (p->has_data) rc = fn(ud, p->event[0] ? p->event : "message", p->data ? p->data : "", p->data_len);
        p->event[0] = '\0';
        p->data_len = 0;
        p->has_data = 0;
        return rc;
    }
    if (line[0] == ':') return 0;
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    const char *value = colon ? colon + 1 : line + n;
    size_t value_len = (size_t)(line + n - value);
    if (value_len && *value == ' ') { value++; value_len--; }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (p->has_data && grow_append(&p->data, &p->data_len, &p->data_cap, "\n", 1, p->max) < 0) return -1;
        if (grow_append(&p->data, &p->data_len, &p->data_cap, value, value_len, p->max) < 0) return -1;
        p->has_data = 1;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        size_t k = value_len < sizeof p->event - 1 ? value_len : sizeof p->event - 1;
        memcpy(p->event, value, k);
        p->event[k] = '\0';
    }
    return 0;
}

int sse_feed(sse_parser *p, const char *bytes, size_t n, sse_event_fn fn, void *ud)
{
    size_t i = 0;
    while (i < n) {
        if (p->after_cr) {
            p->after_cr = 0;
            if (bytes[i] == '\n') { i++; continue; }
        }
        size_t j = i;
        while (j < n && bytes[j] != '\n' && bytes[j] != '\r') j++;
        if (j > i && grow_append(&p->line, &p->line_len, &p->line_cap, bytes + i, j - i, p->max) < 0) return -1;
        if (j == n) break;
        p->after_cr = bytes[j] == '\r';
        i = j + 1;
        if (end_line(p, fn, ud) < 0) return -1;
    }
    return 0;
}

static void copy_text(const char *s, char *buf, size_t buflen, size_t *outlen)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= buflen) n = buflen ? buflen - 1 : 0;
    if (buflen) {
        memcpy(buf, s ? s : "", n);
        buf[n] = '\0';
    }
    *outlen = n;
}

sse_chunk_kind sse_openai_chunk(const char *data, size_t len, char *buf, size_t buflen, size_t *outlen)
{
    *outlen = 0;
    if (buflen) buf[0] = '\0';
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) return SSE_CHUNK_DONE;
    json_t *o = json_loadb(data, len, 0, NULL);
    sse_chunk_kind kind = SSE_CHUNK_INVALID;
    json_t *err = json_object_get(o, "error");
    if (err) {
        const char *msg = json_is_string(err) ? json_string_value(err) : json_string_value(json_object_get(err, "message"));
        copy_text(msg ? msg : "upstream error", buf, buflen, outlen);
        kind = SSE_CHUNK_ERROR;
    } else {
        json_t *choice = json_array_get(json_object_get(o, "choices"), 0);
        if (json_is_object(choice)) {
            json_t *content = json_object_get(json_object_get(choice, "delta"), "content");
            json_t *finish = json_object_get(choice, "finish_reason");
            copy_text(json_string_value(content), buf, buflen, outlen);
            kind = finish && !json_is_null(finish) ? SSE_CHUNK_STOP : SSE_CHUNK_TEXT;
        }
    }
    json_decref(o);
    return kind;
}

/* Writes n bytes at *pos when they fit; always advances the needed length. */
static void put(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos < cap) memcpy(out + *pos, s, *pos + n <= cap ? n : cap - *pos);
    *pos += n;
}

static void terminate(char *out, size_t cap, size_t pos)
{
    if (cap) out[pos < cap ? pos : cap - 1] = '\0';
}

size_t sse_encode(char *out, size_t cap, const char *event, const char *data, size_t len)
{
    size_t pos = 0;
    if (event) {
        put(out, cap, &pos, "event: ", 7);
        put(out, cap, &pos, event, strlen(event));
        put(out, cap, &pos, "\n", 1);
    }
    for (size_t i = 0;;) {
        size_t j = i;
        while (j < len && data[j] != '\n') j++;
        put(out, cap, &pos, "data: ", 6);
        put(out, cap, &pos, data + i, j - i);
        put(out, cap, &pos, "\n", 1);
        if (j >= len) break;
        i = j + 1;
    }
    put(out, cap, &pos, "\n", 1);
    terminate(out, cap, pos);
    return pos;
}

size_t sse_json_escape(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(out, cap, &pos, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            put(out, cap, &pos, esc, 6);
            continue;
        }
        put(out, cap, &pos, esc, 2);
    }
    put(out, cap, &pos, s + run, len - run);
    terminate(out, cap, pos);
    return pos;
}

size_t sse_encode_text(char *out, size_t cap, const char *event, const char *text, size_t len)
{
    size_t pos = 0;
    put(out, cap, &pos, "event: ", 7);
    put(out, cap, &pos, event, strlen(event));
    put(out, cap, &pos, "\ndata: {\"text\":\"", 16);
    pos += sse_json_escape(pos < cap ? out + pos : NULL, pos < cap ? cap - pos : 0, text, len);
    put(out, cap, &pos, "\"}\n\n", 4);
    terminate(out, cap, pos);
    return pos;
}
