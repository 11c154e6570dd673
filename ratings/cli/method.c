/* method.c: the rating-method flags (bt or elo, scale, anchor) and the point fit. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "elo.h"

const struct option cli_method_options[] = {
    { "method", required_argument, NULL, 0 },
    { "scale", required_argument, NULL, 0 },
    { "base", required_argument, NULL, 0 },
    { "init", required_argument, NULL, 0 },
    { "k", required_argument, NULL, 0 },
    { "anchor", required_argument, NULL, 0 },
    { "no-anchor", no_argument, NULL, 0 },
    { 0 },
};

void cli_method_init(cli_method *m)
{
    memset(m, 0, sizeof *m);
    m->scale = 400;
    m->base = 10;
    m->init = 1000;
    m->k = 4;
}

void cli_method_free(cli_method *m)
{
    free(m->anchor_buf);
}

/* MODEL=VALUE; the model name may itself hold '=', so split at the last one. */
static int parse_anchor(cli_method *m, const char *cmd, const char *arg)
{
    free(m->anchor_buf);
    m->anchor_buf = strdup(arg);
    if (!m->anchor_buf) {
        cli_error("out of memory");
        return -1;
    }
    char *eq = strrchr(m->anchor_buf, '=');
    if (!eq || eq == m->anchor_buf) {
        cli_usage_error(cmd, "--anchor: expected MODEL=VALUE, got '%s'", arg);
        return -1;
    }
    *eq = '\0';
    if (cli_parse_double(cmd, "--anchor", eq + 1, &m->anchor_value) < 0)
        return -1;
    m->anchor = m->anchor_buf;
    m->anchor_given = 1;
    return 0;
}

int cli_method_option(cli_method *m, const char *cmd, const char *name, const char *arg)
{
    if (strcmp(name, "method") == 0) {
        if (strcmp(arg, "bt") != 0 && strcmp(arg, "elo") != 0) {
            cli_usage_error(cmd, "--method: expected bt or elo, got '%s'", arg);
            return -1;
        }
        m->elo = strcmp(arg, "elo") == 0;
    } else if (strcmp(name, "scale") == 0 || strcmp(name, "base") == 0 || strcmp(name, "k") == 0) {
        double *slot = name[0] == 's' ? &m->scale : name[0] == 'b' ? &m->base : &m->k;
        char flag[16];
        snprintf(flag, sizeof flag, "--%s", name);
        if (cli_parse_double(cmd, flag, arg, slot) < 0)
            return -1;
        if (*slot <= 0 || (slot == &m->base && *slot == 1)) {
            cli_usage_error(cmd, "%s: must be positive%s, got '%s'", flag,
                            slot == &m->base ? " and not 1" : "", arg);
            return -1;
        }
    } else if (strcmp(name, "init") == 0) {
        return cli_parse_double(cmd, "--init", arg, &m->init) < 0 ? -1 : 1;
    } else if (strcmp(name, "anchor") == 0) {
        return parse_anchor(m, cmd, arg) < 0 ? -1 : 1;
    } else if (strcmp(name, "no-anchor") == 0) {
        m->no_anchor = 1;
    } else {
        return 0;
    }
    return 1;
}

void cli_method_bt_opts(const cli_method *m, const rt_data *d, bt_opts *o)
{
    bt_opts_default(o);
    o->scale = m->scale;
    o->base = m->base;
    o->init = m->init;
    if (m->no_anchor)
        return;
    if (m->anchor_given) {
        o->anchor_model = m->anchor;
        o->anchor_value = m->anchor_value;
    } else if (rt_find(d, CLI_DEFAULT_ANCHOR) >= 0) {
        o->anchor_model = CLI_DEFAULT_ANCHOR;
        o->anchor_value = CLI_DEFAULT_ANCHOR_VALUE;
    }
}

void cli_method_elo_opts(const cli_method *m, elo_opts *o)
{
    elo_opts_default(o);
    o->k = m->k;
    o->scale = m->scale;
    o->base = m->base;
    o->init = m->init;
}

/* Models without a single loss (ties are not losses). */
static void warn_never_lost(const rt_data *d, cli_board *b)
{
    char *lost = calloc(d->n_models ? d->n_models : 1, 1);
    if (!lost)
        return;
    for (size_t t = 0; t < d->n_triples; t++) {
        const rt_triple *x = &d->triples[t];
        if (x->outcome == RT_WIN_A)
            lost[x->b] = 1;
        else if (x->outcome == RT_WIN_B)
            lost[x->a] = 1;
    }
    for (size_t i = 0; i < d->n_models; i++)
        if (!lost[i])
            cli_board_warn(b, "%s never loses", d->names[i]);
    free(lost);
}

int cli_fit_point(const rt_data *d, const cli_method *m, double *rating, bt_result *bt, cli_board *b)
{
    char err[512];
    memset(bt, 0, sizeof *bt);
    if (m->elo) {
        elo_opts eo;
        cli_method_elo_opts(m, &eo);
        if (m->anchor_given)
            cli_board_warn(b, "--anchor applies to --method bt only; Elo ratings are not anchored");
        if (elo_fit(d, &eo, rating, err, sizeof err) < 0) {
            cli_error("elo: %s", err);
            return EXIT_FAIL;
        }
        /* bt_fit names disconnected groups and models that never lose; online Elo does
         * not, so say the same here. */
        if (d->n_components > 1) {
            char names[1024];
            cli_board_warn(b, "the battles form %zu groups that never meet; Elo ratings are not comparable "
                           "across groups:", d->n_components);
            for (size_t c = 0; c < d->n_components; c++)
                cli_board_warn(b, "group %zu: %s", c + 1, rt_component_names(d, c, names, sizeof names));
        }
        warn_never_lost(d, b);
        return EXIT_OK;
    }
    bt_opts bo;
    cli_method_bt_opts(m, d, &bo);
    if (bt_fit(d, &bo, bt, err, sizeof err) < 0) {
        cli_error("bt: %s", err);
        return EXIT_FAIL;
    }
    memcpy(rating, bt->rating, d->n_models * sizeof *rating);
    for (size_t i = 0; i < bt->n_warnings; i++)
        cli_board_warn(b, "%s", bt->warnings[i]);
    return EXIT_OK;
}
