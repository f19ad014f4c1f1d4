#include "first.h"
#include "utf8.h"

/* Length of the well-formed sequence starting at s (at most len bytes), 0 when ill-formed.
 * Follows the table of well-formed byte sequences in the Unicode standard, section 3.9. */
static size_t sequence_length(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (len < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

bool tly_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = sequence_length(p + i, len - i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

void tly_utf8_sanitize(const char *s, size_t len, tly_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = sequence_length(p + i, len - i);
        if (n == 0) {
            tly_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            tly_buf_append(out, s + i, n);
            i += n;
        }
    }
}

size_t tly_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;   /* back to a lead byte */
    return n;
}

size_t tly_utf8_length(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    return count;
}
