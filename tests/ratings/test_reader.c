/* test_reader: the battle readers (JSON, JSON Lines, CSV, gzip, stdin) against the shipped
 * GenAI-Arena file, conversions of it, synthetic files larger than one read chunk, and every
 * kind of bad input (each must fail with file, record and field in the message). */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../check.h"
#include "reader.h"
#include "synth.h"

static char dir[256];
static const char *genai = "data/genai_arena_clean_battle.json";

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct rec {
    char a[96], b[96], judge[64];
    rd_winner winner;
    double tstamp;
    int anony;
    size_t index;
} rec;

typedef struct collect {
    rec *r;
    size_t n, cap;
    size_t win[4], anony_true;
} collect;

static int collect_cb(void *ud, const rd_record *r, char *err, size_t errlen)
{
    collect *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
    }
    rec *x = &c->r[c->n++];
    snprintf(x->a, sizeof x->a, "%s", r->model_a);
    snprintf(x->b, sizeof x->b, "%s", r->model_b);
    snprintf(x->judge, sizeof x->judge, "%s", r->judge ? r->judge : "");
    x->winner = r->winner;
    x->tstamp = r->tstamp;
    x->anony = r->anony;
    x->index = r->index;
    c->win[r->winner]++;
    c->anony_true += r->anony == 1;
    return 0;
}

static void collect_free(collect *c)
{
    free(c->r);
    memset(c, 0, sizeof *c);
}

static int read_all(const char *path, const rd_options *o, collect *c, rd_stats *st, char *err, size_t errlen)
{
    collect_free(c);
    return rd_read(path, o, collect_cb, c, st, err, errlen);
}

/* Same battles in the same order (the record index differs between formats). */
static int same_records(const collect *x, const collect *y, int with_meta)
{
    if (x->n != y->n)
        return 0;
    for (size_t i = 0; i < x->n; i++) {
        const rec *p = &x->r[i], *q = &y->r[i];
        if (strcmp(p->a, q->a) || strcmp(p->b, q->b) || p->winner != q->winner)
            return 0;
        if (!(p->tstamp == q->tstamp || (isnan(p->tstamp) && isnan(q->tstamp))))
            return 0;
        if (with_meta && (p->anony != q->anony || strcmp(p->judge, q->judge)))
            return 0;
    }
    return 1;
}

static const char *tmp_path(const char *name)
{
    static char paths[8][512];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    return p;
}

static const char *write_file(const char *name, const void *data, size_t len)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
        printf("# cannot write %s\n", p);
        exit(1);
    }
    return p;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text));
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static const char *gzip_file(const char *src, const char *name)
{
    size_t n;
    char *b = slurp(src, &n);
    const char *p = tmp_path(name);
    gzFile g = gzopen(p, "wb");
    gzwrite(g, b, (unsigned)n);
    gzclose(g);
    free(b);
    return p;
}

/* ---- the shipped GenAI-Arena file ---------------------------------------------------- */

static size_t self_index;
static int find_self(void *ud, const rd_record *r, char *err, size_t errlen)
{
    size_t *next = ud;
    if (r->index != *next && !self_index)
        self_index = *next;
    *next = r->index + 1;
    return 0;
}

