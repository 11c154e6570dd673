/* board.h: the live leaderboard, kept current vote by vote with the ratings/ library.
 *
 *   board_opts o; board_opts_default(&o);
 *   o.models = meta; o.n_models = n; o.static_table = table;     // both optional
 *   board *b = board_new(&o, err, sizeof err);
 *   board_add_vote(b, &record);                  // from store_follow_votes, any thread
 *   board_blob *j = board_leaderboard_json(b, BOARD_BT, 1);
 *   send(j->data, j->len); board_blob_release(j);
 *   board_free(b);
 *
 * Two boards are kept: "all" (every vote) and "anony" (anony == 1 and leak == 0: named
 * battles and identity-leak votes stay out, as FastChat's anonymous leaderboard). Each
 * has Bradley-Terry (bt_fit) and online Elo (elo_fit) ratings, an interval per model
 * (ci_method: sandwich or bootstrap for BT; bootstrap for Elo) and a rank upper bound
 * (ci_rank_ub).
 *
 * Refits: board_add_vote only queues the vote (copies it under a mutex, O(1), no
 * allocation once the queue has grown) and wakes the worker thread, which alone owns the
 * ratings/ accumulators. The worker waits debounce_ms for more votes, takes the queue,
 * counts it (rt_add), snapshots, fits the point estimates (a few milliseconds for 40
 * models and 200,000 votes: bench-arena-board) and publishes them with the newest
 * intervals (matched by model name; null for a model they do not cover yet). It then
 * hands a snapshot to a second thread that computes the intervals (BT sandwich or
 * bootstrap, Elo bootstrap) and hands them back, and the worker publishes again. So
 * ratings follow a vote within debounce_ms plus one fit however long a bootstrap takes,
 * intervals follow within about two bootstrap times, and the event loop never waits for
 * either.
 *
 * Reads: every document (JSON and CSV for each method x anony, matrix JSON for each kind
 * x anony) is serialised once per publish into an immutable, reference-counted
 * board_blob; a read takes a reference under a mutex (no copy, no formatting), so reads
 * cost the same whatever the number of models. Documents are built lazily: the first
 * read after a publish builds it.
 *
 * The JSON leaderboard's fields are the CSV columns of arena-ratings (rank, rank_ub,
 * model, rating, ci_lower, ci_upper, votes, static_rank, static_score, rank_delta) plus
 * organization and license; the CSV has arena-ratings' columns in its order, so
 * `arena-ratings fit` on the export (export.h) reproduces it.
 *
 * Threads: every function may be called from any thread. Ownership: board_new copies
 * opts' strings and models; the static table is borrowed (must outlive the board). A
 * board_blob is owned by whoever holds a reference: release each exactly once, from any
 * thread, also after board_free. */
#ifndef ARENA_BOARD_H
#define ARENA_BOARD_H

#include <stddef.h>

#include "static.h"
#include "store.h"

typedef struct board board;

typedef enum { BOARD_BT = 0, BOARD_ELO } board_method;
typedef enum { BOARD_WINS = 0, BOARD_COUNTS, BOARD_PREDICTED } board_matrix;
typedef enum { BOARD_CI_NONE = 0, BOARD_CI_SANDWICH, BOARD_CI_BOOTSTRAP } board_ci;

/* A model of the registry: its metadata for the board. */
typedef struct board_model {
    const char *name;
    const char *organization, *license;   /* NULL = "" */
    const char *static_key;               /* looked up in the static table; NULL = name */
} board_model;

typedef struct board_opts {
    const board_model *models;            /* copied; models voted on but absent here get
                                             empty metadata */
    size_t n_models;
    const st_table *static_table;         /* borrowed; NULL = no static columns */
    board_ci ci;                          /* BOARD_CI_SANDWICH (BT) */
    int bootstrap_rounds;                 /* 200 (BT bootstrap; Elo always bootstraps
                                             when ci != NONE, with the same rounds) */
    unsigned long seed;                   /* 42 */
    int threads;                          /* bootstrap threads; 1 (the server has work) */
    int debounce_ms;                      /* 250 */
    double ci_max_share;                  /* 0.1: under a steady stream of votes the
                                             interval thread rests between jobs so that it
                                             uses at most this share of one core */
    double ci_min_period;                 /* 0: seconds from one interval job's start to
                                             the next's, at least (the server's config: 2) */
    const char *anchor_model;             /* BT anchor (arena-ratings' --anchor); NULL */
    double anchor_value;
} board_opts;

void board_opts_default(board_opts *o);

/* Starts the worker thread. NULL with err set on bad options / no memory. */
board *board_new(const board_opts *o, char *err, size_t errlen);
/* Stops and joins the worker (an interval computation in progress is cancelled). */
void board_free(board *b);

/* Queues one vote for the boards. 1 queued, 0 skipped (self-battle, unknown winner),
 * -1 no memory. */
int board_add_vote(board *b, const store_vote_record *r);

/* Blocks until everything added before the call is fitted and published, intervals
 * included (tests, and a server that loaded the stream before it starts listening). */
void board_sync(board *b);

/* An immutable serialised document. data is NUL-terminated (len excludes the NUL). */
typedef struct board_blob { const char *data; size_t len; } board_blob;

/* New references to the current documents; never NULL unless out of memory.
 * leaderboard JSON: {"method","anony","ci_method","models":[...],"correlation":{"n",
 * "spearman_rho","spearman_p","kendall_tau_b","kendall_p"} (null when undefined),
 * "last_vote_tstamp","total_votes","updated"}; models best first. */
board_blob *board_leaderboard_json(board *b, board_method m, int anony);
board_blob *board_leaderboard_csv(board *b, board_method m, int anony);
/* {"kind","anony","models":[...],"matrix":[[...]]}: models in the leaderboard's BT
 * order; cells with no meaning (diagonal, pairs that never met) are null. predicted
 * uses the BT ratings. */
board_blob *board_matrix_json(board *b, board_matrix kind, int anony);
void board_blob_release(board_blob *blob);

/* "bt"/"elo", "wins"/"counts"/"predicted", "none"/"sandwich"/"bootstrap" and back;
 * the parsers return 0 / -1. */
const char *board_method_name(board_method m);
int board_parse_method(const char *s, board_method *out);
int board_parse_matrix(const char *s, board_matrix *out);
int board_parse_ci(const char *s, board_ci *out);

#endif
