/* battles.c: the battles accumulator (see battles.h). */
#include "battles.h"
#include "rt_errbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(rt_seq) == 16, "a sequence record is 16 bytes");

/* Counts of one unordered pair (lo < hi, interned indices), by outcome from lo's side. */
typedef struct pair_slot {
    uint64_t key;            /* (lo << 32 | hi) + 1; 0 = empty */
    uint64_t count[3];       /* RT_WIN_A: lo won, RT_WIN_B: hi won, RT_TIE */
} pair_slot;

struct rt_battles {
    rt_filter filter;
    char    **exclude;       /* copies of filter.exclude_models */

    char    **names;         /* interned, order of first appearance */
    size_t    n_names, cap_names;
    uint32_t *name_index;    /* open addressing: index + 1, 0 = empty */
    size_t    cap_name_index;

    pair_slot *pairs;
    size_t    n_pairs, cap_pairs;

    rt_seq   *seq;
    size_t    n_seq, cap_seq;

    rt_stats  stats;
};

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL;         /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;    /* murmur3 finaliser */
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

void rt_filter_default(rt_filter *f)
{
    memset(f, 0, sizeof *f);
    f->since = NAN;
    f->until = NAN;
}

rt_battles *rt_new(const rt_filter *filter, char *err, size_t errlen)
{
    rt_battles *acc = calloc(1, sizeof *acc);
    if (!acc) goto nomem;
    if (filter) acc->filter = *filter;
    else rt_filter_default(&acc->filter);
    if (acc->filter.n_exclude && !acc->filter.exclude_models) {
        rt_errf(err, errlen, "exclude list: %zu names but no array", acc->filter.n_exclude);
        goto err;
    }
    if (acc->filter.n_exclude) {
        acc->exclude = calloc(acc->filter.n_exclude, sizeof *acc->exclude);
        if (!acc->exclude) goto nomem;
        for (size_t i = 0; i < acc->filter.n_exclude; i++) {
            if (!acc->filter.exclude_models[i]) {
                rt_errf(err, errlen, "exclude list: name %zu is NULL", i);
                goto err;
            }
            if (!(acc->exclude[i] = strdup(acc->filter.exclude_models[i]))) goto nomem;
        }
    }
    acc->filter.exclude_models = (const char *const *)acc->exclude;
    return acc;
nomem:
    rt_errf(err, errlen, "out of memory");
err:
    rt_free(acc);
    return NULL;
}

void rt_free(rt_battles *acc)
{
    if (!acc) return;
    if (acc->exclude)
        for (size_t i = 0; i < acc->filter.n_exclude; i++) free(acc->exclude[i]);
    free(acc->exclude);
    for (size_t i = 0; i < acc->n_names; i++) free(acc->names[i]);
    free(acc->names);
    free(acc->name_index);
    free(acc->pairs);
    free(acc->seq);
    free(acc);
}

static int grow_name_index(rt_battles *acc)
{
    size_t cap = acc->cap_name_index ? acc->cap_name_index * 2 : 64;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx) return -1;
    for (size_t i = 0; i < acc->n_names; i++) {
        size_t h = hash_string(acc->names[i]) & (cap - 1);
        while (idx[h]) h = (h + 1) & (cap - 1);
        idx[h] = (uint32_t)i + 1;
    }
    free(acc->name_index);
    acc->name_index = idx;
    acc->cap_name_index = cap;
    return 0;
}

/* Index of name, interning it when new. -1 on no memory or too many models. */
static long intern(rt_battles *acc, const char *name)
{
    if (acc->cap_name_index) {
        size_t h = hash_string(name) & (acc->cap_name_index - 1);
        for (; acc->name_index[h]; h = (h + 1) & (acc->cap_name_index - 1))
            if (!strcmp(acc->names[acc->name_index[h] - 1], name)) return acc->name_index[h] - 1;
    }
    if (acc->n_names >= (1u << 30) - 1) return -1;    /* rt_seq.b has 30 bits */
    if ((acc->n_names + 1) * 2 > acc->cap_name_index && grow_name_index(acc) < 0) return -1;
    if (acc->n_names == acc->cap_names) {
        size_t cap = acc->cap_names ? acc->cap_names * 2 : 16;
        char **names = realloc(acc->names, cap * sizeof *names);
        if (!names) return -1;
        acc->names = names;
        acc->cap_names = cap;
    }
    char *copy = strdup(name);
    if (!copy) return -1;
    size_t h = hash_string(name) & (acc->cap_name_index - 1);
    while (acc->name_index[h]) h = (h + 1) & (acc->cap_name_index - 1);
    acc->name_index[h] = (uint32_t)acc->n_names + 1;
    acc->names[acc->n_names] = copy;
    return (long)acc->n_names++;
}

