/* test_synth: the synthetic battle generator is deterministic, reads back with the reader
 * in every format, and follows the Bradley-Terry model it claims to. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "reader.h"
#include "synth.h"

#define MAX_MODELS 64

static char *generate(const synth_options *o, size_t *len)
{
    char *buf = NULL, err[256];
    FILE *f = open_memstream(&buf, len);
    int rc = f ? synth_write(f, o, err, sizeof err) : -1;
    if (f)
        fclose(f);
    if (rc) {
        printf("# synth_write: %s\n", err);
        free(buf);
        return NULL;
    }
    return buf;
}

typedef struct tally {
    const double *rating;
    int models;
    long n, ties, bothbad, bad_name;
    double prev_tstamp;
    int increasing;
    double expected_a, won_a;        /* sum of BT P(A wins) and of A's wins over decisive votes */
    long count[MAX_MODELS];
    long pair[MAX_MODELS][MAX_MODELS];
    int meta_ok;
} tally;

static int model_number(const char *name)
{
    int k = -1;
    if (sscanf(name, "model-%d", &k) != 1)
        return -1;
    return k;
}

static int tally_cb(void *ud, const rd_record *r, char *err, size_t errlen)
{
    tally *t = ud;
    int a = model_number(r->model_a) - 1, b = model_number(r->model_b) - 1;
    if (a < 0 || b < 0 || a >= t->models || b >= t->models) {
        t->bad_name++;
        return 0;
    }
    t->n++;
    t->count[a]++;
    t->count[b]++;
    t->pair[a < b ? a : b][a < b ? b : a]++;
    if (r->winner == RD_TIE || r->winner == RD_TIE_BOTHBAD) {
        t->ties++;
        t->bothbad += r->winner == RD_TIE_BOTHBAD;
    } else {
        t->expected_a += 1 / (1 + pow(10, (t->rating[b] - t->rating[a]) / 400));
        t->won_a += r->winner == RD_WIN_A;
    }
    t->increasing &= r->tstamp > t->prev_tstamp;
    t->prev_tstamp = r->tstamp;
    return 0;
}

static int meta_cb(void *ud, const rd_record *r, char *err, size_t errlen)
{
    tally *t = ud;
    t->meta_ok &= r->question_id && strlen(r->question_id) == 32 && r->judge && r->language && r->turn >= 1 &&
                  r->anony >= 0;
    return tally_cb(ud, r, err, errlen);
}

