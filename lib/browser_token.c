#include "first.h"
#include "browser_token.h"
#include "strict.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MAC_B64_LEN sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)

bool tly_token_is(const char *credential)
{
    return strncmp(credential, TLY_TOKEN_PREFIX, sizeof TLY_TOKEN_PREFIX - 1) == 0;
}

/* The MAC of the signed part, "bt1.<id>.<expiry>". */
static void mac_of(const char *signed_part, size_t len, const uint8_t *secret,
                   unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, TLY_TOKEN_SECRET_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signed_part, len);
    crypto_auth_hmacsha256_final(&st, mac);
}

int tly_token_mint(const char *property_id, const uint8_t secret[TLY_TOKEN_SECRET_BYTES], int64_t expires,
                   char *out, size_t outlen)
{
    if (!*property_id || strchr(property_id, '.')) return -1;
    char signed_part[TLY_TOKEN_MAX_LEN];
    int n = snprintf(signed_part, sizeof signed_part, TLY_TOKEN_PREFIX "%s.%lld", property_id, (long long)expires);
    if (n < 0 || (size_t)n >= sizeof signed_part) return -1;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    mac_of(signed_part, (size_t)n, secret, mac);
    char b64[MAC_B64_LEN];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int m = snprintf(out, outlen, "%s.%s", signed_part, b64);
    return m < 0 || (size_t)m >= outlen ? -1 : 0;
}

/* Splits "bt1.<id>.<expiry>.<mac>": the signed part's length, the id and the expiry. */
static int split(const char *token, size_t *signed_len, const char **id, size_t *id_len, int64_t *expires,
                 const char **mac)
{
    size_t len = strlen(token);
    if (!tly_token_is(token) || len > TLY_TOKEN_MAX_LEN) return -1;
    const char *p = token + sizeof TLY_TOKEN_PREFIX - 1;
    const char *dot1 = strchr(p, '.');
    if (!dot1 || dot1 == p) return -1;
    const char *dot2 = strchr(dot1 + 1, '.');
    if (!dot2 || dot2 == dot1 + 1 || strchr(dot2 + 1, '.')) return -1;
    long long e;
    if (tly_strict_int(dot1 + 1, (size_t)(dot2 - dot1 - 1), 0, INT64_MAX, &e) != 0) return -1;
    *id = p;
    *id_len = (size_t)(dot1 - p);
    *expires = e;
    *signed_len = (size_t)(dot2 - token);
    *mac = dot2 + 1;
    return 0;
}

int tly_token_property(const char *token, char *property_id, size_t idlen)
{
    size_t signed_len, id_len;
    const char *id, *mac;
    int64_t expires;
    if (split(token, &signed_len, &id, &id_len, &expires, &mac) != 0 || id_len >= idlen) return -1;
    memcpy(property_id, id, id_len);
    property_id[id_len] = '\0';
    return 0;
}

tly_token_status tly_token_verify(const char *token, const uint8_t secret[TLY_TOKEN_SECRET_BYTES], int64_t now)
{
    size_t signed_len, id_len;
    const char *id, *mac;
    int64_t expires;
    if (split(token, &signed_len, &id, &id_len, &expires, &mac) != 0) return TLY_TOKEN_MALFORMED;
    unsigned char given[crypto_auth_hmacsha256_BYTES];
    size_t given_len;
    if (sodium_base642bin(given, sizeof given, mac, strlen(mac), NULL, &given_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || given_len != sizeof given)
        return TLY_TOKEN_MALFORMED;
    unsigned char want[crypto_auth_hmacsha256_BYTES];
    mac_of(token, signed_len, secret, want);
    if (sodium_memcmp(given, want, sizeof want) != 0) return TLY_TOKEN_BAD_SIGNATURE;
    if (expires <= now) return TLY_TOKEN_EXPIRED;
    if (expires > now + TLY_TOKEN_MAX_TTL) return TLY_TOKEN_MALFORMED;
    return TLY_TOKEN_OK;
}

const char *tly_token_status_text(tly_token_status status)
{
    switch (status) {
    case TLY_TOKEN_OK: return "valid";
    case TLY_TOKEN_MALFORMED: return "malformed browser token";
    case TLY_TOKEN_EXPIRED: return "browser token expired";
    case TLY_TOKEN_BAD_SIGNATURE: return "browser token signature does not match";
    }
    return "invalid browser token";
}
