/* http.c: the server's HTTP policy on top of hreq.h: the TLS context, routing, replies
 * with their headers, the access log, client addresses behind trusted proxies, and static
 * files from the web root. */
#include "server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sse.h"

void http_headers(hreq *req, const char *content_type)
{
    static const char security[] =
        "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Frame-Options: DENY\r\n"
        "Referrer-Policy: no-referrer\r\n";
    hreq_add_fields(req, security, sizeof security - 1);
    if (content_type) hreq_add_header(req, "Content-Type", content_type);
}

/* Appends text to out[*k..cap-1) as one printable line (it is client text), leaving room
 * for the NUL. */
static void append_printable(char *out, size_t *k, size_t cap, const char *text)
{
    for (const char *p = text; *p && *k < cap - 1; p++)
        out[(*k)++] = (*p > 0x20 && *p < 0x7f && *p != '"') ? *p : '?';
}

void http_log(server *s, hreq *req, int status, size_t bytes)
{
    if (!s->access_log) return;
    char ip[64], when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char clean[256];
    size_t k = 0;
    const char *query = hreq_query(req);
    append_printable(clean, &k, sizeof clean - 1, *hreq_path(req) ? hreq_path(req) : "-");
    if (query) {
        clean[k++] = '?';
        append_printable(clean, &k, sizeof clean, query);
    }
    clean[k] = '\0';
    fprintf(s->access_log, "%s %s \"%s %s\" %d %zu\n", when, http_client_ip(s, req, ip, sizeof ip), hreq_method_name(req), clean, status, bytes);
}

void http_reply(server *s, hreq *req, int status, const char *content_type, struct evbuffer *body)
{
    http_headers(req, content_type);
    http_log(s, req, status, evbuffer_get_length(body ? body : hreq_output(req)));
    if (status >= 400) s->m.errors_by_status[status == 400 ? 0 : status == 403 ? 1 : status == 404 ? 2 : status == 409 ? 3 : status < 500 ? 4 : 5]++;
    hreq_reply(req, status, body);
}

static int dump_to_evbuffer(const char *text, size_t len, void *buf) { return evbuffer_add(buf, text, len); }

/* Sends the JSON written into the request's output buffer, or a bare 500 when writing it
 * failed (bad). */
static void send_written_json(server *s, hreq *req, int status, int bad)
{
    if (bad) {
        struct evbuffer *out = hreq_output(req);
        evbuffer_drain(out, evbuffer_get_length(out));
        status = 500;
    }
    http_reply(s, req, status, "application/json", NULL);
}

void http_reply_json(server *s, hreq *req, int status, json_t *body)
{
    /* Straight into the request's own output buffer: no copy of the text. */
    struct evbuffer *out = hreq_output(req);
    int bad = !body || json_dump_callback(body, dump_to_evbuffer, out, JSON_COMPACT) < 0 || evbuffer_add(out, "\n", 1) < 0;
    json_decref(body);
    send_written_json(s, req, status, bad);
}

/* text (len bytes, escaped_len once escaped, as sse_json_escape measures it) as a quoted
 * JSON string at p, which has room for escaped_len + 3 bytes; the end. */
static char *put_json_string(char *p, const char *text, size_t len, size_t escaped_len)
{
    *p++ = '"';
    p += sse_json_escape(p, escaped_len + 1, text, len);
    *p++ = '"';
    return p;
}

int http_add_json_string(struct evbuffer *out, const char *text)
{
    size_t len = strlen(text), escaped_len = sse_json_escape(NULL, 0, text, len);
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, escaped_len + 3, &v, 1) < 1) return -1;
    v.iov_len = (size_t)(put_json_string(v.iov_base, text, len, escaped_len) - (char *)v.iov_base);
    return evbuffer_commit_space(out, &v, 1);
}

void http_reply_strings(server *s, hreq *req, int status, const char *const *kv, size_t n)
{
    /* Measured, then written into one reservation: a vote's reply is six short strings. */
    size_t len[16], escaped_len[16], need = 2;   /* } \n; each string adds its separator and quotes */
    int bad = n > 16;
    for (size_t i = 0; i < n && !bad; i++) {
        len[i] = strlen(kv[i]);
        need += (escaped_len[i] = sse_json_escape(NULL, 0, kv[i], len[i])) + 3;
    }
    struct evbuffer *out = hreq_output(req);
    struct evbuffer_iovec v;
    if (!bad && evbuffer_reserve_space(out, need + 1, &v, 1) == 1) {
        char *p = v.iov_base;
        for (size_t i = 0; i < n; i++) {
            *p++ = i == 0 ? '{' : i % 2 ? ':' : ',';
            p = put_json_string(p, kv[i], len[i], escaped_len[i]);
        }
        memcpy(p, "}\n", 2);
        v.iov_len = need;
        bad = evbuffer_commit_space(out, &v, 1) < 0;
    } else bad = 1;
    send_written_json(s, req, status, bad);
}

