/* scheduler.c: the continuous-batching scheduler (see scheduler.h).
 *
 * Locking: one mutex guards the queue, the slots' occupancy, the ready list, every
 * request's pending output and the statistics. The engine step, feeding and sampling
 * run without it, on the generation thread only. */
#include "scheduler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "openai.h"

const double sched_ttft_bounds[SCHED_TTFT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,  1,     2.5,  5};

#define RATE_BUCKETS 8   /* one per second, a ring */
#define RATE_WINDOW 5    /* seconds averaged for tokens_per_s */

/* Plain tokens wake the caller at most this often (seconds): at 32 streams a step takes
 * under a millisecond, and each wake costs the event loop a write and two epoll_ctl per
 * stream, and the client a read each, CPU taken from the forward pass on a 2-core
 * machine. Over HTTP on 2 cores, 32 streams of stories260K gave about 41k tokens/s
 * waking every 4 ms and 57k every 10 ms (20 ms: no better). First tokens and ends wake
 * it at once, so time to first token is unchanged; later tokens arrive in bursts at
 * most 10 ms apart, well below what a reader notices. */
#define NOTIFY_INTERVAL 0.010

/* Text of several tokens back to back, with the end offset of each token's piece. */
struct pieces {
    char *text;
    size_t len, cap;
    size_t *ends;
    int n, ends_cap;
};

struct sched_req {
    inf_gen *gen;
    void *user;
    atomic_int cancelled;
    struct timespec submitted;
    int prompt_tokens, completion_tokens;
    int first_token_seen;

    /* Under the lock. */
    enum sched_status status;   /* != SCHED_RUNNING once finished */
    struct pieces pending;      /* produced, not yet drained; an incomplete UTF-8 tail
                                   beyond the last piece end waits for the next token */
    struct sched_req *next;     /* queue or ready list */
    int in_ready;

    /* Caller's thread only (sched_drain). */
    struct pieces taken;
    struct sched_req *drain_next;
    enum sched_status drain_status;
};

struct slot {
    inf_seq *seq;
    struct sched_req *req;      /* NULL when free */
};

struct sched {
    inf_engine *engine;
    const tok_tokenizer *tok;
    int seq_len, max_queue, n_slots;
    sched_notify_fn notify;
    void *notify_arg;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping, cancels;      /* cancels: sched_cancel() calls not yet looked at */
    struct slot *slots;
    int active, queued;
    struct sched_req *queue_head, *queue_tail;
    struct sched_req *ready_head, *ready_tail;
    int urgent;                 /* the ready list holds a first token or an end */
    struct timespec notified;   /* last notify() call */

    /* Step scratch, generation thread only. */
    inf_seq **row_seq;
    int *row_tok, *last_row;
    float **logits;
    const char **out_text;
    size_t *out_len;
    int *out_status;

    /* Statistics, under the lock. */
    struct sched_stats stats;
    struct { long long sec; uint64_t tokens; } rate[RATE_BUCKETS];
    struct timespec started;
};

static double seconds_since(const struct timespec *t0, const struct timespec *t1)
{
    return (double)(t1->tv_sec - t0->tv_sec) + (double)(t1->tv_nsec - t0->tv_nsec) * 1e-9;
}

/* ---- pieces ---- */

static int pieces_append(struct pieces *p, const char *text, size_t len)
{
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 64;
        while (cap < p->len + len)
            cap *= 2;
        char *t = realloc(p->text, cap);
        if (!t)
            return -1;
        p->text = t;
        p->cap = cap;
    }
    memcpy(p->text + p->len, text, len);
    p->len += len;
    return 0;
}

/* Closes a piece at offset END (> the previous end). */
static int pieces_cut(struct pieces *p, size_t end)
{
    if (p->n == p->ends_cap) {
        int cap = p->ends_cap ? 2 * p->ends_cap : 16;
        size_t *e = realloc(p->ends, (size_t)cap * sizeof *e);
        if (!e)
            return -1;
        p->ends = e;
        p->ends_cap = cap;
    }
    p->ends[p->n++] = end;
    return 0;
}

static size_t pieces_done(const struct pieces *p) { return p->n ? p->ends[p->n - 1] : 0; }

static void pieces_free(struct pieces *p)
{
    free(p->text);
    free(p->ends);
}

/* ---- requests ---- */