static void test_genai(collect *ref)
{
    char err[512];
    rd_stats st;
    int rc = read_all(genai, NULL, ref, &st, err, sizeof err);
    CHECK(rc == 0, "genai: reads (%s)", rc ? err : "ok");
    CHECK(st.format == RD_FORMAT_JSON, "genai: detected as json");
    CHECK(st.records == 2061, "genai: 2061 records (%zu)", st.records);
    CHECK(st.delivered == 2060 && ref->n == 2060, "genai: 2060 delivered");
    CHECK(st.skipped_self == 1 && st.skipped_winner == 0, "genai: one self-battle skipped");
    CHECK(ref->win[RD_WIN_A] == 759 && ref->win[RD_WIN_B] == 744 && ref->win[RD_TIE] == 130,
          "genai: model_a 759, model_b 744, tie 130");
    CHECK(ref->win[RD_TIE_BOTHBAD] == 427, "genai: tie (bothbad) 427 delivered, 428 with the skipped self-battle");
    CHECK(ref->anony_true == 1515, "genai: anony true 1515 (%zu)", ref->anony_true);
    size_t next = 0;
    rd_read(genai, NULL, find_self, &next, NULL, err, sizeof err);
    CHECK(self_index == 1819, "genai: the self-battle is element 1819 (%zu)", self_index);

    const rec *r0 = &ref->r[0];
    CHECK(!strcmp(r0->a, "imagenhub_SDXLTurbo_generation") && !strcmp(r0->b, "imagenhub_LCM_generation") &&
              r0->winner == RD_WIN_A && r0->anony == 1 && r0->index == 0,
          "genai: first record's fields");
    CHECK(r0->tstamp == 1707700514.3167 && !strcmp(r0->judge, "arena_user_::1"), "genai: first tstamp and judge");
    CHECK(ref->r[ref->n - 1].index == 2060, "genai: last index is 2060");
    int sorted = 1;
    for (size_t i = 1; i < ref->n; i++)
        sorted &= ref->r[i].tstamp > ref->r[i - 1].tstamp;
    CHECK(sorted, "genai: tstamps ascending");

    rd_options strict = {.strict = 1};
    collect c = {0};
    rc = read_all(genai, &strict, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, genai) && strstr(err, "record 1819") && strstr(err, "field \"model_b\"") &&
              strstr(err, "self-battle"),
          "genai strict: self-battle is an error: %s", err);
    CHECK(c.n == 1819, "genai strict: records before it were delivered");
    collect_free(&c);
}

/* The same battles as JSON Lines, CSV, gzip, a memory buffer and stdin. */
static void test_conversions(const collect *ref)
{
    char err[512];
    rd_stats st;
    collect c = {0};
    const char *jl = tmp_path("genai.jsonl"), *csv = tmp_path("genai.csv");
    FILE *fj = fopen(jl, "w"), *fc = fopen(csv, "w");
    fputs("model_a,judge,model_b,winner,tstamp,anony\r\n", fc);
    for (size_t i = 0; i < ref->n; i++) {
        const rec *r = &ref->r[i];
        fprintf(fj, "{\"model_a\": \"%s\", \"model_b\": \"%s\", \"winner\": \"%s\", \"judge\": \"%s\", "
                    "\"anony\": %s, \"tstamp\": %.17g, \"conversation_a\": [{\"role\": \"user\", \"content\": \"hi, {\\\"x\\\"}\"}]}\n",
                r->a, r->b, rd_winner_name(r->winner), r->judge, r->anony ? "true" : "false", r->tstamp);
        if (i % 100 == 7)
            fputs("\n", fj);   /* blank lines are skipped */
        fprintf(fc, "%s,\"%s\",%s,\"%s\",%.17g,%s\r\n", r->a, r->judge, r->b, rd_winner_name(r->winner), r->tstamp,
                r->anony ? "true" : "false");
    }
    fclose(fj);
    fclose(fc);

    int rc = read_all(jl, NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.format == RD_FORMAT_JSONL, "jsonl: reads as jsonl (%s)", rc ? err : "ok");
    CHECK(same_records(ref, &c, 1), "jsonl: same records as the json file");
    CHECK(c.n > 10 && c.r[0].index == 1 && c.r[8].index == 10, "jsonl: index is the line number");

    rc = read_all(csv, NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.format == RD_FORMAT_CSV, "csv: reads as csv (%s)", rc ? err : "ok");
    CHECK(same_records(ref, &c, 1), "csv: same records as the json file");
    CHECK(c.n > 0 && c.r[0].index == 2, "csv: index is the line number (header is line 1)");

    rc = read_all(gzip_file(genai, "genai.json.gz"), NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.format == RD_FORMAT_JSON && same_records(ref, &c, 1), "gzip json: same records");
    rc = read_all(gzip_file(csv, "genai.csv.gz"), NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.format == RD_FORMAT_CSV && same_records(ref, &c, 1), "gzip csv: same records");

    size_t len;
    char *bytes = slurp(genai, &len);
    collect_free(&c);
    rc = rd_read_buffer(bytes, len, "mem", NULL, collect_cb, &c, &st, err, sizeof err);
    CHECK(rc == 0 && same_records(ref, &c, 1) && st.skipped_self == 1, "buffer: same records");
    free(bytes);

    /* stdin */
    int saved = dup(0), fd = open(csv, O_RDONLY);
    dup2(fd, 0);
    close(fd);
    rc = read_all("-", NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && same_records(ref, &c, 1), "stdin: same records (%s)", rc ? err : "ok");
    fd = open(write_text("bad-stdin.json", "[{\"model_a\": 1}]"), O_RDONLY);
    dup2(fd, 0);
    close(fd);
    rc = read_all("-", NULL, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "<stdin>: record 0: field \"model_a\""), "stdin: errors name <stdin>: %s", err);
    dup2(saved, 0);
    close(saved);
    collect_free(&c);
}

