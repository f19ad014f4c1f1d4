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
/* The number of code points in well-formed s. */
size_t tly_utf8_length(const char *s, size_t len);

#endif
