/* config.c: one table of fields drives the JSON reader, the flag setter and the defaults. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { F_STR, F_INT, F_LONG, F_DBL, F_BOOL, F_LIST } field_type;

typedef struct field {
    const char *name;    /* dotted path in the file */
    field_type  type;
    size_t      offset;
    double      min, max;  /* numbers only */
} field;

#define C(member) offsetof(cfg_config, member)
static const field config_fields[] = {
    {"listen.host", F_STR, C(host), 0, 0},
    {"listen.port", F_INT, C(port), 0, 65535},
    {"listen.tls_cert", F_STR, C(tls_cert), 0, 0},
    {"listen.tls_key", F_STR, C(tls_key), 0, 0},
    {"redis.url", F_STR, C(redis_url), 0, 0},
    {"redis.password", F_STR, C(redis_password), 0, 0},
    {"redis.sentinels", F_LIST, C(sentinels), 0, 0},
    {"redis.sentinel_master", F_STR, C(sentinel_master), 0, 0},
    {"redis.wait_replicas", F_INT, C(wait_replicas), 0, 100},
    {"redis.wait_timeout_ms", F_INT, C(wait_timeout_ms), 1, 60000},
    {"battles.token_secret", F_STR, C(token_secret), 0, 0},
    {"battles.ttl", F_INT, C(battle_ttl), 60, 365 * 86400},
    {"battles.max_turns", F_INT, C(max_turns), 1, 100},
    {"battles.idle_seconds", F_INT, C(idle_seconds), 1, 365 * 86400},
    {"battles.keepalive_seconds", F_INT, C(keepalive_seconds), 1, 3600},
    {"battles.max_tokens", F_INT, C(max_tokens), 1, 1 << 20},
    {"battles.temperature", F_DBL, C(temperature), 0, 2},
    {"limits.max_body", F_LONG, C(max_body), 256, 1 << 30},
    {"limits.max_headers", F_LONG, C(max_headers), 256, 1 << 20},
    {"limits.header_timeout", F_DBL, C(header_timeout), 0.01, 3600},
    {"limits.max_prompt_chars", F_INT, C(max_prompt_chars), 1, 1 << 24},
    {"limits.battles_per_minute", F_INT, C(battles_per_minute), 0, 1e9},
    {"limits.votes_per_minute", F_INT, C(votes_per_minute), 0, 1e9},
    {"limits.votes_per_day", F_INT, C(votes_per_day), 0, 1e9},
    {"limits.probe_timeout", F_DBL, C(probe_timeout), 0.01, 3600},
    {"limits.upstream_timeout", F_DBL, C(upstream_timeout), 0.01, 3600},
    {"limits.health_interval", F_DBL, C(health_interval), 0.05, 3600},
    {"limits.trusted_proxies", F_LIST, C(trusted_proxies), 0, 0},
    {"limits.blocklist", F_LIST, C(blocklist), 0, 0},
    {"board.ci_method", F_STR, C(ci_method), 0, 0},
    {"board.bootstrap_rounds", F_INT, C(bootstrap_rounds), 1, 100000},
    {"board.ci_max_share", F_DBL, C(ci_max_share), 0.01, 1},
    {"board.ci_min_period", F_DBL, C(ci_min_period), 0, 3600},
    {"board.static_table", F_STR, C(static_table), 0, 0},
    {"board.static_key_column", F_STR, C(static_key_column), 0, 0},
    {"board.static_score_column", F_STR, C(static_score_column), 0, 0},
    {"board.static_name_map", F_STR, C(static_name_map), 0, 0},
    {"web_root", F_STR, C(web_root), 0, 0},
    {"upstream_ca_file", F_STR, C(upstream_ca_file), 0, 0},
    {"access_log", F_STR, C(access_log), 0, 0},
};
#undef C

#define M(member) offsetof(cfg_model, member)
static const field model_fields[] = {
    {"name", F_STR, M(name), 0, 0},
    {"endpoint", F_STR, M(endpoint), 0, 0},
    {"upstream_model", F_STR, M(upstream_model), 0, 0},
    {"api_key", F_STR, M(api_key), 0, 0},
    {"organization", F_STR, M(organization), 0, 0},
    {"license", F_STR, M(license), 0, 0},
    {"static_key", F_STR, M(static_key), 0, 0},
    {"weight", F_DBL, M(weight), 0, 1e9},
    {"enabled", F_BOOL, M(enabled), 0, 0},
};
#undef M

#define N_FIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const field *find_field(const field *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

