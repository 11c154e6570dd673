/* test_static.c: the static-table join and the rank correlations against the reference
 * values of data/STATIC_PROVENANCE.md (scipy 1.10.1), plus malformed tables. */
#include "static.h"
#include "../check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

/* Joins the arena snapshot with one static column through the name map. */
static int join_snapshot(const char *column, st_correlation *corr)
{
    char err[512];
    st_table *arena = st_load("data/chatbot_arena_snapshot.csv", "model", "arena_elo", err, sizeof err);
    st_table *board = st_load("data/open_llm_leaderboard_v2.csv", "model", column, err, sizeof err);
    int rc = -1;

    if (!arena || !board || st_load_map(board, "data/model_name_map.csv", err, sizeof err) < 0) {
        printf("# %s\n", err);
        goto done;
    }
    size_t n = st_size(arena);
    const char **names = malloc(n * sizeof *names);
    double *ratings = malloc(n * sizeof *ratings);
    st_match *m = malloc(n * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        names[i] = st_key(arena, i);
        ratings[i] = st_score(arena, i);
    }
    rc = st_join(board, names, ratings, n, m, corr);
    if (strcmp(column, "average") == 0) {
        /* Qwen2.5-72B-Instruct: arena 1257, average 47.98; spot-check its ranks. */
        int delta_sum = 0, found = 0;
        for (size_t i = 0; i < n; i++) {
            if (!m[i].found)
                continue;
            found++;
            delta_sum += m[i].rank_delta;
            CHECK(m[i].static_rank >= 1 && m[i].static_rank <= 62 && m[i].arena_rank >= 1 &&
                  m[i].arena_rank <= 62, "ranks of %s within 1..62", names[i]);
            if (strcmp(names[i], "Llama-3.1-Nemotron-70B-Instruct") == 0)
                CHECK(m[i].arena_rank == 1, "Nemotron-70B is the top shared arena model");
        }
        CHECK(found == 62, "62 models found (%d)", found);
        (void)delta_sum;
    }
    free(names);
    free(ratings);
    free(m);
done:
    st_free(arena);
    st_free(board);
    return rc;
}

static void check_reference(const char *column, double rho, double rho_p, double tau, double tau_p)
{
    st_correlation c;
    CHECK(join_snapshot(column, &c) == 0, "%s: join", column);
    CHECK(c.n == 62 && c.defined, "%s: 62 shared models (%zu)", column, c.n);
    CHECK_NEAR(c.spearman_rho, rho, 1e-6, "%s: Spearman rho", column);
    CHECK_NEAR(c.kendall_tau_b, tau, 1e-6, "%s: Kendall tau-b", column);
    CHECK_NEAR(c.spearman_p / rho_p, 1, 1e-2, "%s: Spearman p %.3g", column, c.spearman_p);
    CHECK_NEAR(c.kendall_p / tau_p, 1, 1e-2, "%s: Kendall p %.3g", column, c.kendall_p);
}

static char *write_temp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/arena-static-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return NULL;
    close(fd);
    return path;
}

/* Loading text must fail with a message containing want. */
static void check_bad(const char *name, const char *text, const char *want)
{
    char err[512] = "";
    char *path = write_temp(text);
    st_table *t = st_load(path, "model", "score", err, sizeof err);
    CHECK(!t && strstr(err, want) && strstr(err, path), "%s: rejected (%s)", name, err);
    st_free(t);
    unlink(path);
}

