/* battles.h: the battles accumulator, the input of every rating method.
 *
 *   rt_battles *acc = rt_new(&filter, err, sizeof err);
 *   rt_add(acc, "model-a", "model-b", RT_WIN_A, tstamp, anony, err, sizeof err);  // per vote
 *   rt_data *d = rt_snapshot(acc, err, sizeof err);               // immutable view
 *   bt_fit(d, ...); elo_fit(d, ...); ci_bt_bootstrap(d, ...);
 *   rt_data_free(d); rt_free(acc);
 *
 * The accumulator interns model names in order of first appearance and keeps, per
 * unordered pair of models, the count of each outcome (memory grows with the number of
 * pairs, not votes). When filter.keep_sequence is set it also keeps the battle sequence
 * (16 bytes a battle), which online Elo needs.
 *
 * Filters applied by rt_add: anony_only, exclude_ties, exclude_models, since/until.
 * Self-battles (a == b) are never counted. min_votes is applied by rt_snapshot: models
 * with fewer than min_votes battles (counted after the other filters) are dropped with
 * all their battles, in one pass; votes are then recounted on what is kept.
 *
 * Ownership and threads: the accumulator owns its names and tables; rt_free releases
 * them. rt_snapshot returns a self-contained copy (its own names) that the caller frees
 * with rt_data_free; the accumulator may go on taking votes or be freed meanwhile. An
 * rt_battles is not locked: the caller serialises rt_add and rt_snapshot (one mutex).
 * An rt_data is never modified after rt_snapshot, so any number of threads may read it
 * (fit, bootstrap) at the same time without locking. */
#ifndef ARENA_BATTLES_H
#define ARENA_BATTLES_H

#include <stddef.h>
#include <stdint.h>

/* Same order as reader.h's rd_winner, so (rt_outcome)record->winner is valid. Both tie
 * kinds count the same everywhere (half a win for each side); pair counts merge them
 * into RT_TIE, the sequence keeps the kind. */
typedef enum { RT_WIN_A = 0, RT_WIN_B = 1, RT_TIE = 2, RT_TIE_BOTHBAD = 3 } rt_outcome;

typedef struct rt_filter {
    int anony_only;                    /* keep only battles with anony == 1 */
    int exclude_ties;                  /* drop RT_TIE and RT_TIE_BOTHBAD */
    const char *const *exclude_models; /* drop battles involving these; copied by rt_new */
    size_t n_exclude;
    double since, until;               /* keep since <= tstamp < until; NAN = unbounded. With
                                          a bound set, a battle without tstamp is dropped. */
    uint64_t min_votes;                /* applied by rt_snapshot; 0 = keep all */
    int keep_sequence;                 /* keep the battle sequence (for Elo) */
} rt_filter;

/* All zero with since/until = NAN: no filter, no sequence. */
void rt_filter_default(rt_filter *f);

typedef struct rt_battles rt_battles;

/* filter may be NULL (rt_filter_default). NULL with err set on bad filter / no memory. */
rt_battles *rt_new(const rt_filter *filter, char *err, size_t errlen);
void rt_free(rt_battles *acc);

/* One vote. tstamp NAN when unknown; anony 1, 0 or -1 (unknown: dropped by anony_only).
 * Returns 1 counted, 0 filtered out (or a self-battle), -1 on bad outcome / no memory
 * (err set; the accumulator is unchanged). Amortised O(1), no allocation once the pair
 * and the model are known (except sequence growth). */
int rt_add(rt_battles *acc, const char *model_a, const char *model_b, rt_outcome outcome,
           double tstamp, int anony, char *err, size_t errlen);

/* What rt_add saw: added = every call; counted = battles kept. */
typedef struct rt_stats {
    uint64_t added, counted, self_battles, filtered_anony, filtered_ties, filtered_models,
             filtered_time;
} rt_stats;
void rt_get_stats(const rt_battles *acc, rt_stats *out);

/* One counted battle between two kept models; a < b. outcome is from a's side: RT_WIN_A
 * means model a beat model b, RT_WIN_B means b beat a, RT_TIE either kind of tie. */
typedef struct rt_triple {
    uint32_t a, b;
    uint32_t outcome;
    uint32_t reserved;
    uint64_t count;
} rt_triple;

/* One battle of the sequence, as it was voted (a was model_a). 16 bytes. */
typedef struct rt_seq {
    double   tstamp;         /* NAN when unknown */
    uint32_t a;
    uint32_t b : 30;
    uint32_t outcome : 2;    /* rt_outcome */
} rt_seq;

/* An immutable snapshot. Every array is owned by the snapshot; read, never write. */
typedef struct rt_data {
    size_t    n_models;
    char    **names;          /* [n_models], order of first appearance among kept models */
    uint64_t *votes;          /* [n_models] battles each model appears in */
    uint64_t  n_battles;      /* counted battles of kept models (sum of triple counts) */
    size_t    n_triples;
    rt_triple *triples;       /* sorted by (a, b, outcome); counts > 0 */
    size_t    n_seq;          /* == n_battles when keep_sequence, else 0 */
    rt_seq   *seq;            /* NULL unless keep_sequence; stable-sorted by tstamp when every
                                 battle has one, otherwise in the order rt_add saw them */
    size_t    n_components;   /* connected components of the comparison graph */
    uint32_t *component;      /* [n_models] component of each model; components are
                                 numbered in order of their first model */
    uint64_t  dropped_models; /* dropped by min_votes */
} rt_data;

/* NULL with err set on no memory. An empty snapshot (no battles) is valid. */
rt_data *rt_snapshot(const rt_battles *acc, char *err, size_t errlen);
/* The same without the sequence (seq NULL, n_seq 0), whatever the filter: the counts that
 * BT needs, in O(pairs) rather than O(battles). */
rt_data *rt_snapshot_counts(const rt_battles *acc, char *err, size_t errlen);

/* The accumulator's own sequence, in the order rt_add saw the battles, indices into its
 * names (rt_name); NULL without keep_sequence. Read-only, valid until the next rt_add. */
const rt_seq *rt_sequence(const rt_battles *acc, size_t *n);
size_t rt_n_names(const rt_battles *acc);
const char *rt_name(const rt_battles *acc, size_t i);   /* NULL past the end */
void rt_data_free(rt_data *d);

/* Index of a model in the snapshot, or -1. O(n_models). */
long rt_find(const rt_data *d, const char *name);

/* The names of component c as "{name, name, ...}" into buf (truncated to fit, always
 * NUL-terminated). Returns buf. */
char *rt_component_names(const rt_data *d, size_t c, char *buf, size_t buflen);

#endif
