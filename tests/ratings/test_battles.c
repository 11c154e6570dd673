/* The battles accumulator: interning, filters, snapshot, sequence order, components. */
#include <math.h>
#include <string.h>
#include "../check.h"
#include "battles.h"

static char err[256];

static void add(rt_battles *acc, const char *a, const char *b, rt_outcome o, double ts, int anony)
{
    if (rt_add(acc, a, b, o, ts, anony, err, sizeof err) < 0) printf("# rt_add: %s\n", err);
}

static uint64_t pair_count(const rt_data *d, const char *a, const char *b, rt_outcome o)
{
    long ia = rt_find(d, a), ib = rt_find(d, b);
    if (ia < 0 || ib < 0) return 0;
    if (ia > ib) {                                  /* stored from the lower index's side */
        long t = ia; ia = ib; ib = t;
        o = o == RT_WIN_A ? RT_WIN_B : o == RT_WIN_B ? RT_WIN_A : o;
    }
    for (size_t t = 0; t < d->n_triples; t++)
        if (d->triples[t].a == (uint32_t)ia && d->triples[t].b == (uint32_t)ib && d->triples[t].outcome == (uint32_t)o)
            return d->triples[t].count;
    return 0;
}

static void test_basic(void)
{
    rt_filter f;
    rt_filter_default(&f);
    f.keep_sequence = 1;
    rt_battles *acc = rt_new(&f, err, sizeof err);
    add(acc, "x", "y", RT_WIN_A, 3, 1);
    add(acc, "y", "x", RT_WIN_A, 1, 1);           /* y beats x */
    add(acc, "x", "y", RT_TIE_BOTHBAD, 2, 0);
    add(acc, "x", "x", RT_TIE, 4, 1);             /* self-battle: never counted */
    add(acc, "z", "w", RT_WIN_B, 5, 1);
    CHECK(rt_add(acc, "x", "y", (rt_outcome)7, 1, 1, err, sizeof err) == -1, "bad outcome rejected: %s", err);
    rt_data *d = rt_snapshot(acc, err, sizeof err);
    CHECK(d != NULL, "snapshot");
    if (!d) return;
    CHECK(d->n_models == 4 && !strcmp(d->names[0], "x") && !strcmp(d->names[1], "y") && !strcmp(d->names[2], "z"),
          "models in order of first appearance");
    CHECK(d->n_battles == 4, "four battles counted (%llu)", (unsigned long long)d->n_battles);
    CHECK(d->votes[0] == 3 && d->votes[1] == 3 && d->votes[2] == 1 && d->votes[3] == 1, "votes per model");
    CHECK(pair_count(d, "x", "y", RT_WIN_A) == 1 && pair_count(d, "y", "x", RT_WIN_A) == 1 &&
          pair_count(d, "x", "y", RT_TIE) == 1, "pair counts, both tie kinds merged");
    CHECK(pair_count(d, "w", "z", RT_WIN_A) == 1, "z-w counted from the lower index's side");
    CHECK(d->n_components == 2 && d->component[0] == 0 && d->component[1] == 0 && d->component[2] == 1 &&
          d->component[3] == 1, "two components");
    char buf[64];
    CHECK(!strcmp(rt_component_names(d, 1, buf, sizeof buf), "{z, w}"), "component names %s", buf);
    CHECK(rt_component_names(d, 0, buf, 4) && strlen(buf) == 3, "component names truncated safely");
    CHECK(d->n_seq == 4 && d->seq[0].tstamp == 1 && d->seq[1].tstamp == 2 && d->seq[2].tstamp == 3 &&
          d->seq[3].tstamp == 5, "sequence sorted by tstamp");
    CHECK(d->seq[0].a == 1 && d->seq[0].b == 0 && d->seq[0].outcome == RT_WIN_A &&
          d->seq[1].outcome == RT_TIE_BOTHBAD, "sequence keeps sides and tie kind");
    CHECK(rt_find(d, "w") == 3 && rt_find(d, "nobody") == -1, "rt_find");
    rt_stats st;
    rt_get_stats(acc, &st);
    CHECK(st.added == 5 && st.counted == 4 && st.self_battles == 1, "stats");

    /* Incremental: the snapshot does not move, a new one sees the new vote. */
    add(acc, "w", "x", RT_WIN_A, 0.5, 1);
    rt_data *d2 = rt_snapshot(acc, err, sizeof err);
    CHECK(d->n_battles == 4 && d2 && d2->n_battles == 5 && d2->n_components == 1, "add after snapshot");
    CHECK(d2 && d2->seq[0].tstamp == 0.5, "new battle sorted first");
    rt_data_free(d2);
    rt_data_free(d);
    rt_free(acc);
}