int main(void)
{
    gsl_set_error_handler_off();

    /* data/STATIC_PROVENANCE.md section 4. */
    check_reference("average", 0.870922, 3.60e-20, 0.702145, 7.95e-16);
    check_reference("ifeval", 0.784945, 4.34e-14, 0.625894, 6.96e-13);
    check_reference("bbh", 0.828462, 9.62e-17, 0.629071, 5.33e-13);
    check_reference("math_lvl5", 0.809708, 1.62e-15, 0.627525, 7.16e-13);
    check_reference("gpqa", 0.632525, 3.49e-08, 0.472120, 6.61e-08);
    check_reference("musr", 0.483221, 6.94e-05, 0.332539, 1.36e-04);
    check_reference("mmlu_pro", 0.850307, 2.25e-18, 0.672140, 1.27e-14);

    /* Without ties and n <= 33 Kendall's p is exact: 5 in order -> 2/5! . */
    st_correlation c;
    double a[] = { 1, 2, 3, 4, 5 }, b[] = { 10, 20, 30, 40, 50 }, r[] = { 50, 40, 30, 20, 10 };
    st_correlate(a, b, 5, &c);
    CHECK_NEAR(c.kendall_tau_b, 1, 1e-12, "perfect order: tau 1");
    CHECK_NEAR(c.kendall_p, 2.0 / 120, 1e-12, "perfect order: exact p 1/60");
    CHECK_NEAR(c.spearman_rho, 1, 1e-12, "perfect order: rho 1");
    CHECK(c.spearman_p < 1e-6, "perfect order: Spearman p ~0 (%g)", c.spearman_p);
    st_correlate(a, r, 5, &c);
    CHECK_NEAR(c.kendall_tau_b, -1, 1e-12, "reversed: tau -1");
    /* scipy.stats.kendalltau([1,2,3,4,5],[1,3,2,5,4]) = (0.6, 0.2333...) exact. */
    double s[] = { 1, 3, 2, 5, 4 };
    st_correlate(a, s, 5, &c);
    CHECK_NEAR(c.kendall_tau_b, 0.6, 1e-12, "two swaps: tau 0.6");
    CHECK_NEAR(c.kendall_p, 0.23333333333333334, 1e-12, "two swaps: exact p 7/30");
    CHECK_NEAR(c.spearman_rho, 0.8, 1e-12, "two swaps: rho 0.8");
    double k[] = { 7, 7, 7, 7, 7 };
    st_correlate(a, k, 5, &c);
    CHECK(!c.defined && c.spearman_rho == 0, "constant side: undefined, no NaN");
    st_correlate(a, b, 2, &c);
    CHECK(!c.defined && c.n == 2, "two models: undefined");

    /* Ranks on ties: competition ranking among the shared models only. */
    char err[256];
    char *path = write_temp("model,score\nA,3\n\"B, quoted\",5\nC,5\r\nD,\nZ,1\n");
    st_table *t = st_load(path, "model", "score", err, sizeof err);
    unlink(path);
    CHECK(t && st_size(t) == 4, "quoted, CRLF and empty-score rows (%s)", t ? "loaded" : err);
    if (t) {
        const char *names[] = { "A", "B, quoted", "C", "D", "E" };
        double ratings[] = { 1300, 1200, 1100, 1000, 900 };
        st_match m[5];
        CHECK(st_join(t, names, ratings, 5, m, &c) == 0, "join");
        CHECK(m[0].found && m[0].static_rank == 3 && m[0].arena_rank == 1 && m[0].rank_delta == -2,
              "A: static 3, arena 1, delta -2");
        CHECK(m[1].static_rank == 1 && m[2].static_rank == 1, "B and C tie at static rank 1");
        CHECK(!m[3].found && !m[4].found, "D (empty score) and E are not joined");
        CHECK(c.n == 3, "3 shared");
        st_free(t);
    }
    check_bad("missing column", "model,other\nA,1\n", "no column 'score'");
    check_bad("not a number", "model,score\nA,1\nB,abc\n", "record 2: field score: not a finite number");
    check_bad("unterminated quote", "model,score\nA,1\n\"B,2\n", "record 2: unterminated");
    check_bad("duplicate key", "model,score\nA,1\nA,2\n", "appears twice");
    check_bad("missing field", "model,score\nA\n", "record 1: field score: missing");
    check_bad("empty file", "", "empty file");
    CHECK(!st_load("/nonexistent/x.csv", "model", "score", err, sizeof err) &&
          strstr(err, "No such file"), "nonexistent file: %s", err);
    return check_exit();
}
