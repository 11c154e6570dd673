/* reader.c: streaming battle-file readers (FastChat JSON array, JSON Lines, CSV).
 *
 * Layers, bottom up: an input (file descriptor or memory, optionally gunzipped) hands out
 * chunks of bytes; a parser (yajl for JSON, a small state machine for CSV) turns them into
 * the fields of one record, copied into a per-read scratch buffer; finish_record validates
 * the fields the same way for every format and calls the user's callback. All buffers are
 * allocated once per read (the scratch grows only for unusually long fields), so memory is
 * independent of the file's length. */
#include "reader.h"
#include "rt_errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>
#include <zlib.h>

/* Bytes per read(2) and per inflate() output. Large reads keep system calls off the
 * profile. Overridable at build time (the fuzzer uses tiny chunks to reach the code that
 * handles tokens split across chunks). */
#ifndef RD_CHUNK
#define RD_CHUNK (1u << 20)
#endif
_Static_assert(RD_CHUNK >= 4, "RD_CHUNK must hold a gzip magic and a UTF-8 BOM");

/* No single record (its kept JSON fields, or one CSV row) may exceed this. */
#define RD_MAX_RECORD (16u << 20)

/* ---- the fields of a record ---------------------------------------------------------- */

enum { F_MODEL_A, F_MODEL_B, F_WINNER, F_TSTAMP, F_ANONY, F_TURN, F_JUDGE, F_LANGUAGE, F_QUESTION_ID, F_COUNT };
enum { F_OTHER = -1 };
typedef enum { K_STRING, K_NUMBER, K_BOOL } rd_kind;

#define KEY(s) s, sizeof s - 1
static const struct {
    const char *key;    /* FastChat's name, also the default CSV column */
    size_t keylen;
    rd_kind kind;       /* the JSON type it must have */
    int required;
} field_info[F_COUNT] = {
    [F_MODEL_A] = {KEY("model_a"), K_STRING, 1},
    [F_MODEL_B] = {KEY("model_b"), K_STRING, 1},
    [F_WINNER] = {KEY("winner"), K_STRING, 1},
    [F_TSTAMP] = {KEY("tstamp"), K_NUMBER, 0},
    [F_ANONY] = {KEY("anony"), K_BOOL, 0},
    [F_TURN] = {KEY("turn"), K_NUMBER, 0},
    [F_JUDGE] = {KEY("judge"), K_STRING, 0},
    [F_LANGUAGE] = {KEY("language"), K_STRING, 0},
    [F_QUESTION_ID] = {KEY("question_id"), K_STRING, 0},
};
#undef KEY

/* A field's text lives in the scratch buffer at off (NUL-terminated); offsets, not
 * pointers, because the buffer may move while a record is being collected. */
typedef struct rd_slot { size_t off, len; int present; } rd_slot;

typedef struct rd_csv {
    int state;
    int row_quoted;             /* some cell of the current row was quoted */
    int row_open;               /* bytes of the current row have been seen */
    size_t *cells;              /* offsets of the row's cells in the scratch buffer */
    size_t ncells, cells_cap;
    size_t header_fields;       /* 0 until the header row was read */
    long col[F_COUNT];          /* column of each field, -1 when the header lacks it */
} rd_csv;

typedef struct rd_ctx {
    const char *name;
    rd_options opt;
    rd_callback cb;
    void *ud;
    rd_stats st;
    char *err;
    size_t errlen;
    int failed;

    const char *field_name[F_COUNT];   /* as the input spells it, for messages */
    size_t index;                      /* the record being read (see rd_record.index) */
    size_t line;                       /* 1-based line of the next byte (JSONL, CSV) */
    rd_slot slot[F_COUNT];
    char *buf;                         /* scratch: the current record's field texts */
    size_t len, cap;

    rd_slot conv[2];                   /* conversation_a, _b as JSON text (opt.conversations) */

    /* JSON */
    yajl_handle yh;
    int top;                           /* depth of the record objects: 1 array, 0 lines */
    int depth;                         /* open containers */
    int key;                           /* field of the current key, or F_OTHER */
    int conv_key;                      /* 0, 1: the key is conversation_a, _b; else -1 */
    yajl_gen gen;                      /* re-writes the conversation being captured */
    int capturing;                     /* containers open in the capture; 0 = none */
    size_t record_line;                /* JSONL: line of the last record start */
    unsigned long long fed;            /* bytes given to yajl before the current call */

    rd_csv csv;
} rd_ctx;

