/* compare.c: `arena-ratings compare FILE --key COL --score COL --static ...`: a published
 * ratings table (not votes) beside a static benchmark, with rank correlations. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char compare_help[] =
    "Usage: " CLI_NAME " compare FILE --key COL --score COL --static FILE.csv\n"
    "                      --static-key COL --static-score COL [--map FILE] [OPTIONS]\n"
    "Joins a ratings table (CSV: one model per row) with a static benchmark table and\n"
    "prints both ranks, the rank delta and Spearman / Kendall tau-b correlations.\n"
    "Shared Rank (arena) and Static Rank are ranks among the models found in both tables;\n"
    "Rank Delta = Shared Rank - Static Rank (> 0: the arena ranks the model lower).\n"
    "The correlation line follows the table; in JSON it is the \"correlation\" object,\n"
    "with --format csv it goes to stderr.\n"
    "\n"
    "  --key COL            model column of FILE (default model)\n"
    "  --score COL          rating column of FILE (required)\n"
    "  --static FILE.csv    the static table (required)\n"
    "  --static-key COL     its model column (default model)\n"
    "  --static-score COL   its score column (default average)\n"
    "  --map FILE           arena_name,static_name pairs\n"
    "  --format table|csv|json|markdown   (default table)\n"
    "  -o FILE              write there instead of stdout\n"
    "  -h, --help           this text\n";

static const struct option compare_options[] = {
    { "key", required_argument, NULL, 0 },
    { "score", required_argument, NULL, 0 },
    { "static", required_argument, NULL, 0 },
    { "static-key", required_argument, NULL, 0 },
    { "static-score", required_argument, NULL, 0 },
    { "map", required_argument, NULL, 0 },
    { "format", required_argument, NULL, 0 },
    { "help", no_argument, NULL, 'h' },
    { 0 },
};

int cmd_compare(int argc, char **argv)
{
    const char *key = "model", *score = NULL, *output = NULL;
    cli_static st = { .key = "model", .score = "average" };
    cli_format format = FMT_TABLE;
    cli_board b = { .method = "table" };
    st_table *t = NULL;
    const char *name, *path;
    char err[1024];
    int rc;

    optind = 1;
    while ((name = cli_next_flag("compare", compare_help, compare_options, argc, argv, &output, &rc))) {
        if (strcmp(name, "key") == 0)
            key = optarg;
        else if (strcmp(name, "score") == 0)
            score = optarg;
        else if (strcmp(name, "static") == 0)
            st.path = optarg;
        else if (strcmp(name, "static-key") == 0)
            st.key = optarg;
        else if (strcmp(name, "static-score") == 0)
            st.score = optarg;
        else if (strcmp(name, "map") == 0)
            st.map = optarg;
        else if (strcmp(name, "format") == 0 && cli_parse_format("compare", optarg, &format) < 0)
            return EXIT_USAGE;
    }
    if (rc >= 0)
        return rc;
    if (!(path = cli_one_file("compare", argc, argv)))
        return EXIT_USAGE;
    if (!score || !st.path)
        return cli_usage_error("compare", "--score and --static are required");

    t = st_load(path, key, score, err, sizeof err);
    if (!t) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    b.n = st_size(t);
    if (b.n < 2) {
        cli_error("%s: %s: nothing to rank", path, b.n ? "only one model" : "no rated models");
        rc = EXIT_USAGE;
        goto done;
    }
    b.rows = calloc(b.n, sizeof *b.rows);
    if (!b.rows) {
        cli_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    for (size_t i = 0; i < b.n; i++) {
        b.rows[i].model = st_key(t, i);
        b.rows[i].rating = st_score(t, i);
    }
    cli_board_rank_and_sort(&b);
    rc = cli_board_join_static(&b, st.path, st.key, st.score, st.map);
    if (rc != EXIT_OK)
        goto done;
    FILE *out = cli_open_output(output);
    if (!out) {
        rc = EXIT_FAIL;
        goto done;
    }
    rc = cli_board_write(&b, format, out) < 0 ? EXIT_FAIL : EXIT_OK;
    if (cli_close_output(out, output) != EXIT_OK)
        rc = EXIT_FAIL;
done:
    cli_board_free(&b);
    st_free(t);
    return rc;
}
