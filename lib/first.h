/* Included first by every .c file of Tally: build configuration and feature macros. */
#ifndef TLY_FIRST_H
#define TLY_FIRST_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#define TLY_NONNULL(...)  __attribute__((nonnull(__VA_ARGS__)))
#define TLY_MUST_CHECK    __attribute__((warn_unused_result))
#define TLY_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#define TLY_COLD          __attribute__((cold))
#define TLY_ARRAY_LEN(a)  (sizeof(a) / sizeof((a)[0]))

#endif
