/* static.c: the static benchmark table, the arena -> static name map, the join and the
 * rank correlations. Both CSV files are small (a few MB at most), so each is read whole
 * and split in place: keys point into the file's text, which the table owns. */
#include "static.h"
#include "rt_errbuf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

struct st_row {
    const char *key;
    double score;
};

struct st_alias {
    const char *arena;
    const char *static_name;
};

struct st_table {
    char *text;                 /* the table file, split in place */
    struct st_row *rows;        /* file order */
    size_t nrows;
    struct st_row **by_key;     /* rows sorted by key, for lookups */
    char *map_text;             /* the name map file, split in place */
    struct st_alias *aliases;   /* sorted by arena name */
    size_t naliases;
};

/* Reads the whole file at path into a NUL-terminated buffer the caller frees. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        rt_errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - n < 2) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            char *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                rt_errf(err, errlen, "%s: out of memory", path);
                goto err;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rt_errf(err, errlen, "%s: read error", path);
        goto err;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
err:
    free(buf);
    fclose(f);
    return NULL;
}

/* An RFC 4180 record splitter working in place on a NUL-terminated buffer: quoted
 * fields may hold commas, newlines and doubled quotes; lines end in LF or CRLF. */
struct csv {
    char *p, *end;
    char **fields;
    size_t nfields, cap;
};

static int csv_push(struct csv *c, char *field)
{
    if (c->nfields == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        char **nf = realloc(c->fields, ncap * sizeof *nf);
        if (!nf)
            return -1;
        c->fields = nf;
        c->cap = ncap;
    }
    c->fields[c->nfields++] = field;
    return 0;
}

/* 1: a record is in c->fields; 0: end of input; -1: malformed (msg says why). */
static int csv_next(struct csv *c, const char **msg)
{
    for (;;) {
        if (c->p >= c->end)
            return 0;
        c->nfields = 0;
        for (;;) {
            char *start = c->p, *out;
            if (*c->p == '"') {
                out = start;
                c->p++;
                for (;;) {
                    if (c->p >= c->end) {
                        *msg = "unterminated quoted field";
                        return -1;
                    }
                    if (*c->p == '"') {
                        if (c->p + 1 < c->end && c->p[1] == '"') {
                            *out++ = '"';
                            c->p += 2;
                            continue;
                        }
                        c->p++;
                        break;
                    }
                    *out++ = *c->p++;
                }
                if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r') {
                    *msg = "text after a closing quote";
                    return -1;
                }
            } else {
                while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                    c->p++;
                out = c->p;
            }
            char sep = c->p < c->end ? *c->p : '\n';
            *out = '\0';
            if (csv_push(c, start) < 0) {
                *msg = "out of memory";
                return -1;
            }
            if (c->p < c->end)
                c->p++;
            if (sep == ',')
                continue;
            if (sep == '\r' && c->p < c->end && *c->p == '\n')
                c->p++;
            break;
        }
        /* A blank line is no record. */
        if (!(c->nfields == 1 && c->fields[0][0] == '\0'))
            return 1;
    }
}

/* Opens path as CSV and finds the named columns in its header (want[i] -> col[i]). */
static char *csv_open(struct csv *c, const char *path, const char *const *want, size_t *col,
                      size_t nwant, char *err, size_t errlen)
{
    size_t len;
    const char *msg = NULL;
    char *text = read_file(path, &len, err, errlen);

    memset(c, 0, sizeof *c);
    if (!text)
        return NULL;
    c->p = text;
    c->end = text + len;
    int r = csv_next(c, &msg);
    if (r <= 0) {
        rt_errf(err, errlen, "%s: header: %s", path, r == 0 ? "empty file" : msg);
        goto err;
    }
    for (size_t w = 0; w < nwant; w++) {
        size_t i;
        for (i = 0; i < c->nfields && strcmp(c->fields[i], want[w]) != 0; i++)
            ;
        if (i == c->nfields) {
            rt_errf(err, errlen, "%s: header: no column '%s'", path, want[w]);
            goto err;
        }
        col[w] = i;
    }
    return text;
err:
    free(c->fields);
    free(text);
    c->fields = NULL;
    return NULL;
}

