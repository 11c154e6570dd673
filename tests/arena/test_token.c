/* Battle tokens: sign, verify, and every way a token can be wrong. */
#include "../check.h"
#include "token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

int main(void)
{
    const char *secret = "0123456789abcdef0123456789abcdef", *other_secret = "another-secret-of-32-bytes......";
    btok_key *key = btok_key_new(secret, strlen(secret)), *other = btok_key_new(other_secret, strlen(other_secret));
    CHECK(key && other, "keys made");
    char tok[BTOK_MAX], bad[BTOK_MAX];
    CHECK(btok_sign(key, "battle1", 2000000000, tok, sizeof tok) == 0, "sign");
    CHECK(strncmp(tok, "2000000000.", 11) == 0 && strlen(tok) == 11 + 64, "shape: %s", tok);
    CHECK(btok_verify(key, "battle1", tok, 1900000000) == BTOK_OK, "verify");
    CHECK(btok_verify(key, "battle2", tok, 1900000000) == BTOK_BAD_MAC, "other battle");
    CHECK(btok_verify(other, "battle1", tok, 1900000000) == BTOK_BAD_MAC, "other key");
    CHECK(btok_verify(key, "battle1", tok, 2000000001) == BTOK_EXPIRED, "expired");
    strcpy(bad, tok);
    bad[0] = '3';  /* a later expiry does not carry the MAC with it */
    CHECK(btok_verify(key, "battle1", bad, 1900000000) == BTOK_BAD_MAC, "extended expiry");
    strcpy(bad, tok);
    bad[strlen(bad) - 1] ^= 1;
    CHECK(btok_verify(key, "battle1", bad, 1900000000) == BTOK_BAD_MAC, "flipped bit");
    CHECK(btok_verify(key, "battle1", "", 0) == BTOK_MALFORMED, "empty");
    CHECK(btok_verify(key, "battle1", NULL, 0) == BTOK_MALFORMED, "missing");
    CHECK(btok_verify(key, "battle1", "12.abc", 0) == BTOK_MALFORMED, "short MAC");
    CHECK(btok_verify(key, "battle1", "x2000000000.0000000000000000000000000000000000000000000000000000000000000000", 0) == BTOK_MALFORMED, "non-digit expiry");
    /* the MAC is standard HMAC-SHA256 of "id.expiry" (tokens stay valid across versions) */
    unsigned char mac[32];
    unsigned int maclen = 0;
    char want[65];
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)"battle1.2000000000", 18, mac, &maclen);
    btok_hex(mac, maclen, want);
    CHECK(btok_sign(key, "battle1", 2000000000, tok, sizeof tok) == 0 && strcmp(tok, "2000000000.") > 0 &&
          strcmp(tok + 11, want) == 0, "HMAC-SHA256 as OpenSSL's HMAC() computes it: %s", tok);
    btok_key_free(key);
    btok_key_free(other);
    btok_key_free(NULL);
    return check_exit();
}
