/* Allocation that never returns NULL: on exhaustion the process logs and aborts, and the web
 * server starts a fresh worker. Input errors are never handled this way. */
#ifndef TLY_MEM_H
#define TLY_MEM_H
#include <stddef.h>

void *tly_xmalloc(size_t size) __attribute__((returns_nonnull, malloc));
void *tly_xcalloc(size_t count, size_t size) __attribute__((returns_nonnull, malloc));
void *tly_xrealloc(void *ptr, size_t size) __attribute__((returns_nonnull));
/* Copy of s (NUL-terminated) / of the first len bytes of s plus a NUL. */
char *tly_xstrdup(const char *s) __attribute__((returns_nonnull, nonnull(1)));
char *tly_xstrndup(const char *s, size_t len) __attribute__((returns_nonnull, nonnull(1)));

#endif