/* ---- CSV dialects -------------------------------------------------------------------- */

static void test_csv_columns(void)
{
    char err[512];
    rd_stats st;
    collect c = {0};
    const char *p = write_text("cols.csv",
                               "\xef\xbb\xbfid,left_model,note,right_model,vote,time\r\n"
                               "1,\"gpt-4, turbo\",plain,llama,LEFT,1700000000.5\r\n"
                               "2,llama,\"two\r\nlines, \"\"quoted\"\"\",\"say \"\"hi\"\"\",right,1700000001\r\n"
                               "\r\n"
                               "3,llama,,\"gpt-4, turbo\",bothbad,\r\n"
                               "4,a,x,b,Tie,\"17e8\"");
    rd_options o = {.columns = {.a = "left_model", .b = "right_model", .winner = "vote", .tstamp = "time"}};
    int rc = read_all(p, &o, &c, &st, err, sizeof err);
    CHECK(rc == 0 && c.n == 4, "csv columns: 4 records (%s)", rc ? err : "ok");
    if (c.n == 4) {
        CHECK(!strcmp(c.r[0].a, "gpt-4, turbo") && !strcmp(c.r[0].b, "llama") && c.r[0].winner == RD_WIN_A &&
                  c.r[0].tstamp == 1700000000.5 && c.r[0].index == 2,
              "csv columns: quoted comma, LEFT, tstamp");
        CHECK(!strcmp(c.r[1].b, "say \"hi\"") && c.r[1].winner == RD_WIN_B && c.r[1].index == 3,
              "csv columns: doubled quotes, right");
        CHECK(c.r[2].winner == RD_TIE_BOTHBAD && isnan(c.r[2].tstamp) && c.r[2].index == 6 && c.r[2].anony == -1,
              "csv columns: bothbad, empty tstamp is absent, line count after a quoted line break");
        CHECK(c.r[3].winner == RD_TIE && c.r[3].tstamp == 17e8 && c.r[3].index == 7,
              "csv columns: last row without line break");
    }
    rc = read_all(p, NULL, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "cols.csv: record 1: field \"model_a\": no such column"),
          "csv: default columns missing: %s", err);
    rd_options o2 = {.columns = {.a = "left_model", .b = "right_model", .winner = "vote", .tstamp = "when"}};
    rc = read_all(p, &o2, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "record 1: field \"when\": no such column"), "csv: named tstamp column missing: %s",
          err);

    /* Explicit format overrides detection: a CSV whose first byte is '{'. */
    p = write_text("brace.csv", "{a},model_a,model_b,winner\nx,m1,m2,a\n");
    rd_options o3 = {.format = RD_FORMAT_CSV};
    rc = read_all(p, &o3, &c, &st, err, sizeof err);
    CHECK(rc == 0 && c.n == 1 && st.format == RD_FORMAT_CSV, "csv: forced format (%s)", rc ? err : "ok");
    collect_free(&c);
}

/* ---- bad input ----------------------------------------------------------------------- */

typedef struct bad_case {
    const char *name, *text;
    rd_format format;
    const char *want1, *want2;   /* substrings the message must hold, besides the file name */
} bad_case;

