/* elo.h: online Elo exactly as FastChat's compute_elo.
 *
 * For each battle in sequence order, with ra, rb the current ratings:
 *   ea = 1 / (1 + base^((rb - ra) / scale)),  sa = 1 (a wins), 0 (b wins), 0.5 (any tie)
 *   ra += k (sa - ea);  rb += k ((1 - sa) - (1 - ea))
 * Every model starts at init. The order matters: elo_fit replays rt_data.seq, which is in
 * tstamp order when every battle has a tstamp (see battles.h). The snapshot must have been
 * taken with filter.keep_sequence set.
 *
 * Ownership: the caller provides every output array. No allocation, no global state. */
#ifndef ARENA_ELO_H
#define ARENA_ELO_H

#include <stddef.h>
#include "battles.h"

typedef struct elo_opts { double k, scale, base, init; } elo_opts;   /* 4, 400, 10, 1000 */

void elo_opts_default(elo_opts *o);

/* One update of two ratings, for live boards fed vote by vote. */
void elo_update(const elo_opts *o, double *ra, double *rb, rt_outcome outcome);

/* Replays seq[order[0]], seq[order[1]], ... (order NULL = seq in its own order, n = n_seq)
 * over ratings[n_models], which it first sets to init. */
void elo_replay(const elo_opts *o, const rt_seq *seq, const size_t *order, size_t n,
                size_t n_models, double *ratings);

/* ratings[d->n_models]; o may be NULL (defaults). 0, or -1 with err set when the snapshot has no sequence
 * (n_battles > 0 but keep_sequence was off) or fewer than two models. */
int elo_fit(const rt_data *d, const elo_opts *o, double *ratings, char *err, size_t errlen);

/* Online Elo kept up to date as an accumulator grows, for a live board: each call looks
 * only at the battles added since the previous one, and its ratings are exactly elo_fit's
 * on rt_snapshot(acc). Its state holds while the accumulator's arrival order is the
 * snapshot's order: battles arriving in tstamp order (or some kept battle lacking one,
 * as the snapshot then keeps arrival order too) and the same models kept by min_votes.
 * Otherwise a call replays: from the start when the kept models change, on a sorted
 * snapshot (rt_snapshot) when the arrival order is not the tstamp order.
 * Ownership: the caller owns the accumulator, which must keep the sequence; an elo_live
 * follows one accumulator and is not locked (call it where rt_add is called). */
typedef struct elo_live elo_live;
elo_live *elo_live_new(const elo_opts *o);   /* o NULL: defaults. NULL on no memory */
void elo_live_free(elo_live *e);
/* ratings[d->n_models], d being a snapshot of acc taken just now (with or without the
 * sequence). 0, or -1 with err set (elo_fit's errors, no memory). */
int elo_live_fit(elo_live *e, const rt_battles *acc, const rt_data *d, double *ratings, char *err, size_t errlen);

#endif
