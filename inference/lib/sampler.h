/* sampler.h: picks the next token from logits, as llama2.c run.c does: argmax at
 * temperature 0; otherwise softmax(logits / temperature) and either plain multinomial
 * sampling (top_p <= 0 or >= 1) or nucleus (top-p) sampling. Randomness comes from a
 * per-sampler xorshift64* state seeded by the request's seed, so the same seed gives
 * the same tokens (and the same tokens as run.c with -s SEED).
 *
 * Ownership: the sampler owns a scratch array of vocab_size entries allocated once by
 * smp_new(); smp_sample() allocates nothing. One sampler per sequence; not thread-safe. */
#ifndef SMP_SAMPLER_H
#define SMP_SAMPLER_H

#include <stdint.h>

typedef struct smp_sampler smp_sampler;

/* SEED 0 is replaced by 1 (xorshift needs a non-zero state). NULL when out of memory
 * or when vocab_size < 1. temperature < 0 is treated as 0. */
smp_sampler *smp_new(int vocab_size, float temperature, float top_p, uint64_t seed);
void smp_free(smp_sampler *s);

/* Samples one id in [0, vocab_size). LOGITS is scratch: it is overwritten (scaled and
 * turned into probabilities) unless the temperature is 0. */
int smp_sample(smp_sampler *s, float *logits);

/* Index of the largest value (the first one on ties). */
int smp_argmax(const float *x, int n);

#endif
