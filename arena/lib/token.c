/* token.c: HMAC-SHA256 battle tokens (OpenSSL). */
#include "token.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_HEX 64

/* The hex MAC of "id.expiry" into hex (MAC_HEX + 1 bytes). */
static int mac_hex(const char *secret, size_t secret_len, const char *id, const char *expiry, char *hex)
{
    unsigned char msg[512], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf((char *)msg, sizeof msg, "%s.%s", id, expiry);
    if (n < 0 || (size_t)n >= sizeof msg) return -1;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, msg, (size_t)n, mac, &maclen) || maclen * 2 != MAC_HEX) return -1;
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

int btok_sign(const char *secret, size_t secret_len, const char *id, time_t expiry, char *out, size_t outlen)
{
    char exp[24], hex[MAC_HEX + 1];
    snprintf(exp, sizeof exp, "%" PRId64, (int64_t)expiry);
    if (mac_hex(secret, secret_len, id, exp, hex) < 0) return -1;
    int n = snprintf(out, outlen, "%s.%s", exp, hex);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

btok_status btok_verify(const char *secret, size_t secret_len, const char *id, const char *token, time_t now)
{
    char exp[24], hex[MAC_HEX + 1];
    const char *dot = token ? strchr(token, '.') : NULL;
    size_t explen = dot ? (size_t)(dot - token) : 0;
    if (!explen || explen >= sizeof exp || strlen(dot + 1) != MAC_HEX) return BTOK_MALFORMED;
    for (size_t i = 0; i < explen; i++)
        if (token[i] < '0' || token[i] > '9') return BTOK_MALFORMED;
    memcpy(exp, token, explen);
    exp[explen] = '\0';
    if (mac_hex(secret, secret_len, id, exp, hex) < 0) return BTOK_MALFORMED;
    if (CRYPTO_memcmp(hex, dot + 1, MAC_HEX) != 0) return BTOK_BAD_MAC;
    long long e = strtoll(exp, NULL, 10);
    return e < (long long)now ? BTOK_EXPIRED : BTOK_OK;
}
