/* files.h: reading a whole file in the inference tests. */
#ifndef INF_TEST_FILES_H
#define INF_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

/* The bytes of PATH (malloc'd, caller frees) and their count in *SIZE; NULL on failure. */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *size = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

#endif
