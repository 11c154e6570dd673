/* pool.h: a persistent pool of worker threads running one job at a time (internal to the
 * inference library). The thread calling pool_run() takes part as worker 0. */
#ifndef INF_POOL_H
#define INF_POOL_H

typedef struct pool pool;

/* A pool of THREADS workers in all (THREADS - 1 new threads). NULL on failure. */
pool *pool_new(int threads);
/* Joins the threads. NULL is a no-op. */
void pool_free(pool *p);
int pool_size(const pool *p);

/* Runs fn(arg, i) for i < N (1 <= N <= pool_size) on N different workers and returns
 * when all are done. Not reentrant: one caller at a time. */
void pool_run(pool *p, int n, void (*fn)(void *arg, int i), void *arg);

#endif
