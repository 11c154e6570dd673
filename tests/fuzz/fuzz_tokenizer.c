/* fuzz_tokenizer.c: libFuzzer target for tokenizer.bin reading, encoding and decoding.
 * The first byte picks the vocabulary size; the rest is the file.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinference/lib tests/fuzz/fuzz_tokenizer.c \
 *     inference/lib/{tokenizer,errbuf}.c -o build/fuzz/fuzz_tokenizer
 *   build/fuzz/fuzz_tokenizer -max_total_time=60 build/fuzz/tokenizer tests/fuzz/corpus/tokenizer
 */
#include "tokenizer.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char err[256] = "";
    tok_tokenizer *t = tok_open_buffer(data + 1, size - 1, data[0], "fuzz.bin", err, sizeof err);
    if (!t) {
        if (!strstr(err, "fuzz.bin"))
            __builtin_trap();
        return 0;
    }
    static const char *texts[] = {"", "Once upon a time", "caf\xc3\xa9 \xe2\x98\x83 \xff\x80 <0x41>\n\t"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        int tokens[64];
        int n = tok_encode(t, texts[i], 1, 1, tokens, 64);
        for (int j = 0; j < n; j++) {
            if (tokens[j] < 0 || tokens[j] >= tok_vocab_size(t))
                __builtin_trap();
            (void)tok_piece_is_printable(tok_decode(t, j ? tokens[j - 1] : 1, tokens[j]));
        }
    }
    tok_close(t);
    return 0;
}
