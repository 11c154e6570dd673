/* test_fuzz_corpus.c: replays the libFuzzer corpora (tests/fuzz/corpus/) through the fuzz
 * targets in an ordinary build, so inputs the fuzzers once found stay handled. */
#include "../check.h"
#include "files.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerTestOneInput fuzz_model_input
#include "../fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tokenizer_input
#include "../fuzz/fuzz_tokenizer.c"
#undef LLVMFuzzerTestOneInput

/* Feeds every file of DIR to TARGET; returns how many there were, -1 if DIR is unreadable. */
static int replay(const char *dir, int (*target)(const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *buf = slurp(path, &len);
        if (!buf)
            continue;
        target(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

int main(void)
{
    int n = replay("tests/fuzz/corpus/model", fuzz_model_input);
    CHECK(n > 0, "model corpus replayed (%d inputs)", n);
    n = replay("tests/fuzz/corpus/tokenizer", fuzz_tokenizer_input);
    CHECK(n > 0, "tokenizer corpus replayed (%d inputs)", n);
    return check_exit();
}
