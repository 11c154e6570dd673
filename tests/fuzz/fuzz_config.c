/* fuzz_config: libFuzzer entry point for the arena server's config reader
 * (arena/lib/config.c): the JSON file, the whole-config checks, the Redis URL parser.
 * cfg_load reads a path, so the input goes through a memfd. Every refusal must name the
 * file (the error starts with its path).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iarena/lib tests/fuzz/fuzz_config.c \
 *       arena/lib/config.c -ljansson -lm -o build/fuzz/fuzz-config
 *   build/fuzz/fuzz-config -max_total_time=60 tests/fuzz/corpus/config */
#define _GNU_SOURCE   /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        if ((fd = memfd_create("fuzz-config", 0)) < 0)
            __builtin_trap();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        __builtin_trap();

    char err[512] = "";
    cfg_config *c = cfg_load(path, err, sizeof err);
    if (!c) {
        if (strncmp(err, path, strlen(path)) != 0)
            __builtin_trap();
    } else {
        err[0] = '\0';
        if (cfg_check(c, err, sizeof err) < 0 && !err[0])
            __builtin_trap();
        char host[256], pw[256];
        int port, db;
        if (c->redis_url && cfg_parse_redis_url(c->redis_url, host, sizeof host, &port, &db, pw, sizeof pw,
                                                err, sizeof err) == 0 && (port < 1 || port > 65535 || db < 0))
            __builtin_trap();
        for (size_t i = 0; i < c->n_models; i++)
            (void)cfg_model_find(c, c->models[i].name);
        cfg_free(c);
    }
    return 0;
}
