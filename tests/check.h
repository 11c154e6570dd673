/* check.h: the smallest unit-test harness. Each check prints one TAP-style line,
 * "ok - NAME" or "not ok - NAME (file:line: expression)", which tests/run.sh counts.
 * A test program ends with `return check_exit();`. */
#ifndef ARENA_CHECK_H
#define ARENA_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int check_failures;

static void check_report(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6), unused));
static void check_report(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(ok ? "ok - " : "not ok - ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    if (!ok) {
        printf(" (%s:%d: %s)", file, line, expr);
        check_failures++;
    }
    putchar('\n');
    fflush(stdout);
}

/* CHECK(cond, "name %d", i): one named assertion. */
#define CHECK(cond, ...) check_report(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

/* CHECK_NEAR(got, want, tol, "name"): |got - want| <= tol, both finite; prints both on failure. */
#define CHECK_NEAR(got, want, tol, ...) do {                                              \
        double check_g_ = (got), check_w_ = (want);                                       \
        int check_ok_ = isfinite(check_g_) && fabs(check_g_ - check_w_) <= (tol);         \
        if (!check_ok_) printf("# got %.9g, want %.9g (tolerance %g)\n", check_g_, check_w_, (double)(tol)); \
        check_report(check_ok_, __FILE__, __LINE__, #got " ~ " #want, __VA_ARGS__);       \
    } while (0)

static inline int check_exit(void) { return check_failures ? 1 : 0; }

#endif
