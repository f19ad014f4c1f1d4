/* Daily salts: 32 random bytes per UTC day, shared by all processes through the database.
 * Today's is created on demand; yesterday's is kept only so a visit can cross midnight; older
 * ones are deleted, from the database and from this process's memory. */
#ifndef TLY_SALT_H
#define TLY_SALT_H
#include "first.h"
#include "db.h"
#include "visitor.h"
#include <stdbool.h>
#include <stdint.h>

/* The salt of `day` (days since 1970-01-01, UTC) into out. With create, a missing salt is made.
 * 1 found, 0 none (without create, or for a day older than yesterday), -1 database error. */
int tly_salt_get(tly_db *db, int32_t day, int32_t today, bool create,
                 uint8_t out[TLY_SALT_BYTES], tly_db_error *err) TLY_NONNULL(1, 5, 6) TLY_MUST_CHECK;
/* Deletes salts older than yesterday. Returns rows deleted, or -1. */
int tly_salt_purge(tly_db *db, int32_t today, tly_db_error *err) TLY_NONNULL(1, 3);
/* Wipes the process cache (tests, shutdown). */
void tly_salt_forget_all(void);

#endif
