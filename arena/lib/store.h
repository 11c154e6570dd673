/* store.h: the vote store, Redis through hiredis's asynchronous API on a libevent loop.
 *
 *   store_config sc; store_config_default(&sc);
 *   sc.url = "redis://127.0.0.1:6379/0";
 *   store *s = store_new(base, &sc, err, sizeof err);
 *   store_battle_save(s, id, &battle, 86400, saved_cb, ud);
 *   store_vote(s, &(store_vote_req){ .battle_id = id, .winner = "model_a", ... }, voted_cb, ud);
 *   store_follow_votes(s, "0", record_cb, ud);       // the board's feed
 *   ...
 *   store_free(s);
 *
 * Keys (arena/REDIS.md has the whole schema): every key of the vote path shares the hash
 * tag {<ns>} (default ns "a"), so the multi-key vote script runs unchanged on Redis
 * Cluster: arena:{a}:battle:<id> (hash, TTL), arena:{a}:voted (hash question_id -> stream
 * id: the vote-once index), arena:{a}:votes (the vote stream). Rate-limit counters are
 * single keys with their own tag: arena:<ns>:rl:{<key>}:<window>.
 *
 * Connections: two, both to the current master: one for commands (pipelined), one for
 * the blocking XREAD of store_follow_votes so that the stream feed never delays a vote.
 * Either reconnects on its own with exponential back-off (backoff_min_ms doubling up to
 * backoff_max_ms); with sentinels configured each attempt first asks the sentinels, in
 * turn, SENTINEL get-master-addr-by-name and checks ROLE on the address it gets. While
 * the command connection is down every request fails at once with STORE_UNAVAILABLE
 * (nothing is queued: the HTTP caller answers 503). A request that gets no reply within
 * command_timeout_ms drops the connection (a hung server looks like a dead one): every
 * request pending on it fails with STORE_UNAVAILABLE, then the back-off starts.
 * A vote that failed with STORE_UNAVAILABLE may or may not have been written; it was not
 * acknowledged, and a retry answers STORE_OK or STORE_ALREADY, never a second record.
 *
 * Durability: store_vote calls back STORE_OK only after Redis has replied to the vote
 * script (with appendonly yes + appendfsync always in ops/redis.conf the record is on
 * disk by then; everysec bounds a loss to a second). With wait_replicas > 0 the script
 * is followed by WAIT wait_replicas wait_timeout_ms and STORE_OK also needs that many
 * replica acknowledgements (fewer: STORE_UNAVAILABLE).
 *
 * Threads and ownership: a store lives on one event_base and every function must be
 * called from that loop's thread; callbacks run on it. Strings passed in are copied
 * before the call returns. Pointers handed to a callback (records, battles, ids) are
 * valid only during that callback; copy what you keep. Each request's callback runs
 * exactly once (also from store_free, with STORE_UNAVAILABLE, for requests still
 * pending). A callback may issue new requests but must not call store_free. */
#ifndef ARENA_STORE_H
#define ARENA_STORE_H

#include <stddef.h>

struct event_base;

typedef struct store store;

typedef enum {
    STORE_OK = 0,        /* done (vote recorded, battle saved/loaded, rate hit allowed) */
    STORE_ALREADY,       /* vote: this battle already has its vote */
    STORE_UNKNOWN,       /* vote / load: no such battle (never created, or expired) */
    STORE_NOT_DONE,      /* vote: a side is still streaming (or failed) */
    STORE_DENIED,        /* rate hit: over the limit */
    STORE_UNAVAILABLE    /* Redis down, timed out or answered an error: answer 503 */
} store_status;

/* "ok", "already", "unknown", "not_done", "denied", "unavailable". */
const char *store_status_name(store_status st);

/* The connections a store opens (store_config.connections). */
enum { STORE_COMMANDS = 1, STORE_FOLLOWER = 2 };

