/* A property (one tracked site) and the settings ingest needs, looked up by API key.
 * Keys are stored only as SHA-256 of the secret; the lookup is by that hash, so the secret is
 * never compared byte by byte. */
#ifndef TLY_PROPERTY_H
#define TLY_PROPERTY_H
#include "first.h"
#include "db.h"
#include "limits.h"
#include "browser_token.h"
#include "visitor.h"
#include <jansson.h>
#include <stdbool.h>

typedef struct tly_property {
    int pk;
    char id[TLY_MAX_PROPERTY_ID_LEN + 1];
    int session_timeout;
    bool drop_gpc;
    json_t *allowed_origins;   /* array of strings; "*" allows any */
    json_t *excluded_paths;    /* array of strings; a trailing '*' matches a prefix */
    json_t *excluded_addresses;    /* array of addresses and CIDR ranges */
    json_t *domains;           /* array of host names */
    long long event_quota_daily;   /* events a UTC day may store; 0: no quota */
    bool require_token;            /* browsers (requests with an Origin) must use a signed token */
    uint8_t token_secret[TLY_TOKEN_SECRET_BYTES];
    uint8_t visitor_key[TLY_SALT_BYTES];
} tly_property;

typedef enum {
    TLY_KEY_OK,
    TLY_KEY_UNKNOWN,
    TLY_KEY_REVOKED,
    TLY_KEY_ERROR      /* database error: see err */
} tly_key_status;

/* Looks up a key of `kind` ("write" or "read") and its property; marks it used (at most once a
 * minute, to keep writes off the hot path). prop is filled only for TLY_KEY_OK and must then be
 * released with tly_property_clear. */
tly_key_status tly_property_by_key(tly_db *db, const char *kind, const char *secret,
                                   tly_property *prop, tly_db_error *err)
    TLY_NONNULL(1, 2, 3, 4, 5) TLY_MUST_CHECK;
/* Resolves a signed browser token (browser_token.h) to its property, checking its signature and
 * expiry at `now` (Unix seconds). TLY_KEY_OK with prop filled (release with tly_property_clear);
 * TLY_KEY_UNKNOWN with the reason in *why; TLY_KEY_ERROR on database error. */
tly_key_status tly_property_by_token(tly_db *db, const char *token, int64_t now, tly_property *prop,
                                     tly_token_status *why, tly_db_error *err)
    TLY_NONNULL(1, 2, 4, 5, 6) TLY_MUST_CHECK;
/* Looks up a property by its id: 1 found (release with tly_property_clear), 0 none, -1 database
 * error. */
int tly_property_by_id(tly_db *db, const char *id, tly_property *prop, tly_db_error *err)
    TLY_NONNULL(1, 2, 3, 4) TLY_MUST_CHECK;
/* Looks up the property that lists `domain` (case-insensitive) among its domains: 1 found (release
 * with tly_property_clear), 0 none, -1 database error. */
int tly_property_by_domain(tly_db *db, const char *domain, tly_property *prop, tly_db_error *err)
    TLY_NONNULL(1, 2, 3, 4) TLY_MUST_CHECK;
void tly_property_clear(tly_property *prop) TLY_NONNULL(1);
/* Key lookups are remembered for `seconds` (0 disables); revocation takes effect within it. */
void tly_property_cache_setup(int seconds);
void tly_property_cache_clear(void);

/* True when a browser Origin header value is allowed by the property. */
bool tly_property_origin_allowed(const tly_property *prop, const char *origin) TLY_NONNULL(1, 2);
/* True when events on path are to be dropped (excluded_paths). */
bool tly_property_path_excluded(const tly_property *prop, const char *path) TLY_NONNULL(1, 2);
/* True when events from the client address ip are to be dropped (excluded_addresses). */
bool tly_property_address_excluded(const tly_property *prop, const char *ip) TLY_NONNULL(1, 2);

#endif
