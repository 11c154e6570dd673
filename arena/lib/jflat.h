/* jflat.h: a fast path for the simplest JSON bodies, such as a vote's
 * {"winner":"a","token":"1700000000.3f2a..."}, which a general parser spends thousands of
 * instructions on.
 *
 * Accepted: a flat object of at most JFLAT_MAX members with distinct keys, whose keys and
 * values are all strings of printable ASCII (0x20..0x7E) without '"' or '\\', so without
 * escapes; JSON whitespace (space, tab, LF, CR) may surround every token.
 *
 *   text   = ws "{" ws [ member *( ws "," ws member ) ws ] "}" ws
 *   member = string ws ":" ws string
 *
 * Anything else (escapes, other bytes, numbers, arrays, nesting, more members, a duplicate
 * key, a syntax error) returns -1 without saying why: the caller then parses the text with
 * jansson, which gives the exact error. For every text accepted here,
 * json_loadb(text, len, JSON_REJECT_DUPLICATES, ...) returns an object with exactly the same
 * keys and values, so the two paths never disagree.
 *
 * Nothing is allocated or copied: the slices point into the caller's text (not
 * NUL-terminated) and live as long as it does. */
#ifndef ARENA_JFLAT_H
#define ARENA_JFLAT_H

#include <stddef.h>

#define JFLAT_MAX 8

typedef struct jflat_pair {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} jflat_pair;

/* 0 and *n pairs (in text order) when text[0..len) is such an object; -1 otherwise, with
 * pairs[] possibly overwritten and *n unchanged. pairs holds JFLAT_MAX entries. */
int jflat_parse(const char *text, size_t len, jflat_pair *pairs, size_t *n);

/* The pair whose key equals the NUL-terminated key, or NULL. */
const jflat_pair *jflat_get(const jflat_pair *pairs, size_t n, const char *key);

#endif
