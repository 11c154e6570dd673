/* health.c: model health probes (GET {endpoint}/v1/models, which every OpenAI-compatible
 * server answers), the public model list, /healthz, /readyz and /metrics. A model leaves
 * sampling when PROBE_FAILURES probes in a row fail (one slow answer on a busy host is not
 * an outage), at its first failed probe if it never answered one, or at once when a stream
 * could not reach it; it is back when a probe succeeds. */
#include "server.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_FAILURES 2

void health_mark(server *s, model_state *m, int healthy)
{
    if (m->healthy != healthy && s->access_log)
        fprintf(s->access_log, "model %s is %s\n", m->cfg->name, healthy ? "healthy" : "unhealthy: left out of sampling");
    m->healthy = healthy;
}

void health_observe_latency(model_state *m, double seconds)
{
    static const double bounds[] = LATENCY_BOUNDS;
    m->latency_sum += seconds;
    m->latency_count++;
    for (size_t i = 0; i < sizeof bounds / sizeof *bounds; i++)
        if (seconds <= bounds[i]) m->latency_buckets[i]++;
}

static void on_probe(struct evhttp_request *req, void *arg)
{
    model_state *m = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    m->probing = 0;
    m->probed = 1;
    if (code == 200) {
        m->probe_failures = 0;
        m->answered = 1;
        health_mark(m->s, m, 1);
        return;
    }
    m->probe_failures++;
    if (m->s->access_log) fprintf(m->s->access_log, "model %s: probe failed (%d in a row)\n", m->cfg->name, m->probe_failures);
    if (m->probe_failures >= PROBE_FAILURES || !m->answered) health_mark(m->s, m, 0);
}

static void probe_all(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    for (size_t i = 0; i < s->n_models; i++) {
        model_state *m = &s->models[i];
        if (!m->cfg->enabled || m->probing) continue;
        /* A TLS connection is made anew for each probe: libevent cannot reconnect a TLS
         * bufferevent once the peer has closed it. */
        const char *scheme = evhttp_uri_get_scheme(m->uri);
        if (m->probe_conn && scheme && strcmp(scheme, "https") == 0) {
            evhttp_connection_free(m->probe_conn);
            m->probe_conn = NULL;
        }
        /* a probe still in flight skips the next tick */
        if (!m->probe_conn && !(m->probe_conn = upstream_connect(s, m, s->cfg->probe_timeout))) continue;
        struct evhttp_request *req = evhttp_request_new(on_probe, m);
        if (!req) continue;
        char path[512];
        upstream_prepare(m, req, "/v1/models", path, sizeof path);
        if (evhttp_make_request(m->probe_conn, req, EVHTTP_REQ_GET, path) == 0) m->probing = 1;
    }
    battles_sweep(s);
    battles_keepalive(s);
}

int health_start(server *s, char *err, size_t errlen)
{
    if (!(s->health_timer = event_new(s->base, -1, EV_PERSIST, probe_all, s))) {
        snprintf(err, errlen, "cannot create the health timer");
        return -1;
    }
    double t = s->cfg->health_interval;
    struct timeval tv = {(time_t)t, (suseconds_t)((t - (time_t)t) * 1e6)};
    event_add(s->health_timer, &tv);
    probe_all(-1, 0, s);
    return 0;
}

void models_route(server *s, hreq *req)
{
    json_t *list = json_array();
    for (size_t i = 0; i < s->n_models; i++)
        if (s->models[i].cfg->enabled) json_array_append_new(list, json_string(s->models[i].cfg->name));
    http_reply_json(s, req, 200, json_pack("{s:o}", "models", list));
}

static size_t healthy_models(const server *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_models; i++) n += s->models[i].cfg->enabled && s->models[i].healthy && s->models[i].probed;
    return n;
}

