/* format.c: the leaderboard as a terminal table, Markdown, CSV or JSON. CSV and JSON
 * carry full precision; the table and Markdown round like the LMSYS board. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int cli_parse_format(const char *cmd, const char *s, cli_format *out)
{
    static const char *const names[] = { "table", "csv", "json", "markdown" };
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (cli_format)i;
            return 0;
        }
    cli_usage_error(cmd, "--format: expected table, csv, json or markdown, got '%s'", s);
    return -1;
}

/* The correlation sentence printed under the table and on stderr beside CSV. */
static void correlation_line(const cli_board *b, FILE *out)
{
    const st_correlation *c = &b->corr;
    if (!c->defined) {
        fprintf(out, "Correlation with %s: not defined over %zu shared %s (needs 3 or more, not all equal)\n",
                b->score_label, c->n, c->n == 1 ? "model" : "models");
        return;
    }
    fprintf(out, "Correlation with %s over %zu shared models: Spearman rho = %.6f (p = %.3g), "
            "Kendall tau-b = %.6f (p = %.3g)\n",
            b->score_label, c->n, c->spearman_rho, c->spearman_p, c->kendall_tau_b, c->kendall_p);
}

void cli_csv_field(const char *s, FILE *out)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void write_csv(const cli_board *b, FILE *out)
{
    fputs("rank,rank_ub,model,rating,ci_lower,ci_upper,votes", out);
    fputs(b->has_static ? ",static_rank,static_score,rank_delta\n" : "\n", out);
    for (size_t i = 0; i < b->n; i++) {
        const cli_row *r = &b->rows[i];
        fprintf(out, "%d,", r->rank);
        if (b->has_ci)
            fprintf(out, "%d", r->rank_ub);
        fputc(',', out);
        cli_csv_field(r->model, out);
        fprintf(out, ",%.17g,", r->rating);
        if (b->has_ci)
            fprintf(out, "%.17g,%.17g", r->lower, r->upper);
        else
            fputc(',', out);
        fputc(',', out);
        if (b->has_votes)
            fprintf(out, "%llu", r->votes);
        if (b->has_static) {
            if (r->st.found)
                fprintf(out, ",%d,%.17g,%d", r->st.static_rank, r->st.static_score, r->st.rank_delta);
            else
                fputs(",,,", out);
        }
        fputc('\n', out);
    }
    if (b->has_static)
        correlation_line(b, stderr);
}

/* A finite number, or null: output never holds NaN or infinities. */
static json_t *json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int write_json(const cli_board *b, FILE *out)
{
    json_t *root = json_object(), *models = json_array(), *warnings = json_array();
    int rc = -1;

    if (!root || !models || !warnings)
        goto done;
    json_object_set_new(root, "method", json_string(b->method));
    for (size_t i = 0; i < b->n; i++) {
        const cli_row *r = &b->rows[i];
        json_t *m = json_object();
        if (!m)
            goto done;
        json_object_set_new(m, "rank", json_integer(r->rank));
        json_object_set_new(m, "rank_ub", b->has_ci ? json_integer(r->rank_ub) : json_null());
        json_object_set_new(m, "model", json_string(r->model));
        json_object_set_new(m, "rating", json_num(r->rating));
        json_object_set_new(m, "ci_lower", b->has_ci ? json_num(r->lower) : json_null());
        json_object_set_new(m, "ci_upper", b->has_ci ? json_num(r->upper) : json_null());
        json_object_set_new(m, "votes", b->has_votes ? json_integer((json_int_t)r->votes) : json_null());
        if (b->has_static) {
            int f = r->st.found;
            json_object_set_new(m, "static_rank", f ? json_integer(r->st.static_rank) : json_null());
            json_object_set_new(m, "static_score", f ? json_num(r->st.static_score) : json_null());
            json_object_set_new(m, "rank_delta", f ? json_integer(r->st.rank_delta) : json_null());
        }
        json_array_append_new(models, m);
    }
    for (size_t i = 0; i < b->n_warnings; i++)
        json_array_append_new(warnings, json_string(b->warnings[i]));
    json_object_set_new(root, "models", models);
    json_object_set_new(root, "warnings", warnings);
    models = warnings = NULL;
    if (b->has_static) {
        const st_correlation *c = &b->corr;
        json_t *corr = json_object();
        if (!corr)
            goto done;
        json_object_set_new(corr, "static_score", json_string(b->score_label));
        json_object_set_new(corr, "n", json_integer((json_int_t)c->n));
        json_object_set_new(corr, "spearman_rho", c->defined ? json_num(c->spearman_rho) : json_null());
        json_object_set_new(corr, "spearman_p", c->defined ? json_num(c->spearman_p) : json_null());
        json_object_set_new(corr, "kendall_tau_b", c->defined ? json_num(c->kendall_tau_b) : json_null());
        json_object_set_new(corr, "kendall_p", c->defined ? json_num(c->kendall_p) : json_null());
        json_object_set_new(root, "correlation", corr);
    }
    rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    fputc('\n', out);
done:
    json_decref(models);
    json_decref(warnings);
    json_decref(root);
    return rc;
}

enum { MAX_COLS = 10, CELL = 160 };   /* a cell: HF model ids run to ~100 bytes */