/* Is prefix (without the dot) the start of some dotted field name? */
static int is_section(const field *t, size_t n, const char *prefix)
{
    size_t len = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (strncmp(t[i].name, prefix, len) == 0 && t[i].name[len] == '.') return 1;
    return 0;
}

static int set_string(char **slot, const char *s)
{
    char *copy = NULL;
    if (s && !(copy = strdup(s))) return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

static void free_list(cfg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int range_ok(const field *f, double v) { return v >= f->min && v <= f->max; }

/* Stores a JSON value into the field at base. The caller names the field in errors. */
static int set_json(const field *f, void *base, json_t *v, char *why, size_t whylen)
{
    char *slot = (char *)base + f->offset;
    switch (f->type) {
    case F_STR:
        if (!json_is_string(v) && !json_is_null(v)) { snprintf(why, whylen, "expected a string"); return -1; }
        if (set_string((char **)slot, json_is_null(v) ? NULL : json_string_value(v)) < 0) goto nomem;
        return 0;
    case F_INT: case F_LONG: {
        if (!json_is_integer(v)) { snprintf(why, whylen, "expected an integer"); return -1; }
        json_int_t i = json_integer_value(v);
        if (!range_ok(f, (double)i)) { snprintf(why, whylen, "%lld is out of range [%.0f, %.0f]", (long long)i, f->min, f->max); return -1; }
        if (f->type == F_INT) *(int *)slot = (int)i; else *(long *)slot = (long)i;
        return 0;
    }
    case F_DBL: {
        if (!json_is_number(v)) { snprintf(why, whylen, "expected a number"); return -1; }
        double d = json_number_value(v);
        if (!range_ok(f, d)) { snprintf(why, whylen, "%g is out of range [%g, %g]", d, f->min, f->max); return -1; }
        *(double *)slot = d;
        return 0;
    }
    case F_BOOL:
        if (!json_is_boolean(v)) { snprintf(why, whylen, "expected true or false"); return -1; }
        *(int *)slot = json_is_true(v);
        return 0;
    case F_LIST: {
        cfg_strlist *l = (cfg_strlist *)slot, fresh = {0};
        if (!json_is_array(v)) { snprintf(why, whylen, "expected an array of strings"); return -1; }
        size_t n = json_array_size(v);
        if (n && !(fresh.v = calloc(n, sizeof *fresh.v))) goto nomem;
        for (size_t i = 0; i < n; i++) {
            json_t *s = json_array_get(v, i);
            if (!json_is_string(s)) { free_list(&fresh); snprintf(why, whylen, "element %zu: expected a string", i); return -1; }
            if (!(fresh.v[fresh.n++] = strdup(json_string_value(s)))) { free_list(&fresh); goto nomem; }
        }
        free_list(l);
        *l = fresh;
        return 0;
    }
    }
nomem:
    snprintf(why, whylen, "out of memory");
    return -1;
}

/* Walks a JSON object against a table; nested objects are sections of dotted names. */
static int read_object(const field *t, size_t n, void *base, json_t *obj, const char *prefix,
                       const char *ctx, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char name[128], why[160];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
        const field *f = find_field(t, n, name);
        if (f) {
            if (set_json(f, base, v, why, sizeof why) < 0) {
                snprintf(err, errlen, "%s: field %s: %s", ctx, name, why);
                return -1;
            }
        } else if (is_section(t, n, name)) {
            if (!json_is_object(v)) { snprintf(err, errlen, "%s: field %s: expected an object", ctx, name); return -1; }
            if (read_object(t, n, base, v, name, ctx, err, errlen) < 0) return -1;
        } else {
            snprintf(err, errlen, "%s: field %s: unknown field", ctx, name);
            return -1;
        }
    }
    return 0;
}

static int defaults(cfg_config *c)
{
    c->port = 8080;
    c->battle_ttl = 86400;
    c->max_turns = 3;
    c->idle_seconds = 600;
    c->keepalive_seconds = 15;
    c->max_tokens = 256;
    c->temperature = 0.7;
    c->max_body = 16384;
    c->max_headers = 8192;
    c->header_timeout = 10;
    c->wait_timeout_ms = 100;
    c->max_prompt_chars = 4000;
    c->battles_per_minute = 20;
    c->votes_per_minute = 60;
    c->votes_per_day = 500;
    c->probe_timeout = 5;
    c->upstream_timeout = 60;
    c->health_interval = 5;
    c->bootstrap_rounds = 200;
    c->ci_max_share = 0.1;
    c->ci_min_period = 2;
    if (set_string(&c->path, "(defaults)") || set_string(&c->host, "127.0.0.1") ||
        set_string(&c->redis_url, "redis://127.0.0.1:6379/0") || set_string(&c->sentinel_master, "arena") ||
        set_string(&c->ci_method, "bootstrap") || set_string(&c->static_key_column, "model") ||
        set_string(&c->static_score_column, "average") || set_string(&c->web_root, "web") ||
        set_string(&c->access_log, "-"))
        return -1;
    return 0;
}

static int read_models(cfg_config *c, json_t *arr, char *err, size_t errlen)
{
    if (!json_is_array(arr)) { snprintf(err, errlen, "%s: field models: expected an array", c->path); return -1; }
    size_t n = json_array_size(arr);
    if (!n) return 0;
    if (!(c->models = calloc(n, sizeof *c->models))) { snprintf(err, errlen, "out of memory"); return -1; }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        cfg_model *m = &c->models[c->n_models++];
        char ctx[512];
        m->weight = 1;
        m->enabled = 1;
        snprintf(ctx, sizeof ctx, "%s: models[%zu]", c->path, i);
        if (!json_is_object(o)) { snprintf(err, errlen, "%s: expected an object", ctx); return -1; }
        if (read_object(model_fields, N_FIELDS(model_fields), m, o, "", ctx, err, errlen) < 0) return -1;
        if (!m->name || !*m->name) { snprintf(err, errlen, "%s: field name: missing", ctx); return -1; }
        if (!m->endpoint || !*m->endpoint) { snprintf(err, errlen, "%s: field endpoint: missing", ctx); return -1; }
        if (strncmp(m->endpoint, "http://", 7) != 0 && strncmp(m->endpoint, "https://", 8) != 0) {
            snprintf(err, errlen, "%s: field endpoint: expected an http:// or https:// URL", ctx);
            return -1;
        }
        if ((!m->upstream_model && set_string(&m->upstream_model, m->name)) ||
            (!m->static_key && set_string(&m->static_key, m->name)) ||
            (!m->organization && set_string(&m->organization, "")) ||
            (!m->license && set_string(&m->license, ""))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

cfg_config *cfg_load(const char *path, char *err, size_t errlen)
{
    cfg_config *c = calloc(1, sizeof *c);
    json_t *root = NULL;
    if (!c || defaults(c) < 0) { snprintf(err, errlen, "out of memory"); goto err; }
    if (!path) return c;
    if (set_string(&c->path, path) < 0) { snprintf(err, errlen, "out of memory"); goto err; }
    json_error_t je;
    if (!(root = json_load_file(path, JSON_REJECT_DUPLICATES, &je))) {
        if (je.line <= 0) snprintf(err, errlen, "%s: %s", path, je.text);
        else snprintf(err, errlen, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
        goto err;
    }
    if (!json_is_object(root)) { snprintf(err, errlen, "%s: expected a JSON object at the top", path); goto err; }
    json_t *models = json_object_get(root, "models");
    if (models) {
        if (read_models(c, models, err, errlen) < 0) goto err;
        json_object_del(root, "models");
    }
    if (read_object(config_fields, N_FIELDS(config_fields), c, root, "", path, err, errlen) < 0) goto err;
    json_decref(root);
    return c;
err:
    json_decref(root);
    cfg_free(c);
    return NULL;
}

void cfg_free(cfg_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < N_FIELDS(config_fields); i++) {
        const field *f = &config_fields[i];
        if (f->type == F_STR) free(*(char **)((char *)c + f->offset));
        if (f->type == F_LIST) free_list((cfg_strlist *)((char *)c + f->offset));
    }
    for (size_t i = 0; i < c->n_models; i++)
        for (size_t j = 0; j < N_FIELDS(model_fields); j++)
            if (model_fields[j].type == F_STR) free(*(char **)((char *)&c->models[i] + model_fields[j].offset));
    free(c->models);
    free(c->path);
    free(c);
}

int cfg_set(cfg_config *c, const char *name, const char *value, char *err, size_t errlen)
{
    const field *f = find_field(config_fields, N_FIELDS(config_fields), name);
    char why[160];
    json_t *v = NULL;
    if (!f || f->type == F_LIST) { snprintf(err, errlen, "field %s: not settable from the command line", name); return -1; }
    char *end;
    errno = 0;
    switch (f->type) {
    case F_STR: v = json_string(value); break;
    case F_INT: case F_LONG: {
        long long i = strtoll(value, &end, 10);
        if (end != value && !*end && !errno) v = json_integer(i);
        break;
    }
    case F_DBL: {
        double d = strtod(value, &end);
        if (end != value && !*end && !errno && isfinite(d)) v = json_real(d);
        break;
    }
    case F_BOOL:
        if (!strcasecmp(value, "true") || !strcmp(value, "1")) v = json_true();
        else if (!strcasecmp(value, "false") || !strcmp(value, "0")) v = json_false();
        break;
    case F_LIST: break;
    }
    if (!v) { snprintf(err, errlen, "field %s: cannot read '%s' as %s", name, value, f->type == F_BOOL ? "a boolean" : "a number"); return -1; }
    int rc = set_json(f, c, v, why, sizeof why);
    json_decref(v);
    if (rc < 0) snprintf(err, errlen, "field %s: %s", name, why);
    return rc;
}

int cfg_check(const cfg_config *c, char *err, size_t errlen)
{
    const char *p = c->path;
    char host[256];
    int port, db;
    if (!c->token_secret || strlen(c->token_secret) < 16) {
        snprintf(err, errlen, "%s: field battles.token_secret: missing or shorter than 16 bytes", p);
        return -1;
    }
    if (!c->tls_cert != !c->tls_key) {
        snprintf(err, errlen, "%s: field listen.%s: TLS needs both a certificate and a key", p, c->tls_cert ? "tls_key" : "tls_cert");
        return -1;
    }
    if (!c->host || !*c->host) { snprintf(err, errlen, "%s: field listen.host: missing", p); return -1; }
    if (!c->redis_url || cfg_parse_redis_url(c->redis_url, host, sizeof host, &port, &db, NULL, 0, err, errlen) < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", c->redis_url ? err : "missing");
        snprintf(err, errlen, "%s: field redis.url: %s", p, why);
        return -1;
    }
    if (strcmp(c->ci_method, "bootstrap") != 0 && strcmp(c->ci_method, "sandwich") != 0) {
        snprintf(err, errlen, "%s: field board.ci_method: expected \"bootstrap\" or \"sandwich\"", p);
        return -1;
    }
    size_t enabled = 0;
    for (size_t i = 0; i < c->n_models; i++) {
        const cfg_model *m = &c->models[i];
        if (m->enabled && m->weight > 0) enabled++;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->models[j].name, m->name) == 0) {
                snprintf(err, errlen, "%s: models[%zu]: field name: \"%s\" is used twice", p, i, m->name);
                return -1;
            }
    }
    if (enabled < 2) {
        snprintf(err, errlen, "%s: field models: a battle needs at least two enabled models with weight > 0", p);
        return -1;
    }
    return 0;
}

const cfg_model *cfg_model_find(const cfg_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_models; i++)
        if (strcmp(c->models[i].name, name) == 0) return &c->models[i];
    return NULL;
}

