/* synth.h: synthetic battle files drawn from known Bradley-Terry strengths, for recovery
 * tests and benchmarks. Everything is deterministic from the seed (GSL mt19937). */
#ifndef ARENA_SYNTH_H
#define ARENA_SYNTH_H

#include <stdio.h>
#include "reader.h"

/* models 2..100000; votes >= 0; ties in [0, 1]; format JSON, JSONL or CSV (AUTO means JSON).
 * Model i (0-based) is named "model-%03d" with i + 1 ("model-001", ...). */
typedef struct synth_options { int models; long votes; unsigned long seed; double ties; rd_format format; } synth_options;

/* Fills true_rating[models] (Elo scale, mean ~1000, sd ~ 100-150, deterministic from seed):
 * normal draws with sd 130, shifted to a mean of exactly 1000. */
int synth_true_ratings(const synth_options *o, double *true_rating, char *err, size_t errlen);

/* Streams a realistic battles file drawn from those strengths to out. The caller owns out
 * (synth_write flushes it but does not close it). Returns 0, or -1 with err set. */
int synth_write(FILE *out, const synth_options *o, char *err, size_t errlen);

#endif