static int grow_pairs(rt_battles *acc)
{
    size_t cap = acc->cap_pairs ? acc->cap_pairs * 2 : 256;
    pair_slot *p = calloc(cap, sizeof *p);
    if (!p) return -1;
    for (size_t i = 0; i < acc->cap_pairs; i++) {
        if (!acc->pairs[i].key) continue;
        size_t h = hash_u64(acc->pairs[i].key) & (cap - 1);
        while (p[h].key) h = (h + 1) & (cap - 1);
        p[h] = acc->pairs[i];
    }
    free(acc->pairs);
    acc->pairs = p;
    acc->cap_pairs = cap;
    return 0;
}

/* The slot of pair (lo, hi), created when new. NULL on no memory. */
static pair_slot *pair_get(rt_battles *acc, uint32_t lo, uint32_t hi)
{
    uint64_t key = ((uint64_t)lo << 32 | hi) + 1;
    if ((acc->n_pairs + 1) * 2 > acc->cap_pairs && grow_pairs(acc) < 0) return NULL;
    size_t h = hash_u64(key) & (acc->cap_pairs - 1);
    for (; acc->pairs[h].key; h = (h + 1) & (acc->cap_pairs - 1))
        if (acc->pairs[h].key == key) return &acc->pairs[h];
    acc->pairs[h].key = key;
    acc->n_pairs++;
    return &acc->pairs[h];
}

static int excluded(const rt_battles *acc, const char *name)
{
    for (size_t i = 0; i < acc->filter.n_exclude; i++)
        if (!strcmp(acc->exclude[i], name)) return 1;
    return 0;
}

int rt_add(rt_battles *acc, const char *model_a, const char *model_b, rt_outcome outcome,
           double tstamp, int anony, char *err, size_t errlen)
{
    const rt_filter *f = &acc->filter;
    if (!model_a || !model_b) {
        rt_errf(err, errlen, "battle without a model name");
        return -1;
    }
    if ((unsigned)outcome > RT_TIE_BOTHBAD) {
        rt_errf(err, errlen, "unknown outcome %d", (int)outcome);
        return -1;
    }
    acc->stats.added++;
    int tie = outcome == RT_TIE || outcome == RT_TIE_BOTHBAD;
    if (!strcmp(model_a, model_b)) { acc->stats.self_battles++; return 0; }
    if (f->anony_only && anony != 1) { acc->stats.filtered_anony++; return 0; }
    if (f->exclude_ties && tie) { acc->stats.filtered_ties++; return 0; }
    if (!isnan(f->since) || !isnan(f->until)) {
        if (isnan(tstamp) || (!isnan(f->since) && tstamp < f->since) ||
            (!isnan(f->until) && tstamp >= f->until)) {
            acc->stats.filtered_time++;
            return 0;
        }
    }
    if (f->n_exclude && (excluded(acc, model_a) || excluded(acc, model_b))) {
        acc->stats.filtered_models++;
        return 0;
    }

    long ia = intern(acc, model_a), ib = ia < 0 ? -1 : intern(acc, model_b);
    if (ib < 0) goto nomem;
    if (f->keep_sequence && acc->n_seq == acc->cap_seq) {
        size_t cap = acc->cap_seq ? acc->cap_seq * 2 : 1024;
        rt_seq *s = realloc(acc->seq, cap * sizeof *s);
        if (!s) goto nomem;
        acc->seq = s;
        acc->cap_seq = cap;
    }
    uint32_t lo = (uint32_t)(ia < ib ? ia : ib), hi = (uint32_t)(ia < ib ? ib : ia);
    pair_slot *p = pair_get(acc, lo, hi);
    if (!p) goto nomem;
    int slot = tie ? RT_TIE : (outcome == RT_WIN_A) == (ia == lo) ? RT_WIN_A : RT_WIN_B;
    p->count[slot]++;
    if (f->keep_sequence)
        acc->seq[acc->n_seq++] = (rt_seq){ .tstamp = tstamp, .a = (uint32_t)ia, .b = (uint32_t)ib,
                                           .outcome = outcome };
    acc->stats.counted++;
    return 1;
nomem:
    rt_errf(err, errlen, "out of memory");
    return -1;
}