typedef struct store_config {
    const char *url;                  /* redis://[:password@]host[:port][/db]; with sentinels
                                         only its password and db are used */
    const char *password;             /* overrides the URL's; NULL = the URL's */
    const char *const *sentinels;     /* "host:port" each; NULL/0 = no sentinel */
    size_t n_sentinels;
    const char *master_name;          /* sentinel master name: "arena" */
    const char *ns;                   /* hash-tag namespace: "a" (keys arena:{a}:...) */
    int command_timeout_ms;           /* 2000 */
    int backoff_min_ms, backoff_max_ms;   /* 50, 2000 */
    int follow_block_ms;              /* XREAD BLOCK: 1000 */
    int follow_count;                 /* XREAD COUNT: 512 */
    int follow_pause_ms;              /* rest after a batch that caught up: 50 */
    int wait_replicas, wait_timeout_ms;   /* 0 = no WAIT; 100 */
    int connections;                  /* STORE_COMMANDS | STORE_FOLLOWER (both): a store
                                         that only follows can live on another thread's loop */
    /* Connection events ("connected to 127.0.0.1:6379", "lost: ...") for the server's
     * log; may be NULL. msg is valid during the call. */
    void (*log)(void *ud, const char *msg);
    void *log_ud;
} store_config;

void store_config_default(store_config *c);

/* Starts connecting at once (asynchronously). NULL with err set on a bad URL, a bad
 * sentinel address or no memory; an unreachable server is not an error (see
 * store_ready). cfg's strings are copied. */
store *store_new(struct event_base *base, const store_config *cfg, char *err, size_t errlen);
/* Closes its connections; pending callbacks run with STORE_UNAVAILABLE first. */
void store_free(store *s);

/* 1 when the command connection is up (authenticated, db selected). */
int store_ready(const store *s);

typedef struct store_stats {
    unsigned long long connects, disconnects, timeouts, errors, votes_recorded;
} store_stats;
void store_get_stats(const store *s, store_stats *out);

/* ---- battles ---- */

typedef enum { STORE_SIDE_STREAMING = 0, STORE_SIDE_DONE, STORE_SIDE_ERROR } store_side;

/* What any arena server needs to take a vote (or a follow-up turn) for a battle. */
typedef struct store_battle {
    const char *model_a, *model_b;
    int anony;                        /* 1 anonymous battle, 0 named (mode "anony"/"named") */
    double tstamp;                    /* created, seconds since the epoch */
    int turn;                         /* turns so far (1 after the first prompt) */
    store_side status_a, status_b;
    const char *conv_a, *conv_b;      /* JSON arrays of OpenAI messages; NULL = "[]" */
    const char *voter;                /* client IP (or key) the battle was served to */
    int leak;                         /* an answer named a model or its maker */
    const char *voted;                /* load only: stream id of its vote, or NULL */
} store_battle;

typedef void (*store_done_cb)(void *ud, store_status st);
/* st is STORE_OK (b set), STORE_UNKNOWN or STORE_UNAVAILABLE (b NULL). */
typedef void (*store_battle_cb)(void *ud, store_status st, const store_battle *b);

/* Writes every field of b (voted excepted) into the battle's hash and sets its TTL, in
 * one script (atomic). cb (may be NULL) gets STORE_OK or STORE_UNAVAILABLE.
 * 0, or -1 when id is not a valid battle id ([A-Za-z0-9_-], 1..64 chars): cb not called. */
int store_battle_save(store *s, const char *id, const store_battle *b, int ttl_s,
                      store_done_cb cb, void *ud);
int store_battle_load(store *s, const char *id, store_battle_cb cb, void *ud);

/* ---- votes ---- */

typedef struct store_vote_req {
    const char *battle_id;
    const char *winner;               /* "model_a", "model_b", "tie", "tie (bothbad)" */
    const char *judge;                /* e.g. from store_judge(); NULL = "arena_user" */
    const char *language;             /* NULL = "unknown" (see store_guess_language) */
    double tstamp;                    /* NAN = now by Redis's clock, as the vote is recorded:
                                         votes from several servers then have their stream's
                                         order in time too (what live Elo follows) */
    int leak;                         /* ORed with the battle's own flag */
} store_vote_req;

typedef struct store_vote_result {
    const char *stream_id;            /* STORE_OK / STORE_ALREADY: the vote's stream entry */
    const char *model_a, *model_b;    /* STORE_OK / STORE_ALREADY: for the reveal */
} store_vote_result;

/* r is NULL unless st is STORE_OK or STORE_ALREADY. */
typedef void (*store_vote_cb)(void *ud, store_status st, const store_vote_result *r);