struct sched_req *sched_req_new(struct sched *s, const char *prompt, const inf_gen_params *p,
                                void *user, char *err, size_t errlen)
{
    struct sched_req *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!(r->gen = inf_gen_new(s->tok, s->seq_len, prompt, p, err, errlen))) {
        free(r);
        return NULL;
    }
    r->user = user;
    r->prompt_tokens = inf_gen_prompt_tokens(r->gen);
    return r;
}

void sched_req_free(struct sched_req *r)
{
    if (!r)
        return;
    inf_gen_free(r->gen);
    pieces_free(&r->pending);
    pieces_free(&r->taken);
    free(r);
}

int sched_req_prompt_tokens(const struct sched_req *r) { return r->prompt_tokens; }
int sched_req_completion_tokens(const struct sched_req *r) { return r->completion_tokens; }

/* Under the lock: puts R on the ready list once. */
static void make_ready(struct sched *s, struct sched_req *r)
{
    if (r->in_ready)
        return;
    r->in_ready = 1;
    r->next = NULL;
    if (s->ready_tail)
        s->ready_tail->next = r;
    else
        s->ready_head = r;
    s->ready_tail = r;
}

/* Under the lock: R is over; after this the thread never touches it again. */
static void finish(struct sched *s, struct sched_req *r, enum sched_status status)
{
    struct pieces *p = &r->pending;
    if (p->len > pieces_done(p) && status != SCHED_CANCELLED && pieces_cut(p, p->len) < 0)
        status = SCHED_ERROR;
    r->status = status;
    s->stats.requests_finished++;
    s->urgent = 1;
    make_ready(s, r);
}

/* Under the lock: adds the text of one step; a piece ends before any incomplete
 * UTF-8 sequence, so that every piece is valid text on its own. */
static int add_output(struct sched_req *r, const char *text, size_t len)
{
    struct pieces *p = &r->pending;
    if (len == 0)
        return 0;
    if (pieces_append(p, text, len) < 0)
        return -1;
    size_t done = pieces_done(p);
    size_t end = p->len - oai_utf8_incomplete_tail(p->text + done, p->len - done);
    return end > done ? pieces_cut(p, end) : 0;
}

static void count_tokens(struct sched *s, const struct timespec *now, int n)
{
    struct sched_stats *st = &s->stats;
    st->tokens_total += (uint64_t)n;
    int b = (int)(now->tv_sec % RATE_BUCKETS);
    if (s->rate[b].sec != now->tv_sec) {
        s->rate[b].sec = now->tv_sec;
        s->rate[b].tokens = 0;
    }
    s->rate[b].tokens += (uint64_t)n;
}

static void observe_ttft(struct sched *s, double seconds)
{
    struct sched_stats *st = &s->stats;
    st->ttft_count++;
    st->ttft_sum += seconds;
    for (int i = 0; i < SCHED_TTFT_BUCKETS; i++)
        if (seconds <= sched_ttft_bounds[i])
            st->ttft_le[i]++;
}

/* ---- the generation thread ---- */

/* Under the lock: retires cancelled requests, queued or active. */
static void retire_cancelled(struct sched *s)
{
    if (!s->cancels)
        return;
    s->cancels = 0;
    for (int i = 0; i < s->n_slots; i++) {
        struct sched_req *r = s->slots[i].req;
        if (r && atomic_load(&r->cancelled)) {
            s->slots[i].req = NULL;
            s->active--;
            finish(s, r, SCHED_CANCELLED);
        }
    }
    struct sched_req **link = &s->queue_head, *prev = NULL;
    while (*link) {
        struct sched_req *r = *link;
        if (atomic_load(&r->cancelled)) {
            *link = r->next;
            s->queued--;
            finish(s, r, SCHED_CANCELLED);
        } else {
            prev = r;
            link = &r->next;
        }
    }
    s->queue_tail = prev;
}

/* Under the lock: moves queued requests into free slots. */
static void admit(struct sched *s)
{
    for (int i = 0; i < s->n_slots && s->queue_head; i++) {
        if (s->slots[i].req)
            continue;
        struct sched_req *r = s->queue_head;
        s->queue_head = r->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
        s->queued--;
        inf_seq_reset(s->slots[i].seq);
        s->slots[i].req = r;
        if (++s->active > s->stats.peak_active)
            s->stats.peak_active = s->active;
    }
}

/* Without the lock: gathers the rows of one step. Every active request gets a row;
 * spare rows go to requests still reading their prompt, in slot order. Returns the
 * number of rows; last_row[i] is slot i's last row, -1 when it had none. */