void rt_get_stats(const rt_battles *acc, rt_stats *out)
{
    *out = acc->stats;
}

/* ---- snapshot ---- */

static int triple_cmp(const void *x, const void *y)
{
    const rt_triple *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return (p->outcome > q->outcome) - (p->outcome < q->outcome);
}

typedef struct { double tstamp; size_t pos; } seq_key;

static int seq_key_cmp(const void *x, const void *y)
{
    const seq_key *p = x, *q = y;
    if (p->tstamp != q->tstamp) return p->tstamp < q->tstamp ? -1 : 1;
    return (p->pos > q->pos) - (p->pos < q->pos);
}

/* Stable sort by tstamp when every battle has one and they are not in order already. */
static int sort_sequence(rt_seq *seq, size_t n)
{
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        if (isnan(seq[i].tstamp)) return 0;
        if (i && seq[i].tstamp < seq[i - 1].tstamp) sorted = 0;
    }
    if (sorted) return 0;
    seq_key *keys = malloc(n * sizeof *keys);
    rt_seq *copy = malloc(n * sizeof *copy);
    if (!keys || !copy) {
        free(keys);
        free(copy);
        return -1;
    }
    for (size_t i = 0; i < n; i++) keys[i] = (seq_key){ seq[i].tstamp, i };
    qsort(keys, n, sizeof *keys, seq_key_cmp);
    memcpy(copy, seq, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) seq[i] = copy[keys[i].pos];
    free(keys);
    free(copy);
    return 0;
}

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Components by union-find over the triples, numbered in order of their first model. */
static int label_components(rt_data *d)
{
    uint32_t *parent = malloc((d->n_models ? d->n_models : 1) * sizeof *parent);
    if (!parent) return -1;
    for (size_t i = 0; i < d->n_models; i++) parent[i] = (uint32_t)i;
    for (size_t t = 0; t < d->n_triples; t++) {
        uint32_t x = uf_find(parent, d->triples[t].a), y = uf_find(parent, d->triples[t].b);
        if (x != y) parent[x > y ? x : y] = x < y ? x : y;   /* root = smallest index */
    }
    /* Roots are the smallest index of their set, so a root is met before its members. */
    d->n_components = 0;
    for (size_t i = 0; i < d->n_models; i++) {
        uint32_t r = uf_find(parent, (uint32_t)i);
        d->component[i] = r == i ? (uint32_t)d->n_components++ : d->component[r];
    }
    free(parent);
    return 0;
}

static rt_data *snapshot(const rt_battles *acc, int with_sequence, char *err, size_t errlen);

rt_data *rt_snapshot(const rt_battles *acc, char *err, size_t errlen)
{
    return snapshot(acc, acc->filter.keep_sequence, err, errlen);
}

rt_data *rt_snapshot_counts(const rt_battles *acc, char *err, size_t errlen)
{
    return snapshot(acc, 0, err, errlen);
}

const rt_seq *rt_sequence(const rt_battles *acc, size_t *n)
{
    *n = acc->n_seq;
    return acc->seq;
}

size_t rt_n_names(const rt_battles *acc) { return acc->n_names; }

const char *rt_name(const rt_battles *acc, size_t i) { return i < acc->n_names ? acc->names[i] : NULL; }

