/* Strict number parsing for untrusted text: the whole input must be the number, with no sign
 * surprises, spaces or overflow. Rejects rather than clamps. */
#ifndef TLY_STRICT_H
#define TLY_STRICT_H
#include "first.h"
#include <stddef.h>

/* Decimal integer (optional leading '-') in [lo, hi]. 0 ok, -1 otherwise. */
int tly_strict_int(const char *s, size_t len, long long lo, long long hi, long long *out)
    TLY_MUST_CHECK;

#endif
