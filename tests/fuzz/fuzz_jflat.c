/* fuzz_jflat: libFuzzer entry point for the flat-object fast path (arena/lib/jflat.c),
 * checked against jansson as the vote route calls it (JSON_REJECT_DUPLICATES).
 *
 * Whatever jflat accepts, jansson must read as an object with exactly the same pairs, all
 * slices lying inside the input. The other way round: an object that jansson reads from
 * text of printable ASCII and JSON whitespace without a backslash, with at most JFLAT_MAX
 * members, all strings, must be accepted by jflat too, so the fast path never falls back
 * on a body it was meant for.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iarena/lib tests/fuzz/fuzz_jflat.c \
 *       arena/lib/jflat.c -ljansson -o build/fuzz/fuzz-jflat
 *   build/fuzz/fuzz-jflat -max_total_time=60 tests/fuzz/corpus/jflat */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jflat.h"

static int inside(const char *p, size_t n, const char *text, size_t len)
{
    return p >= text && p + n <= text + len;
}

/* Printable ASCII and JSON whitespace only, and no backslash: text that needs no escapes. */
static int plain_text(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\\' || ((c < 0x20 || c > 0x7e) && c != ' ' && c != '\t' && c != '\n' && c != '\r')) return 0;
    }
    return 1;
}

static int all_strings(json_t *o)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
        if (!json_is_string(v)) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    jflat_pair pairs[JFLAT_MAX];
    size_t n = 0;
    int rc = jflat_parse(text, size, pairs, &n);
    json_t *o = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);

    if (rc == 0) {
        if (!o || !json_is_object(o) || n > JFLAT_MAX || json_object_size(o) != n) abort();
        for (size_t i = 0; i < n; i++) {
            const jflat_pair *p = &pairs[i];
            if (!inside(p->key, p->key_len, text, size) || !inside(p->value, p->value_len, text, size)) abort();
            for (size_t j = 0; j < i; j++)
                if (p->key_len == pairs[j].key_len && memcmp(p->key, pairs[j].key, p->key_len) == 0) abort();
        }
        /* n distinct keys, and each of jansson's n keys among them with the same value. */
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v) {
            const jflat_pair *p = jflat_get(pairs, n, key);
            if (!p || !json_is_string(v) || json_string_length(v) != p->value_len ||
                memcmp(json_string_value(v), p->value, p->value_len) != 0)
                abort();
        }
    } else if (rc != -1) {
        abort();
    } else if (o && json_is_object(o) && json_object_size(o) <= JFLAT_MAX && all_strings(o) && plain_text(text, size)) {
        abort();  /* a plain flat object that the fast path missed */
    }
    json_decref(o);
    return 0;
}
