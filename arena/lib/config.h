/* config.h: the arena server's settings and model registry.
 *
 *   cfg_config *c = cfg_load("ops/arena.json", err, sizeof err);  // NULL path: defaults only
 *   cfg_set(c, "listen.port", "8443", err, sizeof err);          // command-line overrides
 *   if (cfg_check(c, err, sizeof err) < 0) ...                    // once, after the overrides
 *   cfg_free(c);
 *
 * The file is one JSON object; every field is optional and has a default (arena/CONFIG.md
 * lists them). Fields are named by dotted paths ("limits.max_body"), the same names that
 * cfg_set takes, so a flag and a file field can never mean different things. Unknown fields
 * are errors (a typo must not silently fall back to a default). Errors name the file and
 * the field: "ops/arena.json: field limits.max_body: expected an integer".
 *
 * Ownership: the cfg_config and every string and array in it belong to it; cfg_free
 * releases them. Nothing here does I/O besides reading the file in cfg_load. */
#ifndef ARENA_CONFIG_H
#define ARENA_CONFIG_H

#include <stddef.h>

typedef struct cfg_model {
    char  *name;            /* public name (revealed after the vote, shown on the board) */
    char  *endpoint;        /* OpenAI-compatible base URL, e.g. http://127.0.0.1:8081 (no /v1) */
    char  *upstream_model;  /* "model" sent upstream; default: name */
    char  *api_key;         /* sent as "Authorization: Bearer ..." when set */
    char  *organization, *license;
    char  *static_key;      /* name in the static table; default: name */
    double weight;          /* sampling weight, > 0; default 1 */
    int    enabled;         /* default 1 */
} cfg_model;

typedef struct cfg_strlist { char **v; size_t n; } cfg_strlist;

typedef struct cfg_config {
    char *path;                       /* the file read, or "(defaults)" */
    /* listen */
    char *host;                       /* "127.0.0.1" */
    int   port;                       /* 8080 */
    char *tls_cert, *tls_key;         /* PEM files; both or neither */
    /* redis */
    char *redis_url;                  /* "redis://127.0.0.1:6379/0" */
    char *redis_password;             /* overrides a password in the URL */
    cfg_strlist sentinels;            /* "host:port" each; when set, redis_url is only the db */
    char *sentinel_master;            /* "arena" */
    int   wait_replicas;              /* replicas that must have a vote before its ack: 0 */
    int   wait_timeout_ms;            /* how long to wait for them: 100 */
    /* battles */
    char *token_secret;               /* HMAC key; required (>= 16 bytes) */
    int   battle_ttl;                 /* seconds a battle lives in Redis: 86400 */
    int   max_turns;                  /* turns per battle: 3 */
    int   idle_seconds;               /* an idle battle leaves this server's memory: 600 */
    int   keepalive_seconds;          /* a silent SSE stream gets a comment line: 15 */
    int   max_tokens;                 /* per answer, sent upstream: 256 */
    double temperature;               /* sent upstream: 0.7 */
    /* limits */
    long  max_body;                   /* bytes: 16384 */
    long  max_headers;                /* bytes: 8192 */
    double header_timeout;            /* seconds a request may take from its first byte: 10 */
    int   max_prompt_chars;           /* 4000 */
    int   battles_per_minute;         /* per client IP: 20 */
    int   votes_per_minute;           /* per client IP: 60 */
    int   votes_per_day;              /* per client IP: 500 */
    double probe_timeout;             /* seconds a health probe may take: 5 */
    double upstream_timeout;          /* seconds without a byte from upstream: 60 */
    double health_interval;           /* seconds between model health probes: 5 */
    cfg_strlist trusted_proxies;      /* IPs whose X-Forwarded-For is believed */
    cfg_strlist blocklist;            /* POSIX extended regexes, case-insensitive */
    /* board */
    char *ci_method;                  /* "bootstrap" or "sandwich" */
    int   bootstrap_rounds;           /* 200 */
    double ci_max_share;              /* 0.25: at most this share of a core for intervals */
    double ci_min_period;             /* 2: seconds between interval recomputations, at least */
    char *static_table;               /* CSV path, or NULL for none */
    char *static_key_column;          /* "model" */
    char *static_score_column;        /* "average" */
    char *static_name_map;            /* optional arena_name,static_name CSV */
    /* files */
    char *web_root;                   /* "web" */
    char *upstream_ca_file;           /* PEM CAs for https:// endpoints; NULL = the system's */
    char *access_log;                 /* path; "-" = stderr (default), "" = off */
    /* registry */
    cfg_model *models;
    size_t     n_models;
} cfg_config;

/* path NULL: defaults only. NULL with err set on a read error, bad JSON or a bad field. */
cfg_config *cfg_load(const char *path, char *err, size_t errlen);
void cfg_free(cfg_config *c);

/* Sets one scalar field by its dotted name from text (as a flag gives it).
 * 0, or -1 with err naming the field. Lists and models are set only from the file. */
int cfg_set(cfg_config *c, const char *field, const char *value, char *err, size_t errlen);

/* Whole-config checks that single fields cannot make: a token secret, TLS files in
 * pairs, at least two enabled models, distinct model names, ranges. 0 / -1. */
int cfg_check(const cfg_config *c, char *err, size_t errlen);

/* The model named name, or NULL. */
const cfg_model *cfg_model_find(const cfg_config *c, const char *name);

/* Splits "redis://[:password@]host[:port][/db]" into parts. host must hold hostlen
 * bytes; password (may be NULL) gets "" when absent. Port defaults to 6379, db to 0. */
int cfg_parse_redis_url(const char *url, char *host, size_t hostlen, int *port, int *db,
                        char *password, size_t passlen, char *err, size_t errlen);

#endif
