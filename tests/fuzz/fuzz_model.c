/* fuzz_model.c: libFuzzer target for the checkpoint loader. Any input must be refused with
 * a message or load; a model that loads runs one forward step (weights are arbitrary, so
 * only memory safety is checked). Build and run (see the inference report in README):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinference/lib tests/fuzz/fuzz_model.c \
 *     inference/lib/{model,engine,cpu,kernels,pool,errbuf}.c -lm -o build/fuzz/fuzz_model
 *   build/fuzz/fuzz_model -max_total_time=60 -max_len=8192 build/fuzz/model tests/fuzz/corpus/model
 */
#include "engine.h"
#include "model.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    inf_model *m = inf_model_open_buffer(data, size, "fuzz.bin", err, sizeof err);
    if (!m) {
        if (!strstr(err, "fuzz.bin"))
            __builtin_trap(); /* every refusal names the file */
        return 0;
    }
    inf_engine *e = inf_engine_new(m, &(inf_engine_opts){.max_batch = 2, .threads = 1}, err, sizeof err);
    inf_seq *s = e ? inf_seq_new(e) : NULL;
    if (s) {
        inf_seq *rows[2] = {s, s};
        int tokens[2] = {0, inf_model_config(m)->vocab_size - 1};
        float *logits[2];
        int n = inf_model_config(m)->seq_len >= 2 ? 2 : 1;
        inf_engine_step(e, rows, tokens, n, logits);
    }
    inf_seq_free(s);
    inf_engine_free(e);
    inf_model_close(m);
    return 0;
}
