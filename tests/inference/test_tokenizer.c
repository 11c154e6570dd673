/* test_tokenizer.c: tok512/tok105 encodings known from llama2.c run.c, round trips,
 * byte fallback, and corrupt or mismatched tokenizer files. */
#include "../check.h"
#include "files.h"
#include "tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Encodes TEXT (with BOS) and compares with WANT. */
static void check_encoding(const tok_tokenizer *t, const char *text, const int *want, int n_want, const char *name)
{
    int tokens[256];
    int n = tok_encode(t, text, 1, 0, tokens, sizeof tokens / sizeof *tokens);
    int same = n == n_want && !memcmp(tokens, want, (size_t)n * sizeof *tokens);
    if (!same) {
        printf("# got:");
        for (int i = 0; i < n; i++)
            printf(" %d", tokens[i]);
        printf("\n");
    }
    CHECK(same, "encoding of %s", name);
}

/* Decodes the tokens after BOS as run.c prints them; 1 when that gives TEXT back. */
static int round_trip(const tok_tokenizer *t, const char *text)
{
    int tokens[1024];
    int n = tok_encode(t, text, 1, 0, tokens, sizeof tokens / sizeof *tokens);
    char out[4096] = "";
    size_t len = 0;
    for (int i = 1; i < n; i++) {
        const char *piece = tok_decode(t, tokens[i - 1], tokens[i]);
        /* a raw byte piece is one byte, possibly NUL-free non-printable: copy as is */
        size_t pl = strlen(piece);
        memcpy(out + len, piece, pl);
        len += pl;
    }
    out[len] = '\0';
    if (strcmp(out, text))
        printf("# round trip gave '%s' for '%s'\n", out, text);
    return !strcmp(out, text);
}

static int all_in_vocab(const int *tokens, int n, int vocab)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return 0;
    return 1;
}

