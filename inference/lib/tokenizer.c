/* tokenizer.c: llama2.c tokenizer.bin reading, BPE encoding and decoding (as run.c). */
#include "tokenizer.h"
#include "errbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A token longer than this is taken as a sign of a corrupt file. */
#define MAX_PIECE_BYTES 65536
#define MAX_FILE_BYTES (256u << 20)

struct tok_tokenizer {
    int vocab_size;
    char **vocab;      /* [vocab_size] NUL-terminated pieces, in `text` */
    const char **decoded; /* [vocab_size] run.c's decode() without the BOS rule */
    float *scores;     /* [vocab_size] */
    int *sorted;       /* ids sorted by strcmp of their pieces */
    size_t max_len;    /* longest strlen() of a piece */
    char *text;        /* every piece, NUL-terminated, back to back */
    char byte_pieces[256][2];
};

/* qsort/bsearch context-free comparison needs the vocabulary: sort (piece, id) pairs. */
struct piece_id {
    const char *piece;
    int id;
};

static int cmp_piece(const void *a, const void *b)
{
    return strcmp(((const struct piece_id *)a)->piece, ((const struct piece_id *)b)->piece);
}

/* The id of PIECE, or -1. */
static int lookup(const tok_tokenizer *t, const char *piece)
{
    int lo = 0, hi = t->vocab_size - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(piece, t->vocab[t->sorted[mid]]);
        if (c == 0)
            return t->sorted[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* run.c's sscanf(piece, "<0x%02hhX>"): the byte a piece like <0x0A> stands for, or -1. */
static int byte_token_value(const char *piece)
{
    if (strncmp(piece, "<0x", 3))
        return -1;
    int hi = hex_digit((unsigned char)piece[3]);
    if (hi < 0)
        return -1;
    int lo = hex_digit((unsigned char)piece[4]);
    return lo < 0 ? hi : hi * 16 + lo;
}

tok_tokenizer *tok_open_buffer(const void *data, size_t size, int vocab_size, const char *name,
                               char *err, size_t errlen)
{
    const unsigned char *bytes = data;
    struct piece_id *order = NULL;
    tok_tokenizer *t = calloc(1, sizeof *t);
    if (!name)
        name = "(buffer)";
    if (!t)
        goto oom;
    if (vocab_size < 3) {
        inf_errf(err, errlen, "%s: vocabulary size %d is below 3 (<unk>, BOS, EOS)", name, vocab_size);
        goto err;
    }
    if (size < 4) {
        inf_errf(err, errlen, "%s: not a tokenizer: %zu bytes, shorter than the 4-byte header", name, size);
        goto err;
    }
    /* First pass: count the tokens and check every record fits. */
    size_t off = 4;
    int count = 0;
    while (off < size) {
        if (size - off < 8) {
            inf_errf(err, errlen, "%s: truncated: token %d has %zu header bytes of 8 (offset %zu)",
                    name, count, size - off, off);
            goto err;
        }
        int32_t len;
        memcpy(&len, bytes + off + 4, 4);
        if (len < 0 || len > MAX_PIECE_BYTES) {
            inf_errf(err, errlen, "%s: corrupt: token %d has length %d (offset %zu)", name, count, (int)len, off);
            goto err;
        }
        if ((size_t)len > size - off - 8) {
            inf_errf(err, errlen, "%s: truncated: token %d needs %d bytes, %zu left (offset %zu)",
                    name, count, (int)len, size - off - 8, off);
            goto err;
        }
        off += 8 + (size_t)len;
        count++;
    }
    if (count != vocab_size) {
        inf_errf(err, errlen, "%s: holds %d tokens, the model's vocab_size is %d", name, count, vocab_size);
        goto err;
    }
    t->vocab_size = vocab_size;
    t->vocab = malloc((size_t)vocab_size * sizeof *t->vocab);
    t->decoded = malloc((size_t)vocab_size * sizeof *t->decoded);
    t->scores = malloc((size_t)vocab_size * sizeof *t->scores);
    t->sorted = malloc((size_t)vocab_size * sizeof *t->sorted);
    t->text = malloc(size - 4 - (size_t)vocab_size * 8 + (size_t)vocab_size);
    order = malloc((size_t)vocab_size * sizeof *order);
    if (!t->vocab || !t->decoded || !t->scores || !t->sorted || !t->text || !order)
        goto oom;
    for (int i = 0; i < 256; i++)
        t->byte_pieces[i][0] = (char)i;
    /* Second pass: copy. The declared max_token_length is not trusted: measured instead. */
    off = 4;
    char *dst = t->text;
    for (int i = 0; i < vocab_size; i++) {
        int32_t len;
        memcpy(&t->scores[i], bytes + off, 4);
        memcpy(&len, bytes + off + 4, 4);
        memcpy(dst, bytes + off + 8, (size_t)len);
        dst[len] = '\0';
        t->vocab[i] = dst;
        size_t slen = strlen(dst);
        if (slen > t->max_len)
            t->max_len = slen;
        int b = byte_token_value(dst);
        t->decoded[i] = b >= 0 ? t->byte_pieces[b] : dst;
        order[i] = (struct piece_id){dst, i};
        dst += len + 1;
        off += 8 + (size_t)len;
    }
    qsort(order, (size_t)vocab_size, sizeof *order, cmp_piece);
    for (int i = 0; i < vocab_size; i++)
        t->sorted[i] = order[i].id;
    free(order);
    return t;
oom:
    inf_errf(err, errlen, "%s: out of memory", name);
err:
    free(order);
    tok_close(t);
    return NULL;
}

tok_tokenizer *tok_open(const char *path, int vocab_size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    tok_tokenizer *t = NULL;
    if (!f) {
        inf_errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st)) {
        inf_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        inf_errf(err, errlen, "%s: not a regular file", path);
        goto done;
    }
    if ((unsigned long long)st.st_size > MAX_FILE_BYTES) {
        inf_errf(err, errlen, "%s: %lld bytes is too large for a tokenizer", path, (long long)st.st_size);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    if (!(buf = malloc(size ? size : 1))) {
        inf_errf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    if (fread(buf, 1, size, f) != size) {
        inf_errf(err, errlen, "%s: read error", path);
        goto done;
    }
    t = tok_open_buffer(buf, size, vocab_size, path, err, errlen);
done:
    free(buf);
    fclose(f);
    return t;
}

void tok_close(tok_tokenizer *t)
{
    if (!t)
        return;
    free(t->vocab);
    free(t->decoded);
    free(t->scores);
    free(t->sorted);
    free(t->text);
    free(t);
}

int tok_vocab_size(const tok_tokenizer *t) { return t->vocab_size; }

size_t tok_encode_capacity(const char *text) { return strlen(text) + 3; }

/* run.c's byte fallback, kept inside the vocabulary. */
static int byte_fallback(const tok_tokenizer *t, unsigned char byte)
{
    int id = byte + 3;
    return id < t->vocab_size ? id : TOK_UNK;
}

int tok_encode(const tok_tokenizer *t, const char *text, int bos, int eos, int *tokens, size_t cap)
{
    if (cap < tok_encode_capacity(text))
        return -1;
    /* Holds one UTF-8 character (4 bytes) or two pieces being tried as a merge. */
    size_t buf_size = 2 * t->max_len + 8;
    char stack_buf[256];
    char *buf = buf_size <= sizeof stack_buf ? stack_buf : malloc(buf_size);
    if (!buf)
        return -1;
    int n = 0;
    if (bos)
        tokens[n++] = TOK_BOS;
    if (text[0] != '\0') {
        int space = lookup(t, " ");
        tokens[n++] = space >= 0 ? space : byte_fallback(t, ' ');
    }
    /* Split into UTF-8 characters; a character missing from the vocabulary becomes bytes. */
    size_t len = 0;
    for (const char *c = text; *c; c++) {
        if ((*c & 0xC0) != 0x80)
            len = 0;
        buf[len++] = *c;
        buf[len] = '\0';
        if ((c[1] & 0xC0) == 0x80 && len < 4)
            continue;
        int id = lookup(t, buf);
        if (id >= 0)
            tokens[n++] = id;
        else
            for (size_t i = 0; i < len; i++)
                tokens[n++] = byte_fallback(t, (unsigned char)buf[i]);
        len = 0;
    }
    /* Merge the adjacent pair whose merged piece scores best, until none is in the vocabulary. */
    for (;;) {
        float best_score = -1e10f;
        int best_id = -1, best_idx = -1;
        for (int i = 0; i < n - 1; i++) {
            const char *a = t->vocab[tokens[i]], *b = t->vocab[tokens[i + 1]];
            size_t la = strlen(a), lb = strlen(b);
            memcpy(buf, a, la);
            memcpy(buf + la, b, lb + 1);
            int id = lookup(t, buf);
            if (id >= 0 && t->scores[id] > best_score) {
                best_score = t->scores[id];
                best_id = id;
                best_idx = i;
            }
        }
        if (best_idx < 0)
            break;
        tokens[best_idx] = best_id;
        memmove(tokens + best_idx + 1, tokens + best_idx + 2, (size_t)(n - best_idx - 2) * sizeof *tokens);
        n--;
    }
    if (eos)
        tokens[n++] = TOK_EOS;
    if (buf != stack_buf)
        free(buf);
    return n;
}

const char *tok_decode(const tok_tokenizer *t, int prev_token, int token)
{
    if (token < 0 || token >= t->vocab_size)
        return "";
    const char *piece = t->decoded[token];
    if (prev_token == TOK_BOS && piece == t->vocab[token] && piece[0] == ' ')
        piece++;
    return piece;
}

int tok_piece_is_printable(const char *piece)
{
    if (!piece || piece[0] == '\0')
        return 0;
    if (piece[1] == '\0') {
        unsigned char b = (unsigned char)piece[0];
        if (!(isprint(b) || isspace(b)))
            return 0;
    }
    return 1;
}

const char *tok_piece(const tok_tokenizer *t, int id)
{
    return id >= 0 && id < t->vocab_size ? t->vocab[id] : NULL;
}
