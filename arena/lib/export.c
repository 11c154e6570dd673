/* export.c: vote records as FastChat clean-battle JSON or CSV. See export.h. */
#include "export.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct export_writer {
    export_format fmt;
    export_filter filter;
    export_sink sink;
    void *ud;
    char *buf;                  /* one piece of output; reused */
    size_t len, cap;
    size_t count;
    int failed;
};

static int reserve(export_writer *w, size_t more)
{
    if (w->len + more + 1 <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + more + 1) cap *= 2;
    char *nb = realloc(w->buf, cap);
    if (!nb) return -1;
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static void put(export_writer *w, const char *s, size_t n)
{
    if (w->failed) return;
    if (reserve(w, n) < 0) {
        w->failed = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void puts_(export_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void printf_(export_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(export_writer *w, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string: quotes, backslash and control characters escaped; UTF-8 passes. */
static void json_str(export_writer *w, const char *s)
{
    put(w, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        put(w, run, (size_t)(s - run));
        if (ch == '"') puts_(w, "\\\"");
        else if (ch == '\\') puts_(w, "\\\\");
        else if (ch == '\n') puts_(w, "\\n");
        else if (ch == '\t') puts_(w, "\\t");
        else if (ch == '\r') puts_(w, "\\r");
        else printf_(w, "\\u%04x", ch);
        run = s + 1;
    }
    put(w, run, (size_t)(s - run));
    put(w, "\"", 1);
}

/* A conversation is stored as JSON text: embedded as it is when it is a JSON array,
 * else (never written by the server, but a store may hold anything) as a string. */
static void json_conversation(export_writer *w, const char *text)
{
    json_error_t e;
    json_t *v = text ? json_loads(text, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (v && json_is_array(v)) puts_(w, text);
    else json_str(w, text ? text : "");
    json_decref(v);
}

/* The shortest of %.6f and %.17g that reads back as the same double. */
static void number(export_writer *w, double x)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.6f", x);
    if (strtod(tmp, NULL) != x) snprintf(tmp, sizeof tmp, "%.17g", x);
    puts_(w, tmp);
}

static void csv_field(export_writer *w, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        puts_(w, s);
        return;
    }
    put(w, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"') put(w, "\"\"", 2);
        else put(w, p, 1);
    }
    put(w, "\"", 1);
}

static int flush(export_writer *w)
{
    if (!w->failed && w->len && w->sink(w->ud, w->buf, w->len) < 0) w->failed = 1;
    w->len = 0;
    return w->failed ? -1 : 0;
}

export_writer *export_new(export_format fmt, const export_filter *filter, export_sink sink, void *ud,
                          char *err, size_t errlen)
{
    if (!sink || (fmt != EXPORT_JSON && fmt != EXPORT_CSV)) {
        snprintf(err, errlen, "export: bad format or no sink");
        return NULL;
    }
    export_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->fmt = fmt;
    w->filter = filter ? *filter : (export_filter){ 0, NAN };
    w->sink = sink;
    w->ud = ud;
    return w;
}

void export_free(export_writer *w)
{
    if (!w) return;
    free(w->buf);
    free(w);
}

int export_begin(export_writer *w)
{
    if (w->fmt == EXPORT_JSON) puts_(w, "[");
    else puts_(w, "model_a,model_b,winner,tstamp,anony,turn,language,judge,question_id\n");
    return flush(w);
}

int export_record(export_writer *w, const store_vote_record *r)
{
    if (w->failed) return -1;
    int anony = r->anony && !r->leak;
    if (w->filter.anony_only && !anony) return 0;
    if (!isnan(w->filter.since) && !(r->tstamp >= w->filter.since)) return 0;
    const char *qid = r->question_id ? r->question_id : "";
    if (w->fmt == EXPORT_JSON) {
        puts_(w, w->count ? ",\n{" : "\n{");
        puts_(w, "\"question_id\":"); json_str(w, qid);
        puts_(w, ",\"model_a\":"); json_str(w, r->model_a);
        puts_(w, ",\"model_b\":"); json_str(w, r->model_b);
        puts_(w, ",\"winner\":"); json_str(w, r->winner);
        puts_(w, ",\"judge\":"); json_str(w, r->judge ? r->judge : "");
        puts_(w, ",\"conversation_a\":"); json_conversation(w, r->conversation_a);
        puts_(w, ",\"conversation_b\":"); json_conversation(w, r->conversation_b);
        printf_(w, ",\"turn\":%d,\"anony\":%s", r->turn, anony ? "true" : "false");
        puts_(w, ",\"language\":"); json_str(w, r->language ? r->language : "unknown");
        if (isfinite(r->tstamp)) {
            puts_(w, ",\"tstamp\":");
            number(w, r->tstamp);
        }
        printf_(w, ",\"leak\":%s,\"mode\":\"%s\"}", r->leak ? "true" : "false", r->anony ? "anony" : "named");
    } else {
        csv_field(w, r->model_a);
        put(w, ",", 1);
        csv_field(w, r->model_b);
        put(w, ",", 1);
        csv_field(w, r->winner);
        put(w, ",", 1);
        if (isfinite(r->tstamp)) number(w, r->tstamp);
        printf_(w, ",%d,%d,", anony, r->turn);
        csv_field(w, r->language ? r->language : "unknown");
        put(w, ",", 1);
        csv_field(w, r->judge ? r->judge : "");
        put(w, ",", 1);
        csv_field(w, qid);
        put(w, "\n", 1);
    }
    if (flush(w) < 0) return -1;
    w->count++;
    return 1;
}

int export_end(export_writer *w)
{
    if (w->fmt == EXPORT_JSON) puts_(w, w->count ? "\n]\n" : "]\n");
    return flush(w);
}

size_t export_count(const export_writer *w)
{
    return w->count;
}

const char *export_content_type(export_format fmt)
{
    return fmt == EXPORT_CSV ? "text/csv; charset=utf-8" : "application/json";
}