/* The vote script, atomically: the battle exists (else STORE_UNKNOWN), has no vote yet
 * (else STORE_ALREADY), both sides are done (else STORE_NOT_DONE); then XADD the record
 * (every field of store_vote_record) to the stream and mark the battle voted.
 * 0, or -1 on a bad battle id or winner (cb not called). */
int store_vote(store *s, const store_vote_req *req, store_vote_cb cb, void *ud);

/* One record of the vote stream: FastChat's clean-battle fields plus ours. */
typedef struct store_vote_record {
    const char *id;                   /* stream id "ms-seq" */
    const char *question_id;          /* the battle id */
    const char *model_a, *model_b;
    const char *winner;               /* FastChat spelling */
    const char *judge;
    int turn;
    int anony;                        /* 1: battle mode "anony"; 0: "named" */
    const char *language;
    double tstamp;                    /* vote time, seconds since the epoch */
    const char *conversation_a, *conversation_b;   /* JSON arrays ("[]" when none) */
    int leak;                         /* identity leak: kept out of the anonymous board */
} store_vote_record;

/* Adds a finished record (a FastChat clean battle loaded from a file) with the same
 * vote-once index as store_vote: question_id (or, when NULL, "imp-" + 16 hex digits of
 * SHA-256 over model_a, model_b, winner, judge, tstamp and turn) is the key, so running
 * an import twice adds nothing. rec->id is ignored. cb gets STORE_OK (added),
 * STORE_ALREADY (skipped) or STORE_UNAVAILABLE. 0, or -1 on a record without models
 * or with a bad winner (cb not called). */
int store_import_vote(store *s, const store_vote_record *rec, store_done_cb cb, void *ud);

/* "arena_user_" + the first 16 hex digits of SHA-256(salt || ip) into out (>= 28 bytes):
 * votes by one client share a judge without storing its address. salt may be NULL. */
char *store_judge(const char *ip, const char *salt, char *out, size_t outlen);
/* A crude guess: "English" when the text's letters are mostly ASCII, else "unknown". */
const char *store_guess_language(const char *text);

/* ---- reading the stream ---- */

/* Per batch of records. st is STORE_OK (n >= 0 records, in stream order) or
 * STORE_UNAVAILABLE (follow: the connection dropped; it resumes by itself). */
typedef void (*store_records_cb)(void *ud, store_status st, const store_vote_record *recs,
                                 size_t n);

/* Follows the stream from after from_id ("0" = from the start, "$" = only new votes) on
 * the follow connection: XREAD COUNT follow_count BLOCK follow_block_ms, again and again,
 * resuming after a reconnect from the last id delivered (so nothing is skipped or
 * delivered twice). Blocking XREAD rather than polling: a vote reaches the board in one
 * round trip, and an idle server costs one command a second. Under a steady stream of
 * votes the follower rests follow_pause_ms after each batch that caught up, so it reads
 * many votes a round trip instead of one (a backlog is read without rests). One follower per store;
 * 0, or -1 when one is already running or from_id is not a stream id. An error reply
 * (say, the key holds another type) is reported as STORE_UNAVAILABLE and retried a
 * second later. "$" is resolved by Redis on each read until a first record arrives, so
 * votes added while the follow connection is down before then are not seen: a board
 * starts from "0". store_follow_stop ends it (no more calls). */
int store_follow_votes(store *s, const char *from_id, store_records_cb cb, void *ud);
void store_follow_stop(store *s);

/* One page of the stream in order: up to count records after after_id (NULL or "" =
 * from the start), XRANGE on the command connection. The page is complete when n <
 * count; otherwise ask again with after_id = recs[n-1].id. 0, or -1 on a bad id. */
int store_scan_votes(store *s, const char *after_id, size_t count, store_records_cb cb,
                     void *ud);

/* ---- rate limits ---- */

/* Counts one hit on the fixed window of window_s seconds that now falls in, for key
 * (e.g. "vote:203.0.113.7"), INCR + EXPIRE in one script. cb gets STORE_OK (allowed:
 * count <= limit), STORE_DENIED or STORE_UNAVAILABLE, and the count (0 when unavailable).
 * A daily cap is the same call with window_s = 86400. 0, or -1 on bad arguments. */
typedef void (*store_rate_cb)(void *ud, store_status st, long long count);
int store_rate_hit(store *s, const char *key, int window_s, long long limit,
                   store_rate_cb cb, void *ud);

#endif
