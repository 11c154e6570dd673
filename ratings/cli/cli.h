/* cli.h: what the subcommands of bin/arena-ratings share: exit codes, messages, flag
 * parsing helpers, vote loading, the leaderboard model and its output formats. */
#ifndef ARENA_RATINGS_CLI_H
#define ARENA_RATINGS_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "battles.h"
#include "reader.h"
#include "static.h"

#define CLI_NAME "arena-ratings"
#define CLI_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* "arena-ratings: " + message on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of command cmd: the message, then where to find help. Returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One step of command cmd's getopt_long loop over opts (zero-terminated, "help" given
 * as 'h'), which handles -h/--help (prints help), -o FILE (sets *output) and bad options
 * itself. Returns the long name of the next of the command's own flags (its value in
 * optarg); NULL after the last flag (*status = -1) or when the command is to return
 * *status (EXIT_OK after the help, EXIT_USAGE after a bad option). Set optind to 1 first. */
const char *cli_next_flag(const char *cmd, const char *help, const struct option *opts, int argc,
                          char **argv, const char **output, int *status);
/* The one FILE operand after the flags, or NULL after a usage error. */
const char *cli_one_file(const char *cmd, int argc, char **argv);

/* Strict number parsing of flag values: 0, or -1 after a usage message naming flag. */
int cli_parse_long(const char *cmd, const char *flag, const char *s, long min, long max, long *out);
int cli_parse_double(const char *cmd, const char *flag, const char *s, double *out);

/* Seconds since the epoch as a float; for timings. */
double cli_now(void);
/* Peak resident set size of this process in MiB. */
double cli_peak_rss_mib(void);

/* A progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct cli_progress { const char *label; int tty, drawn, percent; } cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_show(cli_progress *p, double done, double total, const char *unit);
void cli_progress_end(cli_progress *p);
/* ci_opts.progress callback over a cli_progress. */
int cli_progress_rounds(void *ud, int done, int total);

/* ---- votes: the input and filter flags of fit and matrix ---- */

typedef struct cli_input {
    const char *path;
    rd_options read;
    rt_filter filter;
    char *columns_buf;         /* owned copy of --columns, split in place */
    char *exclude_buf;         /* owned copy of --exclude-models, split in place */
    const char **exclude;      /* owned array of pointers into exclude_buf */
} cli_input;

void cli_input_init(cli_input *in);
void cli_input_free(cli_input *in);

/* Handles one input/filter option of getopt_long (its long name and argument): 1 used,
 * 0 not an input option, -1 bad value (usage message printed). */
int cli_input_option(cli_input *in, const char *cmd, const char *name, const char *arg);
/* The getopt_long entries of the input options, terminated by a zero entry. */
extern const struct option cli_input_options[];

#define CLI_INPUT_HELP                                                                          \
    "  --input-format F     auto (default), json, jsonl or csv; gzip is read transparently\n"   \
    "  --columns a=COL,b=COL,winner=COL,tstamp=COL\n"                                           \
    "                       CSV header names (default model_a,model_b,winner,tstamp)\n"         \
    "  --strict             self-battles and unknown winners are errors, not skipped\n"         \
    "  --anony-only         only anonymous battles\n"                                           \
    "  --exclude-ties       drop ties (both kinds)\n"                                           \
    "  --exclude-models A,B drop battles of these models\n"                                     \
    "  --since T, --until T keep since <= tstamp < until (unix seconds or YYYY-MM-DD, UTC)\n"    \
    "  --min-votes N        drop models with fewer than N battles\n"

/* Reads in->path through the filters into a snapshot (*out, freed by the caller with
 * rt_data_free). Prints skip counts; with timings, *parse_s gets the seconds spent.
 * Returns EXIT_OK, or an exit code after printing the error. */
int cli_load_votes(const cli_input *in, rt_data **out, double *parse_s);

/* ---- the rating method: the flags of fit that matrix --kind predicted shares ---- */

typedef struct cli_method {
    int elo;                   /* --method elo */
    double scale, base, init, k;
    const char *anchor;        /* --anchor MODEL (points into anchor_buf) */
    double anchor_value;
    int no_anchor, anchor_given;
    char *anchor_buf;          /* owned */
} cli_method;

#define CLI_DEFAULT_ANCHOR "mixtral-8x7b-instruct-v0.1"
#define CLI_DEFAULT_ANCHOR_VALUE 1114.0

