/* pool.c: worker threads woken by a generation counter under one mutex. A step of the
 * engine makes one pool_run() call, so a condition-variable wake-up (a few microseconds)
 * is cheap next to the work, and idle workers cost no CPU. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped by each pool_run() */
    int n_jobs;               /* workers 1..n_jobs-1 take part in this generation */
    int pending;              /* workers of this generation not finished yet */
    int stopping;
    void (*fn)(void *arg, int i);
    void *arg;
    int size;
    pthread_t *threads;       /* [size - 1] */
    struct worker {
        pool *p;
        int index;
    } *workers;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pool *p = w->p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stopping)
            break;
        seen = p->generation;
        if (w->index >= p->n_jobs)
            continue;
        pthread_mutex_unlock(&p->lock);
        p->fn(p->arg, w->index);
        pthread_mutex_lock(&p->lock);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

pool *pool_new(int threads)
{
    if (threads < 1)
        return NULL;
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->size = 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)threads, sizeof *p->threads);
    p->workers = calloc((size_t)threads, sizeof *p->workers);
    if (!p->threads || !p->workers)
        goto err;
    for (int i = 1; i < threads; i++) {
        p->workers[i] = (struct worker){p, i};
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, &p->workers[i]))
            goto err;
        p->size++;
    }
    return p;
err:
    pool_free(p);
    return NULL;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->size; i++)
        pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p->workers);
    free(p);
}

int pool_size(const pool *p) { return p->size; }

void pool_run(pool *p, int n, void (*fn)(void *arg, int i), void *arg)
{
    if (n > 1) {
        pthread_mutex_lock(&p->lock);
        p->fn = fn;
        p->arg = arg;
        p->n_jobs = n;
        p->pending = n - 1;
        p->generation++;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
    fn(arg, 0);
    if (n > 1) {
        pthread_mutex_lock(&p->lock);
        while (p->pending)
            pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
}
