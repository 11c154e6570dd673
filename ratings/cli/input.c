/* input.c: the command line shared by fit and matrix (input, filter and method flags),
 * and loading the votes. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct option cli_input_options[] = {
    { "input-format", required_argument, NULL, 0 },
    { "columns", required_argument, NULL, 0 },
    { "strict", no_argument, NULL, 0 },
    { "anony-only", no_argument, NULL, 0 },
    { "exclude-ties", no_argument, NULL, 0 },
    { "exclude-models", required_argument, NULL, 0 },
    { "since", required_argument, NULL, 0 },
    { "until", required_argument, NULL, 0 },
    { "min-votes", required_argument, NULL, 0 },
    { 0 },
};

void cli_input_init(cli_input *in)
{
    memset(in, 0, sizeof *in);
    rt_filter_default(&in->filter);
}

void cli_input_free(cli_input *in)
{
    free(in->columns_buf);
    free(in->exclude_buf);
    free(in->exclude);
}

/* Unix seconds, or a UTC date YYYY-MM-DD (its midnight). */
static int parse_time(const char *cmd, const char *flag, const char *s, double *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end && !*end) {
        *out = (double)timegm(&tm);
        return 0;
    }
    return cli_parse_double(cmd, flag, s, out);
}

/* "a=COL,b=COL,winner=COL,tstamp=COL", split in place into in->read.columns. */
static int parse_columns(cli_input *in, const char *cmd, const char *arg)
{
    free(in->columns_buf);
    in->columns_buf = strdup(arg);
    if (!in->columns_buf) {
        cli_error("out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *item = strtok_r(in->columns_buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || !eq[1]) {
            cli_usage_error(cmd, "--columns: expected NAME=COLUMN, got '%s'", item);
            return -1;
        }
        *eq = '\0';
        const char **slot = strcmp(item, "a") == 0 ? &in->read.columns.a
                          : strcmp(item, "b") == 0 ? &in->read.columns.b
                          : strcmp(item, "winner") == 0 ? &in->read.columns.winner
                          : strcmp(item, "tstamp") == 0 ? &in->read.columns.tstamp : NULL;
        if (!slot) {
            cli_usage_error(cmd, "--columns: unknown name '%s' (expected a, b, winner or tstamp)", item);
            return -1;
        }
        *slot = eq + 1;
    }
    return 0;
}

/* "A,B,C" split in place into in->exclude. */
static int parse_exclude(cli_input *in, const char *arg)
{
    size_t n = 1;
    for (const char *p = arg; *p; p++)
        n += *p == ',';
    free(in->exclude_buf);
    free(in->exclude);
    in->exclude_buf = strdup(arg);
    in->exclude = malloc(n * sizeof *in->exclude);
    if (!in->exclude_buf || !in->exclude) {
        cli_error("out of memory");
        return -1;
    }
    n = 0;
    char *save = NULL;
    for (char *m = strtok_r(in->exclude_buf, ",", &save); m; m = strtok_r(NULL, ",", &save))
        in->exclude[n++] = m;
    in->filter.exclude_models = in->exclude;
    in->filter.n_exclude = n;
    return 0;
}

int cli_input_option(cli_input *in, const char *cmd, const char *name, const char *arg)
{
    long v;
    if (strcmp(name, "input-format") == 0) {
        if (rd_parse_format(arg, &in->read.format) < 0) {
            cli_usage_error(cmd, "--input-format: expected auto, json, jsonl or csv, got '%s'", arg);
            return -1;
        }
    } else if (strcmp(name, "columns") == 0) {
        return parse_columns(in, cmd, arg) < 0 ? -1 : 1;
    } else if (strcmp(name, "strict") == 0) {
        in->read.strict = 1;
    } else if (strcmp(name, "anony-only") == 0) {
        in->filter.anony_only = 1;
    } else if (strcmp(name, "exclude-ties") == 0) {
        in->filter.exclude_ties = 1;
    } else if (strcmp(name, "exclude-models") == 0) {
        return parse_exclude(in, arg) < 0 ? -1 : 1;
    } else if (strcmp(name, "since") == 0) {
        return parse_time(cmd, "--since", arg, &in->filter.since) < 0 ? -1 : 1;
    } else if (strcmp(name, "until") == 0) {
        return parse_time(cmd, "--until", arg, &in->filter.until) < 0 ? -1 : 1;
    } else if (strcmp(name, "min-votes") == 0) {
        if (cli_parse_long(cmd, "--min-votes", arg, 0, LONG_MAX, &v) < 0)
            return -1;
        in->filter.min_votes = (uint64_t)v;
    } else {
        return 0;
    }
    return 1;
}

