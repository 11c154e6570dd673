/* sampler.c: argmax, multinomial and top-p sampling with run.c's arithmetic and RNG. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

struct prob_index {
    float prob;
    int index;
};

struct smp_sampler {
    int vocab_size;
    float temperature, top_p;
    uint64_t rng;
    struct prob_index *candidates; /* [vocab_size], top-p scratch */
};

smp_sampler *smp_new(int vocab_size, float temperature, float top_p, uint64_t seed)
{
    if (vocab_size < 1)
        return NULL;
    smp_sampler *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->candidates = malloc((size_t)vocab_size * sizeof *s->candidates);
    if (!s->candidates) {
        free(s);
        return NULL;
    }
    s->vocab_size = vocab_size;
    s->temperature = temperature > 0 ? temperature : 0; /* also maps NaN to greedy */
    s->top_p = top_p;
    s->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    return s;
}

void smp_free(smp_sampler *s)
{
    if (!s)
        return;
    free(s->candidates);
    free(s);
}

/* xorshift64*, as run.c's random_u32 / random_f32. */
static uint32_t random_u32(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float random_f32(uint64_t *state) { return (float)(random_u32(state) >> 8) / 16777216.0f; }

int smp_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static void softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] /= sum;
}

static int sample_mult(const float *probs, int n, float coin)
{
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf)
            return i;
    }
    return n - 1; /* rounding */
}

static int cmp_prob_desc(const void *a, const void *b)
{
    float pa = ((const struct prob_index *)a)->prob, pb = ((const struct prob_index *)b)->prob;
    return pa > pb ? -1 : pa < pb ? 1 : 0;
}

/* Samples from the smallest set of most likely tokens whose probabilities exceed top_p. */
static int sample_top_p(smp_sampler *s, const float *probs, float coin)
{
    int n = s->vocab_size, n0 = 0;
    /* Tokens below this cannot be in the nucleus: cheaper sort (run.c's cutoff). */
    const float cutoff = n > 1 ? (1.0f - s->top_p) / (float)(n - 1) : 0.0f;
    for (int i = 0; i < n; i++)
        if (probs[i] >= cutoff)
            s->candidates[n0++] = (struct prob_index){probs[i], i};
    if (n0 == 0) /* every probability under the cutoff (near-uniform, tiny top_p) */
        return smp_argmax(probs, n);
    qsort(s->candidates, (size_t)n0, sizeof *s->candidates, cmp_prob_desc);
    float cumulative = 0.0f;
    int last = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cumulative += s->candidates[i].prob;
        if (cumulative > s->top_p) {
            last = i;
            break;
        }
    }
    float r = coin * cumulative;
    float cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += s->candidates[i].prob;
        if (r < cdf)
            return s->candidates[i].index;
    }
    return s->candidates[last].index; /* rounding */
}

int smp_sample(smp_sampler *s, float *logits)
{
    if (s->temperature == 0.0f)
        return smp_argmax(logits, s->vocab_size);
    for (int i = 0; i < s->vocab_size; i++)
        logits[i] /= s->temperature;
    softmax(logits, s->vocab_size);
    float coin = random_f32(&s->rng);
    if (s->top_p <= 0 || s->top_p >= 1)
        return sample_mult(logits, s->vocab_size, coin);
    return sample_top_p(s, logits, coin);
}