static void test_filters(void)
{
    const char *excl[] = { "bad" };
    rt_filter f;
    rt_filter_default(&f);
    f.anony_only = 1;
    f.exclude_ties = 1;
    f.exclude_models = excl;
    f.n_exclude = 1;
    f.since = 10;
    f.until = 20;
    rt_battles *acc = rt_new(&f, err, sizeof err);
    add(acc, "a", "b", RT_WIN_A, 15, 1);          /* kept */
    add(acc, "a", "b", RT_WIN_A, 15, 0);          /* not anonymous */
    add(acc, "a", "b", RT_WIN_A, 15, -1);         /* unknown anony */
    add(acc, "a", "b", RT_TIE, 15, 1);            /* tie */
    add(acc, "a", "bad", RT_WIN_A, 15, 1);        /* excluded model */
    add(acc, "a", "b", RT_WIN_A, 9, 1);           /* before since */
    add(acc, "a", "b", RT_WIN_A, 20, 1);          /* until is exclusive */
    add(acc, "a", "b", RT_WIN_A, NAN, 1);         /* no tstamp under a time filter */
    rt_stats st;
    rt_get_stats(acc, &st);
    CHECK(st.counted == 1 && st.filtered_anony == 2 && st.filtered_ties == 1 && st.filtered_models == 1 &&
          st.filtered_time == 3, "filter counters");
    rt_data *d = rt_snapshot(acc, err, sizeof err);
    CHECK(d && d->n_models == 2 && d->n_battles == 1 && rt_find(d, "bad") < 0, "only the kept battle");
    CHECK(d && !d->seq && d->n_seq == 0, "no sequence unless asked");
    rt_data_free(d);
    rt_free(acc);

    rt_filter_default(&f);
    f.min_votes = 3;
    f.keep_sequence = 1;
    acc = rt_new(&f, err, sizeof err);
    for (int i = 0; i < 3; i++) add(acc, "p", "q", RT_WIN_A, NAN, 1);
    add(acc, "p", "rare", RT_WIN_B, NAN, 1);
    add(acc, "q", "p", RT_WIN_A, NAN, 1);
    d = rt_snapshot(acc, err, sizeof err);
    CHECK(d && d->n_models == 2 && d->dropped_models == 1 && rt_find(d, "rare") < 0, "min_votes drops rare");
    CHECK(d && d->votes[0] == 4 && d->votes[1] == 4 && d->n_battles == 4, "votes recounted after the drop");
    CHECK(d && d->n_seq == 4 && d->seq[3].a == 1, "sequence without tstamps keeps arrival order");
    rt_data_free(d);
    rt_free(acc);

    rt_filter_default(&f);
    f.n_exclude = 2;
    CHECK(rt_new(&f, err, sizeof err) == NULL, "bad exclude list: %s", err);
    acc = rt_new(NULL, err, sizeof err);
    d = rt_snapshot(acc, err, sizeof err);
    CHECK(d && d->n_models == 0 && d->n_battles == 0 && d->n_components == 0, "empty snapshot");
    rt_data_free(d);
    rt_free(acc);
}

int main(void)
{
    test_basic();
    test_filters();
    return check_exit();
}