int main(void)
{
    char err[256];
    static const rd_format formats[] = {RD_FORMAT_JSON, RD_FORMAT_JSONL, RD_FORMAT_CSV};

    /* determinism */
    for (int i = 0; i < 3; i++) {
        synth_options o = {.models = 12, .votes = 3000, .seed = 42, .ties = 0.3, .format = formats[i]};
        size_t n1, n2, n3;
        char *x = generate(&o, &n1), *y = generate(&o, &n2);
        o.seed = 43;
        char *z = generate(&o, &n3);
        CHECK(x && y && n1 == n2 && !memcmp(x, y, n1), "%s: same seed, same bytes", rd_format_name(formats[i]));
        CHECK(z && (n1 != n3 || memcmp(x, z, n1)), "%s: another seed, other bytes", rd_format_name(formats[i]));
        free(x);
        free(y);
        free(z);
    }

    /* true ratings */
    synth_options o = {.models = 40, .votes = 40000, .seed = 5, .ties = 0.25, .format = RD_FORMAT_JSON};
    double r1[MAX_MODELS], r2[MAX_MODELS];
    CHECK(synth_true_ratings(&o, r1, err, sizeof err) == 0 && synth_true_ratings(&o, r2, err, sizeof err) == 0 &&
              !memcmp(r1, r2, sizeof(double) * 40),
          "true ratings: deterministic");
    double mean = 0, var = 0;
    for (int i = 0; i < 40; i++)
        mean += r1[i] / 40;
    for (int i = 0; i < 40; i++)
        var += (r1[i] - mean) * (r1[i] - mean) / 39;
    CHECK_NEAR(mean, 1000, 1e-9, "true ratings: mean 1000");
    CHECK(sqrt(var) > 80 && sqrt(var) < 200, "true ratings: sd %.1f in the 100-150 range, give or take", sqrt(var));

    /* read back in every format */
    for (int i = 0; i < 3; i++) {
        o.format = formats[i];
        size_t len;
        char *buf = generate(&o, &len);
        tally t = {.rating = r1, .models = 40, .increasing = 1, .meta_ok = 1};
        rd_stats st;
        int rc = buf ? rd_read_buffer(buf, len, "synth", NULL, formats[i] == RD_FORMAT_CSV ? tally_cb : meta_cb, &t,
                                      &st, err, sizeof err)
                     : -1;
        const char *f = rd_format_name(formats[i]);
        CHECK(rc == 0 && st.format == formats[i], "%s: reads back (%s)", f, rc ? err : "ok");
        CHECK(t.n == 40000 && st.delivered == 40000 && st.skipped_self == 0 && t.bad_name == 0,
              "%s: 40000 votes, no self-battles, names model-NNN", f);
        CHECK_NEAR((double)t.ties / t.n, 0.25, 0.015, "%s: tie fraction near 0.25", f);
        CHECK_NEAR((double)t.bothbad / t.ties, 0.5, 0.05, "%s: ties split between tie and tie (bothbad)", f);
        CHECK(t.increasing, "%s: tstamps strictly increasing", f);
        /* decisive outcomes follow the BT probabilities: sd of the sum is below sqrt(n)/2 */
        double decisive = (double)(t.n - t.ties);
        CHECK(fabs(t.won_a - t.expected_a) < 4 * sqrt(decisive) / 2, "%s: A wins %.0f times, BT expects %.0f", f,
              t.won_a, t.expected_a);
        if (formats[i] != RD_FORMAT_CSV)
            CHECK(t.meta_ok, "%s: question_id, judge, language, turn, anony present", f);
        if (i == 0) {
            long lo = t.count[0], hi = t.count[0], pairs = 0;
            for (int m = 0; m < 40; m++) {
                lo = t.count[m] < lo ? t.count[m] : lo;
                hi = t.count[m] > hi ? t.count[m] : hi;
                for (int k = m + 1; k < 40; k++)
                    pairs += t.pair[m][k] > 0;
            }
            CHECK(hi > 3 * lo, "popularity is uneven (%ld to %ld appearances)", lo, hi);
            CHECK(pairs == 40 * 39 / 2, "every pair occurs (%ld of 780)", pairs);
        }
        free(buf);
    }

    /* edge cases */
    synth_options none = {.models = 3, .votes = 0, .seed = 1, .ties = 0, .format = RD_FORMAT_JSON};
    size_t len;
    char *buf = generate(&none, &len);
    rd_stats st;
    CHECK(buf && rd_read_buffer(buf, len, "zero", NULL, NULL, NULL, &st, err, sizeof err) == 0 && st.records == 0,
          "zero votes: an empty array");
    free(buf);
    synth_options bad[] = {
        {.models = 1, .votes = 10, .ties = 0.1}, {.models = 5, .votes = -1, .ties = 0.1},
        {.models = 5, .votes = 10, .ties = 1.5}, {.models = 5, .votes = 10, .ties = NAN},
        {.models = 5, .votes = 10, .ties = 0.1, .format = (rd_format)9},
    };
    int all_rejected = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        all_rejected &= synth_write(stdout, &bad[i], err, sizeof err) == -1 && !strncmp(err, "synth: ", 7);
        all_rejected &= synth_true_ratings(&bad[i], r1, err, sizeof err) == -1;
    }
    CHECK(all_rejected, "invalid options are rejected with a message");
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        synth_options big = {.models = 5, .votes = 5000, .seed = 1, .ties = 0.1, .format = RD_FORMAT_CSV};
        CHECK(synth_write(full, &big, err, sizeof err) == -1 && strstr(err, "synth: write error"),
              "a full disk is a write error: %s", err);
        fclose(full);
    }
    return check_exit();
}
