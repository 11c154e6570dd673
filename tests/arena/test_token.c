/* Battle tokens: sign, verify, and every way a token can be wrong. */
#include "../check.h"
#include "token.h"

#include <string.h>

int main(void)
{
    const char *key = "0123456789abcdef0123456789abcdef";
    size_t kl = strlen(key);
    char tok[BTOK_MAX], bad[BTOK_MAX];
    CHECK(btok_sign(key, kl, "battle1", 2000000000, tok, sizeof tok) == 0, "sign");
    CHECK(strncmp(tok, "2000000000.", 11) == 0 && strlen(tok) == 11 + 64, "shape: %s", tok);
    CHECK(btok_verify(key, kl, "battle1", tok, 1900000000) == BTOK_OK, "verify");
    CHECK(btok_verify(key, kl, "battle2", tok, 1900000000) == BTOK_BAD_MAC, "other battle");
    CHECK(btok_verify("another-secret-of-32-bytes......", 32, "battle1", tok, 1900000000) == BTOK_BAD_MAC, "other key");
    CHECK(btok_verify(key, kl, "battle1", tok, 2000000001) == BTOK_EXPIRED, "expired");
    strcpy(bad, tok);
    bad[0] = '3';  /* a later expiry does not carry the MAC with it */
    CHECK(btok_verify(key, kl, "battle1", bad, 1900000000) == BTOK_BAD_MAC, "extended expiry");
    strcpy(bad, tok);
    bad[strlen(bad) - 1] ^= 1;
    CHECK(btok_verify(key, kl, "battle1", bad, 1900000000) == BTOK_BAD_MAC, "flipped bit");
    CHECK(btok_verify(key, kl, "battle1", "", 0) == BTOK_MALFORMED, "empty");
    CHECK(btok_verify(key, kl, "battle1", NULL, 0) == BTOK_MALFORMED, "missing");
    CHECK(btok_verify(key, kl, "battle1", "12.abc", 0) == BTOK_MALFORMED, "short MAC");
    CHECK(btok_verify(key, kl, "battle1", "x2000000000.0000000000000000000000000000000000000000000000000000000000000000", 0) == BTOK_MALFORMED, "non-digit expiry");
    return check_exit();
}