/* The next record of path into c->fields, counted in *record: 1, 0 at the end of the file,
 * -1 when it is malformed (err names the record). */
static int csv_record(struct csv *c, const char *path, size_t *record, char *err, size_t errlen)
{
    const char *msg = NULL;
    int r = csv_next(c, &msg);
    if (r == 0)
        return 0;
    ++*record;
    if (r < 0) {
        rt_errf(err, errlen, "%s: record %zu: %s", path, *record, msg);
        return -1;
    }
    return 1;
}

static int row_cmp(const void *a, const void *b)
{
    const struct st_row *x = *(struct st_row *const *)a, *y = *(struct st_row *const *)b;
    return strcmp(x->key, y->key);
}

static int alias_cmp(const void *a, const void *b)
{
    return strcmp(((const struct st_alias *)a)->arena, ((const struct st_alias *)b)->arena);
}

st_table *st_load(const char *path, const char *key_col, const char *score_col,
                  char *err, size_t errlen)
{
    const char *want[2] = { key_col, score_col };
    size_t col[2], cap = 0, record = 0;
    struct csv c;
    int r;
    st_table *t = calloc(1, sizeof *t);

    if (!t) {
        rt_errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    t->text = csv_open(&c, path, want, col, 2, err, errlen);
    if (!t->text)
        goto err;
    while ((r = csv_record(&c, path, &record, err, errlen)) > 0) {
        if (c.nfields <= col[0] || c.nfields <= col[1]) {
            rt_errf(err, errlen, "%s: record %zu: field %s: missing", path, record,
                    c.nfields <= col[0] ? key_col : score_col);
            goto err;
        }
        const char *key = c.fields[col[0]], *s = c.fields[col[1]];
        if (!*key) {
            rt_errf(err, errlen, "%s: record %zu: field %s: empty", path, record, key_col);
            goto err;
        }
        if (!*s)
            continue;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || *end || errno == ERANGE || !isfinite(v)) {
            rt_errf(err, errlen, "%s: record %zu: field %s: not a finite number: '%s'",
                    path, record, score_col, s);
            goto err;
        }
        if (t->nrows == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct st_row *nr = realloc(t->rows, ncap * sizeof *nr);
            if (!nr)
                goto oom;
            t->rows = nr;
            cap = ncap;
        }
        t->rows[t->nrows++] = (struct st_row){ key, v };
    }
    if (r < 0)
        goto err;
    t->by_key = malloc((t->nrows ? t->nrows : 1) * sizeof *t->by_key);
    if (!t->by_key)
        goto oom;
    for (size_t i = 0; i < t->nrows; i++)
        t->by_key[i] = &t->rows[i];
    qsort(t->by_key, t->nrows, sizeof *t->by_key, row_cmp);
    for (size_t i = 1; i < t->nrows; i++)
        if (strcmp(t->by_key[i - 1]->key, t->by_key[i]->key) == 0) {
            rt_errf(err, errlen, "%s: field %s: key '%s' appears twice", path, key_col,
                    t->by_key[i]->key);
            goto err;
        }
    free(c.fields);
    return t;
oom:
    rt_errf(err, errlen, "%s: out of memory", path);
err:
    free(c.fields);
    st_free(t);
    return NULL;
}

