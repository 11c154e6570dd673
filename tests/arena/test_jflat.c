/* jflat: the flat-object fast path accepts only what it should, and on everything it
 * accepts, jansson (as the vote route calls it) reads the same keys and values. */
#include "../check.h"
#include "jflat.h"

#include <jansson.h>
#include <string.h>

typedef struct { const char *name, *text; size_t len; } sample;
#define S(name, lit) { name, lit, sizeof lit - 1 }

static const sample accepted[] = {
    S("vote body", "{\"winner\":\"a\",\"token\":\"1700000000.3f2a9c\"}"),
    S("whitespace around every token", " \t\r\n{ \"winner\" :\t\"tie\" ,\n\"token\"\r: \"x\" }\n "),
    S("empty object", "{}"),
    S("empty object with whitespace", " { \n } "),
    S("empty key and value", "{\"\":\"\"}"),
    S("every printable byte but quote and backslash",
      "{\"k\":\" !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~\"}"),
    S("8 members", "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\"}"),
    S("keys that are prefixes of each other", "{\"ab\":\"1\",\"a\":\"2\",\"abc\":\"3\"}"),
};

static const sample rejected[] = {
    S("empty input", ""),
    S("only whitespace", " \n "),
    S("duplicate key", "{\"winner\":\"a\",\"winner\":\"b\"}"),
    S("escape in a value", "{\"k\":\"\\u0041\"}"),
    S("escaped quote in a key", "{\"k\\\"\":\"v\"}"),
    S("UTF-8 byte", "{\"k\":\"caf\xc3\xa9\"}"),
    S("DEL byte", "{\"k\":\"\x7f\"}"),
    S("control byte", "{\"k\":\"a\tb\"}"),
    S("NUL inside a string", "{\"k\":\"a\0b\"}"),
    S("NUL after the object", "{\"k\":\"v\"}\0"),
    S("number value", "{\"k\":1}"),
    S("literal value", "{\"k\":true}"),
    S("null value", "{\"k\":null}"),
    S("nested object", "{\"k\":{\"a\":\"b\"}}"),
    S("array value", "{\"k\":[\"a\"]}"),
    S("top-level array", "[\"a\"]"),
    S("top-level string", "\"a\""),
    S("9 members", "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\",\"i\":\"9\"}"),
    S("trailing comma", "{\"a\":\"1\",}"),
    S("leading comma", "{,\"a\":\"1\"}"),
    S("missing comma", "{\"a\":\"1\" \"b\":\"2\"}"),
    S("missing colon", "{\"a\" \"1\"}"),
    S("missing value", "{\"a\":}"),
    S("unquoted key", "{a:\"1\"}"),
    S("single-quoted string", "{'a':'1'}"),
    S("garbage after the object", "{\"a\":\"1\"}x"),
    S("second object", "{}{}"),
    S("unterminated string", "{\"a\":\"1}"),
    S("unterminated object", "{\"a\":\"1\""),
    S("only an opening brace", "{"),
    S("form feed is not JSON whitespace", "\f{}"),
    S("byte order mark", "\xef\xbb\xbf{}"),
};

/* jansson, called as the vote route calls it, must read exactly the pairs jflat found. */
static int jansson_agrees(const sample *c, const jflat_pair *pairs, size_t n)
{
    json_error_t err;
    json_t *o = json_loadb(c->text, c->len, JSON_REJECT_DUPLICATES, &err);
    int same = o && json_is_object(o) && json_object_size(o) == n;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        const jflat_pair *p = jflat_get(pairs, n, key);
        same = same && p && json_is_string(v) && json_string_length(v) == p->value_len &&
               memcmp(json_string_value(v), p->value, p->value_len) == 0;
    }
    json_decref(o);
    return same;
}

int main(void)
{
    jflat_pair pairs[JFLAT_MAX];
    size_t n = 0;

    const sample *vote = &accepted[0];
    CHECK(jflat_parse(vote->text, vote->len, pairs, &n) == 0 && n == 2, "vote body: two pairs");
    const jflat_pair *winner = jflat_get(pairs, n, "winner"), *token = jflat_get(pairs, n, "token");
    CHECK(winner && winner->value_len == 1 && winner->value[0] == 'a', "vote body: winner");
    CHECK(token && token->value_len == 17 && memcmp(token->value, "1700000000.3f2a9c", 17) == 0, "vote body: token");
    CHECK(token && token->value > vote->text && token->value + token->value_len < vote->text + vote->len,
          "vote body: slices point into the text");
    CHECK(!jflat_get(pairs, n, "win") && !jflat_get(pairs, n, "winners") && !jflat_get(pairs, n, ""), "get: no prefix match");

    CHECK(jflat_parse(accepted[6].text, accepted[6].len, pairs, &n) == 0 && n == 8, "8 members: count");
    CHECK(n == 8 && memcmp(pairs[7].key, "h", 1) == 0 && memcmp(pairs[7].value, "8", 1) == 0, "8 members: text order");
    CHECK(jflat_parse(accepted[2].text, accepted[2].len, pairs, &n) == 0 && n == 0, "empty object: no pairs");
    CHECK(jflat_parse(NULL, 0, pairs, &n) == -1, "NULL text of length 0");

    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
        const sample *c = &accepted[i];
        n = 99;
        int rc = jflat_parse(c->text, c->len, pairs, &n);
        CHECK(rc == 0 && n <= JFLAT_MAX, "accepts: %s", c->name);
        CHECK(rc == 0 && jansson_agrees(c, pairs, n), "jansson reads the same pairs: %s", c->name);
    }
    for (size_t i = 0; i < sizeof rejected / sizeof *rejected; i++) {
        const sample *c = &rejected[i];
        n = 99;
        CHECK(jflat_parse(c->text, c->len, pairs, &n) == -1 && n == 99, "rejects: %s", c->name);
    }
    return check_exit();
}
