/* fit.c: `arena-ratings fit FILE`: votes -> ratings with intervals -> leaderboard. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "ci.h"
#include "elo.h"

static const char fit_help[] =
    "Usage: " CLI_NAME " fit [OPTIONS] FILE\n"
    "Fits ratings to the battles in FILE (FastChat clean-battle JSON, JSON Lines or CSV;\n"
    "'-' reads stdin) and prints the leaderboard.\n"
    "\nInput:\n" CLI_INPUT_HELP
    "\nMethod:\n" CLI_METHOD_HELP
    "\nIntervals:\n"
    "  --ci bootstrap|sandwich|none   95%% intervals (default bootstrap; sandwich needs bt)\n"
    "  --bootstrap N        rounds (default 1000 for bt, 100 for elo)\n"
    "  --seed S             bootstrap seed (default 42)\n"
    "  --threads N          bootstrap threads (default: every core)\n"
    "\nStatic benchmark:\n"
    "  --static FILE.csv    join with a static table (e.g. data/open_llm_leaderboard_v2.csv)\n"
    "  --static-key COL     its model column (default model)\n"
    "  --static-score COL   its score column (default average)\n"
    "  --map FILE           arena_name,static_name pairs\n"
    "  Shared Rank (arena) and Static Rank rank the models found in both; Rank Delta is\n"
    "  their difference. Spearman rho and Kendall tau-b follow the table (in JSON: the\n"
    "  \"correlation\" object; with --format csv the line goes to stderr).\n"
    "\nOutput:\n"
    "  --format table|csv|json|markdown   (default table)\n"
    "  -o FILE              write there instead of stdout\n"
    "  --timings            parse / fit / interval seconds and peak RSS on stderr\n"
    "  -h, --help           this text\n"
    "\nExit status: 0 success, 2 bad input or usage, 1 other failures.\n";

static const struct option fit_options[] = {
    { "ci", required_argument, NULL, 0 },
    { "bootstrap", required_argument, NULL, 0 },
    { "seed", required_argument, NULL, 0 },
    { "threads", required_argument, NULL, 0 },
    { "static", required_argument, NULL, 0 },
    { "static-key", required_argument, NULL, 0 },
    { "static-score", required_argument, NULL, 0 },
    { "map", required_argument, NULL, 0 },
    { "format", required_argument, NULL, 0 },
    { "timings", no_argument, NULL, 0 },
    { "help", no_argument, NULL, 'h' },
    { 0 },
};

enum ci_kind { CI_BOOTSTRAP, CI_SANDWICH, CI_NONE };

struct fit_args {
    cli_input in;
    cli_method method;
    enum ci_kind ci;
    long rounds;               /* 0 = the method's default */
    long seed, threads;
    cli_static st;
    cli_format format;
    const char *output;
    int timings;
};

