/* Account passwords: argon2id through libsodium's crypto_pwhash_str (the algorithm and its cost
 * are recorded in the hash string), verified in constant time by crypto_pwhash_str_verify. */
#ifndef TLY_ADMIN_PASSWORD_H
#define TLY_ADMIN_PASSWORD_H
#include "first.h"
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#define TLY_ADMIN_PASSWORD_HASH_SIZE crypto_pwhash_STRBYTES

/* Hashes a password (interactive cost: ~64 MiB, a fraction of a second). 0 ok, -1 when the
 * memory could not be had. */
int tly_admin_password_hash(const char *password, size_t len, char out[TLY_ADMIN_PASSWORD_HASH_SIZE])
    TLY_NONNULL(1, 3) TLY_MUST_CHECK;
/* True when password matches hash. */
bool tly_admin_password_verify(const char *hash, const char *password, size_t len) TLY_NONNULL(1, 2)
    TLY_MUST_CHECK;
/* Spends the time of a verification without an account, so that a login answers an unknown
 * email and a wrong password alike. */
void tly_admin_password_verify_nobody(const char *password, size_t len) TLY_NONNULL(1);
/* True when hash was made with other parameters than today's and should be replaced. */
bool tly_admin_password_needs_rehash(const char *hash) TLY_NONNULL(1);

#endif
