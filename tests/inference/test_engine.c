/* test_engine.c: the C kernels against naive double-precision versions, and the batched
 * step against one-sequence-at-a-time stepping (several sequences at different positions,
 * prompts fed several rows at once, two threads), plus the step's error cases. */
#include "../check.h"
#include "engine.h"
#include "kernels.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float frand(void) { return (float)rand() / (float)RAND_MAX * 2.0f - 1.0f; }

static void test_kernels(void)
{
    srand(1);
    int bad = 0;
    for (int round = 0; round < 200; round++) {
        int rows = 1 + rand() % 5, in = 1 + rand() % 40, out = 1 + rand() % 13;
        int begin = rand() % out, end = begin + 1 + rand() % (out - begin);
        float x[5 * 40], w[13 * 40], y[5 * 13];
        for (int i = 0; i < rows * in; i++)
            x[i] = frand();
        for (int i = 0; i < out * in; i++)
            w[i] = frand();
        for (int i = 0; i < rows * out; i++)
            y[i] = 1234.0f;
        inf_matmul(y, x, w, rows, in, out, begin, end);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out; o++) {
                double want = 1234.0;
                if (o >= begin && o < end) {
                    want = 0;
                    for (int i = 0; i < in; i++)
                        want += (double)w[o * in + i] * x[r * in + i];
                }
                bad += fabs(y[r * out + o] - want) > 1e-5;
            }
    }
    CHECK(bad == 0, "matmul matches double precision on its output range only");

    /* Each row's outputs are bit-identical whatever the batch: alone, or at any place of
     * a batch of up to 15 rows (every block height of every kernel, and the tails of IN
     * and of the outputs). */
    enum { MAX_ROWS = 15, MAX_IN = 180, OUTS = 11 };
    static float bx[MAX_ROWS * MAX_IN], bw[OUTS * MAX_IN], by[MAX_ROWS * OUTS];
    bad = 0;
    for (int in = 1; in <= MAX_IN; in += 7) {
        for (int i = 0; i < MAX_ROWS * in; i++)
            bx[i] = frand();
        for (int i = 0; i < OUTS * in; i++)
            bw[i] = frand();
        for (int rows = 1; rows <= MAX_ROWS; rows++) {
            inf_matmul(by, bx, bw, rows, in, OUTS, 0, OUTS);
            for (int r = 0; r < rows; r++) {
                float alone[OUTS];
                inf_matmul(alone, bx + r * in, bw, 1, in, OUTS, 0, OUTS);
                bad += memcmp(alone, by + r * OUTS, sizeof alone) != 0;
            }
        }
    }
    CHECK(bad == 0, "matmul rows are bit-identical alone and in batches of 1 to %d", MAX_ROWS);

    float v[37], sum = 0;
    for (int i = 0; i < 37; i++)
        v[i] = frand() * 30;
    v[5] = -1e4f; /* far below the maximum: exactly 0 */
    inf_softmax(v, 37);
    for (int i = 0; i < 37; i++)
        sum += v[i];
    CHECK_NEAR(sum, 1.0, 1e-5, "softmax sums to 1");
    CHECK(v[5] == 0.0f, "softmax underflow gives 0");

    float x[2 * 24], g[24], o[2 * 24];
    for (int i = 0; i < 48; i++)
        x[i] = frand();
    for (int i = 0; i < 24; i++)
        g[i] = frand();
    inf_rmsnorm(o, x, g, 2, 24);
    bad = 0;
    for (int r = 0; r < 2; r++) {
        double ss = 0;
        for (int i = 0; i < 24; i++)
            ss += (double)x[r * 24 + i] * x[r * 24 + i];
        double scale = 1 / sqrt(ss / 24 + 1e-5);
        for (int i = 0; i < 24; i++)
            bad += fabs(o[r * 24 + i] - g[i] * scale * x[r * 24 + i]) > 1e-5;
    }
    CHECK(bad == 0, "rmsnorm");

    float table[4 * 8], q[16], q0[16];
    inf_rope_table(table, 4, 8);
    for (int i = 0; i < 16; i++)
        q[i] = q0[i] = frand();
    inf_rope(q, 16, 8, table); /* position 0: identity */
    CHECK(!memcmp(q, q0, sizeof q), "rope at position 0 is the identity");
    inf_rope(q, 16, 8, table + 3 * 8);
    CHECK_NEAR(hypotf(q[2], q[3]), hypotf(q0[2], q0[3]), 1e-6, "rope preserves pair norms");
    CHECK_NEAR(atan2f(q[1], q[0]) - atan2f(q0[1], q0[0]), remainder(3.0, 2 * M_PI), 1e-5, "rope angle of pair 0 at position 3");

    /* Attention with the key cache transposed: 6-, 8- and 16-wide heads, over position
     * counts that take every path (blocks of 32 and 8 positions, scalar tails). */
    static const int counts[] = {1, 7, 19, 40, 77};
    for (int hs = 6; hs <= 16; hs += hs == 6 ? 2 : 8)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            enum { MAX_N = 77, STRIDE = 80, VSTRIDE = 20 };
            const int n = counts[c];
            float keys[16 * STRIDE], values[MAX_N * VSTRIDE], qv[16], att[MAX_N], out[16];
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                keys[i] = frand();
            for (size_t i = 0; i < sizeof values / sizeof *values; i++)
                values[i] = frand();
            for (int i = 0; i < hs; i++)
                qv[i] = frand() * 3;
            inf_attention_head(out, qv, keys, STRIDE, values, VSTRIDE, n, hs, att);
            double s[MAX_N], max = -1e30, total = 0;
            for (int t = 0; t < n; t++) {
                s[t] = 0;
                for (int i = 0; i < hs; i++)
                    s[t] += (double)qv[i] * keys[i * STRIDE + t];
                s[t] /= sqrt(hs);
                max = fmax(max, s[t]);
            }
            for (int t = 0; t < n; t++)
                total += s[t] = exp(s[t] - max);
            bad = 0;
            for (int i = 0; i < hs; i++) {
                double want = 0;
                for (int t = 0; t < n; t++)
                    want += s[t] / total * values[t * VSTRIDE + i];
                bad += fabs(out[i] - want) > 1e-5;
            }
            CHECK(bad == 0, "attention head of width %d over %d positions", hs, n);
        }

    /* Heads that share keys and values, taken together, give each head's own result. */
    bad = 0;
    for (int n_heads = 1; n_heads <= 3; n_heads++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            enum { HS = 8, MAX_N = 77, STRIDE = 80, VSTRIDE = 20 };
            const int n = counts[c];
            float keys[HS * STRIDE], values[MAX_N * VSTRIDE], qv[3 * HS], att[3 * MAX_N];
            float together[3 * HS], alone[HS];
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                keys[i] = frand();
            for (size_t i = 0; i < sizeof values / sizeof *values; i++)
                values[i] = frand();
            for (int i = 0; i < n_heads * HS; i++)
                qv[i] = frand() * 3;
            inf_attention_heads(together, qv, n_heads, keys, STRIDE, values, VSTRIDE, n, HS, att);
            for (int h = 0; h < n_heads; h++) {
                inf_attention_head(alone, qv + h * HS, keys, STRIDE, values, VSTRIDE, n, HS, att);
                bad += memcmp(alone, together + h * HS, sizeof alone) != 0;
            }
        }
    CHECK(bad == 0, "grouped attention heads are bit-identical to one call per head");

    float h[10], gate[10];
    for (int i = 0; i < 10; i++)
        h[i] = frand() * 4, gate[i] = frand();
    float h0 = h[3];
    inf_swiglu(h, gate, 10);
    CHECK_NEAR(h[3], h0 / (1 + exp(-h0)) * gate[3], 1e-6, "swiglu");
}

