/* test_model.c: checkpoint validation: the shipped models load with the right shapes;
 * truncated, padded and nonsensical checkpoints are refused with a message naming the file. */
#include "../check.h"
#include "files.h"
#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens a copy of BASE with header field FIELD set to VALUE; 1 when refused with a
 * message that contains WANT. */
static int refused_with(const unsigned char *base, size_t size, int field, int32_t value, const char *want)
{
    unsigned char *copy = malloc(size);
    memcpy(copy, base, size);
    memcpy(copy + 4 * field, &value, 4);
    char err[512] = "";
    inf_model *m = inf_model_open_buffer(copy, size, "bad.bin", err, sizeof err);
    int ok = !m && strstr(err, "bad.bin") && strstr(err, want);
    if (!ok)
        printf("# field %d = %d: '%s'\n", field, (int)value, err);
    inf_model_close(m);
    free(copy);
    return ok;
}

int main(void)
{
    char err[512];
    static const struct {
        const char *path;
        int dim, hidden, layers, heads, kv_heads, vocab, seq_len;
    } shipped[] = {
        {"models/stories260K.bin", 64, 172, 5, 8, 4, 512, 512},
        {"models/babyllama105.bin", 128, 352, 5, 8, 4, 105, 256},
        {"models/llama2xs.bin", 64, 192, 5, 8, 4, 512, 256},
    };
    for (size_t i = 0; i < sizeof shipped / sizeof *shipped; i++) {
        inf_model *m = inf_model_open(shipped[i].path, err, sizeof err);
        CHECK(m != NULL, "open %s", shipped[i].path);
        if (!m)
            continue;
        const inf_config *c = inf_model_config(m);
        CHECK(c->dim == shipped[i].dim && c->hidden_dim == shipped[i].hidden && c->n_layers == shipped[i].layers &&
                  c->n_heads == shipped[i].heads && c->n_kv_heads == shipped[i].kv_heads &&
                  c->vocab_size == shipped[i].vocab && c->seq_len == shipped[i].seq_len,
              "%s header", shipped[i].path);
        CHECK(c->shared_classifier && inf_model_weights(m)->wcls == inf_model_weights(m)->token_embedding &&
                  c->kv_dim == c->dim / 2 && c->head_size == c->dim / c->n_heads,
              "%s derived shapes", shipped[i].path);
        CHECK(!strcmp(inf_model_name(m), shipped[i].path), "%s name", shipped[i].path);
        inf_model_close(m);
    }

    CHECK(!inf_model_open("models/none.bin", err, sizeof err) && strstr(err, "models/none.bin"),
          "missing file: %s", err);
    CHECK(!inf_model_open("models", err, sizeof err) && strstr(err, "models"), "directory: %s", err);

    size_t size;
    unsigned char *bytes = slurp("models/stories260K.bin", &size);
    CHECK(bytes != NULL, "read stories260K.bin");
    if (!bytes)
        return check_exit();

    /* Every truncation point in the header, and a sample of the rest. */
    int bad = 0;
    for (size_t cut = 0; cut < size; cut += cut < 64 ? 1 : 4093) {
        inf_model *m = inf_model_open_buffer(bytes, cut, "cut.bin", err, sizeof err);
        bad += m != NULL || !strstr(err, "cut.bin");
        inf_model_close(m);
    }
    CHECK(bad == 0, "truncated checkpoints are refused");
    inf_model_open_buffer(bytes, size - 1, "cut.bin", err, sizeof err);
    CHECK(strstr(err, "truncated") && strstr(err, "1056540") && strstr(err, "1056539"),
          "truncation says expected and actual bytes: %s", err);
    inf_model_open_buffer(bytes, 10, "cut.bin", err, sizeof err);
    CHECK(strstr(err, "header") != NULL, "shorter than the header: %s", err);
    {
        unsigned char *longer = calloc(1, size + 4);
        memcpy(longer, bytes, size);
        inf_model *m = inf_model_open_buffer(longer, size + 4, "long.bin", err, sizeof err);
        CHECK(!m && strstr(err, "trailing") && strstr(err, "1056544"), "extra bytes are refused: %s", err);
        free(longer);
    }

    /* Header values. */
    CHECK(refused_with(bytes, size, 0, 0, "dim"), "dim 0");
    CHECK(refused_with(bytes, size, 0, -64, "dim"), "negative dim");
    CHECK(refused_with(bytes, size, 0, 0x7fffffff, "dim"), "absurd dim");
    CHECK(refused_with(bytes, size, 1, -1, "hidden_dim"), "negative hidden_dim");
    CHECK(refused_with(bytes, size, 2, 0, "n_layers"), "no layers");
    CHECK(refused_with(bytes, size, 2, 1 << 30, "n_layers"), "absurd n_layers");
    CHECK(refused_with(bytes, size, 3, 7, "multiple of n_heads"), "dim not a multiple of n_heads");
    CHECK(refused_with(bytes, size, 3, 128, "n_heads"), "more heads than dim");
    CHECK(refused_with(bytes, size, 4, 3, "multiple of n_kv_heads"), "n_heads not a multiple of n_kv_heads");
    CHECK(refused_with(bytes, size, 4, 16, "n_kv_heads"), "more kv heads than heads");
    CHECK(refused_with(bytes, size, 5, INT32_MIN, "vocab_size"), "vocab_size INT32_MIN");
    CHECK(refused_with(bytes, size, 5, 0, "vocab_size"), "vocab_size 0");
    CHECK(refused_with(bytes, size, 5, -512, "truncated"), "separate classifier missing: size mismatch");
    CHECK(refused_with(bytes, size, 6, 0, "seq_len"), "seq_len 0");
    CHECK(refused_with(bytes, size, 6, 0x7fffffff, "seq_len"), "absurd seq_len");
    CHECK(refused_with(bytes, size, 3, 64, "odd"), "odd head size");

    /* A separate classifier: vocab_size negated and wcls appended. */
    {
        size_t extra = (size_t)512 * 64 * sizeof(float);
        unsigned char *sep = malloc(size + extra);
        memcpy(sep, bytes, size);
        memcpy(sep + size, bytes + 28, extra); /* wcls = a copy of the embedding */
        int32_t neg = -512;
        memcpy(sep + 20, &neg, 4);
        inf_model *m = inf_model_open_buffer(sep, size + extra, "sep.bin", err, sizeof err);
        CHECK(m && !inf_model_config(m)->shared_classifier && inf_model_config(m)->vocab_size == 512 &&
                  inf_model_weights(m)->wcls == (const float *)(sep + size),
              "separate classifier is found after freq_cis");
        inf_model_close(m);
        free(sep);
    }
    /* An unaligned buffer is copied, not read misaligned. */
    {
        unsigned char *shifted = malloc(size + 1);
        memcpy(shifted + 1, bytes, size);
        inf_model *m = inf_model_open_buffer(shifted + 1, size, "shifted.bin", err, sizeof err);
        CHECK(m && ((uintptr_t)inf_model_weights(m)->wq % 4) == 0 && inf_model_weights(m)->rms_final[0] ==
                  ((const float *)(bytes + 28))[512 * 64 + 5 * 64 + 2 * 5 * 64 * 64 + 2 * 5 * 64 * 32 + 5 * 64 + 3 * 5 * 172 * 64],
              "unaligned buffer is copied");
        inf_model_close(m);
        free(shifted);
    }
    free(bytes);
    return check_exit();
}
