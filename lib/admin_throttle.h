/* Login throttling: failed sign-ins are counted per account and per client address over a window
 * (limits.h: TLY_ADMIN_THROTTLE_*); past the limit, sign-ins answer 429 with Retry-After without
 * even checking the password. Neither the email nor the address is stored: each is a keyed
 * BLAKE2b-256 hash under the day's salt (the one visitor hashes use, with its own label), which
 * becomes irreversible once cron destroys that salt. Hashes under yesterday's salt are counted
 * too, so that midnight does not reset the count. */
#ifndef TLY_ADMIN_THROTTLE_H
#define TLY_ADMIN_THROTTLE_H
#include "first.h"
#include "admin_token.h"
#include "db.h"
#include "visitor.h"
#include <stdint.h>

typedef struct tly_admin_throttle {
    /* [0] under today's salt, [1] under yesterday's ("" when that salt is gone). */
    char account[2][TLY_ADMIN_HASH_HEX_SIZE];
    char address[2][TLY_ADMIN_HASH_HEX_SIZE];
} tly_admin_throttle;

/* The keyed hash of value (kind "account": an email, lowercased here; "address": an IP). */
void tly_admin_throttle_hash(const uint8_t salt[TLY_SALT_BYTES], const char *kind, const char *value,
                             char out[TLY_ADMIN_HASH_HEX_SIZE]) TLY_NONNULL(1, 2, 3, 4);
/* Computes the keys of a sign-in attempt. Call it outside a transaction (it may create today's
 * salt). 0 ok, -1 err. */
int tly_admin_throttle_keys(tly_db *db, const char *email, const char *ip, tly_admin_throttle *t,
                            tly_db_error *err) TLY_NONNULL(1, 2, 3, 4, 5) TLY_MUST_CHECK;
/* 0 when the attempt may go ahead; otherwise the seconds to wait (> 0), with *which naming the
 * limit ("account" or "address"). -1 err. */
long tly_admin_throttle_check(tly_db *db, const tly_admin_throttle *t, const char **which, tly_db_error *err)
    TLY_NONNULL(1, 2, 3, 4) TLY_MUST_CHECK;
/* Counts a failed attempt. 0 ok, -1 err. */
int tly_admin_throttle_fail(tly_db *db, const tly_admin_throttle *t, tly_db_error *err)
    TLY_NONNULL(1, 2, 3) TLY_MUST_CHECK;
/* A successful sign-in forgets its account's failures (not its address's). 0 ok, -1 err. */
int tly_admin_throttle_forgive(tly_db *db, const tly_admin_throttle *t, tly_db_error *err)
    TLY_NONNULL(1, 2, 3) TLY_MUST_CHECK;

#endif
