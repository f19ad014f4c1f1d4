#include "first.h"
#include "strict.h"

#include <stdint.h>

int tly_strict_int(const char *s, size_t len, long long lo, long long hi, long long *out)
{
    size_t i = 0;
    int negative = 0;
    if (len > 0 && s[0] == '-') {
        negative = 1;
        i = 1;
    }
    if (i == len || len - i > 19) return -1;
    unsigned long long value = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        value = value * 10 + (unsigned long long)(s[i] - '0');
    }
    /* 19 digits fit in an unsigned 64-bit value, so only the signed range needs checking. */
    if (!negative && value > (unsigned long long)INT64_MAX) return -1;
    if (negative && value > (unsigned long long)INT64_MAX + 1) return -1;
    long long v = negative ? (long long)(0 - value) : (long long)value;
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}
