#include "first.h"
#include "tap.h"
#include "browser_token.h"

#include <string.h>

static const uint8_t secret[TLY_TOKEN_SECRET_BYTES] = "0123456789abcdef0123456789abcdef";
static const uint8_t other[TLY_TOKEN_SECRET_BYTES] = "fedcba9876543210fedcba9876543210";

static void test_round_trip(void)
{
    char token[TLY_TOKEN_MAX_LEN + 1], id[80];
    CHECK_INT(tly_token_mint("prop_shop", secret, 1800000600, token, sizeof token), 0);
    CHECK(strncmp(token, "bt1.prop_shop.1800000600.", 25) == 0);
    CHECK(tly_token_is(token));
    CHECK(!tly_token_is("wk_abc"));
    CHECK_INT(tly_token_property(token, id, sizeof id), 0);
    CHECK_STR(id, "prop_shop");
    CHECK_INT(tly_token_verify(token, secret, 1800000000), TLY_TOKEN_OK);
    CHECK_INT(tly_token_verify(token, secret, 1800000599), TLY_TOKEN_OK);
    CHECK_INT(tly_token_verify(token, secret, 1800000600), TLY_TOKEN_EXPIRED);
    CHECK_INT(tly_token_verify(token, other, 1800000000), TLY_TOKEN_BAD_SIGNATURE);
    /* Too far ahead: a token never lives longer than TLY_TOKEN_MAX_TTL. */
    CHECK_INT(tly_token_verify(token, secret, 1800000600 - TLY_TOKEN_MAX_TTL - 1), TLY_TOKEN_MALFORMED);
    /* Known answer (Python's hmac module): HMAC-SHA256 over "bt1.prop_shop.1800000600",
     * base64url without padding. */
    CHECK_STR(token, "bt1.prop_shop.1800000600.U9iEKm4J6EIGttfh3EHMfqMUsjiqPLZEL5Bqd3_e5Hg");
}

static void test_tampering(void)
{
    char token[TLY_TOKEN_MAX_LEN + 1], forged[TLY_TOKEN_MAX_LEN + 16];
    CHECK_INT(tly_token_mint("prop_shop", secret, 1800000600, token, sizeof token), 0);
    /* Another property or a later expiry with the same MAC. */
    const char *mac = strrchr(token, '.') + 1;
    snprintf(forged, sizeof forged, "bt1.prop_other.1800000600.%s", mac);
    CHECK_INT(tly_token_verify(forged, secret, 1800000000), TLY_TOKEN_BAD_SIGNATURE);
    snprintf(forged, sizeof forged, "bt1.prop_shop.1800000700.%s", mac);
    CHECK_INT(tly_token_verify(forged, secret, 1800000000), TLY_TOKEN_BAD_SIGNATURE);
    /* A flipped MAC character. */
    snprintf(forged, sizeof forged, "%s", token);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'A' ? 'B' : 'A';
    CHECK(tly_token_verify(forged, secret, 1800000000) != TLY_TOKEN_OK);
    /* Shapes that are not tokens. */
    static const char *const bad[] = {"bt1.", "bt1..1.x", "bt1.p.x.y", "bt1.p.1", "bt1.p.1.2.3", "bt2.p.1.x",
                                      "bt1.p.-5.AAAA", "bt1.p.1.!!!!"};
    char id[80];
    for (size_t i = 0; i < TLY_ARRAY_LEN(bad); i++) CHECK_INT(tly_token_verify(bad[i], secret, 0), TLY_TOKEN_MALFORMED);
    CHECK_INT(tly_token_property("bt1.p.x.y", id, sizeof id), -1);
    CHECK_INT(tly_token_mint("has.dot", secret, 1, token, sizeof token), -1);
    CHECK_INT(tly_token_mint("", secret, 1, token, sizeof token), -1);
    CHECK_INT(tly_token_mint("prop_shop", secret, 1, token, 20), -1);
}

static void run_tests(void)
{
    test_round_trip();
    test_tampering();
}