/* Appends the zero-terminated src to dst (which holds *n entries, room for all) and
 * keeps dst zero-terminated. */
static void options_append(struct option *dst, size_t *n, const struct option *src)
{
    for (; src->name; src++)
        dst[(*n)++] = *src;
    memset(&dst[*n], 0, sizeof dst[*n]);
}

int cli_parse_votes_args(const char *cmd, const char *help, const struct option *own,
                         cli_own_option own_option, void *ud, cli_input *in, cli_method *m,
                         const char **output, int argc, char **argv)
{
    struct option opts[64];
    size_t n = 0;
    const char *name;
    int rc;

    options_append(opts, &n, cli_input_options);
    options_append(opts, &n, cli_method_options);
    options_append(opts, &n, own);
    optind = 1;
    while ((name = cli_next_flag(cmd, help, opts, argc, argv, output, &rc))) {
        int used = cli_input_option(in, cmd, name, optarg);
        if (!used)
            used = cli_method_option(m, cmd, name, optarg);
        if (used < 0)
            return EXIT_USAGE;
        if (!used && (rc = own_option(ud, name, optarg)) != EXIT_OK)
            return rc;
    }
    if (rc >= 0)
        return rc;
    if (!(in->path = cli_one_file(cmd, argc, argv)))
        return EXIT_USAGE;
    if (m->elo)
        in->filter.keep_sequence = 1;   /* Elo replays the battles in order */
    return -1;
}

struct load_state {
    rt_battles *acc;
    const char *name;
    cli_progress progress;
    size_t seen;
};

static int add_vote(void *ud, const rd_record *r, char *err, size_t errlen)
{
    struct load_state *s = ud;
    char why[256];
    if (rt_add(s->acc, r->model_a, r->model_b, (rt_outcome)r->winner, r->tstamp, r->anony,
               why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: record %zu: %s", s->name, r->index, why);
        return -1;
    }
    if ((++s->seen & 0xfffff) == 0)
        cli_progress_show(&s->progress, (double)s->seen, 0, "votes read");
    return 0;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int cli_load_votes(const cli_input *in, rt_data **out, double *parse_s)
{
    char err[1024];
    struct load_state s = { .name = strcmp(in->path, "-") == 0 ? "<stdin>" : in->path };
    rd_stats rs;
    rt_stats ts;
    double t0 = cli_now();
    int rc = EXIT_USAGE;

    *out = NULL;
    s.acc = rt_new(&in->filter, err, sizeof err);
    if (!s.acc) {
        cli_error("%s", err);
        return EXIT_FAIL;
    }
    cli_progress_init(&s.progress, "loading");
    int r = rd_read(in->path, &in->read, add_vote, &s, &rs, err, sizeof err);
    cli_progress_end(&s.progress);
    if (r < 0) {
        cli_error("%s", err);
        goto done;
    }
    rt_get_stats(s.acc, &ts);
    uint64_t self = rs.skipped_self + ts.self_battles;
    if (self)
        cli_error("skipped %llu %s", (unsigned long long)self, plural(self, "self-battle", "self-battles"));
    if (rs.skipped_winner)
        cli_error("skipped %llu %s", (unsigned long long)rs.skipped_winner,
                  plural(rs.skipped_winner, "record with an unknown winner", "records with an unknown winner"));
    *out = rt_snapshot(s.acc, err, sizeof err);
    if (!*out) {
        cli_error("%s", err);
        rc = EXIT_FAIL;
        goto done;
    }
    if ((*out)->dropped_models)
        cli_error("dropped %llu %s with fewer than %llu votes", (unsigned long long)(*out)->dropped_models,
                  plural((*out)->dropped_models, "model", "models"),
                  (unsigned long long)in->filter.min_votes);
    if ((*out)->n_battles == 0 || (*out)->n_models < 2) {
        uint64_t filtered = ts.filtered_anony + ts.filtered_ties + ts.filtered_models + ts.filtered_time;
        if ((*out)->n_battles == 0)
            cli_error("%s: no battles%s", s.name, filtered || (*out)->dropped_models ? " left after the filters"
                                                  : self ? " between two different models" : "");
        else
            cli_error("%s: only one model (%s): nothing to rank", s.name, (*out)->names[0]);
        rt_data_free(*out);
        *out = NULL;
        goto done;
    }
    if (parse_s)
        *parse_s = cli_now() - t0;
    rc = EXIT_OK;
done:
    rt_free(s.acc);
    return rc;
}
