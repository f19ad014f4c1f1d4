#include "first.h"
#include "url.h"

#include <string.h>

/* Locale-free character classes: URLs are ASCII on the wire and isalpha() & co depend on LC_CTYPE. */
static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)b[i]) return false;
    }
    return true;
}

/* A registered-name host: letters, digits, '-', '_', '.', and non-ASCII bytes (IDNs sent unencoded).
 * Empty labels ("a..b", ".a") are refused; one trailing dot (the DNS root) is allowed. */
static bool reg_name_valid(const char *h, size_t len)
{
    if (len == 0 || len > TLY_URL_MAX_HOST_LEN || h[0] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '.') {
            if (i + 1 < len && h[i + 1] == '.') return false;
        } else if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_' || c >= 0x80)) {
            return false;
        }
    }
    return true;
}

/* The longest IPv6 address text, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" (INET6_ADDRSTRLEN
 * without its NUL), plus the brackets. */
#define IPV6_LITERAL_MAX_LEN (45 + 2)

/* Bracketed IPv6 (or IPvFuture-ish) literal: hex digits, ':' and '.' (for embedded IPv4) only. */
static bool ipv6_valid(const char *h, size_t len)
{
    if (len < 4 || len > IPV6_LITERAL_MAX_LEN || h[0] != '[' || h[len - 1] != ']') return false;
    size_t colons = 0;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == ':') colons++;
        else if (!(is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == '.')) return false;
    }
    return colons >= 2;
}

/* Empty port is allowed by RFC 3986 ("http://x:/"); otherwise 1-5 digits up to 65535. */
static bool port_valid(const char *p, size_t len)
{
    if (len > 5) return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit((unsigned char)p[i])) return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535;
}

int tly_url_parse(const char *s, size_t len, tly_url *out)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || len == 0) return -1;
    /* Control characters (including NUL, CR, LF, TAB) have no place in a URL a browser sends; refusing
     * them keeps them out of stored paths and logs. */
    for (size_t i = 0; i < len; i++)
        if (is_ctl((unsigned char)s[i])) return -1;

    size_t i = 0;
    while (i < len && is_alpha((unsigned char)s[i])) i++;
    if (i == len || s[i] != ':') return -1;
    if (!eq_nocase(s, i, "http") && !eq_nocase(s, i, "https")) return -1;
    out->scheme = s;
    out->scheme_len = i;
    i++;
    if (len - i < 2 || s[i] != '/' || s[i + 1] != '/') return -1;
    i += 2;

    size_t auth = i;
    while (i < len && s[i] != '/' && s[i] != '?' && s[i] != '#') i++;
    size_t auth_end = i;

    /* Userinfo ends at the last '@' of the authority; a '@' cannot occur in a valid host or port. */
    size_t host = auth;
    for (size_t k = auth; k < auth_end; k++)
        if (s[k] == '@') host = k + 1;

    size_t host_end;
    if (host < auth_end && s[host] == '[') {
        const char *close = memchr(s + host, ']', auth_end - host);
        if (close == NULL) return -1;
        host_end = (size_t)(close - s) + 1;
        if (!ipv6_valid(s + host, host_end - host)) return -1;
    } else {
        host_end = host;
        while (host_end < auth_end && s[host_end] != ':') host_end++;
        if (!reg_name_valid(s + host, host_end - host)) return -1;
    }
    if (host_end < auth_end) {
        if (s[host_end] != ':') return -1;
        if (!port_valid(s + host_end + 1, auth_end - host_end - 1)) return -1;
    }
    out->host = s + host;
    out->host_len = host_end - host;

    size_t end = tly_url_without_fragment(s, len);
    if (i < end && s[i] == '/') {
        size_t p = i;
        while (i < end && s[i] != '?') i++;
        out->path = s + p;
        out->path_len = i - p;
    } else {
        out->path = s + i;
    }
    if (i < end && s[i] == '?') {
        out->query = s + i + 1;
        out->query_len = end - i - 1;
    } else {
        out->query = s + end;
    }
    return 0;
}

size_t tly_url_without_fragment(const char *s, size_t len)
{
    if (s == NULL) return 0;
    const char *hash = memchr(s, '#', len);
    return hash ? (size_t)(hash - s) : len;
}

void tly_url_host_lower(const tly_url *u, bool strip_www, tly_buf *out)
{
    const char *h = u->host;
    size_t len = u->host_len;
    if (len > 1 && h[len - 1] == '.') len--;
    if (strip_www && len > 4 && eq_nocase(h, 4, "www.")) {
        h += 4;
        len -= 4;
    }
    char *dst = tly_buf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    tly_buf_commit(out, len);
}

static int hex_val(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void append_decoded(const char *v, size_t len, tly_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (c == '+') {
            tly_buf_append_char(out, ' ');
        } else if (c == '%' && i + 2 < len) {
            int hi = hex_val((unsigned char)v[i + 1]), lo = hex_val((unsigned char)v[i + 2]);
            /* "%00" would cut every C string the value is later copied into. */
            if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
                tly_buf_append_char(out, (char)(hi * 16 + lo));
                i += 2;
            } else {
                tly_buf_append_char(out, c);
            }
        } else {
            tly_buf_append_char(out, c);
        }
    }
}

int tly_url_query_param(const char *query, size_t query_len, const char *name, tly_buf *out)
{
    if (query == NULL) return 0;
    size_t name_len = strlen(name);
    if (name_len == 0) return 0;
    size_t i = 0;
    while (i <= query_len) {
        size_t start = i;
        while (i < query_len && query[i] != '&') i++;
        const char *eq = memchr(query + start, '=', i - start);
        size_t key_len = eq ? (size_t)(eq - (query + start)) : i - start;
        if (key_len == name_len && memcmp(query + start, name, name_len) == 0) {
            if (eq) append_decoded(eq + 1, (size_t)(query + i - (eq + 1)), out);
            return 1;
        }
        i++;
    }
    return 0;
}
