/* token.h: signed battle tokens. A token proves that this server handed battle ID to the
 * client holding it, so nobody can vote on a battle that was never served to them.
 *
 *   token = EXPIRY "." HEX(HMAC-SHA256(secret, ID "." EXPIRY))      EXPIRY: unix seconds
 *
 * Verification recomputes the MAC and compares it in constant time (CRYPTO_memcmp).
 * The key is an object made once (the secret hashed into HMAC's keyed state); signing and
 * verifying allocate nothing, and the caller owns every buffer. A key serves one thread at
 * a time. */
#ifndef ARENA_TOKEN_H
#define ARENA_TOKEN_H

#include <stddef.h>
#include <time.h>

/* Enough for any token (20 digits, a dot, 64 hex digits, NUL). */
#define BTOK_MAX 96

typedef struct btok_key btok_key;

/* The key for secret (copied in); NULL when OpenSSL has no HMAC-SHA256 or no memory.
 * The caller frees it with btok_key_free (NULL is fine). */
btok_key *btok_key_new(const char *secret, size_t secret_len);
void btok_key_free(btok_key *k);

/* Writes the token for battle id valid until expiry into out (BTOK_MAX bytes). 0 / -1. */
int btok_sign(const btok_key *k, const char *id, time_t expiry, char *out, size_t outlen);

typedef enum { BTOK_OK = 0, BTOK_MALFORMED, BTOK_BAD_MAC, BTOK_EXPIRED } btok_status;

/* Checks token against id at time now. */
btok_status btok_verify(const btok_key *k, const char *id, const char *token, time_t now);

/* Writes the N bytes as 2N lowercase hex digits and a NUL into out (2N + 1 bytes): the
 * spelling of MACs, digests and battle ids everywhere in the arena. */
void btok_hex(const unsigned char *bytes, size_t n, char *out);

#endif