static void rd_fail(rd_ctx *c, int field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error only: later failures are consequences of it. */
static void rd_fail(rd_ctx *c, int field, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    if (!c->err || !c->errlen)
        return;
    int n;
    if (field >= 0)
        n = snprintf(c->err, c->errlen, "%s: record %zu: field \"%s\": ", c->name, c->index, c->field_name[field]);
    else
        n = snprintf(c->err, c->errlen, "%s: record %zu: ", c->name, c->index);
    if (n < 0 || (size_t)n >= c->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* An input value quoted for a message: at most 40 bytes, control bytes as '?'. */
static const char *shown(const char *s, size_t len, char out[48])
{
    size_t n = len < 40 ? len : 40;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    strcpy(out + n, len > 40 ? "..." : "");
    return out;
}

/* ---- scratch buffer ------------------------------------------------------------------ */

static void record_begin(rd_ctx *c, size_t index)
{
    c->index = index;
    c->len = 0;
    memset(c->slot, 0, sizeof c->slot);
    memset(c->conv, 0, sizeof c->conv);
}

/* Appends s[0..n) and a NUL to the scratch; returns the offset of the copy, or -1. */
static long scratch_put(rd_ctx *c, const void *s, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        if (c->len + n + 1 > RD_MAX_RECORD) {
            rd_fail(c, -1, "record longer than %u bytes", RD_MAX_RECORD);
            return -1;
        }
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *b = realloc(c->buf, cap);
        if (!b) {
            rd_fail(c, -1, "out of memory");
            return -1;
        }
        c->buf = b;
        c->cap = cap;
    }
    size_t off = c->len;
    memcpy(c->buf + off, s, n);
    c->buf[off + n] = '\0';
    c->len += n + 1;
    return (long)off;
}

static int slot_set(rd_ctx *c, int f, const void *s, size_t n)
{
    long off = scratch_put(c, s, n);
    if (off < 0)
        return -1;
    c->slot[f] = (rd_slot){(size_t)off, n, 1};
    return 0;
}

/* ---- validation shared by all formats ------------------------------------------------ */

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) without NUL:
 * a NUL would make the NUL-terminated copy silently differ from the input. */
static int text_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) {
            if (!b)
                return 0;
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((b & 0xe0) == 0xc0) need = 1, cp = b & 0x1f, min = 0x80;
        else if ((b & 0xf0) == 0xe0) need = 2, cp = b & 0x0f, min = 0x800;
        else if ((b & 0xf8) == 0xf0) need = 3, cp = b & 0x07, min = 0x10000;
        else return 0;
        if (n - i <= need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

static const char *slot_text(const rd_ctx *c, int f)
{
    return c->slot[f].present ? c->buf + c->slot[f].off : NULL;
}

static int check_text(rd_ctx *c, int f)
{
    const rd_slot *s = &c->slot[f];
    if (s->present && !text_valid((const unsigned char *)c->buf + s->off, s->len)) {
        rd_fail(c, f, "%s", memchr(c->buf + s->off, '\0', s->len) ? "contains a NUL character" : "invalid UTF-8");
        return -1;
    }
    return 0;
}

/* The common shape of a tstamp, [-]digits[.digits] with at most 15 significant digits,
 * converted exactly as strtod would (both operands are exact doubles, so the one division
 * rounds correctly); 0 when the text has another shape. strtod takes the rest. */
static int decimal_fast(const char *t, size_t len, double *out)
{
    static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const char *p = t, *end = t + len;
    int neg = p < end && *p == '-';
    p += neg;
    unsigned long long m = 0;
    int digits = 0, frac = -1;
    for (; p < end; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 15)
            return 0;
        m = m * 10 + (unsigned)(*p - '0');
        frac += frac >= 0;
    }
    if (!digits || frac == 0)
        return 0;
    double v = (double)m / pow10[frac < 0 ? 0 : frac];
    *out = neg ? -v : v;
    return 1;
}

static int parse_tstamp(rd_ctx *c, double *out)
{
    const char *t = slot_text(c, F_TSTAMP);
    *out = NAN;
    if (!t)
        return 0;
    char *end = (char *)t + c->slot[F_TSTAMP].len, tmp[48];
    double v;
    if (!decimal_fast(t, c->slot[F_TSTAMP].len, &v))
        v = strtod(t, &end);
    if (end == t || *end != '\0' || !isfinite(v)) {
        rd_fail(c, F_TSTAMP, "expected a finite number, got \"%s\"", shown(t, c->slot[F_TSTAMP].len, tmp));
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_turn(rd_ctx *c, int *out)
{
    const char *t = slot_text(c, F_TURN);
    *out = 0;
    if (!t)
        return 0;
    char *end, tmp[48];
    errno = 0;
    long v = strtol(t, &end, 10);
    if (end == t || *end != '\0' || errno == ERANGE || v < INT_MIN || v > INT_MAX) {
        rd_fail(c, F_TURN, "expected an integer, got \"%s\"", shown(t, c->slot[F_TURN].len, tmp));
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_anony(rd_ctx *c, int *out)
{
    const char *t = slot_text(c, F_ANONY);
    *out = -1;
    if (!t)
        return 0;
    if (!strcasecmp(t, "true") || !strcmp(t, "1"))
        *out = 1;
    else if (!strcasecmp(t, "false") || !strcmp(t, "0"))
        *out = 0;
    else {
        char tmp[48];
        rd_fail(c, F_ANONY, "expected true or false, got \"%s\"", shown(t, c->slot[F_ANONY].len, tmp));
        return -1;
    }
    return 0;
}

/* One record's fields are complete: validate, count, and deliver or skip it. */
static int finish_record(rd_ctx *c)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (field_info[f].required && !c->slot[f].present) {
            rd_fail(c, f, "missing");
            return -1;
        }
    }
    rd_record r;
    if (check_text(c, F_MODEL_A) || check_text(c, F_MODEL_B) || check_text(c, F_JUDGE) ||
        check_text(c, F_LANGUAGE) || check_text(c, F_QUESTION_ID) || parse_tstamp(c, &r.tstamp) ||
        parse_turn(c, &r.turn) || parse_anony(c, &r.anony))
        return -1;
    for (int f = F_MODEL_A; f <= F_MODEL_B; f++) {
        if (c->slot[f].len == 0) {
            rd_fail(c, f, "empty model name");
            return -1;
        }
    }
    c->st.records++;

    const rd_slot *w = &c->slot[F_WINNER];
    if (rd_parse_winner(c->buf + w->off, w->len, &r.winner) < 0) {
        if (c->opt.strict) {
            char tmp[48];
            rd_fail(c, F_WINNER, "unknown value \"%s\"", shown(c->buf + w->off, w->len, tmp));
            return -1;
        }
        c->st.skipped_winner++;
        return 0;
    }
    r.model_a = slot_text(c, F_MODEL_A);
    r.model_b = slot_text(c, F_MODEL_B);
    if (!strcmp(r.model_a, r.model_b)) {
        if (c->opt.strict) {
            rd_fail(c, F_MODEL_B, "self-battle: same model as \"%s\"", c->field_name[F_MODEL_A]);
            return -1;
        }
        c->st.skipped_self++;
        return 0;
    }
    r.judge = slot_text(c, F_JUDGE);
    r.language = slot_text(c, F_LANGUAGE);
    r.question_id = slot_text(c, F_QUESTION_ID);
    r.conversation_a = c->conv[0].present ? c->buf + c->conv[0].off : NULL;
    r.conversation_b = c->conv[1].present ? c->buf + c->conv[1].off : NULL;
    r.index = c->index;

    if (c->err && c->errlen)
        c->err[0] = '\0';
    if (c->cb && c->cb(c->ud, &r, c->err, c->errlen) != 0) {
        c->failed = 1;
        if (c->err && c->errlen && !c->err[0])
            snprintf(c->err, c->errlen, "%s: record %zu: stopped by the caller", c->name, c->index);
        return -1;
    }
    c->st.delivered++;
    return 0;
}

/* ---- JSON and JSON Lines (yajl) ------------------------------------------------------ */

static const char *kind_name(rd_kind k)
{
    return k == K_STRING ? "a string" : k == K_NUMBER ? "a number" : "true or false";
}

static int key_field(const unsigned char *k, size_t n)
{
    int f;
    switch (n) {   /* the length alone nearly decides: one comparison per key */
    case 4: f = F_TURN; break;
    case 5: f = k[0] == 'a' ? F_ANONY : F_JUDGE; break;
    case 6: f = k[0] == 'w' ? F_WINNER : F_TSTAMP; break;
    case 7: f = k[6] == 'a' ? F_MODEL_A : F_MODEL_B; break;
    case 8: f = F_LANGUAGE; break;
    case 11: f = F_QUESTION_ID; break;
    default: return F_OTHER;
    }
    return memcmp(field_info[f].key, k, n) ? F_OTHER : f;
}

/* A value of JSON type `kind` (text s[0..n)) at the depth where it belongs to a record
 * key, or deeper, or where a record itself should start. Returns yajl's 1/0. */
/* A value of JSON type `type` where a record (or the top-level array) belongs. */
static int json_misplaced(rd_ctx *c, const char *type)
{
    if (!c->top)
        c->index = c->line;
    if (c->depth < c->top)
        rd_fail(c, -1, "expected an array of battle objects, got %s", type);
    else
        rd_fail(c, -1, "expected an object, got %s", type);
    return 0;
}

static int json_value(rd_ctx *c, int is_null, rd_kind kind, const char *type, const void *s, size_t n)
{
    if (c->depth <= c->top)
        return json_misplaced(c, type);
    if (c->depth > c->top + 1 || c->key == F_OTHER)
        return 1;
    int f = c->key;
    if (is_null && !field_info[f].required) {
        c->slot[f].present = 0;
        return 1;
    }
    if (is_null || kind != field_info[f].kind) {
        rd_fail(c, f, "expected %s, got %s", kind_name(field_info[f].kind), type);
        return 0;
    }
    return slot_set(c, f, s, n) == 0;
}

/* ---- conversations (rd_options.conversations): each array or object under the record
 * key conversation_a / conversation_b is written back out as compact JSON text by a yajl
 * generator while it is parsed, and kept like any other field. */

enum { CAP_NULL, CAP_BOOL, CAP_NUMBER, CAP_STRING, CAP_OPEN_MAP, CAP_OPEN_ARRAY, CAP_CLOSE_MAP, CAP_CLOSE_ARRAY };

static int capture_failed(rd_ctx *c, yajl_gen_status st)
{
    rd_fail(c, -1, "field conversation_%c: %s", 'a' + c->conv_key,
            st == yajl_gen_invalid_string ? "invalid UTF-8" : "cannot be written back as JSON");
    return 0;
}

/* Starts a capture when a container opens right under a conversation key: 1 when it did,
 * 0 when this container is not one, -1 on failure. */
static int capture_begins(rd_ctx *c, int is_map)
{
    if (!c->opt.conversations || c->depth != c->top + 1 || c->conv_key < 0)
        return 0;
    if (!c->gen) {
        if (!(c->gen = yajl_gen_alloc(NULL))) {
            rd_fail(c, -1, "out of memory");
            return -1;
        }
        yajl_gen_config(c->gen, yajl_gen_validate_utf8, 1);
    }
    yajl_gen_reset(c->gen, NULL);
    yajl_gen_clear(c->gen);
    yajl_gen_status st = is_map ? yajl_gen_map_open(c->gen) : yajl_gen_array_open(c->gen);
    if (st != yajl_gen_status_ok)
        return capture_failed(c, st) - 1;
    c->capturing = 1;
    c->depth++;
    return 1;
}

/* One parse event inside a capture (keys are strings to the generator); yajl's 1/0. */
static int capture_event(rd_ctx *c, int ev, const void *s, size_t n, int flag)
{
    yajl_gen_status st;
    switch (ev) {
    case CAP_NULL: st = yajl_gen_null(c->gen); break;
    case CAP_BOOL: st = yajl_gen_bool(c->gen, flag); break;
    case CAP_NUMBER: st = yajl_gen_number(c->gen, s, n); break;
    case CAP_STRING: st = yajl_gen_string(c->gen, s, n); break;
    case CAP_OPEN_MAP: st = yajl_gen_map_open(c->gen); c->capturing++; c->depth++; break;
    case CAP_OPEN_ARRAY: st = yajl_gen_array_open(c->gen); c->capturing++; c->depth++; break;
    case CAP_CLOSE_MAP: st = yajl_gen_map_close(c->gen); c->capturing--; c->depth--; break;
    default: st = yajl_gen_array_close(c->gen); c->capturing--; c->depth--; break;
    }
    if (st != yajl_gen_status_ok)
        return capture_failed(c, st);
    if (c->capturing == 0) {
        const unsigned char *text;
        size_t len;
        yajl_gen_get_buf(c->gen, &text, &len);
        long off = scratch_put(c, text, len);
        if (off < 0)
            return 0;
        c->conv[c->conv_key] = (rd_slot){(size_t)off, len, 1};
    }
    return 1;
}

static int js_null(void *ud)
{
    rd_ctx *c = ud;
    return c->capturing ? capture_event(c, CAP_NULL, NULL, 0, 0) : json_value(c, 1, K_STRING, "null", NULL, 0);
}

static int js_boolean(void *ud, int v)
{
    rd_ctx *c = ud;
    return c->capturing ? capture_event(c, CAP_BOOL, NULL, 0, v)
                        : json_value(c, 0, K_BOOL, v ? "true" : "false", v ? "true" : "false", v ? 4 : 5);
}

static int js_number(void *ud, const char *s, size_t n)
{
    rd_ctx *c = ud;
    return c->capturing ? capture_event(c, CAP_NUMBER, s, n, 0) : json_value(c, 0, K_NUMBER, "a number", s, n);
}

static int js_string(void *ud, const unsigned char *s, size_t n)
{
    rd_ctx *c = ud;
    return c->capturing ? capture_event(c, CAP_STRING, s, n, 0) : json_value(c, 0, K_STRING, "a string", s, n);
}

static int js_key(void *ud, const unsigned char *k, size_t n)
{
    rd_ctx *c = ud;
    if (c->capturing)
        return capture_event(c, CAP_STRING, k, n, 0);
    if (c->depth == c->top + 1) {
        c->key = key_field(k, n);
        c->conv_key = n == 14 && !memcmp(k, "conversation_", 13) && (k[13] == 'a' || k[13] == 'b') ? k[13] - 'a' : -1;
    }
    return 1;
}

static int json_open(rd_ctx *c, int is_map)
{
    const char *type = is_map ? "an object" : "an array";
    if (c->capturing)
        return capture_event(c, is_map ? CAP_OPEN_MAP : CAP_OPEN_ARRAY, NULL, 0, 0);
    int captured = capture_begins(c, is_map);
    if (captured)
        return captured > 0;
    if (c->depth == c->top && is_map) {
        size_t index = c->top ? c->index : c->line;
        if (!c->top && c->record_line == c->line) {
            c->index = c->line;
            rd_fail(c, -1, "more than one JSON value on the line");
            return 0;
        }
        c->record_line = c->line;
        record_begin(c, index);
        c->key = F_OTHER;
    } else if (c->top == 1 && c->depth == 0 && !is_map) {
        /* the top-level array */
    } else if (c->depth <= c->top) {
        return json_misplaced(c, type);
    } else if (c->depth == c->top + 1 && c->key != F_OTHER) {
        rd_fail(c, c->key, "expected %s, got %s", kind_name(field_info[c->key].kind), type);
        return 0;
    }
    c->depth++;
    return 1;
}

static int js_start_map(void *ud)
{
    return json_open(ud, 1);
}

static int js_start_array(void *ud)
{
    return json_open(ud, 0);
}

static int js_end_map(void *ud)
{
    rd_ctx *c = ud;
    if (c->capturing)
        return capture_event(c, CAP_CLOSE_MAP, NULL, 0, 0);
    if (--c->depth != c->top)
        return 1;
    if (finish_record(c) < 0)
        return 0;
    if (c->top)
        c->index++;
    return 1;
}

static int js_end_array(void *ud)
{
    rd_ctx *c = ud;
    if (c->capturing)
        return capture_event(c, CAP_CLOSE_ARRAY, NULL, 0, 0);
    c->depth--;
    return 1;
}

static const yajl_callbacks json_callbacks = {
    .yajl_null = js_null,
    .yajl_boolean = js_boolean,
    .yajl_number = js_number,
    .yajl_string = js_string,
    .yajl_start_map = js_start_map,
    .yajl_map_key = js_key,
    .yajl_end_map = js_end_map,
    .yajl_start_array = js_start_array,
    .yajl_end_array = js_end_array,
};

static int json_init(rd_ctx *c, int lines)
{
    c->yh = yajl_alloc(&json_callbacks, NULL, c);
    if (!c->yh) {
        rd_fail(c, -1, "out of memory");
        return -1;
    }
    /* Strings the consumer keeps are checked by check_text; validating every skipped
     * conversation text would cost a fifth of the parse time. */
    yajl_config(c->yh, yajl_dont_validate_strings, 1);
    if (lines)
        yajl_config(c->yh, yajl_allow_multiple_values, 1);
    c->top = lines ? 0 : 1;
    return 0;
}

/* yajl's status after a parse call, turned into our error if it is one. */
static int json_status(rd_ctx *c, yajl_status s, const unsigned char *chunk, size_t n, int at_end)
{
    if (s == yajl_status_ok)
        return 0;
    if (c->failed)           /* a callback said why */
        return -1;
    if (!c->top)
        c->index = c->line;
    if (at_end) {
        rd_fail(c, -1, "truncated JSON: unexpected end of input");
        return -1;
    }
    unsigned char *msg = yajl_get_error(c->yh, 0, chunk, n);
    const char *why = msg ? (const char *)msg : "";
    if (!strncmp(why, "parse error: ", 13))   /* yajl's prefix says nothing more than ours */
        why += 13;
    unsigned long long at = c->fed + yajl_get_bytes_consumed(c->yh);
    rd_fail(c, -1, "malformed JSON at byte %llu: %.*s", at, (int)strcspn(why, "\n"), why);
    if (msg)
        yajl_free_error(c->yh, msg);
    return -1;
}

static int json_feed_part(rd_ctx *c, const unsigned char *p, size_t n)
{
    yajl_status s = yajl_parse(c->yh, p, n);
    if (json_status(c, s, p, n, 0) < 0)
        return -1;
    c->fed += n;
    return 0;
}

static int json_feed(rd_ctx *c, const unsigned char *p, size_t n)
{
    if (c->top)
        return json_feed_part(c, p, n);
    /* JSON Lines: feed line by line so that records know their line number. */
    while (n) {
        const unsigned char *nl = memchr(p, '\n', n);
        size_t part = nl ? (size_t)(nl - p) + 1 : n;
        if (json_feed_part(c, p, part) < 0)
            return -1;
        if (nl)
            c->line++;
        p += part;
        n -= part;
    }
    return 0;
}

static int json_finish(rd_ctx *c)
{
    return json_status(c, yajl_complete_parse(c->yh), NULL, 0, 1);
}

/* ---- CSV (RFC 4180) ------------------------------------------------------------------ */

enum { CSV_CELL_START, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE_IN_QUOTED, CSV_AFTER_CR };

/* Bytes that end a run of plain cell text. */
static const unsigned char csv_special[256] = {[','] = 1, ['\n'] = 1, ['\r'] = 1};

static int csv_cell_end(rd_ctx *c)
{
    rd_csv *v = &c->csv;
    if (scratch_put(c, "", 0) < 0)   /* NUL-terminate the cell */
        return -1;
    if (v->ncells == v->cells_cap) {
        size_t cap = v->cells_cap ? v->cells_cap * 2 : 16;
        size_t *cells = realloc(v->cells, (cap + 1) * sizeof *cells);
        if (!cells) {
            rd_fail(c, -1, "out of memory");
            return -1;
        }
        v->cells = cells;
        v->cells_cap = cap;
    }
    v->ncells++;
    v->cells[v->ncells] = c->len;     /* where the next cell starts */
    return 0;
}

static int csv_append(rd_ctx *c, const unsigned char *p, size_t n)
{
    if (scratch_put(c, p, n) < 0)
        return -1;
    c->len--;                         /* drop the NUL: the cell may go on */
    return 0;
}

static size_t csv_cell_len(const rd_ctx *c, size_t i)
{
    return c->csv.cells[i + 1] - c->csv.cells[i] - 1;
}

static int csv_header(rd_ctx *c)
{
    rd_csv *v = &c->csv;
    const char *want[F_COUNT] = {
        [F_MODEL_A] = c->opt.columns.a, [F_MODEL_B] = c->opt.columns.b,
        [F_WINNER] = c->opt.columns.winner, [F_TSTAMP] = c->opt.columns.tstamp,
    };
    for (int f = 0; f < F_COUNT; f++) {
        int explicit = want[f] != NULL;
        c->field_name[f] = explicit ? want[f] : field_info[f].key;
        v->col[f] = -1;
        for (size_t i = 0; i < v->ncells; i++) {
            if (!strcmp(c->buf + v->cells[i], c->field_name[f]) && csv_cell_len(c, i) == strlen(c->field_name[f])) {
                v->col[f] = (long)i;
                break;
            }
        }
        if (v->col[f] < 0 && (field_info[f].required || explicit)) {
            rd_fail(c, f, "no such column in the header");
            return -1;
        }
    }
    v->header_fields = v->ncells;
    return 0;
}

static int csv_row_end(rd_ctx *c)
{
    rd_csv *v = &c->csv;
    if (csv_cell_end(c) < 0)
        return -1;
    v->row_open = 0;
    v->state = CSV_CELL_START;
    if (v->ncells == 1 && csv_cell_len(c, 0) == 0 && !v->row_quoted)
        return 0;                     /* blank line */
    if (!v->header_fields)
        return csv_header(c);
    if (v->ncells != v->header_fields) {
        rd_fail(c, -1, "expected %zu fields as in the header, found %zu", v->header_fields, v->ncells);
        return -1;
    }
    memset(c->slot, 0, sizeof c->slot);
    for (int f = 0; f < F_COUNT; f++) {
        long i = v->col[f];
        if (i < 0)
            continue;
        size_t n = csv_cell_len(c, (size_t)i);
        if (n || field_info[f].required)   /* an empty optional cell is an absent field */
            c->slot[f] = (rd_slot){v->cells[i], n, 1};
    }
    return finish_record(c);
}

static void csv_row_begin(rd_ctx *c)
{
    rd_csv *v = &c->csv;
    v->row_open = 1;
    v->ncells = 0;
    v->cells[0] = 0;
    v->row_quoted = 0;
    c->index = c->line;
    c->len = 0;
}

static int csv_init(rd_ctx *c)
{
    memset(&c->csv, 0, sizeof c->csv);
    c->csv.cells = malloc(17 * sizeof *c->csv.cells);
    if (!c->csv.cells) {
        rd_fail(c, -1, "out of memory");
        return -1;
    }
    c->csv.cells_cap = 16;
    return 0;
}

static int csv_feed(rd_ctx *c, const unsigned char *p, size_t n)
{
    rd_csv *v = &c->csv;
    const unsigned char *end = p + n;
    while (p < end) {
        if (v->state == CSV_AFTER_CR) {
            v->state = CSV_CELL_START;
            if (*p == '\n') {
                p++;
                continue;
            }
        }
        if (!v->row_open)
            csv_row_begin(c);
        unsigned char b = *p;
        switch (v->state) {
        case CSV_QUOTED: {
            const unsigned char *q = memchr(p, '"', (size_t)(end - p));
            const unsigned char *stop = q ? q : end;
            for (const unsigned char *s = p; s < stop; s++)
                c->line += *s == '\n';
            if (csv_append(c, p, (size_t)(stop - p)) < 0)
                return -1;
            p = stop;
            if (q) {
                v->state = CSV_QUOTE_IN_QUOTED;
                p++;
            }
            continue;
        }
        case CSV_QUOTE_IN_QUOTED:
            if (b == '"') {
                if (csv_append(c, p, 1) < 0)
                    return -1;
                v->state = CSV_QUOTED;
                p++;
                continue;
            }
            if (b != ',' && b != '\n' && b != '\r') {
                rd_fail(c, -1, "field %zu: unexpected character after a closing quote", v->ncells + 1);
                return -1;
            }
            break;
        case CSV_CELL_START:
            if (b == '"') {
                v->state = CSV_QUOTED;
                v->row_quoted = 1;
                p++;
                continue;
            }
            v->state = CSV_UNQUOTED;
            /* fall through */
        case CSV_UNQUOTED: {
            const unsigned char *s = p;
            while (s < end && !csv_special[*s])   /* a stray quote inside is kept as text */
                s++;
            if (csv_append(c, p, (size_t)(s - p)) < 0)
                return -1;
            p = s;
            if (p == end)
                continue;
            b = *p;
            break;
        }
        }
        /* b is a separator: ',' ends the cell, a line break ends the row. */
        p++;
        if (b == ',') {
            if (csv_cell_end(c) < 0)
                return -1;
            v->state = CSV_CELL_START;
            continue;
        }
        c->line++;
        if (csv_row_end(c) < 0)
            return -1;
        if (b == '\r')
            v->state = CSV_AFTER_CR;
    }
    return 0;
}

static int csv_finish(rd_ctx *c)
{
    rd_csv *v = &c->csv;
    if (v->state == CSV_QUOTED) {
        rd_fail(c, -1, "truncated CSV: unterminated quoted field %zu", v->ncells + 1);
        return -1;
    }
    if (v->row_open && csv_row_end(c) < 0)
        return -1;
    return 0;
}

/* ---- input: file descriptor or memory, plain or gzip --------------------------------- */

typedef struct rd_input {
    int fd;                              /* -1: memory */
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    unsigned char *raw;                  /* read(2) buffer */
    const unsigned char *rp;             /* raw bytes not yet handed on */
    size_t rn;
    int raw_eof;
    int gzip, z_ready, z_end;
    z_stream z;
    unsigned char *out;                  /* inflate output */
} rd_input;

/* read(2) into buf, retried on EINTR; returns the byte count or -1 with the error set. */
static ssize_t read_some(rd_ctx *c, int fd, unsigned char *buf, size_t n)
{
    ssize_t got;
    do
        got = read(fd, buf, n);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        rd_fail(c, -1, "read error: %s", strerror(errno));
    return got;
}

/* Next run of undecoded bytes into in->rp/rn; returns 1, 0 at the end, -1 on error. */
static int raw_next(rd_ctx *c, rd_input *in)
{
    if (in->rn)
        return 1;
    if (in->raw_eof)
        return 0;
    if (in->fd < 0) {
        size_t n = in->mem_len - in->mem_pos;
        if (n > RD_CHUNK)
            n = RD_CHUNK;
        in->rp = in->mem + in->mem_pos;
        in->rn = n;
        in->mem_pos += n;
    } else {
        ssize_t n = read_some(c, in->fd, in->raw, RD_CHUNK);
        if (n < 0)
            return -1;
        in->rp = in->raw;
        in->rn = (size_t)n;
    }
    if (!in->rn)
        in->raw_eof = 1;
    return in->rn ? 1 : 0;
}

/* Reads until at least 4 bytes (gzip magic, UTF-8 BOM) are at hand or the input ends. */
static int raw_peek(rd_ctx *c, rd_input *in)
{
    if (raw_next(c, in) <= 0 || in->fd < 0)
        return c->failed ? -1 : 0;
    while (in->rn < 4) {
        ssize_t n = read_some(c, in->fd, in->raw + in->rn, RD_CHUNK - in->rn);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        in->rn += (size_t)n;
    }
    return 0;
}

/* Next chunk of decoded input: returns 1 with *p and *n set, 0 at the end, -1 on error. */
static int input_next(rd_ctx *c, rd_input *in, const unsigned char **p, size_t *n)
{
    if (!in->gzip) {
        int r = raw_next(c, in);
        if (r <= 0)
            return r;
        *p = in->rp;
        *n = in->rn;
        in->rn = 0;
        return 1;
    }
    for (;;) {
        if (in->z_end)
            return 0;
        if (!in->z.avail_in) {
            int r = raw_next(c, in);
            if (r < 0)
                return -1;
            in->z.next_in = (unsigned char *)in->rp;
            in->z.avail_in = (uInt)in->rn;   /* rn <= RD_CHUNK */
            in->rn = 0;
        }
        in->z.next_out = in->out;
        in->z.avail_out = RD_CHUNK;
        int zr = inflate(&in->z, Z_NO_FLUSH);
        size_t got = RD_CHUNK - in->z.avail_out;
        if (zr == Z_STREAM_END) {
            /* gzip members may be concatenated (as `cat a.gz b.gz` makes them) */
            if (in->z.avail_in || raw_next(c, in) > 0) {
                inflateReset(&in->z);
            } else if (c->failed) {
                return -1;
            } else {
                in->z_end = 1;
            }
        } else if (zr == Z_BUF_ERROR && !in->z.avail_in && in->raw_eof) {
            rd_fail(c, -1, "truncated gzip stream");
            return -1;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rd_fail(c, -1, "corrupt gzip stream: %s", in->z.msg ? in->z.msg : "inflate failed");
            return -1;
        }
        if (got) {
            *p = in->out;
            *n = got;
            return 1;
        }
    }
}

static int input_open(rd_ctx *c, rd_input *in)
{
    if (in->fd >= 0 && !(in->raw = malloc(RD_CHUNK))) {
        rd_fail(c, -1, "out of memory");
        return -1;
    }
    if (raw_peek(c, in) < 0)
        return -1;
    if (in->rn < 2 || in->rp[0] != 0x1f || in->rp[1] != 0x8b)
        return 0;
    in->gzip = 1;
    in->out = malloc(RD_CHUNK);
    if (!in->out || inflateInit2(&in->z, 15 + 16) != Z_OK) {
        rd_fail(c, -1, "out of memory");
        return -1;
    }
    in->z_ready = 1;
    return 0;
}

static void input_close(rd_input *in)
{
    if (in->z_ready)
        inflateEnd(&in->z);
    free(in->out);
    free(in->raw);
}

/* ---- the driver ---------------------------------------------------------------------- */

static int is_space(unsigned char b)
{
    return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static int parser_feed(rd_ctx *c, const unsigned char *p, size_t n)
{
    return c->st.format == RD_FORMAT_CSV ? csv_feed(c, p, n) : json_feed(c, p, n);
}

static int run(rd_ctx *c, rd_input *in)
{
    const unsigned char *p = NULL;
    size_t n = 0;
    int r, first = 1;

    if (input_open(c, in) < 0)
        return -1;
    /* Skip a UTF-8 byte order mark and leading white space, counting lines, to find the
     * first byte that tells the format. */
    for (;;) {
        if ((r = input_next(c, in, &p, &n)) <= 0)
            return r;                 /* empty input: no records, not an error */
        if (first && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
            p += 3, n -= 3;
        first = 0;
        while (n && is_space(*p)) {
            c->line += *p == '\n';
            p++, n--;
        }
        if (n)
            break;
    }
    rd_format f = c->opt.format;
    if (f == RD_FORMAT_AUTO)
        f = *p == '[' ? RD_FORMAT_JSON : *p == '{' ? RD_FORMAT_JSONL : RD_FORMAT_CSV;
    c->st.format = f;
    c->index = f == RD_FORMAT_JSON ? 0 : c->line;
    if (f == RD_FORMAT_CSV ? csv_init(c) : json_init(c, f == RD_FORMAT_JSONL))
        return -1;
    do {
        if (parser_feed(c, p, n) < 0)
            return -1;
    } while ((r = input_next(c, in, &p, &n)) > 0);
    if (r < 0)
        return -1;
    return f == RD_FORMAT_CSV ? csv_finish(c) : json_finish(c);
}

static int read_input(rd_ctx *c, rd_input *in, rd_stats *stats)
{
    int r = run(c, in);
    if (r < 0 && !c->failed)
        rd_fail(c, -1, "read failed");
    input_close(in);
    if (c->yh)
        yajl_free(c->yh);
    if (c->gen)
        yajl_gen_free(c->gen);
    free(c->csv.cells);
    free(c->buf);
    if (stats)
        *stats = c->st;
    return r < 0 ? -1 : 0;
}

static void ctx_init(rd_ctx *c, const char *name, const rd_options *opt, rd_callback cb, void *ud, char *err,
                     size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    if (opt)
        c->opt = *opt;
    c->cb = cb;
    c->ud = ud;
    c->err = err;
    c->errlen = errlen;
    c->line = 1;
    c->conv_key = -1;
    c->st.format = c->opt.format;
    for (int f = 0; f < F_COUNT; f++)
        c->field_name[f] = field_info[f].key;
    if (err && errlen)
        err[0] = '\0';
}

int rd_read(const char *path, const rd_options *opt, rd_callback cb, void *ud, rd_stats *stats, char *err,
            size_t errlen)
{
    rd_ctx c;
    if (!path) {
        if (stats)
            memset(stats, 0, sizeof *stats);
        rt_errf(err, errlen, "rd_read: no path");
        return -1;
    }
    int is_stdin = !strcmp(path, "-");
    ctx_init(&c, is_stdin ? "<stdin>" : path, opt, cb, ud, err, errlen);
    rd_input in = {.fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
        rt_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        if (stats)
            *stats = c.st;
        return -1;
    }
    int r = read_input(&c, &in, stats);
    if (!is_stdin)
        close(in.fd);
    return r;
}

int rd_read_buffer(const void *buf, size_t len, const char *name, const rd_options *opt, rd_callback cb, void *ud,
                   rd_stats *stats, char *err, size_t errlen)
{
    rd_ctx c;
    ctx_init(&c, name ? name : "<buffer>", opt, cb, ud, err, errlen);
    rd_input in = {.fd = -1, .mem = buf, .mem_len = buf ? len : 0};
    return read_input(&c, &in, stats);
}

/* ---- names --------------------------------------------------------------------------- */

int rd_parse_winner(const char *s, size_t len, rd_winner *out)
{
#define NAME(s) s, sizeof s - 1
    static const struct { const char *name; size_t len; rd_winner w; } names[] = {
        {NAME("model_a"), RD_WIN_A}, {NAME("model_b"), RD_WIN_B}, {NAME("tie"), RD_TIE},
        {NAME("tie (bothbad)"), RD_TIE_BOTHBAD}, {NAME("a"), RD_WIN_A}, {NAME("b"), RD_WIN_B},
        {NAME("left"), RD_WIN_A}, {NAME("right"), RD_WIN_B}, {NAME("bothbad"), RD_TIE_BOTHBAD},
    };
#undef NAME
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].len == len && !strncasecmp(names[i].name, s, len)) {
            *out = names[i].w;
            return 0;
        }
    }
    return -1;
}

const char *rd_winner_name(rd_winner w)
{
    switch (w) {
    case RD_WIN_A: return "model_a";
    case RD_WIN_B: return "model_b";
    case RD_TIE: return "tie";
    case RD_TIE_BOTHBAD: return "tie (bothbad)";
    }
    return "?";
}

const char *rd_format_name(rd_format f)
{
    switch (f) {
    case RD_FORMAT_AUTO: return "auto";
    case RD_FORMAT_JSON: return "json";
    case RD_FORMAT_JSONL: return "jsonl";
    case RD_FORMAT_CSV: return "csv";
    }
    return "?";
}

int rd_parse_format(const char *s, rd_format *out)
{
    static const rd_format all[] = {RD_FORMAT_AUTO, RD_FORMAT_JSON, RD_FORMAT_JSONL, RD_FORMAT_CSV};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!strcasecmp(s, rd_format_name(all[i]))) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}