void http_error(server *s, hreq *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_reply_json(s, req, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* Why a body that is not a JSON object was refused, in the client's terms (jansson's own
 * text would name a byte or one of its flags). */
static void refuse_body(server *s, hreq *req, const json_t *parsed, const json_error_t *je)
{
    if (parsed) http_error(s, req, 400, "malformed", "the body must be a JSON object");
    else if (json_error_code(je) == json_error_invalid_utf8) http_error(s, req, 400, "malformed", "the body is not valid UTF-8");
    else if (json_error_code(je) == json_error_null_character) http_error(s, req, 400, "malformed", "a string in the body contains \\u0000, which is not allowed");
    else http_error(s, req, 400, "malformed", "the body must be a JSON object: %s", je->text);
}

json_t *http_json_body(server *s, hreq *req)
{
    size_t len;
    const char *body = hreq_body(req, &len);
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        refuse_body(s, req, o, &je);
        return NULL;
    }
    return o;
}

static int is_trusted(const server *s, const char *ip)
{
    for (size_t i = 0; i < s->cfg->trusted_proxies.n; i++)
        if (strcmp(s->cfg->trusted_proxies.v[i], ip) == 0) return 1;
    return 0;
}

/* The bounded copies of an address (snprintf's "%s" costs ten times as much). */
static void copy_address(char *out, size_t outlen, const char *text, size_t len)
{
    if (!outlen) return;
    if (len >= outlen) len = outlen - 1;
    memcpy(out, text, len);
    out[len] = '\0';
}

const char *http_client_ip(server *s, hreq *req, char *out, size_t outlen)
{
    const char *peer = hreq_peer(req);
    copy_address(out, outlen, peer, strlen(peer));
    if (!is_trusted(s, peer)) return out;
    const char *xff = hreq_header(req, "X-Forwarded-For");
    if (!xff) return out;
    /* Right to left: each trusted hop vouches for the one before it; the first hop that
     * is not trusted is the client (anything left of it may be forged). */
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',') start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        char hop[64];
        size_t n = (size_t)(b - a);
        if (n && n < sizeof hop) {
            copy_address(hop, sizeof hop, a, n);
            copy_address(out, outlen, a, n);
            if (!is_trusted(s, hop)) break;
        }
        end = start > xff ? start - 1 : xff;
    }
    return out;
}

char *http_query(hreq *req, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = hreq_query(req); p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *key_end = eq ? eq : end;
        if ((size_t)(key_end - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : end;
            char *raw = strndup(v, (size_t)(end - v));
            char *value = raw ? evhttp_uridecode(raw, 1, NULL) : NULL;
            free(raw);
            return value;
        }
        p = amp ? amp + 1 : end;
    }
    return NULL;
}

static void on_client_gone(hreq *req, void *arg)
{
    (void)req;
    *(hreq **)arg = NULL;
}

void http_watch(hreq *req, hreq **slot)
{
    *slot = req;
    hreq_on_gone(req, on_client_gone, slot);
}

void http_unwatch(hreq **slot)
{
    if (*slot) hreq_on_gone(*slot, NULL, NULL);
}

hreq *http_take(hreq **slot)
{
    hreq *req = *slot;
    http_unwatch(slot);
    *slot = NULL;
    return req;
}

/* ---- static files ---- */

