/* test_sampler.c: argmax, seeded reproducibility, multinomial frequencies, top-p edges. */
#include "../check.h"
#include "sampler.h"

#include <math.h>
#include <string.h>

/* Samples N times from fresh copies of LOGITS; counts per token into COUNTS. */
static void histogram(smp_sampler *s, const float *logits, int vocab, int n, int *counts)
{
    float scratch[16];
    memset(counts, 0, (size_t)vocab * sizeof *counts);
    for (int i = 0; i < n; i++) {
        memcpy(scratch, logits, (size_t)vocab * sizeof *scratch);
        int id = smp_sample(s, scratch);
        if (id >= 0 && id < vocab)
            counts[id]++;
    }
}

int main(void)
{
    const float probs[3] = {0.5f, 0.3f, 0.2f};
    float logits[3];
    for (int i = 0; i < 3; i++)
        logits[i] = logf(probs[i]);
    int counts[16];

    smp_sampler *greedy = smp_new(4, 0.0f, 0.9f, 1);
    CHECK(smp_sample(greedy, (float[]){1, 3, 3, 2}) == 1, "temperature 0: argmax, first of ties");
    smp_free(greedy);
    CHECK(smp_argmax((const float[]){-5, -1, -3}, 3) == 1, "argmax of negatives");

    /* Same seed, same draws; another seed, other draws. */
    smp_sampler *a = smp_new(3, 1.0f, 0.0f, 42), *b = smp_new(3, 1.0f, 0.0f, 42), *c = smp_new(3, 1.0f, 0.0f, 43);
    int same = 1, differ = 0;
    for (int i = 0; i < 200; i++) {
        float la[3], lb[3], lc[3];
        memcpy(la, logits, sizeof la);
        memcpy(lb, logits, sizeof lb);
        memcpy(lc, logits, sizeof lc);
        int x = smp_sample(a, la), y = smp_sample(b, lb), z = smp_sample(c, lc);
        same &= x == y;
        differ |= x != z;
    }
    CHECK(same, "same seed gives the same draws");
    CHECK(differ, "another seed gives other draws");
    smp_free(b);
    smp_free(c);

    histogram(a, logits, 3, 30000, counts);
    CHECK(fabs(counts[0] / 30000.0 - 0.5) < 0.02 && fabs(counts[1] / 30000.0 - 0.3) < 0.02 &&
              fabs(counts[2] / 30000.0 - 0.2) < 0.02,
          "multinomial frequencies %d %d %d", counts[0], counts[1], counts[2]);
    smp_free(a);

    /* Temperature sharpens: at 0.25, p0 = 0.5^4 / (0.5^4 + 0.3^4 + 0.2^4) ~ 0.87. */
    smp_sampler *cold = smp_new(3, 0.25f, 0.0f, 9);
    histogram(cold, logits, 3, 20000, counts);
    CHECK(fabs(counts[0] / 20000.0 - 0.0625 / (0.0625 + 0.0081 + 0.0016)) < 0.02, "temperature 0.25: p0 %d/20000", counts[0]);
    smp_free(cold);

    /* Top-p 0.6: 0.5 alone does not exceed 0.6, so the nucleus is {0, 1}. */
    smp_sampler *nucleus = smp_new(3, 1.0f, 0.6f, 5);
    histogram(nucleus, logits, 3, 20000, counts);
    CHECK(counts[2] == 0 && fabs(counts[0] / 20000.0 - 0.625) < 0.02, "top-p 0.6 keeps {0, 1}: %d %d %d",
          counts[0], counts[1], counts[2]);
    smp_free(nucleus);

    smp_sampler *tiny = smp_new(3, 1.0f, 1e-6f, 5);
    histogram(tiny, logits, 3, 1000, counts);
    CHECK(counts[0] == 1000, "tiny top-p is greedy");
    /* Uniform probabilities under a tiny top-p: every one is below the cutoff. */
    float uniform[8] = {0};
    smp_free(tiny);
    tiny = smp_new(8, 1.0f, 1e-6f, 5);
    histogram(tiny, uniform, 8, 100, counts);
    CHECK(counts[0] == 100, "uniform logits with tiny top-p fall back to argmax");
    smp_free(tiny);

    smp_sampler *full = smp_new(3, 1.0f, 1.0f, 5);
    histogram(full, logits, 3, 20000, counts);
    CHECK(counts[2] > 3000, "top-p 1 is plain multinomial (%d draws of the least likely)", counts[2]);
    smp_free(full);

    smp_sampler *one = smp_new(1, 1.0f, 0.9f, 5);
    histogram(one, (const float[]){2.0f}, 1, 50, counts);
    CHECK(counts[0] == 50, "vocabulary of one");
    smp_free(one);

    smp_sampler *nan = smp_new(3, 1.0f, 0.9f, 5);
    histogram(nan, (const float[]){NAN, 1, 2}, 3, 50, counts);
    CHECK(counts[0] + counts[1] + counts[2] == 50, "NaN logits still give an id in range");
    smp_free(nan);

    CHECK(smp_new(0, 1.0f, 0.9f, 1) == NULL, "empty vocabulary refused");
    smp_sampler *zero_seed = smp_new(3, 1.0f, 0.0f, 0);
    histogram(zero_seed, logits, 3, 3000, counts);
    CHECK(counts[0] > 1000 && counts[1] > 500 && counts[2] > 300, "seed 0 still draws randomly");
    smp_free(zero_seed);
    return check_exit();
}