static int gather_rows(struct sched *s)
{
    int spare = s->n_slots - s->active, rows = 0;
    for (int i = 0; i < s->n_slots; i++) {
        struct sched_req *r = s->slots[i].req;
        s->last_row[i] = -1;
        if (!r)
            continue;
        int prompt_left = r->prompt_tokens - inf_gen_pos(r->gen);
        int extra = prompt_left > 1 ? (prompt_left - 1 < spare ? prompt_left - 1 : spare) : 0;
        int n = inf_gen_feed(r->gen, s->row_tok + rows, 1 + extra);
        if (n <= 0)
            continue;       /* nothing to feed: advance() already ended it */
        spare -= n - 1;
        for (int j = 0; j < n; j++)
            s->row_seq[rows + j] = s->slots[i].seq;
        rows += n;
        s->last_row[i] = rows - 1;
    }
    return rows;
}

static enum sched_status from_gen_status(int status)
{
    return status == INF_GEN_RUNNING ? SCHED_RUNNING
         : status == INF_GEN_STOP    ? SCHED_STOP
         : status == INF_GEN_LENGTH  ? SCHED_LENGTH : SCHED_ERROR;
}

/* Under the lock: hands one step's results to the requests and the caller. */
static void publish(struct sched *s, int step_failed)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int tokens = 0;
    for (int i = 0; i < s->n_slots; i++) {
        struct sched_req *r = s->slots[i].req;
        if (!r)
            continue;
        enum sched_status status = step_failed ? SCHED_ERROR : SCHED_LENGTH;
        if (s->last_row[i] >= 0 && !step_failed) {
            status = from_gen_status(s->out_status[i]);
            int generated = inf_gen_generated_tokens(r->gen);
            tokens += generated - r->completion_tokens;
            r->completion_tokens = generated;
            if (generated > 0 && !r->first_token_seen) {
                r->first_token_seen = 1;
                s->urgent = 1;
                observe_ttft(s, seconds_since(&r->submitted, &now));
            }
            if (add_output(r, s->out_text[i], s->out_len[i]) < 0)
                status = SCHED_ERROR;
            else if (r->pending.n)
                make_ready(s, r);
        }
        if (status != SCHED_RUNNING) {
            s->slots[i].req = NULL;
            s->active--;
            finish(s, r, status);
        }
    }
    count_tokens(s, &now, tokens);
}

/* Under the lock: whether to wake the caller now for what the ready list holds. Plain
 * tokens wait for NOTIFY_INTERVAL while steps continue; nothing waits when the thread is
 * about to sleep or stop. */
static int notify_due(struct sched *s)
{
    if (!s->ready_head)
        return 0;
    if (s->urgent || !s->active || s->stopping)
        return 1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return seconds_since(&s->notified, &now) >= NOTIFY_INTERVAL;
}

static void *generation_thread(void *arg)
{
    struct sched *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        retire_cancelled(s);
        admit(s);
        if (notify_due(s)) {
            s->urgent = 0;
            clock_gettime(CLOCK_MONOTONIC, &s->notified);
            pthread_mutex_unlock(&s->lock);
            s->notify(s->notify_arg);
            pthread_mutex_lock(&s->lock);
        }
        if (s->stopping)
            break;
        if (!s->active) {
            if (!s->queue_head && !s->cancels)
                pthread_cond_wait(&s->wake, &s->lock);
            continue;
        }
        pthread_mutex_unlock(&s->lock);

        int rows = gather_rows(s), failed = 0;
        if (rows > 0 && inf_engine_step(s->engine, s->row_seq, s->row_tok, rows, s->logits) < 0) {
            fprintf(stderr, "arena-worker: engine step failed: %s\n", inf_engine_error(s->engine));
            failed = 1;
        }
        for (int i = 0; i < s->n_slots && !failed; i++) {
            s->out_len[i] = 0;
            if (s->last_row[i] >= 0)
                s->out_status[i] = inf_gen_advance(s->slots[i].req->gen, s->logits[s->last_row[i]],
                                                   &s->out_text[i], &s->out_len[i]);
        }
        pthread_mutex_lock(&s->lock);
        publish(s, failed);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the caller's side ---- */

/* Frees what sched_new() allocates besides the thread and its lock; S may be NULL. */
static void free_parts(struct sched *s)
{
    if (!s)
        return;
    for (int i = 0; s->slots && i < s->n_slots; i++)
        inf_seq_free(s->slots[i].seq);
    free(s->slots);
    free(s->row_seq);
    free(s->row_tok);
    free(s->last_row);
    free(s->logits);
    free(s->out_text);
    free(s->out_len);
    free(s->out_status);
    free(s);
}

struct sched *sched_new(inf_engine *engine, const tok_tokenizer *tok, int max_queue,
                        sched_notify_fn notify, void *arg, char *err, size_t errlen)
{
    struct sched *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->engine = engine;
    s->tok = tok;
    s->seq_len = inf_model_config(inf_engine_model(engine))->seq_len;
    s->max_queue = max_queue;
    s->n_slots = inf_engine_max_batch(engine);
    s->notify = notify;
    s->notify_arg = arg;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    int n = s->n_slots;
    s->slots = calloc((size_t)n, sizeof *s->slots);
    s->row_seq = calloc((size_t)n, sizeof *s->row_seq);
    s->row_tok = calloc((size_t)n, sizeof *s->row_tok);
    s->last_row = calloc((size_t)n, sizeof *s->last_row);
    s->logits = calloc((size_t)n, sizeof *s->logits);
    s->out_text = calloc((size_t)n, sizeof *s->out_text);
    s->out_len = calloc((size_t)n, sizeof *s->out_len);
    s->out_status = calloc((size_t)n, sizeof *s->out_status);
    if (!s->slots || !s->row_seq || !s->row_tok || !s->last_row || !s->logits || !s->out_text ||
        !s->out_len || !s->out_status)
        goto oom;
    for (int i = 0; i < n; i++)
        if (!(s->slots[i].seq = inf_seq_new(engine)))
            goto oom;
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        goto oom;
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        goto oom;
    }
    if (pthread_create(&s->thread, NULL, generation_thread, s) != 0) {
        snprintf(err, errlen, "cannot start the generation thread");
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        goto err;
    }
    return s;
oom:
    snprintf(err, errlen, "out of memory");
err:
    free_parts(s);
    return NULL;
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free_parts(s);
}

