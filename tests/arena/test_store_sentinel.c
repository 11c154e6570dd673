/* test_store_sentinel.c: the store behind Redis Sentinel. A master, a replica and one
 * sentinel run for real; the store finds the master through the sentinel, votes wait for
 * the replica (WAIT 1), the master is killed, the sentinel promotes the replica, and the
 * store follows: votes are unavailable meanwhile, then go through on the new master,
 * which holds every vote acknowledged before the failover. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "../check.h"
#include "store_fixture.h"

static struct event_base *base;
static store *st;

/* Saves a finished battle and votes on it: the vote's status. */
static store_status battle_and_vote(const char *id)
{
    store_battle b = { .model_a = "alpha", .model_b = "beta", .anony = 1, .tstamp = NAN, .turn = 1,
                       .status_a = STORE_SIDE_DONE, .status_b = STORE_SIDE_DONE };
    sf_slot s1 = { 0 }, s2 = { 0 };
    store_battle_save(st, id, &b, 600, sf_on_status, &s1);
    store_vote(st, &(store_vote_req){ .battle_id = id, .winner = "model_a", .tstamp = NAN }, sf_on_vote, &s2);
    rp_run_until(base, &s2.done, 5000);
    return s1.st == STORE_OK ? s2.st : s1.st;
}

static long long xlen(redis_proc *r)
{
    redisReply *rep = rp_command(r, "XLEN arena:{a}:votes");
    long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep) freeReplyObject(rep);
    return n;
}

/* The sentinel's idea of the master's port, or -1. */
static int sentinel_master_port(redis_proc *sen)
{
    redisReply *rep = rp_command(sen, "SENTINEL get-master-addr-by-name arena");
    int port = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 ? atoi(rep->element[1]->str) : -1;
    if (rep) freeReplyObject(rep);
    return port;
}

/* The sentinel knows the replica once it has read the master's INFO. */
static int sentinel_knows_replica(redis_proc *sen)
{
    redisReply *rep = rp_command(sen, "SENTINEL replicas arena");
    int n = rep && rep->type == REDIS_REPLY_ARRAY ? (int)rep->elements : 0;
    if (rep) freeReplyObject(rep);
    return n;
}

static int replica_in_sync(redis_proc *r)
{
    redisReply *rep = rp_command(r, "INFO replication");
    int up = rep && rep->type == REDIS_REPLY_STRING && strstr(rep->str, "master_link_status:up");
    if (rep) freeReplyObject(rep);
    return up;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    redis_proc master = { 0 }, replica = { 0 }, sen = { 0 };
    char mport[16];
    /* No 5-second wait before the replica's first full sync (Redis 7's default). */
    const char *const fast_sync[] = { "--repl-diskless-sync-delay", "0", NULL };
    int started = rp_start_ex(&master, fast_sync, NULL) == 0;
    snprintf(mport, sizeof mport, "%d", master.port);
    const char *const repl[] = { "--replicaof", "127.0.0.1", mport, NULL };
    started = started && rp_start_ex(&replica, repl, NULL) == 0;
    /* The sentinel rewrites its configuration file: it lives in the sentinel's scratch dir. */
    char conf[200];
    if (started) {
        snprintf(sen.dir, sizeof sen.dir, "%s/arena-sentinel.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        started = mkdtemp(sen.dir) != NULL;
        snprintf(conf, sizeof conf, "%s/sentinel.conf", sen.dir);
        FILE *f = started ? fopen(conf, "w") : NULL;
        if (f) {
            fprintf(f, "sentinel monitor arena 127.0.0.1 %d 1\n"
                       "sentinel down-after-milliseconds arena 400\n"
                       "sentinel failover-timeout arena 3000\n", master.port);
            fclose(f);
        }
        started = f && rp_start_ex(&sen, NULL, conf) == 0;
    }
    CHECK(started, "master, replica and sentinel start");
    if (!started) goto out;
    for (int t = 0; t < 100 && !sentinel_knows_replica(&sen); t++) rp_sleep_ms(100);
    CHECK(sentinel_knows_replica(&sen) == 1, "the sentinel sees the replica");
    for (int t = 0; t < 100 && !replica_in_sync(&replica); t++) rp_sleep_ms(50);
    CHECK(replica_in_sync(&replica), "the replica is in sync");

    base = event_base_new();
    char sentinel_addr[32], err[256];
    snprintf(sentinel_addr, sizeof sentinel_addr, "127.0.0.1:%d", sen.port);
    const char *const sentinels[] = { "127.0.0.1:1", sentinel_addr };   /* the first is dead */
    store_config sc;
    store_config_default(&sc);
    sc.url = "redis://unused:1/0";
    sc.sentinels = sentinels;
    sc.n_sentinels = 2;
    sc.master_name = "arena";
    sc.wait_replicas = 1;
    sc.wait_timeout_ms = 1000;
    sc.command_timeout_ms = 500;
    sc.backoff_max_ms = 200;
    sc.log = sf_log;
    st = store_new(base, &sc, err, sizeof err);
    CHECK(st != NULL, "store_new with sentinels");
    CHECK(sf_wait_ready(base, st, 5000), "store finds the master through the sentinel (skipping a dead one)");

    int acked = 0;
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        acked += battle_and_vote(id) == STORE_OK;
    }
    CHECK(acked == 5, "votes acknowledged after WAIT 1 (%d)", acked);
    CHECK(xlen(&replica) == 5, "the replica has them");

    rp_stop(&master, SIGKILL);
    CHECK(battle_and_vote("down") == STORE_UNAVAILABLE, "master down: vote unavailable");
    int promoted = 0;
    for (int t = 0; t < 150 && !promoted; t++) {
        promoted = sentinel_master_port(&sen) == replica.port;
        if (!promoted) rp_run_for(base, 100);
    }
    CHECK(promoted, "the sentinel promotes the replica");
    CHECK(sf_wait_ready(base, st, 5000), "store follows the failover");
    /* The new master has no replica left: WAIT 1 cannot be met, so the vote is recorded
     * but not acknowledged. */
    store_status after = battle_and_vote("after");
    CHECK(after == STORE_UNAVAILABLE, "vote on the new master without a replica: not acknowledged (%s)",
          store_status_name(after));
    CHECK(xlen(&replica) >= 5, "every vote acknowledged before the failover is on the new master (%lld)",
          xlen(&replica));
    store_free(st);
    event_base_free(base);
out:
    rp_destroy(&sen);
    rp_destroy(&replica);
    rp_destroy(&master);
    return check_exit();
}