static const char *content_type_of(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"}, {".woff2", "font/woff2"},
        {".map", "application/json"}, {".csv", "text/csv; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return NULL;
}

/* A decoded URL path is safe to join to the web root when every segment is made of
 * [A-Za-z0-9._-] and none starts with a dot (no "..", no hidden files). */
static int safe_path(const char *p)
{
    if (*p != '/') return 0;
    for (const char *seg = p + 1; *seg;) {
        if (*seg == '.' || *seg == '/') return 0;
        while (*seg && *seg != '/') {
            char c = *seg++;
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
                return 0;
        }
        if (*seg == '/') seg++;
    }
    return 1;
}

static void serve_file(server *s, hreq *req, const char *url_path)
{
    size_t dlen = 0;
    char *decoded = evhttp_uridecode(url_path, 0, &dlen);
    char full[1024];
    int fd = -1;
    struct evbuffer *buf = NULL;
    /* Only page assets of known types: nothing else that may sit in the web root. */
    if (!decoded || strlen(decoded) != dlen || !safe_path(decoded) || !content_type_of(decoded)) {
        http_error(s, req, 404, "not_found", "no such page");
        goto done;
    }
    snprintf(full, sizeof full, "%s%s", s->cfg->web_root, decoded);
    struct stat st;
    if ((fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        http_error(s, req, 404, "not_found", "no such page");
        goto done;
    }
    /* HEAD too: hreq_reply sends the head (Content-Length of this body) without the body. */
    buf = evbuffer_new();
    if (!buf || evbuffer_add_file(buf, fd, 0, st.st_size) < 0) {
        http_error(s, req, 500, "internal", "cannot read the file");
        goto done;
    }
    fd = -1;  /* the buffer owns it now */
    hreq_add_header(req, "Cache-Control", "no-cache");
    http_reply(s, req, 200, content_type_of(full), buf);
done:
    if (fd >= 0) close(fd);
    if (buf) evbuffer_free(buf);
    free(decoded);
}

/* ---- routing ---- */

/* Splits "/api/battles/ID/ACTION" into its id and action (into caller buffers). */
static int split_battle_path(const char *rest, char *id, size_t idlen, char *action, size_t alen)
{
    const char *slash = strchr(rest, '/');
    if (!slash || (size_t)(slash - rest) >= idlen || strchr(slash + 1, '/') || strlen(slash + 1) >= alen) return -1;
    memcpy(id, rest, (size_t)(slash - rest));
    id[slash - rest] = '\0';
    strcpy(action, slash + 1);
    return 0;
}

static void route(hreq *req, void *arg)
{
    server *s = arg;
    s->m.requests++;
    const char *why;
    int refused = hreq_refused(req, &why);
    if (refused) {
        http_error(s, req, refused, refused == 413 || refused == 414 || refused == 431 ? "too_large" : refused == 505 ? "version" : "malformed", "%s", why);
        return;
    }
    const char *path = hreq_path(req);
    h1_method method = hreq_method(req);
    int get = method == H1_GET || method == H1_HEAD, post = method == H1_POST;
    if (!*path) path = "/";

    if (strncmp(path, "/api/", 5) == 0) {
        const char *api = path + 5;
        if (strcmp(api, "battles") == 0) {
            if (post) battles_create(s, req);
            else http_error(s, req, 405, "method", "use POST");
        } else if (strncmp(api, "battles/", 8) == 0) {
            char id[80], action[32];
            if (split_battle_path(api + 8, id, sizeof id, action, sizeof action) < 0) {
                http_error(s, req, 404, "not_found", "no such route");
            } else if (strcmp(action, "stream") == 0) {
                if (get) battles_route(s, req, id, action);
                else http_error(s, req, 405, "method", "use GET");
            } else if (strcmp(action, "vote") == 0) {
                if (post) votes_route(s, req, id);
                else http_error(s, req, 405, "method", "use POST");
            } else if (strcmp(action, "messages") == 0 || strcmp(action, "regenerate") == 0) {
                if (post) battles_route(s, req, id, action);
                else http_error(s, req, 405, "method", "use POST");
            } else {
                http_error(s, req, 404, "not_found", "no such route");
            }
        } else if (!get) {
            http_error(s, req, strcmp(api, "models") == 0 || strncmp(api, "leaderboard", 11) == 0 ||
                       strncmp(api, "export/", 7) == 0 ? 405 : 404, "method", "use GET");
        } else if (strcmp(api, "models") == 0) {
            models_route(s, req);
        } else if (strcmp(api, "leaderboard") == 0 || strcmp(api, "leaderboard/matrix") == 0) {
            board_route(s, req, api);
        } else if (strncmp(api, "export/", 7) == 0) {
            export_route(s, req, api + 7);
        } else {
            http_error(s, req, 404, "not_found", "no such route");
        }
        return;
    }
    if (!get) { http_error(s, req, 405, "method", "use GET"); return; }
    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 || strcmp(path, "/metrics") == 0)
        health_route(s, req, path);
    else if (strcmp(path, "/") == 0)
        serve_file(s, req, "/index.html");
    else if (strcmp(path, "/leaderboard") == 0)
        serve_file(s, req, "/leaderboard.html");
    else
        serve_file(s, req, path);
}

/* ---- TLS ---- */

static SSL_CTX *tls_context(const cfg_config *c, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* TLS 1.2: forward-secret AEAD suites only (TLS 1.3 suites are all modern already). */
    if (!SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"))
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
        snprintf(err, errlen, "%s: cannot load the certificate chain", c->tls_cert);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s: cannot load the private key (or it does not match the certificate)", c->tls_key);
        goto out;
    }
    return ctx;
fail:
    snprintf(err, errlen, "TLS setup: %s", ERR_reason_error_string(ERR_get_error()));
out:
    SSL_CTX_free(ctx);
    return NULL;
}

int http_start(server *s, char *err, size_t errlen)
{
    const cfg_config *c = s->cfg;
    if (c->tls_cert && !(s->tls = tls_context(c, err, errlen))) return -1;
    /* A connection kept alive may wait 30 s for its next request; a reply may wait as long
     * for a client that stops reading. */
    hreq_limits lim = { (size_t)c->max_headers, (size_t)c->max_body, c->header_timeout, 30 };
    return (s->http = hreq_listen(s->base, c->host, c->port, s->tls, &lim, route, s, err, errlen)) ? 0 : -1;
}

void http_stop(server *s)
{
    hreq_server_free(s->http);
    s->http = NULL;
    SSL_CTX_free(s->tls);
    s->tls = NULL;
}
