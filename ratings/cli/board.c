/* board.c: the leaderboard every command prints: ranks, order, warnings, static join. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_board_free(cli_board *b)
{
    for (size_t i = 0; i < b->n_warnings; i++)
        free(b->warnings[i]);
    free(b->warnings);
    free(b->rows);
    memset(b, 0, sizeof *b);
}

int cli_board_warn(cli_board *b, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    va_start(ap, fmt);
    int len = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (len < 0)
        return -1;
    char **nw = realloc(b->warnings, (b->n_warnings + 1) * sizeof *nw);
    if (!nw) {
        free(msg);
        return -1;
    }
    b->warnings = nw;
    b->warnings[b->n_warnings++] = msg;
    cli_error("warning: %s", msg);
    return 0;
}

static int by_rating(const void *pa, const void *pb)
{
    const cli_row *a = pa, *b = pb;
    if (a->rating != b->rating)
        return a->rating > b->rating ? -1 : 1;
    return strcmp(a->model, b->model);
}

void cli_board_rank_and_sort(cli_board *b)
{
    qsort(b->rows, b->n, sizeof *b->rows, by_rating);
    for (size_t i = 0; i < b->n; i++)
        b->rows[i].rank = i && b->rows[i].rating == b->rows[i - 1].rating ? b->rows[i - 1].rank : (int)i + 1;
}

int cli_board_join_static(cli_board *b, const char *path, const char *key, const char *score,
                          const char *map)
{
    char err[1024];
    const char **names = malloc((b->n ? b->n : 1) * sizeof *names);
    double *ratings = malloc((b->n ? b->n : 1) * sizeof *ratings);
    st_match *m = malloc((b->n ? b->n : 1) * sizeof *m);
    st_table *t = NULL;
    int rc = EXIT_FAIL;

    if (!names || !ratings || !m) {
        cli_error("out of memory");
        goto done;
    }
    t = st_load(path, key, score, err, sizeof err);
    if (!t || (map && st_load_map(t, map, err, sizeof err) < 0)) {
        cli_error("%s", err);
        rc = EXIT_USAGE;
        goto done;
    }
    for (size_t i = 0; i < b->n; i++) {
        names[i] = b->rows[i].model;
        ratings[i] = b->rows[i].rating;
    }
    if (st_join(t, names, ratings, b->n, m, &b->corr) < 0) {
        cli_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < b->n; i++)
        b->rows[i].st = m[i];
    b->has_static = 1;
    b->score_label = score;
    if (b->corr.n == 0)
        cli_board_warn(b, "no model was found in %s%s", path, map ? " (after the name map)" : "");
    rc = EXIT_OK;
done:
    st_free(t);
    free(names);
    free(ratings);
    free(m);
    return rc;
}