int cfg_parse_redis_url(const char *url, char *host, size_t hostlen, int *port, int *db,
                        char *password, size_t passlen, char *err, size_t errlen)
{
    const char *s = url;
    if (password && passlen) *password = '\0';
    if (strncmp(s, "redis://", 8) != 0) { snprintf(err, errlen, "expected redis://host:port/db"); return -1; }
    s += 8;
    const char *at = strchr(s, '@');
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        const char *pw = colon ? colon + 1 : s;
        if (password && (size_t)(at - pw) >= passlen) { snprintf(err, errlen, "password too long"); return -1; }
        if (password) { memcpy(password, pw, (size_t)(at - pw)); password[at - pw] = '\0'; }
        s = at + 1;
    }
    size_t hl = strcspn(s, ":/");
    if (!hl || hl >= hostlen) { snprintf(err, errlen, "missing or overlong host"); return -1; }
    memcpy(host, s, hl);
    host[hl] = '\0';
    s += hl;
    *port = 6379;
    *db = 0;
    if (*s == ':') {
        char *end;
        long v = strtol(s + 1, &end, 10);
        if (end == s + 1 || v < 1 || v > 65535) { snprintf(err, errlen, "bad port"); return -1; }
        *port = (int)v;
        s = end;
    }
    if (*s == '/') {
        if (s[1]) {
            char *end;
            long v = strtol(s + 1, &end, 10);
            if (end == s + 1 || *end || v < 0 || v > 1000000) { snprintf(err, errlen, "bad database number"); return -1; }
            *db = (int)v;
        }
    } else if (*s) {
        snprintf(err, errlen, "unexpected '%s'", s);
        return -1;
    }
    return 0;
}
