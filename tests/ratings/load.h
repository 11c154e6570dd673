/* load.h: test helpers for the ratings tests: a battle file into an accumulator, and a
 * golden CSV (model,rating,ci_lower,ci_upper,votes,rank_ub,...) into arrays. */
#ifndef ARENA_TESTS_RATINGS_LOAD_H
#define ARENA_TESTS_RATINGS_LOAD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "battles.h"
#include "reader.h"

static inline int load_add(void *ud, const rd_record *r, char *err, size_t errlen)
{
    return rt_add(ud, r->model_a, r->model_b, (rt_outcome)r->winner, r->tstamp, r->anony, err, errlen) < 0 ? -1 : 0;
}

/* The snapshot of a battle file read with filter f (NULL: keep everything, with sequence). */
static inline rt_data *load_battles(const char *path, const rt_filter *f)
{
    char err[512];
    rt_filter keep;
    rt_filter_default(&keep);
    keep.keep_sequence = 1;
    rt_battles *acc = rt_new(f ? f : &keep, err, sizeof err);
    rt_data *d = NULL;
    if (acc && rd_read(path, NULL, load_add, acc, NULL, err, sizeof err) == 0) d = rt_snapshot(acc, err, sizeof err);
    if (!d) printf("# %s: %s\n", path, err);
    rt_free(acc);
    return d;
}

typedef struct golden_row { char model[128]; double rating, lower, upper; long votes; int rank_ub; } golden_row;

/* Reads up to max rows; returns the count, -1 when the file cannot be read. */
static inline int load_golden(const char *path, golden_row *rows, int max)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    if (!f) { printf("# cannot open %s\n", path); return -1; }
    if (!fgets(line, sizeof line, f)) { fclose(f); return -1; }        /* header */
    while (n < max && fgets(line, sizeof line, f)) {
        golden_row *g = &rows[n];
        if (sscanf(line, "%127[^,],%lf,%lf,%lf,%ld,%d", g->model, &g->rating, &g->lower, &g->upper,
                   &g->votes, &g->rank_ub) == 6)
            n++;
    }
    fclose(f);
    return n;
}

#endif