static void serve_metrics(server *s, hreq *req)
{
    static const double bounds[] = LATENCY_BOUNDS;
    static const char *const error_kinds[] = {"bad_request", "forbidden", "not_found", "conflict", "other_4xx", "server_5xx"};
    struct evbuffer *b = evbuffer_new();
    if (!b) { http_error(s, req, 500, "internal", "out of memory"); return; }
    const metrics *m = &s->m;
    evbuffer_add_printf(b, "# HELP arena_requests_total HTTP requests received.\n# TYPE arena_requests_total counter\n"
                           "arena_requests_total %llu\n", (unsigned long long)m->requests);
    evbuffer_add_printf(b, "# HELP arena_battles_total Battles created.\n# TYPE arena_battles_total counter\n"
                           "arena_battles_total %llu\n", (unsigned long long)m->battles_created);
    evbuffer_add_printf(b, "# HELP arena_votes_total Votes by outcome.\n# TYPE arena_votes_total counter\n");
    for (int i = 0; i <= STORE_UNAVAILABLE; i++)
        evbuffer_add_printf(b, "arena_votes_total{result=\"%s\"} %llu\n", store_status_name((store_status)i), (unsigned long long)m->votes[i]);
    evbuffer_add_printf(b, "arena_votes_total{result=\"bad_token\"} %llu\n", (unsigned long long)m->votes[6]);
    evbuffer_add_printf(b, "# HELP arena_errors_total Error replies by kind.\n# TYPE arena_errors_total counter\n");
    for (int i = 0; i < 6; i++)
        evbuffer_add_printf(b, "arena_errors_total{kind=\"%s\"} %llu\n", error_kinds[i], (unsigned long long)m->errors_by_status[i]);
    evbuffer_add_printf(b, "arena_errors_total{kind=\"upstream\"} %llu\n", (unsigned long long)m->upstream_errors);
    evbuffer_add_printf(b, "arena_errors_total{kind=\"slow_client\"} %llu\n", (unsigned long long)hreq_slow_clients(s->http));
    evbuffer_add_printf(b, "# HELP arena_sse_connections Browser event streams open now.\n# TYPE arena_sse_connections gauge\n"
                           "arena_sse_connections %llu\n", (unsigned long long)m->sse_open);
    evbuffer_add_printf(b, "# HELP arena_sse_connections_total Browser event streams opened.\n# TYPE arena_sse_connections_total counter\n"
                           "arena_sse_connections_total %llu\n", (unsigned long long)m->sse_total);
    evbuffer_add_printf(b, "# HELP arena_live_battles Battles held in memory.\n# TYPE arena_live_battles gauge\n"
                           "arena_live_battles %zu\n", s->n_live);
    evbuffer_add_printf(b, "# HELP arena_model_up Last health probe of each model.\n# TYPE arena_model_up gauge\n");
    for (size_t i = 0; i < s->n_models; i++)
        evbuffer_add_printf(b, "arena_model_up{model=\"%s\"} %d\n", s->models[i].cfg->name, s->models[i].healthy);
    evbuffer_add_printf(b, "# HELP arena_upstream_streams_total Upstream streams started and failed.\n# TYPE arena_upstream_streams_total counter\n");
    for (size_t i = 0; i < s->n_models; i++) {
        const model_state *ms = &s->models[i];
        evbuffer_add_printf(b, "arena_upstream_streams_total{model=\"%s\",result=\"started\"} %llu\n", ms->cfg->name, (unsigned long long)ms->streams);
        evbuffer_add_printf(b, "arena_upstream_streams_total{model=\"%s\",result=\"failed\"} %llu\n", ms->cfg->name, (unsigned long long)ms->stream_errors);
    }
    evbuffer_add_printf(b, "# HELP arena_upstream_first_token_seconds Time to the first token.\n# TYPE arena_upstream_first_token_seconds histogram\n");
    for (size_t i = 0; i < s->n_models; i++) {
        const model_state *ms = &s->models[i];
        for (size_t k = 0; k < sizeof bounds / sizeof *bounds; k++)
            evbuffer_add_printf(b, "arena_upstream_first_token_seconds_bucket{model=\"%s\",le=\"%g\"} %llu\n", ms->cfg->name, bounds[k],
                                (unsigned long long)ms->latency_buckets[k]);
        evbuffer_add_printf(b, "arena_upstream_first_token_seconds_bucket{model=\"%s\",le=\"+Inf\"} %llu\n", ms->cfg->name, (unsigned long long)ms->latency_count);
        evbuffer_add_printf(b, "arena_upstream_first_token_seconds_sum{model=\"%s\"} %.6f\n", ms->cfg->name, ms->latency_sum);
        evbuffer_add_printf(b, "arena_upstream_first_token_seconds_count{model=\"%s\"} %llu\n", ms->cfg->name, (unsigned long long)ms->latency_count);
    }
    store_stats st;
    store_get_stats(s->store, &st);
    evbuffer_add_printf(b, "# HELP arena_redis_up Whether the vote store is connected.\n# TYPE arena_redis_up gauge\narena_redis_up %d\n", store_ready(s->store));
    evbuffer_add_printf(b, "# HELP arena_redis_events_total Vote store connection events.\n# TYPE arena_redis_events_total counter\n"
                           "arena_redis_events_total{event=\"connect\"} %llu\narena_redis_events_total{event=\"disconnect\"} %llu\n"
                           "arena_redis_events_total{event=\"timeout\"} %llu\narena_redis_events_total{event=\"error\"} %llu\n",
                        st.connects, st.disconnects, st.timeouts, st.errors);
    http_reply(s, req, 200, "text/plain; version=0.0.4", b);
    evbuffer_free(b);
}

void health_route(server *s, hreq *req, const char *path)
{
    if (strcmp(path, "/healthz") == 0) {
        http_reply_json(s, req, 200, json_pack("{s:s}", "status", "ok"));
    } else if (strcmp(path, "/readyz") == 0) {
        size_t n = healthy_models(s);
        int redis = store_ready(s->store), ready = redis && n >= 2;
        http_reply_json(s, req, ready ? 200 : 503, json_pack("{s:s, s:b, s:i}", "status", ready ? "ready" : "not_ready",
                                                             "redis", redis, "healthy_models", (int)n));
    } else {
        serve_metrics(s, req);
    }
}
