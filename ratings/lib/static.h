/* static.h: join arena ratings with a static benchmark table (Open LLM Leaderboard style).
 *
 *   st_table *t = st_load("board.csv", "model", "average", err, sizeof err);
 *   if (!t || st_load_map(t, "names.csv", err, sizeof err) < 0) ... // map is optional
 *   st_match m[n]; st_correlation c;
 *   st_join(t, names, ratings, n, m, &c);
 *   st_free(t);
 *
 * The table is an RFC 4180 CSV file with a header row; one column holds the key (the
 * model id) and one the score (higher is better). The optional name map is a CSV file
 * with the header `arena_name,static_name`: an arena name found there is looked up
 * under its static name; any other arena name is looked up as it is.
 *
 * Ranks are taken over the *shared* models only (arena models found in the table), on
 * both sides, so that rank_delta compares like with like: static_rank 1 is the best
 * static score among the shared models, arena_rank 1 the best rating among them.
 * Tied values share the best rank of their group (competition ranking: 1, 2, 2, 4).
 * The correlations use average ranks for ties, as scipy.stats does.
 *
 * Ownership: st_load returns a table the caller frees with st_free; st_key returns a
 * string owned by the table. st_join writes into caller-provided arrays. */
#ifndef ARENA_STATIC_H
#define ARENA_STATIC_H

#include <stddef.h>

typedef struct st_table st_table;

/* Loads the key and score columns of the CSV file at path. Rows whose score field is
 * empty are skipped; a score that is not a finite number, a repeated key or a missing
 * column is an error. Errors read "PATH: record N: field F: message". NULL on error. */
st_table *st_load(const char *path, const char *key_col, const char *score_col,
                  char *err, size_t errlen);
void st_free(st_table *t);

/* Adds the arena-name -> static-name map from the CSV file at path. 0 / -1. */
int st_load_map(st_table *t, const char *path, char *err, size_t errlen);

/* Rows in file order. */
size_t st_size(const st_table *t);
const char *st_key(const st_table *t, size_t i);
double st_score(const st_table *t, size_t i);

/* The static score of an arena model (through the map when it names it): 1 found, 0 not. */
int st_find(const st_table *t, const char *arena_name, double *score);

typedef struct {
    int    found;         /* 0: not in the table; the other fields are 0 */
    double static_score;
    int    static_rank;   /* among the shared models, 1 = best static score */
    int    arena_rank;    /* among the shared models, 1 = best rating */
    int    rank_delta;    /* arena_rank - static_rank: > 0 when the arena ranks it lower */
} st_match;

typedef struct {
    size_t n;             /* shared models */
    int    defined;       /* 0 when n < 3 or either side is constant: the rest is 0 */
    double spearman_rho, spearman_p;     /* p: Student t with n-2 degrees of freedom */
    double kendall_tau_b, kendall_p;     /* p: exact without ties for n <= 33, else normal */
} st_correlation;

/* Joins n arena models (names, ratings) with the table: out[i] describes models[i];
 * corr (may be NULL) gets the correlations over the shared models. 0 / -1 (out of memory). */
int st_join(const st_table *t, const char *const *models, const double *ratings, size_t n,
            st_match *out, st_correlation *corr);

/* Spearman's rho and Kendall's tau-b of paired samples x, y, with two-sided p-values
 * computed the way scipy 1.10 does by default. 0 / -1 (out of memory). */
int st_correlate(const double *x, const double *y, size_t n, st_correlation *out);

#endif