int main(void)
{
    char err[512];
    tok_tokenizer *t512 = tok_open("models/tok512.bin", 512, err, sizeof err);
    tok_tokenizer *t105 = tok_open("models/tok105.bin", 105, err, sizeof err);
    CHECK(t512 && t105, "open tok512 and tok105");
    if (!t512 || !t105)
        return check_exit();

    /* The prompt ids run.c produced for the golden outputs (models/PROVENANCE.md). */
    check_encoding(t512, "Once upon a time", (const int[]){1, 403, 407, 261, 378}, 5, "'Once upon a time' (tok512)");
    check_encoding(t105, "Once upon a time",
                   (const int[]){1, 3, 34, 9, 22, 4, 3, 18, 20, 7, 9, 3, 5, 3, 6, 10, 16, 4}, 18,
                   "'Once upon a time' (tok105)");
    /* é is a single piece in tok105; ☃ (E2 98 83) is not in tok512: three byte tokens. */
    check_encoding(t105, "café", (const int[]){1, 3, 22, 5, 24, 78}, 6, "'café' (tok105, UTF-8 piece)");
    {
        int tokens[16];
        int n = tok_encode(t512, "☃", 1, 0, tokens, 16);
        CHECK(n == 5 && tokens[2] == 0xE2 + 3 && tokens[3] == 0x98 + 3 && tokens[4] == 0x83 + 3,
              "'☃' in tok512 is three byte-fallback tokens");
        CHECK(!strcmp(tok_decode(t512, tokens[3], tokens[4]), "\x83"), "byte token decodes to the raw byte");
    }
    check_encoding(t512, "", (const int[]){1}, 1, "empty text is just BOS");
    {
        int tokens[8];
        int n = tok_encode(t512, "", 0, 1, tokens, 8);
        CHECK(n == 1 && tokens[0] == TOK_EOS, "empty text without BOS, with EOS");
        CHECK(tok_encode(t512, "hello", 1, 1, tokens, 3) == -1, "too small a token buffer is refused");
    }

    /* Round trips: plain ASCII, UTF-8 through byte fallback, control bytes, long text. */
    CHECK(round_trip(t512, "Once upon a time, there was a little girl named Lily."), "round trip ASCII (tok512)");
    CHECK(round_trip(t512, "Tom said, \"Hello!\" and ran away... 42 times?"), "round trip punctuation (tok512)");
    CHECK(round_trip(t512, "naïve café ☃ 日本語 🙂"), "round trip UTF-8 multibyte via byte fallback (tok512)");
    CHECK(round_trip(t512, "tab\there\nnew line"), "round trip control bytes (tok512)");
    CHECK(round_trip(t105, "Once upon a time, a café was “open”."), "round trip UTF-8 pieces (tok105)");
    CHECK(round_trip(t512, "  two leading spaces"), "round trip leading spaces (tok512)");

    /* tok105 has no byte tokens: bytes outside its range become <unk>, never invalid ids. */
    {
        int tokens[64];
        int n = tok_encode(t105, "\xF0\x9F\x99\x82 ☃ ~\x7F", 1, 0, tokens, 64);
        CHECK(n > 0 && all_in_vocab(tokens, n, 105), "tok105 byte fallback stays inside the vocabulary");
    }

    /* Decoding rules. */
    CHECK(!strcmp(tok_decode(t512, TOK_BOS, 403), "Once"), "leading space dropped after BOS");
    CHECK(!strcmp(tok_decode(t512, 378, 403), " Once"), "leading space kept elsewhere");
    CHECK(!strcmp(tok_decode(t512, 0, 3 + 'A'), "A"), "<0x41> decodes to 'A'");
    CHECK(!strcmp(tok_decode(t512, 0, 512), "") && !strcmp(tok_decode(t512, 0, -1), ""), "out-of-range id decodes to ''");
    CHECK(!tok_piece_is_printable(tok_decode(t512, 0, 3 + 7)), "bell byte is not printed");
    CHECK(tok_piece_is_printable(tok_decode(t512, 0, 3 + '\n')), "newline byte is printed");
    CHECK(!tok_piece_is_printable(tok_decode(t512, 0, 3)), "NUL byte is not printed");
    CHECK(tok_piece_is_printable(" the"), "a word is printed");
    CHECK(tok_piece(t512, 261) && !strcmp(tok_piece(t512, 261), " a") && !tok_piece(t512, 512), "tok_piece");

    /* Files that do not fit. */
    tok_tokenizer *bad = tok_open("models/tok512.bin", 105, err, sizeof err);
    CHECK(!bad && strstr(err, "models/tok512.bin") && strstr(err, "512") && strstr(err, "105"),
          "vocabulary mismatch names the file and both sizes: %s", err);
    bad = tok_open("models/no-such-tokenizer.bin", 512, err, sizeof err);
    CHECK(!bad && strstr(err, "no-such-tokenizer.bin"), "missing file: %s", err);

    size_t size;
    unsigned char *bytes = slurp("models/tok512.bin", &size);
    CHECK(bytes != NULL, "read tok512.bin");
    if (bytes) {
        int crashes_or_accepts = 0;
        for (size_t cut = 0; cut < size; cut++) {
            tok_tokenizer *t = tok_open_buffer(bytes, cut, 512, "cut.bin", err, sizeof err);
            if (t || !strstr(err, "cut.bin"))
                crashes_or_accepts++;
            tok_close(t);
        }
        CHECK(crashes_or_accepts == 0, "every truncation of tok512 is refused with the file's name");
        tok_open_buffer(bytes, size - 3, 512, "cut.bin", err, sizeof err);
        CHECK(strstr(err, "truncated") != NULL, "truncation message: %s", err);

        unsigned char *copy = malloc(size);
        memcpy(copy, bytes, size);
        int32_t huge = 0x7fffffff;
        memcpy(copy + 4 + 4, &huge, 4); /* length of token 0 */
        CHECK(!tok_open_buffer(copy, size, 512, "huge.bin", err, sizeof err) && strstr(err, "huge.bin"),
              "absurd token length refused: %s", err);
        int32_t negative = -5;
        memcpy(copy + 4 + 4, &negative, 4);
        CHECK(!tok_open_buffer(copy, size, 512, "neg.bin", err, sizeof err) && strstr(err, "length -5"),
              "negative token length refused: %s", err);
        /* Random byte corruption: either refused, or usable without a crash. */
        srand(7);
        int usable = 0;
        for (int round = 0; round < 300; round++) {
            memcpy(copy, bytes, size);
            for (int k = 0; k < 4; k++)
                copy[(size_t)rand() % size] = (unsigned char)rand();
            tok_tokenizer *t = tok_open_buffer(copy, size, 512, "flip.bin", err, sizeof err);
            if (t) {
                int tokens[128];
                int n = tok_encode(t, "Once upon a time, in a café.", 1, 1, tokens, 128);
                usable += n > 0 && all_in_vocab(tokens, n, 512);
                for (int i = 1; i < n; i++)
                    (void)tok_decode(t, tokens[i - 1], tokens[i]);
                tok_close(t);
            } else {
                usable++;
            }
        }
        CHECK(usable == 300, "randomly corrupted tokenizers are refused or stay usable");
        free(copy);
        free(bytes);
    }
    tok_close(t512);
    tok_close(t105);
    return check_exit();
}
