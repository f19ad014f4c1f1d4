#include "first.h"
#include "buf.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tly_buf_reserve(tly_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need) cap *= 2;
        b->ptr = tly_xrealloc(b->ptr, cap);
        b->cap = cap;
    }
    return b->ptr + b->len;
}

void tly_buf_commit(tly_buf *b, size_t written)
{
    b->len += written;
    b->ptr[b->len] = '\0';
}

void tly_buf_append(tly_buf *b, const void *data, size_t len)
{
    char *dst = tly_buf_reserve(b, len);
    if (len) memcpy(dst, data, len);
    tly_buf_commit(b, len);
}

void tly_buf_append_str(tly_buf *b, const char *s)
{
    tly_buf_append(b, s, strlen(s));
}

void tly_buf_append_char(tly_buf *b, char c)
{
    tly_buf_append(b, &c, 1);
}

void tly_buf_append_int(tly_buf *b, long long v)
{
    char digits[24];
    size_t n = sizeof digits;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) digits[--n] = '-';
    tly_buf_append(b, digits + n, sizeof digits - n);
}

void tly_buf_vprintf(tly_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof small) {
        tly_buf_append(b, small, (size_t)n);
    } else {
        char *dst = tly_buf_reserve(b, (size_t)n);
        vsnprintf(dst, (size_t)n + 1, fmt, again);
        tly_buf_commit(b, (size_t)n);
    }
    va_end(again);
}

void tly_buf_printf(tly_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tly_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *tly_buf_cstr(const tly_buf *b)
{
    return b->ptr ? b->ptr : "";
}

void tly_buf_reset(tly_buf *b)
{
    if (b->cap > TLY_BUF_MAX_REUSE) {
        tly_buf_free(b);
        return;
    }
    b->len = 0;
    if (b->ptr) b->ptr[0] = '\0';
}

void tly_buf_free(tly_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}
