/* Signed browser tokens: an ingest credential a site's backend mints for its pages, valid for
 * minutes to hours, instead of the long-lived write key.
 *
 *   bt1.<property id>.<expiry, Unix seconds>.<base64url of HMAC-SHA256(token_secret, "bt1.<id>.<expiry>")>
 *
 * Each property has its own 32-byte token_secret. Verification recomputes the MAC and compares in
 * constant time; a token whose expiry has passed, or lies more than TLY_TOKEN_MAX_TTL ahead, is
 * refused. */
#ifndef TLY_BROWSER_TOKEN_H
#define TLY_BROWSER_TOKEN_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLY_TOKEN_PREFIX "bt1."
#define TLY_TOKEN_SECRET_BYTES 32
#define TLY_TOKEN_MIN_TTL 60
#define TLY_TOKEN_MAX_TTL 86400
#define TLY_TOKEN_MAX_LEN 160

typedef enum {
    TLY_TOKEN_OK,
    TLY_TOKEN_MALFORMED,
    TLY_TOKEN_EXPIRED,
    TLY_TOKEN_BAD_SIGNATURE
} tly_token_status;

/* Whether a credential is a browser token (rather than a key). */
bool tly_token_is(const char *credential) TLY_NONNULL(1);
/* Writes a token for property_id expiring at `expires` (Unix seconds) into out. 0, or -1 when the
 * id does not fit. */
int tly_token_mint(const char *property_id, const uint8_t secret[TLY_TOKEN_SECRET_BYTES], int64_t expires,
                   char *out, size_t outlen) TLY_NONNULL(1, 2, 4) TLY_MUST_CHECK;
/* The property id a token names (not yet verified). 0, or -1 when it is not a well-formed token. */
int tly_token_property(const char *token, char *property_id, size_t idlen) TLY_NONNULL(1, 2);
/* Verifies a token against its property's secret at now (Unix seconds). */
tly_token_status tly_token_verify(const char *token, const uint8_t secret[TLY_TOKEN_SECRET_BYTES], int64_t now)
    TLY_NONNULL(1, 2);
/* What a refusal says, for the 401 message. */
const char *tly_token_status_text(tly_token_status status);

#endif