static rt_data *snapshot(const rt_battles *acc, int with_sequence, char *err, size_t errlen)
{
    size_t n = acc->n_names;
    uint64_t *raw_votes = calloc(n ? n : 1, sizeof *raw_votes);
    uint32_t *remap = malloc((n ? n : 1) * sizeof *remap);
    rt_data *d = calloc(1, sizeof *d);
    if (!raw_votes || !remap || !d) goto nomem;

    for (size_t s = 0; s < acc->cap_pairs; s++) {
        const pair_slot *p = &acc->pairs[s];
        if (!p->key) continue;
        uint64_t c = p->count[0] + p->count[1] + p->count[2];
        raw_votes[(p->key - 1) >> 32] += c;
        raw_votes[(p->key - 1) & 0xffffffffu] += c;
    }
    for (size_t i = 0; i < n; i++) {
        if (raw_votes[i] >= acc->filter.min_votes && raw_votes[i] > 0) remap[i] = (uint32_t)d->n_models++;
        else { remap[i] = UINT32_MAX; d->dropped_models++; }
    }

    size_t m = d->n_models;
    d->names = calloc(m ? m : 1, sizeof *d->names);
    d->votes = calloc(m ? m : 1, sizeof *d->votes);
    d->component = calloc(m ? m : 1, sizeof *d->component);
    d->triples = malloc((acc->n_pairs ? acc->n_pairs : 1) * 3 * sizeof *d->triples);
    if (!d->names || !d->votes || !d->component || !d->triples) goto nomem;
    for (size_t i = 0; i < n; i++)
        if (remap[i] != UINT32_MAX && !(d->names[remap[i]] = strdup(acc->names[i]))) goto nomem;

    for (size_t s = 0; s < acc->cap_pairs; s++) {
        const pair_slot *p = &acc->pairs[s];
        if (!p->key) continue;
        uint32_t lo = remap[(p->key - 1) >> 32], hi = remap[(p->key - 1) & 0xffffffffu];
        if (lo == UINT32_MAX || hi == UINT32_MAX) continue;
        for (uint32_t o = 0; o < 3; o++) {
            if (!p->count[o]) continue;
            d->triples[d->n_triples++] = (rt_triple){ .a = lo, .b = hi, .outcome = o, .count = p->count[o] };
            d->votes[lo] += p->count[o];
            d->votes[hi] += p->count[o];
            d->n_battles += p->count[o];
        }
    }
    qsort(d->triples, d->n_triples, sizeof *d->triples, triple_cmp);

    if (with_sequence) {
        d->seq = malloc((acc->n_seq ? acc->n_seq : 1) * sizeof *d->seq);
        if (!d->seq) goto nomem;
        if (!d->dropped_models && acc->n_seq) {   /* indices unchanged: a plain copy */
            memcpy(d->seq, acc->seq, acc->n_seq * sizeof *d->seq);
            d->n_seq = acc->n_seq;
        }
        for (size_t i = 0; d->dropped_models && i < acc->n_seq; i++) {
            rt_seq s = acc->seq[i];
            if (remap[s.a] == UINT32_MAX || remap[s.b] == UINT32_MAX) continue;
            s.a = remap[s.a];
            s.b = remap[s.b];
            d->seq[d->n_seq++] = s;
        }
        if (sort_sequence(d->seq, d->n_seq) < 0) goto nomem;
    }
    if (label_components(d) < 0) goto nomem;
    free(raw_votes);
    free(remap);
    return d;
nomem:
    rt_errf(err, errlen, "out of memory");
    free(raw_votes);
    free(remap);
    rt_data_free(d);
    return NULL;
}

void rt_data_free(rt_data *d)
{
    if (!d) return;
    if (d->names)
        for (size_t i = 0; i < d->n_models; i++) free(d->names[i]);
    free(d->names);
    free(d->votes);
    free(d->triples);
    free(d->seq);
    free(d->component);
    free(d);
}

long rt_find(const rt_data *d, const char *name)
{
    for (size_t i = 0; i < d->n_models; i++)
        if (!strcmp(d->names[i], name)) return (long)i;
    return -1;
}

char *rt_component_names(const rt_data *d, size_t c, char *buf, size_t buflen)
{
    if (!buflen) return buf;
    size_t len = 0;
    int first = 1;
    buf[0] = 0;
    for (size_t i = 0; i < d->n_models && len < buflen; i++) {
        if (d->component[i] != c) continue;
        int w = snprintf(buf + len, buflen - len, "%s%s", first ? "{" : ", ", d->names[i]);
        if (w < 0) break;
        len += (size_t)w;
        first = 0;
    }
    if (len < buflen) snprintf(buf + len, buflen - len, "}");
    return buf;
}
