/* redis_proc.h: a real redis-server for the arena's C tests, started on a free port in a
 * scratch directory and stopped (or killed and restarted, on the same port and data) by
 * the test itself, with one-off commands to it. Also a tiny loop helper for asynchronous
 * tests. Header-only, static. */
#ifndef ARENA_TEST_REDIS_PROC_H
#define ARENA_TEST_REDIS_PROC_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

typedef struct redis_proc {
    pid_t pid;
    int port;
    char dir[128];
} redis_proc;

static int rp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* A synchronous connection for checks; NULL when the server does not answer. */
static redisContext *rp_connect(const redis_proc *r)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

/* One command (as redisCommand) on a fresh connection to r's server: its reply, which the
 * caller frees with freeReplyObject, or NULL when the server does not answer. */
static redisReply *rp_command(const redis_proc *r, const char *fmt, ...)
{
    redisContext *c = rp_connect(r);
    if (!c) return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return rep;
}

static void rp_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts redis-server (appendonly, fsync always) on r->port (a free one when 0) with
 * its data in r->dir (a new scratch directory when empty); extra (NULL-terminated, may be
 * NULL) adds arguments, e.g. "--replicaof", "127.0.0.1", "6379". With sentinel_conf set
 * it starts a sentinel from that configuration file instead. 0 / -1. */
static int rp_start_ex(redis_proc *r, const char *const *extra, const char *sentinel_conf)
{
    if (!r->dir[0]) {
        snprintf(r->dir, sizeof r->dir, "%s/arena-redis.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(r->dir)) return -1;
    }
    if (!r->port && (r->port = rp_free_port()) < 0) return -1;
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    const char *argv[32] = { "redis-server" };
    int n = 1;
    if (sentinel_conf) {
        argv[n++] = sentinel_conf;
        argv[n++] = "--sentinel";
    }
    const char *common[] = { "--port", port, "--bind", "127.0.0.1", "--dir", r->dir, "--protected-mode", "no" };
    for (size_t i = 0; i < sizeof common / sizeof *common; i++) argv[n++] = common[i];
    if (!sentinel_conf) {
        const char *data[] = { "--appendonly", "yes", "--appendfsync", "always", "--save", "" };
        for (size_t i = 0; i < sizeof data / sizeof *data; i++) argv[n++] = data[i];
    }
    for (size_t i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    r->pid = fork();
    if (r->pid < 0) return -1;
    if (r->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);   /* a test killed by its timeout leaves no server */
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) { dup2(devnull, 1); dup2(devnull, 2); }
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisReply *rep = rp_command(r, "PING");
        int ok = rep && rep->type == REDIS_REPLY_STATUS;
        if (rep) freeReplyObject(rep);
        if (ok) return 0;
        rp_sleep_ms(25);
    }
    return -1;
}

static __attribute__((unused)) int rp_start(redis_proc *r)
{
    return rp_start_ex(r, NULL, NULL);
}

/* Stops the server with sig (SIGKILL: a crash) and reaps it; the data stays. */
static void rp_stop(redis_proc *r, int sig)
{
    if (r->pid <= 0) return;
    kill(r->pid, sig);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

/* Stops the server and removes its data. */
static void rp_destroy(redis_proc *r)
{
    rp_stop(r, SIGKILL);
    if (r->dir[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
        if (system(cmd) != 0) fprintf(stderr, "# could not remove %s\n", r->dir);
    }
}

/* Runs the loop until *flag becomes nonzero or timeout_ms passes; returns *flag. */
static int rp_run_until(struct event_base *base, volatile int *flag, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!*flag) {
        event_base_loop(base, EVLOOP_ONCE);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) break;
    }
    return *flag;
}

/* Runs the loop for ms milliseconds. */
static void rp_run_for(struct event_base *base, int ms)
{
    volatile int never = 0;
    rp_run_until(base, &never, ms);
}

#endif
