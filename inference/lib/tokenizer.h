/* tokenizer.h: the llama2.c tokenizer.bin: a uint32 max_token_length, then for each
 * token id a float32 score, an int32 byte length and that many bytes. The token count
 * is not stored: it is the model's vocab_size.
 *
 * Encoding and decoding follow llama2.c run.c exactly (BPE merges by score, byte
 * fallback <0xXX> as id byte+3, the dummy-prefix space, BOS = 1, EOS = 2), with one
 * deliberate difference: a byte-fallback id that would fall outside the vocabulary
 * (small vocabularies such as tok105) becomes 0 (<unk>) instead of an invalid id.
 *
 * Ownership: the tokenizer owns all its strings; pointers it returns stay valid until
 * tok_close(). A tokenizer is read-only after tok_open(), so threads may share it. */
#ifndef TOK_TOKENIZER_H
#define TOK_TOKENIZER_H

#include <stddef.h>

#define TOK_UNK 0
#define TOK_BOS 1
#define TOK_EOS 2

typedef struct tok_tokenizer tok_tokenizer;

/* Reads PATH holding exactly VOCAB_SIZE tokens. On failure returns NULL and writes
 * "PATH: what is wrong" into err (a size mismatch names both token counts). */
tok_tokenizer *tok_open(const char *path, int vocab_size, char *err, size_t errlen);
/* The same on bytes in memory (copied; DATA may be freed afterwards). */
tok_tokenizer *tok_open_buffer(const void *data, size_t size, int vocab_size, const char *name,
                               char *err, size_t errlen);
void tok_close(tok_tokenizer *t);

int tok_vocab_size(const tok_tokenizer *t);

/* The number of ids tok_encode() may write for TEXT, at most: strlen(text) + 3. */
size_t tok_encode_capacity(const char *text);

/* Encodes TEXT (NUL-terminated UTF-8) into TOKENS, which must hold
 * tok_encode_capacity(text) ids; BOS/EOS: prepend TOK_BOS / append TOK_EOS.
 * Returns the number of ids, or -1 when CAP is too small or memory runs out. */
int tok_encode(const tok_tokenizer *t, const char *text, int bos, int eos, int *tokens, size_t cap);

/* The text of TOKEN following PREV_TOKEN, as run.c decodes it: the leading space is
 * dropped after BOS and <0xXX> pieces become the raw byte. Returns "" for an id outside
 * the vocabulary. The string is tokenizer-owned and NUL-terminated. */
const char *tok_decode(const tok_tokenizer *t, int prev_token, int token);

/* 0 when run.c's safe_printf would print nothing for PIECE (empty, or a single byte that
 * is a control character other than whitespace), 1 otherwise. */
int tok_piece_is_printable(const char *piece);

/* The raw bytes of token ID (as stored in the file, up to its first NUL), or NULL when
 * ID is outside the vocabulary. */
const char *tok_piece(const tok_tokenizer *t, int id);

#endif