/* The table and Markdown share these cells: a header row, then one row per model. */
struct cells {
    size_t ncols, nrows;
    const char *head[MAX_COLS];
    int right[MAX_COLS];      /* right-aligned (numbers) */
    char (*cell)[MAX_COLS][CELL];
    int width[MAX_COLS];
};

static int build_cells(const cli_board *b, struct cells *c)
{
    size_t k = 0;
    memset(c, 0, sizeof *c);
    c->nrows = b->n;
    c->cell = calloc(b->n ? b->n : 1, sizeof *c->cell);
    if (!c->cell)
        return -1;
#define COL(name, r) (c->head[k] = (name), c->right[k] = (r), k++)
    size_t rank = COL(b->has_ci ? "Rank (UB)" : "Rank", 1);
    size_t model = COL("Model", 0);
    size_t score = COL("Arena Score", 1);
    size_t ci = b->has_ci ? COL("95% CI", 1) : 0;
    size_t votes = b->has_votes ? COL("Votes", 1) : 0;
    size_t arank = b->has_static ? COL("Shared Rank", 1) : 0;
    size_t srank = b->has_static ? COL("Static Rank", 1) : 0;
    size_t sscore = b->has_static ? COL(b->score_label, 1) : 0;
    size_t delta = b->has_static ? COL("Rank Delta", 1) : 0;
#undef COL
    c->ncols = k;
    for (size_t i = 0; i < b->n; i++) {
        const cli_row *r = &b->rows[i];
        char (*row)[CELL] = c->cell[i];
        if (b->has_ci)
            snprintf(row[rank], CELL, "%d (%d)", r->rank, r->rank_ub);
        else
            snprintf(row[rank], CELL, "%d", r->rank);
        snprintf(row[model], CELL, "%s", r->model);
        snprintf(row[score], CELL, "%.0f", r->rating);
        if (b->has_ci)
            snprintf(row[ci], CELL, "+%.0f/-%.0f", r->upper - r->rating, r->rating - r->lower);
        if (b->has_votes)
            snprintf(row[votes], CELL, "%llu", r->votes);
        if (b->has_static && r->st.found) {
            snprintf(row[arank], CELL, "%d", r->st.arena_rank);
            snprintf(row[srank], CELL, "%d", r->st.static_rank);
            snprintf(row[sscore], CELL, "%.2f", r->st.static_score);
            snprintf(row[delta], CELL, "%+d", r->st.rank_delta);
        } else if (b->has_static) {
            strcpy(row[arank], "-");
            strcpy(row[srank], "-");
            strcpy(row[sscore], "-");
            strcpy(row[delta], "-");
        }
    }
    for (size_t j = 0; j < c->ncols; j++) {
        c->width[j] = (int)strlen(c->head[j]);
        for (size_t i = 0; i < c->nrows; i++) {
            int w = (int)strlen(c->cell[i][j]);
            if (w > c->width[j])
                c->width[j] = w;
        }
    }
    return 0;
}

static void write_table(const struct cells *c, FILE *out)
{
    for (size_t j = 0; j < c->ncols; j++)
        fprintf(out, "%s%*s", j ? "  " : "", c->right[j] ? c->width[j] : -c->width[j], c->head[j]);
    fputc('\n', out);
    for (size_t j = 0; j < c->ncols; j++) {
        fputs(j ? "  " : "", out);
        for (int w = 0; w < c->width[j]; w++)
            fputc('-', out);
    }
    fputc('\n', out);
    for (size_t i = 0; i < c->nrows; i++) {
        for (size_t j = 0; j < c->ncols; j++)
            fprintf(out, "%s%*s", j ? "  " : "", c->right[j] ? c->width[j] : -c->width[j], c->cell[i][j]);
        fputc('\n', out);
    }
}

static void write_markdown(const struct cells *c, FILE *out)
{
    for (size_t j = 0; j < c->ncols; j++)
        fprintf(out, "| %s ", c->head[j]);
    fputs("|\n", out);
    for (size_t j = 0; j < c->ncols; j++)
        fputs(c->right[j] ? "|---:" : "|:---", out);
    fputs("|\n", out);
    for (size_t i = 0; i < c->nrows; i++) {
        for (size_t j = 0; j < c->ncols; j++) {
            fputs("| ", out);
            /* A '|' in a model name would end the cell. */
            for (const char *s = c->cell[i][j]; *s; s++) {
                if (*s == '|')
                    fputc('\\', out);
                fputc(*s, out);
            }
            fputc(' ', out);
        }
        fputs("|\n", out);
    }
}

int cli_board_write(const cli_board *b, cli_format fmt, FILE *out)
{
    if (fmt == FMT_CSV) {
        write_csv(b, out);
        return ferror(out) ? -1 : 0;
    }
    if (fmt == FMT_JSON)
        return write_json(b, out) < 0 || ferror(out) ? -1 : 0;
    struct cells c;
    if (build_cells(b, &c) < 0) {
        cli_error("out of memory");
        return -1;
    }
    if (fmt == FMT_TABLE)
        write_table(&c, out);
    else
        write_markdown(&c, out);
    free(c.cell);
    if (b->has_static) {
        fputc('\n', out);
        correlation_line(b, out);
    }
    return ferror(out) ? -1 : 0;
}