static const bad_case bad_cases[] = {
    {"malformed.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"},{\"model_a\":\"a\" \"model_b\":\"b\"}]",
     0, "record 1: ", "malformed JSON"},
    {"missing.json", "[{\"model_a\":\"a\",\"model_b\":\"b\"}]", 0, "record 0: field \"winner\": ", "missing"},
    {"missing-a.json", "[{\"winner\":\"tie\",\"model_b\":\"b\"}]", 0, "record 0: field \"model_a\": ", "missing"},
    {"type.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"},\n{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":1}]",
     0, "record 1: field \"winner\": ", "expected a string"},
    {"null.json", "[{\"model_a\":null,\"model_b\":\"b\",\"winner\":\"tie\"}]", 0, "field \"model_a\": ", "expected a string, got null"},
    {"object.json", "[{\"model_a\":{\"x\":[1]},\"model_b\":\"b\",\"winner\":\"tie\"}]", 0, "record 0: field \"model_a\": ",
     "expected a string, got an object"},
    {"tstamp-type.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\",\"tstamp\":\"now\"}]", 0,
     "field \"tstamp\": ", "expected a number"},
    {"tstamp-inf.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\",\"tstamp\":1e999}]", 0,
     "record 0: field \"tstamp\": ", "finite"},
    {"anony.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\",\"anony\":\"yes\"}]", 0, "field \"anony\": ",
     "expected true or false"},
    {"turn.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\",\"turn\":1.5}]", 0, "field \"turn\": ",
     "expected an integer"},
    {"judge.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\",\"judge\":[]}]", 0, "field \"judge\": ",
     "expected a string, got an array"},
    {"empty-name.json", "[{\"model_a\":\"\",\"model_b\":\"b\",\"winner\":\"tie\"}]", 0, "field \"model_a\": ", "empty"},
    {"nul.json", "[{\"model_a\":\"a\\u0000b\",\"model_b\":\"b\",\"winner\":\"tie\"}]", 0, "field \"model_a\": ", "NUL"},
    {"utf8.json", "[{\"model_a\":\"a\xff\",\"model_b\":\"b\",\"winner\":\"tie\"}]", 0, "field \"model_a\": ", "UTF-8"},
    {"truncated.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"},{\"model_a\":\"a\"", 0, "record 1: ",
     "truncated"},
    {"truncated2.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"}", 0, "record 1: ", "truncated"},
    {"element.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"}, 3]", 0, "record 1: ",
     "expected an object, got a number"},
    {"toplevel.json", "{\"model_a\":\"a\"}", RD_FORMAT_JSON, "record 0: ", "expected an array"},
    {"garbage.json", "[] x", 0, "record 0: ", "malformed JSON"},
    {"lines.jsonl", "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"}\n\n{\"model_a\" 1}\n", 0, "record 3: ",
     "malformed JSON"},
    {"lines-missing.jsonl", "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"}\n{\"model_a\":\"a\",\"winner\":\"tie\"}\n",
     0, "record 2: field \"model_b\": ", "missing"},
    {"lines-two.jsonl", "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"} {\"model_a\":\"a\"}\n", 0, "record 1: ",
     "more than one"},
    {"lines-array.jsonl", "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"}\n[1]\n", 0, "record 2: ",
     "expected an object, got an array"},
    {"lines-truncated.jsonl", "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"tie\"}\n{\"model_a\":\"a\",", 0, "record 2: ",
     "truncated"},
    {"header.csv", "model_a,winner\nx,tie\n", 0, "record 1: field \"model_b\": ", "no such column"},
    {"count.csv", "model_a,model_b,winner\na,b,tie\n\na,b\n", 0, "record 4: ", "expected 3 fields"},
    {"tstamp.csv", "model_a,model_b,winner,tstamp\na,b,tie,12\na,b,tie,xyz\n", 0, "record 3: field \"tstamp\": ",
     "finite number"},
    {"nan.csv", "model_a,model_b,winner,tstamp\na,b,tie,nan\n", 0, "record 2: field \"tstamp\": ", "finite number"},
    {"anony.csv", "model_a,model_b,winner,anony\na,b,tie,maybe\n", 0, "record 2: field \"anony\": ", "true or false"},
    {"empty-name.csv", "model_a,model_b,winner\n,b,tie\n", 0, "record 2: field \"model_a\": ", "empty"},
    {"quote.csv", "model_a,model_b,winner\na,b,tie\n\"a,b,tie\n", 0, "record 3: ", "unterminated quoted field"},
    {"after-quote.csv", "model_a,model_b,winner\n\"a\"x,b,tie\n", 0, "record 2: ", "after a closing quote"},
};

