/* util.c: messages, strict number parsing, clocks, the progress bar, output files. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs(CLI_NAME ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, CLI_NAME ": %s%s", cmd ? cmd : "", cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '" CLI_NAME "%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return EXIT_USAGE;
}

int cli_parse_long(const char *cmd, const char *flag, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < min || v > max) {
        cli_usage_error(cmd, "%s: expected an integer in [%ld, %ld], got '%s'", flag, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *flag, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) {
        cli_usage_error(cmd, "%s: expected a number, got '%s'", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double cli_peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return NAN;
    return ru.ru_maxrss / 1024.0;   /* Linux reports KiB */
}

void cli_progress_init(cli_progress *p, const char *label)
{
    p->label = label;
    p->tty = isatty(STDERR_FILENO);
    p->drawn = 0;
    p->percent = -1;
}

/* total 0: an open-ended count. */
void cli_progress_show(cli_progress *p, double done, double total, const char *unit)
{
    enum { WIDTH = 30 };
    if (!p->tty)
        return;
    if (total > 0) {
        int percent = (int)(100 * done / total);
        if (percent == p->percent)   /* redraw only when the bar moves */
            return;
        p->percent = percent;
        int fill = (int)(WIDTH * done / total);
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < fill ? '=' : ' ';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r%s [%s] %.0f/%.0f %s", p->label, bar, done, total, unit);
    } else {
        fprintf(stderr, "\r%s %.0f %s", p->label, done, unit);
    }
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_end(cli_progress *p)
{
    if (p->drawn)
        fputs("\r\033[K", stderr);   /* erase the bar's line */
    p->drawn = 0;
}

int cli_progress_rounds(void *ud, int done, int total)
{
    cli_progress_show(ud, done, total, "rounds");
    return 0;
}

FILE *cli_open_output(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        cli_error("%s: %s", path, strerror(errno));
    return f;
}

int cli_close_output(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (f == stdout)
        bad |= fflush(f) != 0;
    else
        bad |= fclose(f) != 0;
    if (bad) {
        cli_error("%s: write error", path && strcmp(path, "-") != 0 ? path : "stdout");
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* The usage error for what getopt_long returned as c (':' or '?'). Returns EXIT_USAGE. */
static int bad_option(const char *cmd, int c, char **argv)
{
    if (c == ':')
        return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    if (optopt)
        return cli_usage_error(cmd, "unknown option '-%c'", optopt);
    return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

const char *cli_next_flag(const char *cmd, const char *help, const struct option *opts, int argc,
                          char **argv, const char **output, int *status)
{
    int c, idx;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, &idx)) != -1) {
        if (c == 'h') {
            fputs(help, stdout);
            *status = EXIT_OK;
            return NULL;
        }
        if (c == 'o') {
            *output = optarg;
            continue;
        }
        if (c != 0) {
            *status = bad_option(cmd, c, argv);
            return NULL;
        }
        return opts[idx].name;
    }
    *status = -1;
    return NULL;
}

const char *cli_one_file(const char *cmd, int argc, char **argv)
{
    if (optind == argc - 1)
        return argv[optind];
    cli_usage_error(cmd, optind == argc ? "no input FILE" : "one input FILE expected, got %d", argc - optind);
    return NULL;
}
