/* matrix.c: `arena-ratings matrix FILE --kind wins|counts|predicted`: pairwise matrices,
 * models ordered by rating (best first) as on the board. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bt.h"
#include "matrix.h"

static const char matrix_help[] =
    "Usage: " CLI_NAME " matrix [OPTIONS] FILE --kind wins|counts|predicted\n"
    "Pairwise matrices of the battles in FILE, rows and columns ordered by rating:\n"
    "  wins       fraction of battles the row model won against the column model\n"
    "  counts     battles between the two models\n"
    "  predicted  probability that the row model beats the column model, from the fit\n"
    "Cells without meaning (the diagonal, pairs that never met) are empty (CSV) or null (JSON).\n"
    "\nInput:\n" CLI_INPUT_HELP
    "\nMethod (the ordering, and --kind predicted):\n" CLI_METHOD_HELP
    "\nOutput:\n"
    "  --format csv|json    (default csv)\n"
    "  -o FILE              write there instead of stdout\n"
    "  -h, --help           this text\n";

static const struct option matrix_options[] = {
    { "kind", required_argument, NULL, 0 },
    { "format", required_argument, NULL, 0 },
    { "help", no_argument, NULL, 'h' },
    { 0 },
};

enum kind { KIND_NONE, KIND_WINS, KIND_COUNTS, KIND_PREDICTED };

struct matrix_args {
    cli_input in;
    cli_method method;
    enum kind kind;
    int json;
    const char *output;
};

/* One of matrix's own flags (cli_own_option). */
static int matrix_option(void *ud, const char *name, const char *arg)
{
    struct matrix_args *a = ud;
    if (strcmp(name, "kind") == 0) {
        a->kind = strcmp(arg, "wins") == 0 ? KIND_WINS
                : strcmp(arg, "counts") == 0 ? KIND_COUNTS
                : strcmp(arg, "predicted") == 0 ? KIND_PREDICTED : KIND_NONE;
        if (a->kind == KIND_NONE)
            return cli_usage_error("matrix", "--kind: expected wins, counts or predicted, got '%s'", arg);
    } else if (strcmp(name, "format") == 0) {
        if (strcmp(arg, "csv") != 0 && strcmp(arg, "json") != 0)
            return cli_usage_error("matrix", "--format: expected csv or json, got '%s'", arg);
        a->json = strcmp(arg, "json") == 0;
    }
    return EXIT_OK;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(struct matrix_args *a, int argc, char **argv)
{
    int rc = cli_parse_votes_args("matrix", matrix_help, matrix_options, matrix_option, a, &a->in,
                                  &a->method, &a->output, argc, argv);
    if (rc >= 0)
        return rc;
    if (a->kind == KIND_NONE)
        return cli_usage_error("matrix", "--kind is required (wins, counts or predicted)");
    return -1;
}

static const char *const kind_names[] = { "", "wins", "counts", "predicted" };

static void write_csv(const rt_data *d, const size_t *order, const double *m, FILE *out)
{
    size_t n = d->n_models;
    fputs("model", out);
    for (size_t j = 0; j < n; j++) {
        fputc(',', out);
        cli_csv_field(d->names[order[j]], out);
    }
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        cli_csv_field(d->names[order[i]], out);
        for (size_t j = 0; j < n; j++) {
            double v = m[order[i] * n + order[j]];
            if (isfinite(v))
                fprintf(out, ",%.17g", v);
            else
                fputc(',', out);
        }
        fputc('\n', out);
    }
}

static int write_json(const rt_data *d, enum kind kind, const size_t *order, const double *m, FILE *out)
{
    size_t n = d->n_models;
    json_t *root = json_object(), *models = json_array(), *rows = json_array();
    int rc = -1;
    if (!root || !models || !rows)
        goto done;
    json_object_set_new(root, "kind", json_string(kind_names[kind]));
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array();
        if (!row)
            goto done;
        json_array_append_new(models, json_string(d->names[order[i]]));
        for (size_t j = 0; j < n; j++) {
            double v = m[order[i] * n + order[j]];
            json_array_append_new(row, isfinite(v) ? json_real(v) : json_null());
        }
        json_array_append_new(rows, row);
    }
    json_object_set_new(root, "models", models);
    json_object_set_new(root, "matrix", rows);
    models = rows = NULL;
    rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    fputc('\n', out);
done:
    json_decref(models);
    json_decref(rows);
    json_decref(root);
    return rc;
}

static int by_rating_desc(const void *pa, const void *pb, void *rating)
{
    double a = ((const double *)rating)[*(const size_t *)pa], b = ((const double *)rating)[*(const size_t *)pb];
    return a > b ? -1 : a < b ? 1 : 0;
}

static int run(struct matrix_args *a)
{
    rt_data *d = NULL;
    bt_result point = { 0 };
    cli_board b = { 0 };
    double *rating = NULL, *m = NULL;
    size_t *order = NULL;
    int rc;

    rc = cli_load_votes(&a->in, &d, NULL);
    if (rc != EXIT_OK)
        return rc;
    size_t n = d->n_models;
    rating = malloc(n * sizeof *rating);
    order = malloc(n * sizeof *order);
    m = malloc(n * n * sizeof *m);
    if (!rating || !order || !m) {
        cli_error("out of memory");
        rc = EXIT_FAIL;
        goto done;
    }
    rc = cli_fit_point(d, &a->method, rating, &point, &b);
    if (rc != EXIT_OK)
        goto done;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, by_rating_desc, rating);
    if (a->kind == KIND_WINS)
        mx_win_fraction(d, m);
    else if (a->kind == KIND_COUNTS)
        mx_battle_counts(d, m);
    else
        mx_predicted_win(n, rating, a->method.scale, a->method.base, m);
    FILE *out = cli_open_output(a->output);
    if (!out) {
        rc = EXIT_FAIL;
        goto done;
    }
    if (a->json)
        rc = write_json(d, a->kind, order, m, out) < 0 ? EXIT_FAIL : EXIT_OK;
    else
        write_csv(d, order, m, out);
    if (cli_close_output(out, a->output) != EXIT_OK)
        rc = EXIT_FAIL;
done:
    cli_board_free(&b);
    bt_result_free(&point);
    free(rating);
    free(order);
    free(m);
    rt_data_free(d);
    return rc;
}

int cmd_matrix(int argc, char **argv)
{
    struct matrix_args a = { 0 };
    cli_input_init(&a.in);
    cli_method_init(&a.method);
    int rc = parse_args(&a, argc, argv);
    if (rc < 0)
        rc = run(&a);
    cli_input_free(&a.in);
    cli_method_free(&a.method);
    return rc;
}
