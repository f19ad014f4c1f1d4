/* Token-bucket rate limits kept in memory: per write key and per client address (api.md: 429 with
 * Retry-After). Each process keeps its own buckets, so with N FastCGI processes a sender can get
 * up to N times the configured rate. Buckets are found by a 64-bit key; addresses are hashed with
 * a random per-process key first and never kept in the clear. */
#ifndef TLY_RATELIMIT_H
#define TLY_RATELIMIT_H
#include "first.h"
#include <stddef.h>
#include <stdint.h>

typedef struct tly_ratelimit tly_ratelimit;

/* `rate` tokens per second, at most `burst` saved up; `slots` buckets (rounded up to a power of 2;
 * senders beyond that share buckets, which only makes the limit stricter for them). */
tly_ratelimit *tly_ratelimit_new(double rate, double burst, size_t slots);
void tly_ratelimit_free(tly_ratelimit *rl);
/* Takes a token for `key` at now_ms: 0 when allowed, otherwise the whole seconds to wait before
 * one is available (>= 1). Thread-safe. */
int tly_ratelimit_take(tly_ratelimit *rl, uint64_t key, int64_t now_ms) TLY_NONNULL(1);

/* The bucket key of a text (an address, a key): SipHash with a per-process random key. */
uint64_t tly_ratelimit_key(const char *text, size_t len) TLY_NONNULL(1);

#endif