static void test_bad_input(void)
{
    char err[512];
    rd_stats st;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *b = &bad_cases[i];
        const char *p = write_text(b->name, b->text);
        rd_options o = {.format = b->format};
        collect c = {0};
        int rc = read_all(p, &o, &c, &st, err, sizeof err);
        CHECK(rc == -1 && strstr(err, p) && strstr(err, b->want1) && strstr(err, b->want2), "bad %s: %s", b->name, err);
        collect_free(&c);
        /* the same bytes from memory, gzip-compressed: the same message */
        uLongf zl = compressBound(strlen(b->text)) + 32;
        unsigned char *z = malloc(zl);
        z_stream s = {0};
        deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        s.next_in = (unsigned char *)b->text;
        s.avail_in = (uInt)strlen(b->text);
        s.next_out = z;
        s.avail_out = (uInt)zl;
        deflate(&s, Z_FINISH);
        char err2[512];
        rc = rd_read_buffer(z, s.total_out, p, &o, collect_cb, &c, &st, err2, sizeof err2);
        deflateEnd(&s);
        free(z);
        CHECK(rc == -1 && !strcmp(err, err2), "bad %s (gzip buffer): same message", b->name);
        collect_free(&c);
    }

    collect c = {0};
    int rc = read_all(tmp_path("no-such-file.json"), NULL, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "no-such-file.json: cannot open"), "missing file: %s", err);

    /* a gzip file cut in the middle */
    size_t n;
    char *gz = slurp(gzip_file(genai, "cut.json.gz"), &n);
    const char *cut = write_file("cut.json.gz", gz, n / 2);
    free(gz);
    rc = read_all(cut, NULL, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "cut.json.gz: record ") && strstr(err, "truncated gzip"), "truncated gzip: %s", err);
    static const char corrupt_bytes[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-garbage-garbage";
    const char *corrupt = write_file("corrupt.gz", corrupt_bytes, sizeof corrupt_bytes - 1);
    rc = read_all(corrupt, NULL, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "corrupt.gz: record 0: ") && strstr(err, "gzip"), "corrupt gzip: %s", err);
    collect_free(&c);
}

/* ---- skipping, strict, empty, stopping ----------------------------------------------- */

static int stop_after_3(void *ud, const rd_record *r, char *err, size_t errlen)
{
    int *n = ud;
    if (++*n < 3)
        return 0;
    if (r->index == 2)   /* the JSON case writes its own message, the CSV case does not */
        snprintf(err, errlen, "enough at %zu", r->index);
    return -1;
}

static void test_skips_and_edges(void)
{
    char err[512];
    rd_stats st;
    collect c = {0};
    const char *p = write_text("skips.json", "[{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"draw\"},"
                                             "{\"model_a\":\"a\",\"model_b\":\"a\",\"winner\":\"tie\"},"
                                             "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"Model_B\",\"extra\":{\"model_a\":1}}]");
    int rc = read_all(p, NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.records == 3 && st.delivered == 1 && st.skipped_winner == 1 && st.skipped_self == 1,
          "skips: unknown winner and self-battle counted");
    CHECK(c.n == 1 && c.r[0].winner == RD_WIN_B && c.r[0].index == 2, "skips: nested keys of other fields ignored");
    rd_options strict = {.strict = 1};
    rc = read_all(p, &strict, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "skips.json: record 0: field \"winner\": unknown value \"draw\""), "strict: %s",
          err);

    const char *empties[][2] = {{"empty.json", ""}, {"space.json", " \n\t\r\n"}, {"array.json", " [ ] \n"}};
    for (int i = 0; i < 3; i++) {
        rc = read_all(write_text(empties[i][0], empties[i][1]), NULL, &c, &st, err, sizeof err);
        CHECK(rc == 0 && st.records == 0 && c.n == 0, "empty input %s: no records, no error", empties[i][0]);
    }
    rc = read_all(write_text("header-only.csv", "model_a,model_b,winner\n"), NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.records == 0 && st.format == RD_FORMAT_CSV, "csv header only: no records");
    rc = rd_read_buffer(NULL, 0, NULL, NULL, collect_cb, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.records == 0, "empty buffer");
    rc = read_all(gzip_file(tmp_path("empty.json"), "empty.gz"), NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && st.records == 0, "empty gzip");

    p = write_text("crlf.jsonl", "\r\n{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"a\"}\r\n\r\n"
                                 "{\"model_a\":\"a\",\"model_b\":\"b\",\"winner\":\"b\"}");
    rc = read_all(p, NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && c.n == 2 && c.r[0].index == 2 && c.r[1].index == 4 && st.format == RD_FORMAT_JSONL,
          "jsonl with CRLF and leading blank line: line numbers");

    /* gzip members one after another, as `cat a.gz b.gz` makes them */
    size_t n1, n2;
    char *g1 = slurp(gzip_file(p, "part1.gz"), &n1);
    char *g2 = slurp(gzip_file(write_text("part2.jsonl", "\n{\"model_a\":\"c\",\"model_b\":\"d\",\"winner\":\"tie\"}\n"),
                               "part2.gz"), &n2);
    g1 = realloc(g1, n1 + n2);
    memcpy(g1 + n1, g2, n2);
    rc = read_all(write_file("both.gz", g1, n1 + n2), NULL, &c, &st, err, sizeof err);
    CHECK(rc == 0 && c.n == 3 && !strcmp(c.r[2].a, "c"), "concatenated gzip members (%s)", rc ? err : "ok");
    free(g1);
    free(g2);

    rc = read_all(dir, NULL, &c, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "read error"), "a directory: read error: %s", err);

    int n = 0;
    rc = rd_read(genai, NULL, stop_after_3, &n, &st, err, sizeof err);
    CHECK(rc == -1 && n == 3 && !strcmp(err, "enough at 2") && st.delivered == 2, "callback stop keeps its message");
    n = 0;
    rc = rd_read(tmp_path("genai.csv"), NULL, stop_after_3, &n, &st, err, sizeof err);
    CHECK(rc == -1 && strstr(err, "genai.csv: record 4: stopped by the caller"), "callback stop without message: %s",
          err);
    collect_free(&c);
}