int st_load_map(st_table *t, const char *path, char *err, size_t errlen)
{
    const char *want[2] = { "arena_name", "static_name" };
    size_t col[2], cap = 0, record = 0;
    struct csv c;
    int r;

    free(t->map_text);
    free(t->aliases);
    t->aliases = NULL;
    t->naliases = 0;
    t->map_text = csv_open(&c, path, want, col, 2, err, errlen);
    if (!t->map_text)
        return -1;
    while ((r = csv_record(&c, path, &record, err, errlen)) > 0) {
        if (c.nfields <= col[0] || c.nfields <= col[1] || !*c.fields[col[0]] || !*c.fields[col[1]]) {
            rt_errf(err, errlen, "%s: record %zu: field %s: missing", path, record,
                    c.nfields <= col[0] || !*c.fields[col[0]] ? want[0] : want[1]);
            goto err;
        }
        if (t->naliases == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct st_alias *na = realloc(t->aliases, ncap * sizeof *na);
            if (!na) {
                rt_errf(err, errlen, "%s: out of memory", path);
                goto err;
            }
            t->aliases = na;
            cap = ncap;
        }
        t->aliases[t->naliases++] = (struct st_alias){ c.fields[col[0]], c.fields[col[1]] };
    }
    if (r < 0)
        goto err;
    qsort(t->aliases, t->naliases, sizeof *t->aliases, alias_cmp);
    for (size_t i = 1; i < t->naliases; i++)
        if (strcmp(t->aliases[i - 1].arena, t->aliases[i].arena) == 0) {
            rt_errf(err, errlen, "%s: field arena_name: '%s' appears twice", path,
                    t->aliases[i].arena);
            goto err;
        }
    free(c.fields);
    return 0;
err:
    free(c.fields);
    free(t->aliases);
    free(t->map_text);
    t->aliases = NULL;
    t->map_text = NULL;
    t->naliases = 0;
    return -1;
}

void st_free(st_table *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->rows);
    free(t->by_key);
    free(t->map_text);
    free(t->aliases);
    free(t);
}

size_t st_size(const st_table *t) { return t->nrows; }
const char *st_key(const st_table *t, size_t i) { return t->rows[i].key; }
double st_score(const st_table *t, size_t i) { return t->rows[i].score; }

int st_find(const st_table *t, const char *arena_name, double *score)
{
    struct st_alias probe = { arena_name, NULL };
    const struct st_alias *a = t->naliases
        ? bsearch(&probe, t->aliases, t->naliases, sizeof *t->aliases, alias_cmp) : NULL;
    struct st_row key_row = { a ? a->static_name : arena_name, 0 }, *key = &key_row;
    struct st_row **hit = t->nrows
        ? bsearch(&key, t->by_key, t->nrows, sizeof *t->by_key, row_cmp) : NULL;

    if (!hit)
        return 0;
    *score = (*hit)->score;
    return 1;
}

/* Competition ranks of v (1 = largest; equal values share the best rank). */
static int competition_ranks(const double *v, size_t n, int *rank)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return -1;
    gsl_sort_index(order, v, 1, n);   /* ascending */
    for (size_t i = n; i-- > 0;) {
        size_t pos = n - 1 - i;        /* 0 for the largest */
        if (i + 1 < n && v[order[i]] == v[order[i + 1]])
            rank[order[i]] = rank[order[i + 1]];
        else
            rank[order[i]] = (int)pos + 1;
    }
    free(order);
    return 0;
}

int st_join(const st_table *t, const char *const *models, const double *ratings, size_t n,
            st_match *out, st_correlation *corr)
{
    double *rating = malloc((n ? n : 1) * sizeof *rating);
    double *score = malloc((n ? n : 1) * sizeof *score);
    int *arena_rank = malloc((n ? n : 1) * sizeof *arena_rank);
    int *static_rank = malloc((n ? n : 1) * sizeof *static_rank);
    size_t k = 0;
    int rc = -1;

    if (!rating || !score || !arena_rank || !static_rank)
        goto done;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        if (st_find(t, models[i], &out[i].static_score)) {
            out[i].found = 1;
            rating[k] = ratings[i];
            score[k] = out[i].static_score;
            k++;
        }
    }
    if (competition_ranks(rating, k, arena_rank) < 0 || competition_ranks(score, k, static_rank) < 0)
        goto done;
    for (size_t i = 0, j = 0; i < n; i++) {
        if (!out[i].found)
            continue;
        out[i].arena_rank = arena_rank[j];
        out[i].static_rank = static_rank[j];
        out[i].rank_delta = arena_rank[j] - static_rank[j];
        j++;
    }
    if (corr && st_correlate(rating, score, k, corr) < 0)
        goto done;
    rc = 0;
done:
    free(rating);
    free(score);
    free(arena_rank);
    free(static_rank);
    return rc;
}

