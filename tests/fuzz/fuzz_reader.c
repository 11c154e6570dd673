/* fuzz_reader: libFuzzer entry point for the battle readers (ratings/lib/reader.c).
 * The first input byte picks the format and strictness, the rest is the file (plain or
 * gzip). Built with small read chunks so that tokens split across chunks are reached:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -DRD_CHUNK=7 -Iratings/lib \
 *       tests/fuzz/fuzz_reader.c ratings/lib/reader.c ratings/lib/rt_errbuf.c -lyajl -lz -lm \
 *       -o build/fuzz-reader
 *   build/fuzz-reader -max_total_time=60 tests/fuzz/corpus/reader */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reader.h"

static int touch(void *ud, const rd_record *r, char *err, size_t errlen)
{
    size_t *sum = ud;
    /* read every string the record hands out, so that ASan sees any bad pointer */
    *sum += strlen(r->model_a) + strlen(r->model_b) + (size_t)r->winner;
    *sum += r->judge ? strlen(r->judge) : 0;
    *sum += r->language ? strlen(r->language) : 0;
    *sum += r->question_id ? strlen(r->question_id) : 0;
    return *sum > ((size_t)1 << 40) ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const rd_format formats[] = {RD_FORMAT_AUTO, RD_FORMAT_JSON, RD_FORMAT_JSONL, RD_FORMAT_CSV};
    rd_options o = {.format = formats[data[0] & 3], .strict = (data[0] >> 2) & 1, .conversations = (data[0] >> 3) & 1};
    if ((data[0] >> 3) & 1)
        o.columns = (rd_columns){.a = "l", .b = "r", .winner = "w", .tstamp = "t"};
    char err[256];
    rd_stats st;
    size_t sum = 0;
    int rc = rd_read_buffer(data + 1, size - 1, "fuzz", &o, touch, &sum, &st, err, sizeof err);
    if (rc < 0 && (!err[0] || strncmp(err, "fuzz: ", 6)))
        __builtin_trap();   /* every failure must say where */
    if (st.delivered + st.skipped_self + st.skipped_winner != st.records && rc == 0)
        __builtin_trap();
    return 0;
}
