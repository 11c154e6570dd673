/* store_fixture.h: what the store's C tests and benchmark share on top of redis_proc.h:
 * starting a test's server and loop, a store configuration for a local redis_proc,
 * waiting for the store to be ready, a status slot filled by the store's callbacks, and a
 * log callback. Header-only, static. */
#ifndef ARENA_TEST_STORE_FIXTURE_H
#define ARENA_TEST_STORE_FIXTURE_H

#include <signal.h>
#include <stdio.h>

#include <event2/event.h>

#include "redis_proc.h"
#include "store.h"

/* A store test's start: SIGPIPE ignored, r's server started and a new event base; NULL
 * after a "not ok" line when the server does not start. */
static __attribute__((unused)) struct event_base *sf_start(redis_proc *r)
{
    signal(SIGPIPE, SIG_IGN);
    if (rp_start(r) < 0) {
        printf("not ok - redis-server starts\n");
        return NULL;
    }
    return event_base_new();
}

/* The defaults with the URL of r's server, written into url (urllen bytes), which
 * sc->url then points to. */
static __attribute__((unused)) void sf_config(store_config *sc, const redis_proc *r, char *url, size_t urllen)
{
    snprintf(url, urllen, "redis://127.0.0.1:%d/0", r->port);
    store_config_default(sc);
    sc->url = url;
}

/* Runs the loop until s is ready or ms pass; returns whether it is (0 when s is NULL). */
static __attribute__((unused)) int sf_wait_ready(struct event_base *base, store *s, int ms)
{
    for (int t = 0; t < ms && s && !store_ready(s); t += 20) rp_run_for(base, 20);
    return s && store_ready(s);
}

/* The status of one request, for rp_run_until(base, &slot.done, ...). */
typedef struct sf_slot { volatile int done; store_status st; } sf_slot;

/* store_done_cb over an sf_slot. */
static __attribute__((unused)) void sf_on_status(void *ud, store_status s)
{
    sf_slot *sl = ud;
    sl->st = s;
    sl->done = 1;
}

/* store_vote_cb over an sf_slot (the result itself is not kept). */
static __attribute__((unused)) void sf_on_vote(void *ud, store_status s, const store_vote_result *r)
{
    sf_slot *sl = ud;
    sl->st = s;
    sl->done = 1;
}

/* store_config.log: the store's log lines as TAP comments. */
static __attribute__((unused)) void sf_log(void *ud, const char *msg)
{
    printf("# %s\n", msg);
}

#endif
