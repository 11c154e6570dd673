/* jflat.c: see jflat.h. */
#include "jflat.h"

#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* A string at *p of bytes 0x20..0x7E other than '"' and '\\': its contents go to *s and
 * *n, and *p moves past the closing quote. */
static int scan_string(const char **p, const char *end, const char **s, size_t *n)
{
    const char *q = *p;
    if (q == end || *q != '"') return -1;
    const char *start = ++q;
    for (; q < end && *q != '"'; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20 || c > 0x7e || c == '\\') return -1;
    }
    if (q == end) return -1;
    *s = start;
    *n = (size_t)(q - start);
    *p = q + 1;
    return 0;
}

static const jflat_pair *find(const jflat_pair *pairs, size_t n, const char *key, size_t key_len)
{
    for (size_t i = 0; i < n; i++)
        if (pairs[i].key_len == key_len && memcmp(pairs[i].key, key, key_len) == 0) return &pairs[i];
    return NULL;
}

int jflat_parse(const char *text, size_t len, jflat_pair *pairs, size_t *n)
{
    if (len == 0) return -1;  /* also keeps a NULL text out of the pointer arithmetic */
    const char *end = text + len, *p = skip_ws(text, end);
    size_t count = 0;
    if (p == end || *p++ != '{') return -1;
    p = skip_ws(p, end);
    while (p < end && *p != '}') {
        if (count > 0) {
            if (*p++ != ',') return -1;
            p = skip_ws(p, end);
        }
        if (count == JFLAT_MAX) return -1;
        jflat_pair *m = &pairs[count];
        if (scan_string(&p, end, &m->key, &m->key_len) < 0) return -1;
        p = skip_ws(p, end);
        if (p == end || *p++ != ':') return -1;
        p = skip_ws(p, end);
        if (scan_string(&p, end, &m->value, &m->value_len) < 0) return -1;
        if (find(pairs, count, m->key, m->key_len)) return -1;  /* jansson rejects duplicates too */
        count++;
        p = skip_ws(p, end);
    }
    if (p == end || skip_ws(p + 1, end) != end) return -1;
    *n = count;
    return 0;
}

const jflat_pair *jflat_get(const jflat_pair *pairs, size_t n, const char *key)
{
    return find(pairs, n, key, strlen(key));
}
