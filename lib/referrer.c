#include "first.h"
#include "referrer.h"
#include "url.h"

#include <stdbool.h>
#include <string.h>

typedef struct ref_entry {
    const char *key;
    const char *name;
} ref_entry;

static const ref_entry ref_domains[] = {
#define TLY_REF_DOMAIN(k, n) {k, n},
#define TLY_REF_ANYTLD(k, n)
#include "referrers.inc"
#undef TLY_REF_DOMAIN
#undef TLY_REF_ANYTLD
};

static const ref_entry ref_anytld[] = {
#define TLY_REF_DOMAIN(k, n)
#define TLY_REF_ANYTLD(k, n) {k, n},
#include "referrers.inc"
#undef TLY_REF_DOMAIN
#undef TLY_REF_ANYTLD
};

/* Byte order of key (NUL-terminated) against s[0, len): the same order as strcmp, so the table
 * can be checked with strcmp and searched with a (ptr, len) that is not NUL-terminated. */
static int key_cmp(const char *key, const char *s, size_t len)
{
    size_t klen = strlen(key);
    int c = memcmp(key, s, klen < len ? klen : len);
    if (c != 0) return c;
    return klen < len ? -1 : klen > len ? 1 : 0;
}

static const char *bsearch_name(const ref_entry *tab, size_t n, const char *s, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(tab[mid].key, s, len);
        if (c == 0) return tab[mid].name;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static bool all_alpha(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 'a' || s[i] > 'z') return false;
    return true;
}

/* A "public suffix-ish" tail, deliberately small instead of the full Public Suffix List: a 2-3
 * letter TLD ("de", "com") or a generic second level under a 2-letter ccTLD ("co.uk", "com.br").
 * This is what google.*, yahoo.* & co actually use, and it keeps "google.example.com" out. */
static bool tail_is_suffix(const char *t, size_t len)
{
    static const char *const second_levels[] = {"ac", "co", "com", "edu", "gob", "gov", "ne", "net",
                                                "or", "org"};
    const char *dot = memchr(t, '.', len);
    if (dot == NULL) return len >= 2 && len <= 3 && all_alpha(t, len);
    size_t first = (size_t)(dot - t), last = len - first - 1;
    if (last != 2 || !all_alpha(dot + 1, last) || memchr(dot + 1, '.', last) != NULL) return false;
    for (size_t i = 0; i < TLY_ARRAY_LEN(second_levels); i++)
        if (strlen(second_levels[i]) == first && memcmp(second_levels[i], t, first) == 0) return true;
    return false;
}

const char *tly_referrer_known(const char *host, size_t host_len)
{
    if (host == NULL) return NULL;
    /* Walk the label boundaries from the full host to its shortest suffix, so the most specific
     * entry wins: at most one binary search per label in each table (hosts have a handful). */
    size_t pos = 0;
    while (pos < host_len) {
        const char *suffix = host + pos;
        size_t suffix_len = host_len - pos;
        const char *name = bsearch_name(ref_domains, TLY_ARRAY_LEN(ref_domains), suffix, suffix_len);
        if (name) return name;
        const char *dot = memchr(suffix, '.', suffix_len);
        if (dot == NULL) break;
        size_t label_len = (size_t)(dot - suffix);
        const char *tail = dot + 1;
        size_t tail_len = suffix_len - label_len - 1;
        if (tail_is_suffix(tail, tail_len)) {
            name = bsearch_name(ref_anytld, TLY_ARRAY_LEN(ref_anytld), suffix, label_len);
            if (name) return name;
        }
        pos += label_len + 1;
    }
    return NULL;
}

/* page_host as a bare comparable host: lowercase, no port, no trailing dot, no "www.". */
static void normalize_page_host(const char *h, size_t len, tly_buf *out)
{
    size_t end = len;
    if (len > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', len);
        if (close) end = (size_t)(close - h) + 1;
    } else {
        const char *colon = memchr(h, ':', len);
        if (colon) end = (size_t)(colon - h);
    }
    tly_url u = {.host = h, .host_len = end};
    tly_url_host_lower(&u, true, out);
}

int tly_referrer_source(const char *referrer, size_t ref_len, const char *page_host,
                        size_t page_host_len, tly_buf *out)
{
    if (referrer == NULL || ref_len == 0) return 0;
    tly_url u;
    if (tly_url_parse(referrer, tly_url_without_fragment(referrer, ref_len), &u) != 0) return 0;
    tly_buf host = {0}, page = {0};
    tly_url_host_lower(&u, true, &host);
    if (page_host && page_host_len) normalize_page_host(page_host, page_host_len, &page);
    int ret = 0;
    if (host.len > 0 && !(page.len == host.len && memcmp(page.ptr, host.ptr, host.len) == 0)) {
        const char *name = tly_referrer_known(host.ptr, host.len);
        if (name) tly_buf_append_str(out, name);
        else tly_buf_append(out, host.ptr, host.len);
        ret = 1;
    }
    tly_buf_free(&host);
    tly_buf_free(&page);
    return ret;
}

static int check_sorted(const ref_entry *tab, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(tab[i - 1].key, tab[i].key) >= 0) return -1;
    return 0;
}

int tly_referrer_table_check(void)
{
    if (check_sorted(ref_domains, TLY_ARRAY_LEN(ref_domains)) != 0) return -1;
    return check_sorted(ref_anytld, TLY_ARRAY_LEN(ref_anytld));
}
