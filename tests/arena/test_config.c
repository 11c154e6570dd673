/* Config: defaults, a full file, flag overrides, and errors that name the file and field. */
#include "../check.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];

static cfg_config *load_text(const char *text, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return cfg_load(path, err, errlen);
}

int main(void)
{
    char err[512];
    snprintf(path, sizeof path, "/tmp/arena-test-config-%d.json", (int)getpid());

    cfg_config *c = cfg_load(NULL, err, sizeof err);
    CHECK(c && c->port == 8080 && strcmp(c->host, "127.0.0.1") == 0, "defaults");
    CHECK(cfg_check(c, err, sizeof err) < 0 && strstr(err, "token_secret"), "check wants a token secret: %s", err);
    cfg_free(c);

    c = cfg_load("ops/arena.json", err, sizeof err);
    CHECK(c != NULL, "shipped sample config loads: %s", c ? "" : err);
    if (c) {
        CHECK(cfg_check(c, err, sizeof err) == 0, "shipped sample config checks: %s", err);
        CHECK(c->n_models == 3, "three models in the sample");
        cfg_free(c);
    }

    c = load_text("{\"listen\": {\"port\": 9000}, \"battles\": {\"token_secret\": \"0123456789abcdef\"},"
                  " \"limits\": {\"trusted_proxies\": [\"10.0.0.1\"], \"blocklist\": [\"bad+word\"]},"
                  " \"models\": [{\"name\": \"m1\", \"endpoint\": \"http://127.0.0.1:1\", \"weight\": 2},"
                  "              {\"name\": \"m2\", \"endpoint\": \"http://127.0.0.1:2\", \"organization\": \"Org\", \"enabled\": false},"
                  "              {\"name\": \"m3\", \"endpoint\": \"https://x.example/v\"}]}", err, sizeof err);
    CHECK(c != NULL, "full file loads: %s", c ? "" : err);
    if (c) {
        CHECK(c->port == 9000 && c->trusted_proxies.n == 1 && strcmp(c->blocklist.v[0], "bad+word") == 0, "fields read");
        CHECK(c->models[0].weight == 2 && strcmp(c->models[0].upstream_model, "m1") == 0 &&
              strcmp(c->models[0].static_key, "m1") == 0, "model defaults from the name");
        CHECK(!c->models[1].enabled && strcmp(c->models[1].organization, "Org") == 0, "model fields");
        CHECK(cfg_check(c, err, sizeof err) == 0, "two enabled models are enough: %s", err);
        CHECK(cfg_set(c, "listen.port", "8443", err, sizeof err) == 0 && c->port == 8443, "flag override");
        CHECK(cfg_set(c, "listen.port", "http", err, sizeof err) < 0 && strstr(err, "listen.port"), "bad flag value: %s", err);
        CHECK(cfg_set(c, "limits.max_body", "10", err, sizeof err) < 0 && strstr(err, "out of range"), "range: %s", err);
        CHECK(c->ci_max_share == 0.1 && cfg_set(c, "board.ci_max_share", "0.5", err, sizeof err) == 0 &&
              c->ci_max_share == 0.5 && cfg_set(c, "board.ci_max_share", "0", err, sizeof err) < 0,
              "board.ci_max_share: default 0.1, 0.5 taken, 0 refused: %s", err);
        CHECK(c->ci_min_period == 2 && cfg_set(c, "board.ci_min_period", "0", err, sizeof err) == 0 &&
              c->ci_min_period == 0 && cfg_set(c, "board.ci_min_period", "-1", err, sizeof err) < 0,
              "board.ci_min_period: default 2, 0 taken, -1 refused: %s", err);
        CHECK(cfg_set(c, "nope", "1", err, sizeof err) < 0, "unknown flag field");
        CHECK(cfg_set(c, "listen.tls_cert", "cert.pem", err, sizeof err) == 0 && cfg_check(c, err, sizeof err) < 0 &&
              strstr(err, "tls_key"), "TLS files come in pairs: %s", err);
        CHECK(cfg_model_find(c, "m3") == &c->models[2] && !cfg_model_find(c, "m9"), "model lookup");
        cfg_free(c);
    }

    c = load_text("{\"limits\": {\"max_bodi\": 1}}", err, sizeof err);
    CHECK(!c && strstr(err, path) && strstr(err, "limits.max_bodi") && strstr(err, "unknown"), "unknown field: %s", err);
    c = load_text("{\"limits\": {\"max_body\": \"big\"}}", err, sizeof err);
    CHECK(!c && strstr(err, "limits.max_body: expected an integer"), "wrong type: %s", err);
    c = load_text("{\"models\": [{\"name\": \"m\"}]}", err, sizeof err);
    CHECK(!c && strstr(err, "models[0]") && strstr(err, "endpoint"), "model without endpoint: %s", err);
    c = load_text("{\"models\": [{\"name\": \"m\", \"endpoint\": \"ftp://x\"}]}", err, sizeof err);
    CHECK(!c && strstr(err, "http"), "endpoint scheme: %s", err);
    c = load_text("{\"listen\": {\"port\": 1,}}", err, sizeof err);
    CHECK(!c && strstr(err, "line 1"), "bad JSON names the line: %s", err);
    c = load_text("{\"battles\": {\"token_secret\": \"0123456789abcdef\"}, \"models\": ["
                  "{\"name\": \"m\", \"endpoint\": \"http://a\"}, {\"name\": \"m\", \"endpoint\": \"http://b\"}]}", err, sizeof err);
    CHECK(c && cfg_check(c, err, sizeof err) < 0 && strstr(err, "twice"), "duplicate model names: %s", err);
    cfg_free(c);
    CHECK(!cfg_load("/nonexistent/arena.json", err, sizeof err) && strstr(err, "/nonexistent/arena.json"), "missing file: %s", err);

    char host[64], pw[64];
    int port, db;
    CHECK(cfg_parse_redis_url("redis://:s3cret@10.1.2.3:6380/2", host, sizeof host, &port, &db, pw, sizeof pw, err, sizeof err) == 0 &&
          strcmp(host, "10.1.2.3") == 0 && port == 6380 && db == 2 && strcmp(pw, "s3cret") == 0, "redis URL with password");
    CHECK(cfg_parse_redis_url("redis://localhost", host, sizeof host, &port, &db, pw, sizeof pw, err, sizeof err) == 0 &&
          port == 6379 && db == 0 && !*pw, "redis URL defaults");
    CHECK(cfg_parse_redis_url("http://x", host, sizeof host, &port, &db, NULL, 0, err, sizeof err) < 0, "redis URL scheme");
    CHECK(cfg_parse_redis_url("redis://x:99999", host, sizeof host, &port, &db, NULL, 0, err, sizeof err) < 0, "redis URL port");
    remove(path);
    return check_exit();
}