/* Tie statistics of one sample, as scipy's kendalltau uses them, over groups of t equal
 * values: pairs = sum t(t-1)/2, v0 = sum t(t-1)(t-2), v1 = sum t(t-1)(2t+5). */
struct ties {
    double pairs, v0, v1;
};

static int tie_stats(const double *v, size_t n, struct ties *ts)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return -1;
    memcpy(s, v, n * sizeof *s);
    gsl_sort(s, 1, n);
    memset(ts, 0, sizeof *ts);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && s[j] == s[i])
            j++;
        double g = (double)(j - i);
        ts->pairs += g * (g - 1) / 2;
        ts->v0 += g * (g - 1) * (g - 2);
        ts->v1 += g * (g - 1) * (2 * g + 5);
        i = j;
    }
    free(s);
    return 0;
}

/* P(a uniform random permutation of n has <= c inversions), times 2, capped at 1: the
 * exact two-sided p-value of Kendall's tau without ties (c = min(discordant, concordant)). */
static double kendall_exact_p(size_t n, size_t c)
{
    double *f = calloc(c + 1, sizeof *f), *prefix = calloc(c + 2, sizeof *prefix);
    double p = NAN;

    if (!f || !prefix)
        goto done;
    f[0] = 1;                                  /* one element: no inversion */
    for (size_t j = 2; j <= n; j++) {          /* the j-th element adds 0..j-1 inversions */
        prefix[0] = 0;
        for (size_t k = 0; k <= c; k++)
            prefix[k + 1] = prefix[k] + f[k];
        for (size_t k = 0; k <= c; k++) {
            size_t lo = k + 1 >= j ? k + 1 - j : 0;
            f[k] = (prefix[k + 1] - prefix[lo]) / (double)j;
        }
    }
    p = 0;
    for (size_t k = 0; k <= c; k++)
        p += f[k];
    p = fmin(1.0, 2 * p);
done:
    free(f);
    free(prefix);
    return p;
}

static int is_constant(const double *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[0])
            return 0;
    return 1;
}

int st_correlate(const double *x, const double *y, size_t n, st_correlation *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n < 3 || is_constant(x, n) || is_constant(y, n))
        return 0;

    double *work = malloc(2 * n * sizeof *work);
    if (!work)
        return -1;
    double rho = gsl_stats_spearman(x, 1, y, 1, n, work);
    free(work);
    double dof = (double)n - 2;
    if (fabs(rho) >= 1) {
        rho = rho > 0 ? 1 : -1;
        out->spearman_p = 0;
    } else {
        double tstat = rho * sqrt(dof / ((1 + rho) * (1 - rho)));
        out->spearman_p = fmin(1.0, 2 * gsl_cdf_tdist_Q(fabs(tstat), dof));
    }
    out->spearman_rho = rho;

    /* Pair counts: n is the number of shared models, so O(n^2) is cheap. */
    double concordant = 0, discordant = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double s = (x[i] - x[j]) * (y[i] - y[j]);
            if (s > 0)
                concordant++;
            else if (s < 0)
                discordant++;
        }
    struct ties tx, ty;
    if (tie_stats(x, n, &tx) < 0 || tie_stats(y, n, &ty) < 0)
        return -1;
    double total = (double)n * (n - 1) / 2, cmd = concordant - discordant;
    out->kendall_tau_b = cmd / sqrt(total - tx.pairs) / sqrt(total - ty.pairs);

    double c = fmin(discordant, total - discordant);
    if (tx.pairs == 0 && ty.pairs == 0 && (n <= 33 || c <= 1)) {
        out->kendall_p = kendall_exact_p(n, (size_t)c);
        if (isnan(out->kendall_p))
            return -1;
    } else {
        double m = (double)n * (n - 1);
        double var = (m * (2.0 * n + 5) - tx.v1 - ty.v1) / 18
                   + 2 * tx.pairs * ty.pairs / m
                   + tx.v0 * ty.v0 / (9 * m * (n - 2));
        out->kendall_p = fmin(1.0, 2 * gsl_cdf_ugaussian_Q(fabs(cmd) / sqrt(var)));
    }
    out->defined = 1;
    return 0;
}