static float max_diff(const float *a, const float *b, int n)
{
    float d = 0;
    for (int i = 0; i < n; i++)
        d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

static int history_token(int seq, int t) { return 3 + (seq * 31 + t * 17) % 500; }

static void test_batch(const inf_model *m)
{
    char err[256];
    const int vocab = inf_model_config(m)->vocab_size;
    enum { SEQS = 6 };
    inf_engine *one = inf_engine_new(m, &(inf_engine_opts){.max_batch = 1, .threads = 1}, err, sizeof err);
    inf_engine *many = inf_engine_new(m, &(inf_engine_opts){.max_batch = 40, .threads = 2}, err, sizeof err);
    CHECK(one && many, "engines");
    if (!one || !many)
        return;
    inf_seq *ref = inf_seq_new(one), *seqs[SEQS];
    for (int s = 0; s < SEQS; s++)
        seqs[s] = inf_seq_new(many);
    float *logits[40];

    /* Histories of different lengths: some fed as multi-row prefill, some one per step. */
    int len[SEQS];
    for (int s = 0; s < SEQS; s++) {
        len[s] = 2 + 7 * s;
        if (s % 2) {
            int tokens[40];
            inf_seq *rows[40];
            for (int t = 0; t < len[s]; t++)
                tokens[t] = history_token(s, t), rows[t] = seqs[s];
            CHECK(inf_engine_step(many, rows, tokens, len[s], logits) == 0, "prefill %d rows", len[s]);
        } else {
            for (int t = 0; t < len[s]; t++)
                inf_engine_step(many, &seqs[s], (int[]){history_token(s, t)}, 1, logits);
        }
        CHECK(inf_seq_pos(seqs[s]) == len[s], "sequence %d at position %d", s, len[s]);
    }
    /* One step for all, sequence 3 with two rows. */
    inf_seq *rows[SEQS + 1];
    int tokens[SEQS + 1], row_seq[SEQS + 1], n = 0;
    for (int s = 0; s < SEQS; s++) {
        int k = s == 3 ? 2 : 1;
        for (int j = 0; j < k; j++) {
            rows[n] = seqs[s];
            row_seq[n] = s;
            tokens[n++] = history_token(s, len[s] + j);
        }
    }
    CHECK(inf_engine_step(many, rows, tokens, n, logits) == 0, "batched step of %d rows", n);
    float *batched = malloc((size_t)n * vocab * sizeof *batched);
    for (int i = 0; i < n; i++)
        memcpy(batched + (size_t)i * vocab, logits[i], (size_t)vocab * sizeof *batched);

    /* The same histories one token at a time on a batch-1 engine. */
    for (int i = 0; i < n; i++) {
        int s = row_seq[i], upto = len[s] + (i > 0 && row_seq[i - 1] == s ? 1 : 0);
        inf_seq_reset(ref);
        float *l = NULL;
        for (int t = 0; t <= upto; t++) {
            float *lp[1];
            inf_engine_step(one, &ref, (int[]){history_token(s, t)}, 1, lp);
            l = lp[0];
        }
        float d = max_diff(batched + (size_t)i * vocab, l, vocab);
        CHECK(d <= 1e-5f, "row %d (sequence %d at position %d): batched = single (max diff %g)", i, s, upto, d);
    }
    free(batched);

    /* Errors leave the sequences where they were. */
    int pos0 = inf_seq_pos(seqs[0]);
    CHECK(inf_engine_step(many, rows, tokens, 0, logits) == -1, "0 rows refused: %s", inf_engine_error(many));
    CHECK(inf_engine_step(many, rows, tokens, 41, logits) == -1, "41 rows refused: %s", inf_engine_error(many));
    CHECK(inf_engine_step(many, seqs, (int[]){5, vocab}, 2, logits) == -1 && strstr(inf_engine_error(many), "vocabulary"),
          "token outside the vocabulary refused: %s", inf_engine_error(many));
    inf_seq *split[3] = {seqs[0], seqs[1], seqs[0]};
    CHECK(inf_engine_step(many, split, (int[]){5, 6, 7}, 3, logits) == -1 && strstr(inf_engine_error(many), "adjacent"),
          "rows of a sequence apart refused: %s", inf_engine_error(many));
    CHECK(inf_engine_step(one, &seqs[0], (int[]){5}, 1, logits) == -1, "sequence of another engine refused");
    CHECK(inf_seq_pos(seqs[0]) == pos0 && inf_seq_pos(seqs[1]) == len[1] + 1, "failed steps move nothing");

    /* Running past the context. */
    const int seq_len = inf_model_config(m)->seq_len;
    inf_seq_reset(ref);
    int filled = 0;
    while (filled < seq_len && inf_engine_step(one, &ref, (int[]){7}, 1, logits) == 0)
        filled++;
    CHECK(filled == seq_len && inf_engine_step(one, &ref, (int[]){7}, 1, logits) == -1 &&
              strstr(inf_engine_error(one), "context"),
          "step %d past seq_len refused: %s", seq_len, inf_engine_error(one));

    inf_seq_free(ref);
    for (int s = 0; s < SEQS; s++)
        inf_seq_free(seqs[s]);
    inf_engine_free(one);
    inf_engine_free(many);
}

int main(void)
{
    test_kernels();
    char err[256];
    inf_model *m = inf_model_open("models/stories260K.bin", err, sizeof err);
    CHECK(m != NULL, "open stories260K: %s", m ? "" : err);
    if (!m)
        return check_exit();
    test_batch(m);
    inf_engine *e = inf_engine_new(m, &(inf_engine_opts){.max_batch = -1}, err, sizeof err);
    CHECK(!e && strstr(err, "batch"), "bad batch size: %s", err);
    e = inf_engine_new(m, &(inf_engine_opts){.device = INF_DEVICE_CUDA}, err, sizeof err);
    CHECK(e || strstr(err, "CUDA"), "CUDA engine, or a clear message without it: %s", e ? "built with CUDA" : err);
    inf_engine_free(e);
    inf_model_close(m);
    return check_exit();
}