int sched_submit(struct sched *s, struct sched_req *r)
{
    pthread_mutex_lock(&s->lock);
    if (s->active + s->queued >= s->n_slots + s->max_queue) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &r->submitted);
    r->next = NULL;
    if (s->queue_tail)
        s->queue_tail->next = r;
    else
        s->queue_head = r;
    s->queue_tail = r;
    s->queued++;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void sched_cancel(struct sched *s, struct sched_req *r)
{
    atomic_store(&r->cancelled, 1);
    pthread_mutex_lock(&s->lock);
    s->cancels++;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void sched_drain(struct sched *s, sched_event_fn fn, void *arg)
{
    pthread_mutex_lock(&s->lock);
    struct sched_req *list = s->ready_head;
    s->ready_head = s->ready_tail = NULL;
    for (struct sched_req *r = list; r; r = r->next) {
        /* Swap the complete pieces out; an incomplete UTF-8 tail stays pending. */
        struct pieces *p = &r->pending, *t = &r->taken, old = *t;
        size_t done = pieces_done(p), tail = p->len - done;
        *t = *p;
        *p = old;
        p->len = 0;
        p->n = 0;
        if (tail && pieces_append(p, t->text + done, tail) < 0) {
            atomic_store(&r->cancelled, 1);   /* out of memory: end it cleanly */
            s->cancels++;
        }
        t->len = done;
        r->in_ready = 0;
        r->drain_status = r->status;
        r->drain_next = r->next;
    }
    pthread_mutex_unlock(&s->lock);

    for (struct sched_req *r = list, *next; r; r = next) {
        next = r->drain_next;   /* fn may free r */
        struct pieces *t = &r->taken;
        size_t start = 0;
        for (int i = 0; i < t->n; i++) {
            fn(arg, r, r->user, t->text + start, t->ends[i] - start, SCHED_RUNNING);
            start = t->ends[i];
        }
        if (r->drain_status != SCHED_RUNNING)
            fn(arg, r, r->user, "", 0, r->drain_status);
    }
}

void sched_get_stats(struct sched *s, struct sched_stats *out)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    out->queued = s->queued;
    out->active = s->active;
    uint64_t recent = 0;
    for (int i = 0; i < RATE_BUCKETS; i++)
        if (s->rate[i].sec > now.tv_sec - RATE_WINDOW)
            recent += s->rate[i].tokens;
    pthread_mutex_unlock(&s->lock);
    /* RATE_WINDOW - 1 whole seconds plus the current partial one, or less after a start. */
    double window = (RATE_WINDOW - 1) + (double)now.tv_nsec * 1e-9;
    double up = seconds_since(&s->started, &now);
    if (up < window)
        window = up;
    out->tokens_per_s = window > 0 ? (double)recent / window : 0;
}
