/* token.c: HMAC-SHA256 battle tokens (OpenSSL's EVP_MAC). */
#include "token.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_HEX 64

/* An HMAC context keyed once: re-initialising it without a key restores the keyed state,
 * which costs a fraction of keying (and of fetching the algorithm) on every token. */
struct btok_key {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

btok_key *btok_key_new(const char *secret, size_t secret_len)
{
    btok_key *k = calloc(1, sizeof *k);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end() };
    if (!k || !(k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(k->ctx = EVP_MAC_CTX_new(k->mac)) ||
        !EVP_MAC_init(k->ctx, (const unsigned char *)secret, secret_len, params))
        goto err;
    return k;
err:
    btok_key_free(k);
    return NULL;
}

void btok_key_free(btok_key *k)
{
    if (!k) return;
    EVP_MAC_CTX_free(k->ctx);
    EVP_MAC_free(k->mac);
    free(k);
}

/* The hex MAC of "id.expiry" into hex (MAC_HEX + 1 bytes). */
static int mac_hex(const btok_key *k, const char *id, const char *expiry, char *hex)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    if (!EVP_MAC_init(k->ctx, NULL, 0, NULL) || !EVP_MAC_update(k->ctx, (const unsigned char *)id, strlen(id)) ||
        !EVP_MAC_update(k->ctx, (const unsigned char *)".", 1) ||
        !EVP_MAC_update(k->ctx, (const unsigned char *)expiry, strlen(expiry)) ||
        !EVP_MAC_final(k->ctx, mac, &maclen, sizeof mac) || maclen * 2 != MAC_HEX)
        return -1;
    btok_hex(mac, maclen, hex);
    return 0;
}

void btok_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

int btok_sign(const btok_key *k, const char *id, time_t expiry, char *out, size_t outlen)
{
    char exp[24], hex[MAC_HEX + 1];
    snprintf(exp, sizeof exp, "%" PRId64, (int64_t)expiry);
    if (mac_hex(k, id, exp, hex) < 0) return -1;
    int n = snprintf(out, outlen, "%s.%s", exp, hex);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

btok_status btok_verify(const btok_key *k, const char *id, const char *token, time_t now)
{
    char exp[24], hex[MAC_HEX + 1];
    const char *dot = token ? strchr(token, '.') : NULL;
    size_t explen = dot ? (size_t)(dot - token) : 0;
    if (!explen || explen >= sizeof exp || strlen(dot + 1) != MAC_HEX) return BTOK_MALFORMED;
    for (size_t i = 0; i < explen; i++)
        if (token[i] < '0' || token[i] > '9') return BTOK_MALFORMED;
    memcpy(exp, token, explen);
    exp[explen] = '\0';
    if (mac_hex(k, id, exp, hex) < 0) return BTOK_MALFORMED;
    if (CRYPTO_memcmp(hex, dot + 1, MAC_HEX) != 0) return BTOK_BAD_MAC;
    long long e = strtoll(exp, NULL, 10);
    return e < (long long)now ? BTOK_EXPIRED : BTOK_OK;
}
