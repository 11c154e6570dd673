/* bench_reader: parse speed of the battle readers on a synthetic arena (default 3,000,000
 * votes among 200 models), against the I/O floor measured in the same run: the time to
 * read(2) the same file's bytes from the page cache. Also the generator's speed and the
 * peak resident memory (which must not grow with the file).
 *
 *   bench-ratings-reader [VOTES]      (or ARENA_BENCH_VOTES=N) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"
#include "synth.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* CPU seconds of this process: on a shared machine they vary less than wall time. */
static double cpu_now(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static long peak_rss_kib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* The I/O floor: every byte of the file through read(2), with the reader's buffer size. */
static double read_floor(const char *path, size_t *bytes)
{
    static char buf[1 << 20];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    double t0 = now();
    ssize_t n;
    *bytes = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        *bytes += (size_t)n;
    double t = now() - t0;
    close(fd);
    return t;
}

static int count_cb(void *ud, const rd_record *r, char *err, size_t errlen)
{
    size_t *n = ud;
    *n += r->winner == RD_WIN_A;   /* touch the record */
    return 0;
}

/* The fastest of `runs` runs, wall time; *cpu gets that run's CPU time. */
static double best_of(int runs, double (*f)(const char *, void *), const char *path, void *ud, double *cpu)
{
    double best = 1e300;
    for (int i = 0; i < runs; i++) {
        double c0 = cpu_now();
        double t = f(path, ud);
        if (t < 0)
            return -1;
        if (t < best) {
            best = t;
            *cpu = cpu_now() - c0;
        }
    }
    return best;
}

static double time_floor(const char *path, void *ud)
{
    return read_floor(path, ud);
}

static double time_parse(const char *path, void *ud)
{
    char err[512];
    size_t wins = 0;
    rd_stats *st = ud;
    double t0 = now();
    if (rd_read(path, NULL, count_cb, &wins, st, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("ARENA_BENCH_VOTES");
    long votes = argc > 1 ? atol(argv[1]) : env ? atol(env) : 3000000;
    static const rd_format formats[] = {RD_FORMAT_JSON, RD_FORMAT_JSONL, RD_FORMAT_CSV};
    char dir[256], path[300], err[256];
    snprintf(dir, sizeof dir, "%s/arena-bench-reader-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (votes <= 0 || !mkdtemp(dir)) {
        fprintf(stderr, "bench-ratings-reader: bad vote count or no scratch directory\n");
        return 1;
    }
    int status = 0;
    printf("reader benchmark: %ld votes, 200 models; baseline = read(2) of the same file (page cache)\n", votes);
    printf("%-6s %8s %8s %8s %8s %7s %11s %8s\n", "format", "MB", "synth_s", "parse_s", "cpu_s", "MB/s", "records/s",
           "x_floor");
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/battles.%s", dir, rd_format_name(formats[i]));
        synth_options o = {.models = 200, .votes = votes, .seed = 1, .ties = 0.3, .format = formats[i]};
        FILE *f = fopen(path, "wb");
        double t0 = now();
        int rc = f ? synth_write(f, &o, err, sizeof err) : -1;
        if (f && fclose(f))
            rc = -1;
        double synth_s = now() - t0;
        size_t bytes = 0;
        rd_stats st = {0};
        double floor_cpu = 0, parse_cpu = 0;
        double floor_s = rc ? -1 : best_of(2, time_floor, path, &bytes, &floor_cpu);
        double parse_s = floor_s < 0 ? -1 : best_of(2, time_parse, path, &st, &parse_cpu);
        unlink(path);
        if (parse_s < 0 || st.delivered != (size_t)votes) {
            printf("%-6s failed\n", rd_format_name(formats[i]));
            status = 1;
            continue;
        }
        double mb = bytes / 1e6;
        printf("%-6s %8.1f %8.2f %8.3f %8.3f %7.0f %11.0f %8.1f\n", rd_format_name(formats[i]), mb, synth_s, parse_s,
               parse_cpu, mb / parse_s, votes / parse_s, parse_s / floor_s);
        printf("       floor: read(2) %.3f s = %.0f MB/s; parse per CPU second %.0f MB/s; synth writes %.0f MB/s\n",
               floor_s, mb / floor_s, mb / parse_cpu, mb / synth_s);
    }
    printf("peak RSS: %.1f MiB (the reader streams; this does not grow with the file)\n", peak_rss_kib() / 1024.0);
    rmdir(dir);
    return status;
}