static void test_names(void)
{
    static const struct { const char *s; int rc; rd_winner w; } cases[] = {
        {"model_a", 0, RD_WIN_A}, {"MODEL_B", 0, RD_WIN_B}, {"a", 0, RD_WIN_A}, {"B", 0, RD_WIN_B},
        {"Left", 0, RD_WIN_A}, {"right", 0, RD_WIN_B}, {"tie", 0, RD_TIE}, {"tie (bothbad)", 0, RD_TIE_BOTHBAD},
        {"bothbad", 0, RD_TIE_BOTHBAD}, {"", -1, 0}, {"tie ", -1, 0}, {"c", -1, 0},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rd_winner w = RD_TIE;
        int rc = rd_parse_winner(cases[i].s, strlen(cases[i].s), &w);
        ok &= rc == cases[i].rc && (rc < 0 || w == cases[i].w);
    }
    CHECK(ok, "rd_parse_winner: every spelling");
    rd_winner w;
    CHECK(rd_parse_winner("model_axyz", 7, &w) == 0 && w == RD_WIN_A, "rd_parse_winner: uses len, not NUL");
    rd_format f;
    CHECK(!strcmp(rd_format_name(RD_FORMAT_JSONL), "jsonl") && rd_parse_format("CSV", &f) == 0 &&
              f == RD_FORMAT_CSV && rd_parse_format("xml", &f) == -1,
          "format names");
    CHECK(!strcmp(rd_winner_name(RD_TIE_BOTHBAD), "tie (bothbad)"), "rd_winner_name");
}

/* ---- synthetic files larger than a read chunk ---------------------------------------- */

typedef struct digest { uint64_t h; size_t n; } digest;

