/* synth.c: `arena-ratings synth`: a synthetic battles file from known strengths. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

static const char synth_help[] =
    "Usage: " CLI_NAME " synth --models M --votes N --seed S [--ties P] [--format F] [-o FILE]\n"
    "Writes N battles among M models drawn from Bradley-Terry strengths that the seed fixes.\n"
    "\n"
    "  --models M           models, named model-001, model-002, ... (default 20)\n"
    "  --votes N            battles (default 10000)\n"
    "  --seed S             random seed (default 42)\n"
    "  --ties P             probability of a tie (default 0)\n"
    "  --format F           json (FastChat clean-battle array; default), jsonl or csv\n"
    "  -o FILE              write there instead of stdout\n"
    "  -h, --help           this text\n";

static const struct option synth_flags[] = {
    { "models", required_argument, NULL, 0 },
    { "votes", required_argument, NULL, 0 },
    { "seed", required_argument, NULL, 0 },
    { "ties", required_argument, NULL, 0 },
    { "format", required_argument, NULL, 0 },
    /* Undocumented, for tests: the true ratings as CSV model,rating instead of battles. */
    { "true-ratings", no_argument, NULL, 0 },
    { "help", no_argument, NULL, 'h' },
    { 0 },
};

static int write_true_ratings(const synth_options *o, FILE *out)
{
    char err[512];
    double *r = malloc((size_t)o->models * sizeof *r);
    if (!r) {
        cli_error("out of memory");
        return EXIT_FAIL;
    }
    if (synth_true_ratings(o, r, err, sizeof err) < 0) {
        cli_error("synth: %s", err);
        free(r);
        return EXIT_FAIL;
    }
    fputs("model,rating\n", out);
    for (int i = 0; i < o->models; i++)
        fprintf(out, "model-%03d,%.17g\n", i + 1, r[i]);
    free(r);
    return EXIT_OK;
}

int cmd_synth(int argc, char **argv)
{
    synth_options o = { .models = 20, .votes = 10000, .seed = 42, .ties = 0, .format = RD_FORMAT_JSON };
    const char *output = NULL, *name;
    char err[512];
    int truth = 0, rc;
    long v;

    optind = 1;
    while ((name = cli_next_flag("synth", synth_help, synth_flags, argc, argv, &output, &rc))) {
        if (strcmp(name, "models") == 0) {
            if (cli_parse_long("synth", "--models", optarg, 2, 1000000, &v) < 0)
                return EXIT_USAGE;
            o.models = (int)v;
        } else if (strcmp(name, "votes") == 0) {
            if (cli_parse_long("synth", "--votes", optarg, 0, LONG_MAX, &v) < 0)
                return EXIT_USAGE;
            o.votes = v;
        } else if (strcmp(name, "seed") == 0) {
            if (cli_parse_long("synth", "--seed", optarg, 0, LONG_MAX, &v) < 0)
                return EXIT_USAGE;
            o.seed = (unsigned long)v;
        } else if (strcmp(name, "ties") == 0) {
            if (cli_parse_double("synth", "--ties", optarg, &o.ties) < 0)
                return EXIT_USAGE;
            if (o.ties < 0 || o.ties > 1)
                return cli_usage_error("synth", "--ties: expected a probability in [0, 1], got '%s'", optarg);
        } else if (strcmp(name, "format") == 0) {
            if (rd_parse_format(optarg, &o.format) < 0 || o.format == RD_FORMAT_AUTO)
                return cli_usage_error("synth", "--format: expected json, jsonl or csv, got '%s'", optarg);
        } else if (strcmp(name, "true-ratings") == 0) {
            truth = 1;
        }
    }
    if (rc >= 0)
        return rc;
    if (optind != argc)
        return cli_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    FILE *out = cli_open_output(output);
    if (!out)
        return EXIT_FAIL;
    if (truth) {
        rc = write_true_ratings(&o, out);
    } else if (synth_write(out, &o, err, sizeof err) < 0) {
        cli_error("synth: %s", err);
        rc = EXIT_FAIL;
    } else {
        rc = EXIT_OK;
    }
    if (cli_close_output(out, output) != EXIT_OK)
        rc = EXIT_FAIL;
    return rc;
}
