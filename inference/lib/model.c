/* model.c: llama2.c checkpoint loading and validation. */
#include "model.h"
#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BYTES (7 * sizeof(int32_t))

/* Limits far above any llama2.c model, low enough that no size computation overflows. */
#define MAX_DIM (1 << 16)
#define MAX_HIDDEN (1 << 18)
#define MAX_LAYERS 1024
#define MAX_VOCAB (1 << 22)
#define MAX_SEQ_LEN (1 << 20)

struct inf_model {
    inf_config cfg;
    inf_weights w;
    void *map;      /* mmap of the file, or NULL */
    size_t map_size;
    void *copy;     /* aligned copy of an unaligned buffer, or NULL */
    char *name;
};

static int check_range(const char *name, const char *field, int32_t v, int32_t max,
                       char *err, size_t errlen)
{
    if (v > 0 && v <= max)
        return 0;
    inf_errf(err, errlen, "%s: bad header: %s is %d (must be 1..%d)", name, field, (int)v, (int)max);
    return -1;
}

/* Validates the header and size of DATA and points the weights into it. */
static int model_parse(inf_model *m, const unsigned char *data, size_t size, const char *name,
                       char *err, size_t errlen)
{
    if (size < HEADER_BYTES) {
        inf_errf(err, errlen, "%s: not a llama2.c checkpoint: %zu bytes, shorter than the %zu-byte header",
                name, size, (size_t)HEADER_BYTES);
        return -1;
    }
    int32_t h[7];
    memcpy(h, data, sizeof h);
    int32_t dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4];
    int32_t vocab = h[5], seq_len = h[6];
    if (vocab == INT32_MIN) {
        inf_errf(err, errlen, "%s: bad header: vocab_size is %d", name, (int)vocab);
        return -1;
    }
    int shared = vocab > 0;
    if (!shared)
        vocab = -vocab;
    if (check_range(name, "dim", dim, MAX_DIM, err, errlen) ||
        check_range(name, "hidden_dim", hidden, MAX_HIDDEN, err, errlen) ||
        check_range(name, "n_layers", layers, MAX_LAYERS, err, errlen) ||
        check_range(name, "n_heads", heads, dim, err, errlen) ||
        check_range(name, "n_kv_heads", kv_heads, heads, err, errlen) ||
        check_range(name, "vocab_size", vocab, MAX_VOCAB, err, errlen) ||
        check_range(name, "seq_len", seq_len, MAX_SEQ_LEN, err, errlen))
        return -1;
    if (dim % heads) {
        inf_errf(err, errlen, "%s: bad header: dim %d is not a multiple of n_heads %d", name, (int)dim, (int)heads);
        return -1;
    }
    if (heads % kv_heads) {
        inf_errf(err, errlen, "%s: bad header: n_heads %d is not a multiple of n_kv_heads %d",
                name, (int)heads, (int)kv_heads);
        return -1;
    }
    int32_t head_size = dim / heads;
    if (head_size % 2) {
        inf_errf(err, errlen, "%s: bad header: head size %d (dim / n_heads) is odd", name, (int)head_size);
        return -1;
    }
    uint64_t D = (uint64_t)dim, H = (uint64_t)hidden, L = (uint64_t)layers, V = (uint64_t)vocab;
    uint64_t KV = (uint64_t)head_size * (uint64_t)kv_heads;
    uint64_t floats = V * D                       /* token_embedding */
                      + L * D                     /* rms_att */
                      + L * D * D * 2             /* wq, wo */
                      + L * D * KV * 2            /* wk, wv */
                      + L * D                     /* rms_ffn */
                      + L * H * D * 3             /* w1, w2, w3 */
                      + D                         /* rms_final */
                      + (uint64_t)seq_len * (uint64_t)head_size /* freq_cis real + imag */
                      + (shared ? 0 : V * D);     /* wcls */
    uint64_t expected = HEADER_BYTES + floats * sizeof(float);
    if (expected != size) {
        inf_errf(err, errlen, "%s: %s: the header implies %llu bytes, the file has %zu", name,
                size < expected ? "truncated" : "trailing bytes", (unsigned long long)expected, size);
        return -1;
    }
    m->cfg = (inf_config){
        .dim = dim, .hidden_dim = hidden, .n_layers = layers, .n_heads = heads,
        .n_kv_heads = kv_heads, .vocab_size = vocab, .seq_len = seq_len,
        .head_size = head_size, .kv_dim = (int)KV, .shared_classifier = shared,
    };
    const float *p = (const float *)(data + HEADER_BYTES);
    inf_weights *w = &m->w;
    w->token_embedding = p; p += V * D;
    w->rms_att = p;         p += L * D;
    w->wq = p;              p += L * D * D;
    w->wk = p;              p += L * D * KV;
    w->wv = p;              p += L * D * KV;
    w->wo = p;              p += L * D * D;
    w->rms_ffn = p;         p += L * D;
    w->w1 = p;              p += L * H * D;
    w->w2 = p;              p += L * D * H;
    w->w3 = p;              p += L * H * D;
    w->rms_final = p;       p += D;
    p += (uint64_t)seq_len * (uint64_t)head_size; /* freq_cis: recomputed as run.c does */
    w->wcls = shared ? w->token_embedding : p;
    return 0;
}

static inf_model *model_alloc(const char *name, char *err, size_t errlen)
{
    inf_model *m = calloc(1, sizeof *m);
    if (m && !(m->name = strdup(name))) {
        free(m);
        m = NULL;
    }
    if (!m)
        inf_errf(err, errlen, "%s: out of memory", name);
    return m;
}

inf_model *inf_model_open_buffer(const void *data, size_t size, const char *name,
                                 char *err, size_t errlen)
{
    if (!name)
        name = "(buffer)";
    inf_model *m = model_alloc(name, err, errlen);
    if (!m)
        return NULL;
    const unsigned char *bytes = data;
    if ((uintptr_t)data % sizeof(float)) {
        if (!(m->copy = malloc(size ? size : 1))) {
            inf_errf(err, errlen, "%s: out of memory", name);
            goto err;
        }
        memcpy(m->copy, data, size);
        bytes = m->copy;
    }
    if (model_parse(m, bytes, size, name, err, errlen))
        goto err;
    return m;
err:
    inf_model_close(m);
    return NULL;
}

inf_model *inf_model_open(const char *path, char *err, size_t errlen)
{
    inf_model *m = model_alloc(path, err, errlen);
    if (!m)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        inf_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto err;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        inf_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        inf_errf(err, errlen, "%s: not a regular file", path);
        goto err;
    }
    size_t size = (size_t)st.st_size;
    if (size >= HEADER_BYTES) {
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            inf_errf(err, errlen, "%s: mmap: %s", path, strerror(errno));
            goto err;
        }
        m->map = map;
        m->map_size = size;
    }
    if (model_parse(m, m->map, size, path, err, errlen))
        goto err;
    close(fd);
    return m;
err:
    if (fd >= 0)
        close(fd);
    inf_model_close(m);
    return NULL;
}

void inf_model_close(inf_model *m)
{
    if (!m)
        return;
    if (m->map)
        munmap(m->map, m->map_size);
    free(m->copy);
    free(m->name);
    free(m);
}

const inf_config *inf_model_config(const inf_model *m) { return &m->cfg; }
const inf_weights *inf_model_weights(const inf_model *m) { return &m->w; }
const char *inf_model_name(const inf_model *m) { return m->name; }
