/* A growable byte buffer, always NUL-terminated after `len` bytes so ptr can be used as a C string.
 * A zero-initialised tly_buf is valid and empty. */
#ifndef TLY_BUF_H
#define TLY_BUF_H
#include "first.h"
#include <stdarg.h>
#include <stddef.h>

/* Buffers larger than this are released on reset, so one huge request does not pin memory. */
#define TLY_BUF_MAX_REUSE 65536

typedef struct tly_buf {
    char *ptr;   /* NULL while nothing was ever appended */
    size_t len;  /* bytes used, not counting the terminating NUL */
    size_t cap;  /* bytes allocated */
} tly_buf;

void tly_buf_append(tly_buf *b, const void *data, size_t len) TLY_NONNULL(1);
void tly_buf_append_str(tly_buf *b, const char *s) TLY_NONNULL(1, 2);
void tly_buf_append_char(tly_buf *b, char c) TLY_NONNULL(1);
/* A decimal integer, without printf's parsing of a format (for the hot paths that write many). */
void tly_buf_append_int(tly_buf *b, long long v) TLY_NONNULL(1);
void tly_buf_printf(tly_buf *b, const char *fmt, ...) TLY_NONNULL(1, 2) TLY_PRINTF(2, 3);
void tly_buf_vprintf(tly_buf *b, const char *fmt, va_list ap) TLY_NONNULL(1, 2);
/* Makes room for `extra` more bytes and returns where they go; call tly_buf_commit after writing. */
char *tly_buf_reserve(tly_buf *b, size_t extra) TLY_NONNULL(1);
void tly_buf_commit(tly_buf *b, size_t written) TLY_NONNULL(1);
/* The contents as a C string; "" for an empty buffer. */
const char *tly_buf_cstr(const tly_buf *b) TLY_NONNULL(1);
/* Empties the buffer, keeping its allocation unless it grew past TLY_BUF_MAX_REUSE. */
void tly_buf_reset(tly_buf *b) TLY_NONNULL(1);
void tly_buf_free(tly_buf *b) TLY_NONNULL(1);

#endif
