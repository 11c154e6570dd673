/* main.c: bin/arena-ratings, dispatch to the subcommands (fit.c, matrix.c, compare.c,
 * synth.c). */
#include "cli.h"

#include <string.h>

#include <gsl/gsl_errno.h>

static const char usage[] =
    "Usage: " CLI_NAME " COMMAND [OPTIONS] ...\n"
    "Ratings for a chatbot arena: Bradley-Terry or Elo with confidence intervals, beside a\n"
    "static benchmark.\n"
    "\nCommands:\n"
    "  fit FILE       ratings from battles (FastChat JSON, JSON Lines, CSV; gzip; '-' = stdin)\n"
    "  matrix FILE    pairwise matrices: --kind wins|counts|predicted\n"
    "  compare FILE   a published ratings table against a static benchmark\n"
    "  synth          a synthetic battles file from known strengths\n"
    "\n'" CLI_NAME " COMMAND --help' describes each command; --version prints the version.\n"
    "Exit status: 0 success, 2 bad input or usage, 1 other failures.\n";

int main(int argc, char **argv)
{
    static const struct { const char *name; int (*run)(int, char **); } commands[] = {
        { "fit", cmd_fit }, { "matrix", cmd_matrix }, { "compare", cmd_compare }, { "synth", cmd_synth },
    };

    gsl_set_error_handler_off();
    if (argc < 2)
        return cli_usage_error(NULL, "no command");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts(CLI_NAME " " CLI_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}