void cli_method_init(cli_method *m);
void cli_method_free(cli_method *m);
extern const struct option cli_method_options[];
/* As cli_input_option, for the method flags. */
int cli_method_option(cli_method *m, const char *cmd, const char *name, const char *arg);
#define CLI_METHOD_HELP                                                                         \
    "  --method bt|elo      Bradley-Terry maximum likelihood (default) or online Elo\n"          \
    "  --scale S --base B --init I   rating = S * log_B(strength) + I (400, 10, 1000)\n"         \
    "  --k K                Elo step (default 4)\n"                                              \
    "  --anchor MODEL=VALUE pin MODEL's rating (bt; default " CLI_DEFAULT_ANCHOR "=1114 when present)\n" \
    "  --no-anchor          no anchor: each connected group is centred at --init\n"

/* A flag of the command's own, handed over by cli_parse_votes_args: EXIT_OK to go on, else
 * the exit code after printing the error. */
typedef int (*cli_own_option)(void *ud, const char *name, const char *arg);
/* The command line of a command that reads votes (fit, matrix): one FILE, the input and
 * method flags, -o FILE (*output), -h (prints help) and the getopt_long entries in own
 * (zero-terminated, at most 40), each passed to own_option with ud. Sets in->path to FILE
 * (and, for --method elo, has the votes keep their sequence).
 * Returns -1 to go on, else the exit code (EXIT_OK after the help). */
int cli_parse_votes_args(const char *cmd, const char *help, const struct option *own,
                         cli_own_option own_option, void *ud, cli_input *in, cli_method *m,
                         const char **output, int argc, char **argv);

struct cli_board;
struct bt_result;
struct bt_opts;
struct elo_opts;
/* The library options m stands for on d (the default anchor only when d has that model). */
void cli_method_bt_opts(const cli_method *m, const rt_data *d, struct bt_opts *o);
void cli_method_elo_opts(const cli_method *m, struct elo_opts *o);
/* Point ratings of d by m: rating[d->n_models]; for bt, *bt holds the fit (the caller
 * frees it with bt_result_free), for elo it stays zeroed. Warnings go to the board.
 * Returns EXIT_OK, or an exit code after printing the error. */
int cli_fit_point(const rt_data *d, const cli_method *m, double *rating, struct bt_result *bt,
                  struct cli_board *b);

/* ---- the leaderboard and its formats ---- */

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_MARKDOWN } cli_format;
int cli_parse_format(const char *cmd, const char *s, cli_format *out);

typedef struct cli_row {
    const char *model;
    double rating;
    double lower, upper;       /* when board.has_ci */
    unsigned long long votes;  /* when board.has_votes */
    int rank, rank_ub;         /* rank_ub when board.has_ci */
    st_match st;               /* when board.has_static */
} cli_row;

typedef struct cli_board {
    const char *method;        /* "bt", "elo", "table" */
    const char *score_label;   /* the static score column, for the table header */
    cli_row *rows;             /* owned; sorted by cli_board_sort */
    size_t n;
    int has_ci, has_votes, has_static;
    st_correlation corr;       /* when has_static */
    char **warnings;           /* owned strings */
    size_t n_warnings;
} cli_board;

void cli_board_free(cli_board *b);
/* Adds a warning (copied) and prints it on stderr. 0 / -1. */
int cli_board_warn(cli_board *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ranks (1 + number rated higher) and sorting by rating, best first. */
void cli_board_rank_and_sort(cli_board *b);
/* Loads the static table (and map) and fills every row's st and b->corr.
 * Returns EXIT_OK, or an exit code after printing the error. */
int cli_board_join_static(cli_board *b, const char *path, const char *key, const char *score,
                          const char *map);
/* One CSV field, quoted when it holds a comma, a quote or a line break. */
void cli_csv_field(const char *s, FILE *out);
/* Writes the board; 0 / -1 (write error). */
int cli_board_write(const cli_board *b, cli_format fmt, FILE *out);

/* The --static flags, shared by fit and compare. */
typedef struct cli_static { const char *path, *key, *score, *map; } cli_static;
/* Opens -o FILE (NULL = stdout). NULL after printing the error. */
FILE *cli_open_output(const char *path);
/* Closes it (not stdout's), reporting write errors: EXIT_OK or EXIT_FAIL. */
int cli_close_output(FILE *f, const char *path);

/* The subcommands: argc/argv start at the command's name. */
int cmd_fit(int argc, char **argv);
int cmd_matrix(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_synth(int argc, char **argv);

#endif