static int digest_cb(void *ud, const rd_record *r, char *err, size_t errlen)
{
    digest *d = ud;
    uint64_t h = d->h;
    for (const char *s = r->model_a; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    for (const char *s = r->model_b; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    uint64_t t;
    memcpy(&t, &r->tstamp, sizeof t);
    d->h = (h ^ t ^ (uint64_t)r->winner) * 0x100000001b3ULL;
    d->n++;
    return 0;
}

static void test_large_synthetic(void)
{
    static const rd_format formats[] = {RD_FORMAT_JSON, RD_FORMAT_JSONL, RD_FORMAT_CSV};
    char err[512];
    digest first = {0};
    for (int i = 0; i < 3; i++) {
        synth_options o = {.models = 50, .votes = 30000, .seed = 7, .ties = 0.2, .format = formats[i]};
        char name[32];
        snprintf(name, sizeof name, "synth.%s", rd_format_name(formats[i]));
        const char *p = tmp_path(name);
        FILE *f = fopen(p, "wb");
        int rc = synth_write(f, &o, err, sizeof err);
        fclose(f);
        digest d = {0}, dz = {0};
        rd_stats st;
        rc = rc ? rc : rd_read(p, NULL, digest_cb, &d, &st, err, sizeof err);
        CHECK(rc == 0 && d.n == 30000 && st.format == formats[i], "synthetic %s: 30000 records", name);
        snprintf(name, sizeof name, "synth.%s.gz", rd_format_name(formats[i]));
        rc = rd_read(gzip_file(p, name), NULL, digest_cb, &dz, &st, err, sizeof err);
        CHECK(rc == 0 && dz.n == d.n && dz.h == d.h, "synthetic %s: gzip gives the same records", name);
        if (i == 0)
            first = d;
        else
            CHECK(d.h == first.h, "synthetic %s: same records as the json file", rd_format_name(formats[i]));
    }
}

/* Conversations, for imports: written back as compact JSON, escapes and all. */
typedef struct convs { char a[512], b[512]; int n, null_a; } convs;

static int conv_cb(void *ud, const rd_record *r, char *err, size_t errlen)
{
    convs *c = ud;
    if (c->n++ == 0) {
        snprintf(c->a, sizeof c->a, "%s", r->conversation_a ? r->conversation_a : "(null)");
        snprintf(c->b, sizeof c->b, "%s", r->conversation_b ? r->conversation_b : "(null)");
    } else {
        c->null_a = !r->conversation_a;
    }
    return 0;
}

static void test_conversations(void)
{
    static const char text[] =
        "[{\"model_a\": \"x\", \"conversation_a\": [ {\"role\": \"user\", \"content\": \"say \\\"hi\\\"\\n\\u00e9\\ud83d\\ude00\"},\n"
        "  {\"role\": \"assistant\", \"content\": \"hi\", \"n\": 1.50, \"ok\": true, \"none\": null, \"l\": [1, [2]]} ],\n"
        "  \"model_b\": \"y\", \"winner\": \"model_a\", \"conversation_b\": {\"k\": []}},\n"
        " {\"model_a\": \"x\", \"model_b\": \"y\", \"winner\": \"tie\", \"conversation_a\": \"not a list\"}]";
    convs c = {0};
    char err[256];
    rd_options o = {.conversations = 1};
    int rc = rd_read_buffer(text, sizeof text - 1, "conv", &o, conv_cb, &c, NULL, err, sizeof err);
    CHECK(rc == 0 && c.n == 2, "conversations: both records read (%s)", err);
    CHECK(!strcmp(c.a, "[{\"role\":\"user\",\"content\":\"say \\\"hi\\\"\\n\xc3\xa9\xf0\x9f\x98\x80\"},"
                       "{\"role\":\"assistant\",\"content\":\"hi\",\"n\":1.50,\"ok\":true,\"none\":null,\"l\":[1,[2]]}]"),
          "conversation_a as compact JSON: %s", c.a);
    CHECK(!strcmp(c.b, "{\"k\":[]}") && c.null_a, "conversation_b an object; a string value is no conversation (%s)", c.b);
    convs off = {0};
    rc = rd_read_buffer(text, sizeof text - 1, "conv", NULL, conv_cb, &off, NULL, err, sizeof err);
    CHECK(rc == 0 && !strcmp(off.a, "(null)") && !strcmp(off.b, "(null)"), "without the option: no conversations");
    static const char bad[] = "[{\"model_a\": \"x\", \"model_b\": \"y\", \"winner\": \"tie\", \"conversation_b\": [\"\xff\"]}]";
    rc = rd_read_buffer(bad, sizeof bad - 1, "bad", &o, conv_cb, &off, NULL, err, sizeof err);
    CHECK(rc < 0 && strstr(err, "conversation_b") && strstr(err, "UTF-8"), "invalid UTF-8 in a conversation: %s", err);
}

int main(void)
{
    const char *root = getenv("ARENA_ROOT");
    if (root && chdir(root) != 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/arena-test-reader-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        printf("not ok - cannot make a scratch directory\n");
        return 1;
    }
    collect ref = {0};
    test_genai(&ref);
    test_conversions(&ref);
    test_csv_columns();
    test_bad_input();
    test_skips_and_edges();
    test_names();
    test_conversations();
    test_large_synthetic();
    collect_free(&ref);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return check_exit();
}
