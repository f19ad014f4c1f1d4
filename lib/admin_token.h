/* Secrets of the admin API: session, invitation and share-link tokens and API keys. Each is a
 * prefix plus 32 random bytes in base64url; only its SHA-256 is ever stored or sent to the
 * database. The CSRF token of a dashboard session is derived from the session token, so it needs
 * no storage and cannot be guessed without it. */
#ifndef TLY_ADMIN_TOKEN_H
#define TLY_ADMIN_TOKEN_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>

#define TLY_ADMIN_TOKEN_BYTES    32
#define TLY_ADMIN_TOKEN_B64_LEN  43   /* base64url of 32 bytes, unpadded */
#define TLY_ADMIN_PREFIX_MAX     8    /* "wk_", "rk_", "sh_", "inv_", ... */
#define TLY_ADMIN_TOKEN_SIZE     (TLY_ADMIN_PREFIX_MAX + TLY_ADMIN_TOKEN_B64_LEN + 1)
#define TLY_ADMIN_HASH_HEX_SIZE  65   /* 64 hex digits + NUL */
#define TLY_ADMIN_CSRF_SIZE      (TLY_ADMIN_TOKEN_B64_LEN + 1)
/* Characters of a secret shown in lists so that a person can recognise it. */
#define TLY_ADMIN_VISIBLE_PREFIX 10

/* Writes prefix (at most TLY_ADMIN_PREFIX_MAX bytes) + 43 random base64url characters. */
void tly_admin_token_new(const char *prefix, char out[TLY_ADMIN_TOKEN_SIZE]) TLY_NONNULL(1, 2);
/* True when s has the shape of a token with this prefix (so garbage is refused before hashing). */
bool tly_admin_token_valid(const char *prefix, const char *s, size_t len) TLY_NONNULL(1);
/* SHA-256 of s[0..len) as 64 lowercase hex digits: the form in which the database sees a secret
 * (decode($n, 'hex')), as lib/property.c's key lookup expects it. */
void tly_admin_hash_hex(const char *s, size_t len, char out[TLY_ADMIN_HASH_HEX_SIZE]) TLY_NONNULL(3);
/* The CSRF token of a session token: base64url(BLAKE2b-256(key = session token, "tally-csrf")). */
void tly_admin_csrf_of(const char *session_token, char out[TLY_ADMIN_CSRF_SIZE]) TLY_NONNULL(1, 2);
/* Compares a client's CSRF token with the session's in constant time; NULL never matches. */
bool tly_admin_csrf_matches(const char *session_token, const char *given) TLY_NONNULL(1);
/* n random characters of [a-z0-9] plus a NUL (property ids: not secret, only unique). */
void tly_admin_random_id(char *out, size_t n) TLY_NONNULL(1);

#endif
