/* UTF-8 checks for text that came from clients. */
#ifndef TLY_UTF8_H
#define TLY_UTF8_H
#include "first.h"
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or NUL bytes). */
bool tly_utf8_valid(const char *s, size_t len);
/* Appends s with every ill-formed sequence and NUL replaced by U+FFFD. */
void tly_utf8_sanitize(const char *s, size_t len, tly_buf *out) TLY_NONNULL(3);
/* The length of the longest prefix of well-formed s[0..len) that fits in max bytes without
 * splitting a character: len itself when it fits. */
size_t tly_utf8_cut(const char *s, size_t len, size_t max);
/* The number of code points in well-formed s. */
size_t tly_utf8_length(const char *s, size_t len);

#endif