/* One of fit's own flags (cli_own_option). */
static int fit_option(void *ud, const char *name, const char *arg)
{
    struct fit_args *a = ud;
    if (strcmp(name, "ci") == 0) {
        if (strcmp(arg, "bootstrap") == 0)
            a->ci = CI_BOOTSTRAP;
        else if (strcmp(arg, "sandwich") == 0)
            a->ci = CI_SANDWICH;
        else if (strcmp(arg, "none") == 0)
            a->ci = CI_NONE;
        else
            return cli_usage_error("fit", "--ci: expected bootstrap, sandwich or none, got '%s'", arg);
    } else if (strcmp(name, "bootstrap") == 0) {
        if (cli_parse_long("fit", "--bootstrap", arg, 1, 1000000, &a->rounds) < 0)
            return EXIT_USAGE;
    } else if (strcmp(name, "seed") == 0) {
        if (cli_parse_long("fit", "--seed", arg, 0, LONG_MAX, &a->seed) < 0)
            return EXIT_USAGE;
    } else if (strcmp(name, "threads") == 0) {
        if (cli_parse_long("fit", "--threads", arg, 1, 1024, &a->threads) < 0)
            return EXIT_USAGE;
    } else if (strcmp(name, "static") == 0) {
        a->st.path = arg;
    } else if (strcmp(name, "static-key") == 0) {
        a->st.key = arg;
    } else if (strcmp(name, "static-score") == 0) {
        a->st.score = arg;
    } else if (strcmp(name, "map") == 0) {
        a->st.map = arg;
    } else if (strcmp(name, "format") == 0) {
        if (cli_parse_format("fit", arg, &a->format) < 0)
            return EXIT_USAGE;
    } else if (strcmp(name, "timings") == 0) {
        a->timings = 1;
    }
    return EXIT_OK;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(struct fit_args *a, int argc, char **argv)
{
    int rc = cli_parse_votes_args("fit", fit_help, fit_options, fit_option, a, &a->in, &a->method,
                                  &a->output, argc, argv);
    if (rc >= 0)
        return rc;
    if (a->ci == CI_SANDWICH && a->method.elo)
        return cli_usage_error("fit", "--ci sandwich needs --method bt");
    if (!a->st.path && (a->st.key || a->st.score || a->st.map))
        return cli_usage_error("fit", "--static-key, --static-score and --map need --static FILE");
    return -1;
}

/* The intervals of d by the chosen method into *ci. EXIT_OK or an exit code. */
static int intervals(const struct fit_args *a, const rt_data *d, const bt_result *point, ci_result *ci,
                     cli_board *b)
{
    char err[512];
    ci_opts co;
    cli_progress bar;
    int r;

    ci_opts_default(&co);
    co.rounds = a->rounds ? (int)a->rounds : a->method.elo ? 100 : 1000;
    co.seed = (unsigned long)a->seed;
    co.threads = (int)a->threads;
    cli_progress_init(&bar, "bootstrap");
    co.progress = cli_progress_rounds;
    co.progress_ud = &bar;
    if (a->ci == CI_SANDWICH) {
        bt_opts bo;
        cli_method_bt_opts(&a->method, d, &bo);
        r = ci_bt_sandwich(d, &bo, point, ci, err, sizeof err);
    } else if (a->method.elo) {
        elo_opts eo;
        cli_method_elo_opts(&a->method, &eo);
        r = ci_elo_bootstrap(d, &eo, &co, ci, err, sizeof err);
    } else {
        bt_opts bo;
        cli_method_bt_opts(&a->method, d, &bo);
        r = ci_bt_bootstrap(d, &bo, point, &co, ci, err, sizeof err);
    }
    cli_progress_end(&bar);
    if (r < 0) {
        cli_error("intervals: %s", err);
        return EXIT_FAIL;
    }
    if (ci->regularised_rounds)
        cli_board_warn(b, "%d of %d bootstrap rounds had no maximum-likelihood solution for some group "
                       "(a model without a win or a loss there); outer bounds of those models mean little",
                       ci->regularised_rounds, ci->rounds);
    return EXIT_OK;
}

static int run(struct fit_args *a)
{
    rt_data *d = NULL;
    bt_result point = { 0 };
    ci_result ci = { 0 };
    cli_board b = { 0 };
    double *rating = NULL;
    int *rank_ub = NULL;
    double t_parse = 0, t_fit, t_ci = 0, t0;
    int rc;

    rc = cli_load_votes(&a->in, &d, &t_parse);
    if (rc != EXIT_OK)
        return rc;
    rating = malloc(d->n_models * sizeof *rating);
    rank_ub = malloc(d->n_models * sizeof *rank_ub);
    b.rows = calloc(d->n_models, sizeof *b.rows);
    if (!rating || !rank_ub || !b.rows) {
        cli_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    b.method = a->method.elo ? "elo" : "bt";
    b.n = d->n_models;
    b.has_votes = 1;

    t0 = cli_now();
    rc = cli_fit_point(d, &a->method, rating, &point, &b);
    t_fit = cli_now() - t0;
    if (rc != EXIT_OK)
        goto done;
    if (a->ci != CI_NONE) {
        t0 = cli_now();
        rc = intervals(a, d, &point, &ci, &b);
        t_ci = cli_now() - t0;
        if (rc != EXIT_OK)
            goto done;
        ci_rank_ub(d->n_models, ci.lower, ci.upper, rank_ub);
        b.has_ci = 1;
    }
    for (size_t i = 0; i < d->n_models; i++) {
        cli_row *r = &b.rows[i];
        r->model = d->names[i];
        r->rating = rating[i];
        r->votes = d->votes[i];
        if (b.has_ci) {
            r->lower = ci.lower[i];
            r->upper = ci.upper[i];
            r->rank_ub = rank_ub[i];
        }
    }
    cli_board_rank_and_sort(&b);
    if (a->st.path) {
        rc = cli_board_join_static(&b, a->st.path, a->st.key ? a->st.key : "model",
                                   a->st.score ? a->st.score : "average", a->st.map);
        if (rc != EXIT_OK)
            goto done;
    }
    FILE *out = cli_open_output(a->output);
    if (!out) {
        rc = EXIT_FAIL;
        goto done;
    }
    rc = cli_board_write(&b, a->format, out) < 0 ? EXIT_FAIL : EXIT_OK;
    if (cli_close_output(out, a->output) != EXIT_OK)
        rc = EXIT_FAIL;
    if (a->timings)
        fprintf(stderr, CLI_NAME ": timings: parse %.3f s (%llu battles, %zu models), fit %.4f s (%s), "
                "intervals %.3f s (%s, %d rounds), peak RSS %.1f MiB\n",
                t_parse, (unsigned long long)d->n_battles, d->n_models, t_fit, b.method, t_ci,
                a->ci == CI_NONE ? "none" : a->ci == CI_SANDWICH ? "sandwich" : "bootstrap",
                ci.rounds, cli_peak_rss_mib());
done:
    cli_board_free(&b);
    ci_result_free(&ci);
    bt_result_free(&point);
    free(rating);
    free(rank_ub);
    rt_data_free(d);
    return rc;
}

int cmd_fit(int argc, char **argv)
{
    struct fit_args a = { .ci = CI_BOOTSTRAP, .seed = 42 };
    cli_input_init(&a.in);
    cli_method_init(&a.method);
    int rc = parse_args(&a, argc, argv);
    if (rc < 0)
        rc = run(&a);
    cli_input_free(&a.in);
    cli_method_free(&a.method);
    return rc;
}
