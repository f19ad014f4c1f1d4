#include "first.h"
#include "tap.h"
#include "buf.h"
#include "url.h"

#include <string.h>

/* Expected parse of one URL; NULL fields are "absent" (len 0). */
typedef struct url_case {
    const char *in;
    int ret;
    const char *scheme, *host, *path, *query;
} url_case;

static void check_part(const char *in, const char *what, const char *p, size_t len, const char *want)
{
    char got[512];
    snprintf(got, sizeof(got), "%.*s", (int)len, p ? p : "");
    int ok = strcmp(got, want ? want : "") == 0;
    char msg[700];
    snprintf(msg, sizeof(msg), "%s of %s", what, in);
    for (char *m = msg; *m; m++)
        if ((unsigned char)*m < 0x20) *m = '?';
    tap_result(ok, __FILE__, __LINE__, msg);
    if (!ok) printf("#   expected: \"%s\"\n#        got: \"%s\"\n", want ? want : "", got);
}

static void test_parse(void)
{
    static const url_case cases[] = {
        {"https://example.com/products/sku1", 0, "https", "example.com", "/products/sku1", NULL},
        {"http://example.com", 0, "http", "example.com", NULL, NULL},
        {"http://example.com/", 0, "http", "example.com", "/", NULL},
        {"HTTPS://Example.COM/A?B=1", 0, "HTTPS", "Example.COM", "/A", "B=1"},
        {"https://example.com/p?q=1&r=2#frag", 0, "https", "example.com", "/p", "q=1&r=2"},
        {"https://example.com?x=1", 0, "https", "example.com", NULL, "x=1"},
        {"https://example.com#top", 0, "https", "example.com", NULL, NULL},
        {"https://example.com/#/route?x=1", 0, "https", "example.com", "/", NULL},
        {"https://example.com:8443/a", 0, "https", "example.com", "/a", NULL},
        {"http://example.com:/a", 0, "http", "example.com", "/a", NULL},
        {"https://user:pw@example.com:8080/x?y", 0, "https", "example.com", "/x", "y"},
        {"https://a@b@example.com/", 0, "https", "example.com", "/", NULL},
        {"http://[::1]:8080/admin", 0, "http", "[::1]", "/admin", NULL},
        {"http://[2001:db8::1]/", 0, "http", "[2001:db8::1]", "/", NULL},
        {"http://127.0.0.1:3000/x", 0, "http", "127.0.0.1", "/x", NULL},
        {"https://www.example.co.uk./path", 0, "https", "www.example.co.uk.", "/path", NULL},
        {"https://xn--mnchen-3ya.de/", 0, "https", "xn--mnchen-3ya.de", "/", NULL},
        {"https://example.com/a b", 0, "https", "example.com", "/a b", NULL},
        {"https://example.com/?", 0, "https", "example.com", "/", NULL},
        {"https://my_host.local/", 0, "https", "my_host.local", "/", NULL},
        {"//example.com/x", -1, NULL, NULL, NULL, NULL},
        {"/relative/path", -1, NULL, NULL, NULL, NULL},
        {"javascript:alert(1)", -1, NULL, NULL, NULL, NULL},
        {"ftp://example.com/", -1, NULL, NULL, NULL, NULL},
        {"httpx://example.com/", -1, NULL, NULL, NULL, NULL},
        {"http:/example.com/", -1, NULL, NULL, NULL, NULL},
        {"http://", -1, NULL, NULL, NULL, NULL},
        {"http:///path", -1, NULL, NULL, NULL, NULL},
        {"http://user@/x", -1, NULL, NULL, NULL, NULL},
        {"http://exa mple.com/", -1, NULL, NULL, NULL, NULL},
        {"http://example.com\t/", -1, NULL, NULL, NULL, NULL},
        {"http://example.com/\n", -1, NULL, NULL, NULL, NULL},
        {" http://example.com/", -1, NULL, NULL, NULL, NULL},
        {"http://example.com:99999/", -1, NULL, NULL, NULL, NULL},
        {"http://example.com:80a/", -1, NULL, NULL, NULL, NULL},
        {"http://example.com:-1/", -1, NULL, NULL, NULL, NULL},
        {"http://[::1/", -1, NULL, NULL, NULL, NULL},
        {"http://[::1]x/", -1, NULL, NULL, NULL, NULL},
        {"http://[zz::1]/", -1, NULL, NULL, NULL, NULL},
        {"http://a..b/", -1, NULL, NULL, NULL, NULL},
        {"http://.example.com/", -1, NULL, NULL, NULL, NULL},
        {"http://exa<mple.com/", -1, NULL, NULL, NULL, NULL},
        {"", -1, NULL, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) {
        const url_case *c = &cases[i];
        tly_url u;
        int ret = tly_url_parse(c->in, strlen(c->in), &u);
        char msg[600];
        snprintf(msg, sizeof(msg), "parse \"%s\" returns %d", c->in, c->ret);
        /* Control characters in a case would break the TAP line. */
        for (char *m = msg; *m; m++)
            if ((unsigned char)*m < 0x20) *m = '?';
        tap_result(ret == c->ret, __FILE__, __LINE__, msg);
        if (ret != 0 || c->ret != 0) continue;
        check_part(c->in, "scheme", u.scheme, u.scheme_len, c->scheme);
        check_part(c->in, "host", u.host, u.host_len, c->host);
        check_part(c->in, "path", u.path, u.path_len, c->path);
        check_part(c->in, "query", u.query, u.query_len, c->query);
    }

    /* Length is honoured: bytes after len are not part of the URL. */
    tly_url u;
    const char *s = "https://example.com/abc\x01zzz";
    CHECK_INT(tly_url_parse(s, 23, &u), 0);
    CHECK_INT(u.path_len, 4);
    CHECK_INT(tly_url_parse(s, strlen(s), &u), -1);
    /* An embedded NUL is a control character. */
    CHECK_INT(tly_url_parse("http://a.com/\0x", 15, &u), -1);
    CHECK_INT(tly_url_parse(NULL, 0, &u), -1);
    /* Host length limit. */
    char longhost[300];
    memcpy(longhost, "http://", 7);
    memset(longhost + 7, 'a', 254);
    CHECK_INT(tly_url_parse(longhost, 7 + 254, &u), -1);
    CHECK_INT(tly_url_parse(longhost, 7 + 253, &u), 0);
    /* IPv6 literals are held to the length of the longest address (found by tests/fuzz: a
     * 350-byte "[::::...]" host passed as a host of any length). */
    CHECK_INT(tly_url_parse("http://[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]/", 55, &u), 0);
    CHECK_INT(u.host_len, 47);
    CHECK_INT(tly_url_parse("http://[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555]/", 56, &u), -1);
    char longv6[400] = "http://[";
    for (int i = 0; i < 150; i++) strcat(longv6, "1:");
    strcat(longv6, "1]/x");
    CHECK_INT(tly_url_parse(longv6, strlen(longv6), &u), -1);
}

static void test_without_fragment(void)
{
    CHECK_INT(tly_url_without_fragment("https://a.com/x#y", 17), 15);
    CHECK_INT(tly_url_without_fragment("https://a.com/x", 15), 15);
    CHECK_INT(tly_url_without_fragment("#", 1), 0);
    CHECK_INT(tly_url_without_fragment("", 0), 0);
    CHECK_INT(tly_url_without_fragment("a#b#c", 5), 1);
    CHECK_INT(tly_url_without_fragment("ab#c", 2), 2);
}

static const char *host_of(const char *url, bool strip, tly_buf *b)
{
    tly_url u;
    tly_buf_reset(b);
    if (tly_url_parse(url, strlen(url), &u) != 0) return "(invalid)";
    tly_url_host_lower(&u, strip, b);
    return tly_buf_cstr(b);
}

static void test_host_lower(void)
{
    tly_buf b = {0};
    CHECK_STR(host_of("https://WWW.Example.COM/", true, &b), "example.com");
    CHECK_STR(host_of("https://WWW.Example.COM/", false, &b), "www.example.com");
    CHECK_STR(host_of("https://www.example.com./", true, &b), "example.com");
    CHECK_STR(host_of("https://wwwexample.com/", true, &b), "wwwexample.com");
    CHECK_STR(host_of("https://www2.example.com/", true, &b), "www2.example.com");
    CHECK_STR(host_of("https://blog.www.example.com/", true, &b), "blog.www.example.com");
    CHECK_STR(host_of("http://[::1]:8080/", true, &b), "[::1]");
    CHECK_STR(host_of("http://[2001:DB8::A]/", true, &b), "[2001:db8::a]");
    /* Appends rather than replaces. */
    tly_buf_reset(&b);
    tly_buf_append_str(&b, "x:");
    tly_url u;
    CHECK_INT(tly_url_parse("http://A.b", 10, &u), 0);
    tly_url_host_lower(&u, true, &b);
    CHECK_STR(tly_buf_cstr(&b), "x:a.b");
    tly_buf_free(&b);
}

/* Result of looking up name in query: "(absent)" or the decoded value. */
static const char *param(const char *query, const char *name, tly_buf *b)
{
    tly_buf_reset(b);
    int r = tly_url_query_param(query, strlen(query), name, b);
    if (r == 0) return b->len == 0 ? "(absent)" : "(absent but appended!)";
    if (r != 1) return "(bad return)";
    return tly_buf_cstr(b);
}

static void test_query_param(void)
{
    tly_buf b = {0};
    const char *q = "utm_source=google&utm_medium=cpc&utm_campaign=winter+sale%20%21&empty=&flag&x=1";
    CHECK_STR(param(q, "utm_source", &b), "google");
    CHECK_STR(param(q, "utm_medium", &b), "cpc");
    CHECK_STR(param(q, "utm_campaign", &b), "winter sale !");
    CHECK_STR(param(q, "empty", &b), "");
    CHECK_STR(param(q, "flag", &b), "");
    CHECK_STR(param(q, "x", &b), "1");
    CHECK_STR(param(q, "utm_term", &b), "(absent)");
    CHECK_STR(param(q, "UTM_SOURCE", &b), "(absent)");
    CHECK_STR(param(q, "utm", &b), "(absent)");
    CHECK_STR(param(q, "", &b), "(absent)");
    CHECK_STR(param("", "a", &b), "(absent)");
    CHECK_STR(param("a=1&a=2", "a", &b), "1");
    CHECK_STR(param("&&a=1&", "a", &b), "1");
    CHECK_STR(param("b=1&a=x=y", "a", &b), "x=y");
    CHECK_STR(param("a=%E2%82%AC", "a", &b), "\xe2\x82\xac");
    CHECK_STR(param("a=%e2%82%ac", "a", &b), "\xe2\x82\xac");
    CHECK_STR(param("a=100%", "a", &b), "100%");
    CHECK_STR(param("a=%4", "a", &b), "%4");
    CHECK_STR(param("a=%zz1", "a", &b), "%zz1");
    CHECK_STR(param("a=x%00y", "a", &b), "x%00y");
    CHECK_STR(param("a=%2B+%2b", "a", &b), "+ +");
    CHECK_STR(param("a%3D=1", "a", &b), "(absent)");
    /* The length bounds the query: "a=12" cut at 3 bytes is "a=1". */
    tly_buf_reset(&b);
    CHECK_INT(tly_url_query_param("a=12", 3, "a", &b), 1);
    CHECK_STR(tly_buf_cstr(&b), "1");
    tly_buf_reset(&b);
    CHECK_INT(tly_url_query_param("a=%41", 4, "a", &b), 1);
    CHECK_STR(tly_buf_cstr(&b), "%4");
    tly_buf_reset(&b);
    CHECK_INT(tly_url_query_param(NULL, 0, "a", &b), 0);
    tly_buf_free(&b);

    /* Query from a parsed URL, as envelope.c uses it. */
    tly_url u;
    const char *url = "https://shop.example/p?utm_source=news%20letter&utm_medium=email#utm_term=x";
    CHECK_INT(tly_url_parse(url, tly_url_without_fragment(url, strlen(url)), &u), 0);
    CHECK_INT(tly_url_query_param(u.query, u.query_len, "utm_source", &b), 1);
    CHECK_STR(tly_buf_cstr(&b), "news letter");
    tly_buf_reset(&b);
    CHECK_INT(tly_url_query_param(u.query, u.query_len, "utm_term", &b), 0);
    tly_buf_free(&b);
}

static void run_tests(void)
{
    test_parse();
    test_without_fragment();
    test_host_lower();
    test_query_param();
}
