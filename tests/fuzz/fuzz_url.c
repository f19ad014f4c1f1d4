/* libFuzzer target: URL and referrer parsing (tly_url_*, tly_referrer_source, tly_referrer_known).
 * The input is "referrer\npage host": the part before the first newline is parsed as a URL and as
 * a query string, the rest is the page's host for the self-referral check. */
#include "first.h"
#include "buf.h"
#include "fuzz_check.h"
#include "referrer.h"
#include "url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool within(const char *p, size_t len, const char *s, size_t size)
{
    return p >= s && p + len <= s + size;
}

static void check_url(const char *s, size_t len)
{
    tly_url u;
    size_t cut = tly_url_without_fragment(s, len);
    FUZZ_CHECK(cut <= len);
    if (tly_url_parse(s, cut, &u) != 0) return;
    FUZZ_CHECK(u.scheme == s && (u.scheme_len == 4 || u.scheme_len == 5));
    FUZZ_CHECK(u.host_len > 0 && u.host_len <= TLY_URL_MAX_HOST_LEN + 2);
    FUZZ_CHECK(within(u.host, u.host_len, s, cut));
    FUZZ_CHECK(within(u.path, u.path_len, s, cut));
    FUZZ_CHECK(within(u.query, u.query_len, s, cut));
    FUZZ_CHECK(u.path_len == 0 || u.path[0] == '/');
    tly_buf host = {0};
    tly_url_host_lower(&u, true, &host);
    FUZZ_CHECK(host.len <= u.host_len);
    for (size_t i = 0; i < host.len; i++) FUZZ_CHECK(host.ptr[i] < 'A' || host.ptr[i] > 'Z');
    (void)tly_referrer_known(host.ptr, host.len);
    tly_buf_free(&host);
}

static void check_query(const char *s, size_t len)
{
    static const char *const names[] = {"utm_source", "utm_medium", "ref", "a", "key"};
    tly_buf value = {0};
    for (size_t i = 0; i < TLY_ARRAY_LEN(names); i++) {
        tly_buf_reset(&value);
        int found = tly_url_query_param(s, len, names[i], &value);
        FUZZ_CHECK(found == 0 || found == 1);
        FUZZ_CHECK(found || value.len == 0);
        FUZZ_CHECK(value.len <= len);
        /* "%00" stays literal, so the value is a C string of its full length. */
        FUZZ_CHECK(strlen(tly_buf_cstr(&value)) == value.len || memchr(s, '\0', len));
    }
    tly_buf_free(&value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy: a parser that read one byte past its length would then be caught. */
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    const char *nl = memchr(s, '\n', size);
    size_t ref_len = nl ? (size_t)(nl - s) : size;
    const char *page = nl ? nl + 1 : NULL;
    size_t page_len = nl ? size - ref_len - 1 : 0;

    check_url(s, ref_len);
    check_query(s, ref_len);
    tly_buf out = {0};
    int rc = tly_referrer_source(s, ref_len, page, page_len, &out);
    FUZZ_CHECK(rc == 0 || rc == 1);
    FUZZ_CHECK(rc == 1 ? out.len > 0 : out.len == 0);
    tly_buf_free(&out);
    free(s);
    return 0;
}
