/* scheduler.h (prefix sched_): continuous batching for the server.
 *
 * A scheduler owns an engine's sequences (one per batch slot) and a generation thread.
 * Between two engine steps the thread retires finished and cancelled requests, admits
 * queued ones into free slots, then steps every active request together: one generated
 * token for each decoding request, and as many prompt tokens as the spare rows allow for
 * requests still reading their prompt (inf_gen_feed decides, generate.h).
 *
 * Output goes back to the caller's thread (the event loop) through a lock-protected
 * ready list: the thread calls the notify callback (which must only wake the caller,
 * e.g. event_active), and the caller then runs sched_drain() to receive the new pieces of
 * text, one per token, and the final status. It notifies at once after a step that
 * produced a request's first text or end, otherwise at most every few milliseconds while
 * steps go on (a drain then takes several tokens per request), and always before it
 * sleeps or stops.
 *
 * Ownership: the caller creates a request with sched_req_new() and owns its memory.
 * sched_submit() lends it to the scheduler until sched_drain() delivers its final event
 * (or sched_free() returns); only then may the caller sched_req_free() it.
 *
 * (Not named sched.h: with -Iinference/lib that would shadow the system <sched.h>.) */
#ifndef ARENA_SCHED_H
#define ARENA_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "generate.h"
#include "tokenizer.h"

enum sched_status {
    SCHED_RUNNING = 0,
    SCHED_STOP,       /* stop token or stop string (OpenAI finish_reason "stop") */
    SCHED_LENGTH,     /* max_tokens or the context is full ("length") */
    SCHED_CANCELLED,  /* sched_cancel() */
    SCHED_ERROR,      /* the engine step failed */
};

struct sched;
struct sched_req;

typedef void (*sched_notify_fn)(void *arg);

/* The TTFT histogram's upper bounds in seconds (Prometheus "le"); +Inf is implicit. */
#define SCHED_TTFT_BUCKETS 10
extern const double sched_ttft_bounds[SCHED_TTFT_BUCKETS];

struct sched_stats {
    uint64_t tokens_total;      /* generated (sampled) tokens since start */
    uint64_t requests_finished; /* by any status */
    double tokens_per_s;        /* over the last few seconds */
    int queued;                 /* submitted, not yet in a slot */
    int active;                 /* in a slot */
    int peak_active;            /* the most requests ever in the batch at once */
    uint64_t ttft_count;        /* time to first token: submit -> first text produced */
    double ttft_sum;            /* seconds */
    uint64_t ttft_le[SCHED_TTFT_BUCKETS]; /* cumulative counts per bound */
};

/* Starts the generation thread. The scheduler borrows ENGINE and TOK (keep both until
 * sched_free). Slots = the engine's max_batch; at most max_queue requests wait beyond
 * them. notify(arg) is called from the generation thread. NULL with a message in err. */
struct sched *sched_new(inf_engine *engine, const tok_tokenizer *tok, int max_queue,
                        sched_notify_fn notify, void *arg, char *err, size_t errlen);
/* Stops and joins the thread and frees the slots. Requests still lent to it are simply
 * dropped (no events): the caller frees them. NULL is a no-op. */
void sched_free(struct sched *s);

/* A request for PROMPT (encoded here, on the caller's thread). USER is the caller's
 * pointer, handed back with every event. NULL with a message in err (empty prompt,
 * out of memory). */
struct sched_req *sched_req_new(struct sched *s, const char *prompt, const inf_gen_params *p,
                                void *user, char *err, size_t errlen);
void sched_req_free(struct sched_req *r);
int sched_req_prompt_tokens(const struct sched_req *r);  /* BOS included */
int sched_req_completion_tokens(const struct sched_req *r); /* final once finished */

/* Queues R. -1 when the scheduler is full (every slot busy and max_queue waiting):
 * R stays the caller's. */
int sched_submit(struct sched *s, struct sched_req *r);
/* Asks the thread to drop R between two steps; its slot is freed at once and its final
 * event is SCHED_CANCELLED (unless it had already finished). Callable any time while lent. */
void sched_cancel(struct sched *s, struct sched_req *r);

/* One piece of output: text of one token (status SCHED_RUNNING), or the end (len 0,
 * status != SCHED_RUNNING). TEXT is valid during the callback only. After the final
 * event the request is the caller's again; the callback may free it. */
typedef void (*sched_event_fn)(void *arg, struct sched_req *r, void *user, const char *text,
                               size_t len, enum sched_status status);
/* Delivers every pending event, on the caller's thread. */
void sched_drain(struct sched *s, sched_event_fn fn, void *arg);

void sched_get_stats(struct sched *s, struct sched_stats *out);

#endif
