/* A fixed-size memo of recent results keyed by a string (a user agent): direct-mapped, bounded
 * memory, no eviction bookkeeping. A miss costs one hash; a collision just replaces the slot. */
#ifndef TLY_MEMO_H
#define TLY_MEMO_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct tly_memo tly_memo;

/* slots is rounded up to a power of two; keys longer than max_key are never memoised. */
tly_memo *tly_memo_new(size_t slots, size_t value_size, size_t max_key);
void tly_memo_free(tly_memo *memo);
/* Copies the remembered value for key into value and returns true, or returns false. */
bool tly_memo_get(const tly_memo *memo, const char *key, size_t len, void *value) TLY_NONNULL(1, 4);
void tly_memo_put(tly_memo *memo, const char *key, size_t len, const void *value) TLY_NONNULL(1, 4);

#endif
