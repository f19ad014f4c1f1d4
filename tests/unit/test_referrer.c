#include "first.h"
#include "tap.h"
#include "buf.h"
#include "referrer.h"

#include <string.h>

typedef struct ref_case {
    const char *referrer;
    const char *page_host;
    const char *want;   /* NULL: no source (returns 0, appends nothing) */
} ref_case;

static void test_sources(void)
{
    static const ref_case cases[] = {
        /* search engines, google.* by pattern */
        {"https://www.google.com/", "example.com", "Google"},
        {"https://google.com/search?q=x", "example.com", "Google"},
        {"https://www.google.de/", "example.com", "Google"},
        {"https://www.google.co.uk/", "example.com", "Google"},
        {"https://www.google.com.br/url?sa=t", "example.com", "Google"},
        {"https://www.google.com.au/", "example.com", "Google"},
        {"https://google.co.jp/", "example.com", "Google"},
        {"https://WWW.GOOGLE.FR/", "example.com", "Google"},
        {"https://maps.google.it/", "example.com", "Google"},
        {"https://mail.google.com/mail/u/0/", "example.com", "Gmail"},
        {"https://news.google.com/", "example.com", "Google News"},
        {"https://www.bing.com/search?q=a", "example.com", "Bing"},
        {"https://cn.bing.com/", "example.com", "Bing"},
        {"https://duckduckgo.com/", "example.com", "DuckDuckGo"},
        {"https://html.duckduckgo.com/html", "example.com", "DuckDuckGo"},
        {"https://search.yahoo.com/", "example.com", "Yahoo"},
        {"https://search.yahoo.co.jp/", "example.com", "Yahoo"},
        {"https://mail.yahoo.com/", "example.com", "Yahoo Mail"},
        {"https://yandex.ru/search/", "example.com", "Yandex"},
        {"https://yandex.com.tr/", "example.com", "Yandex"},
        {"https://www.baidu.com/link?url=x", "example.com", "Baidu"},
        {"https://www.ecosia.org/", "example.com", "Ecosia"},
        {"https://www.qwant.com/", "example.com", "Qwant"},
        {"https://search.brave.com/search", "example.com", "Brave Search"},
        {"https://www.startpage.com/", "example.com", "Startpage"},
        {"https://search.naver.com/", "example.com", "Naver"},
        {"https://search.seznam.cz/", "example.com", "Seznam"},
        /* social */
        {"https://t.co/abc123", "example.com", "Twitter"},
        {"https://twitter.com/someone", "example.com", "Twitter"},
        {"https://x.com/", "example.com", "Twitter"},
        {"https://l.facebook.com/l.php?u=x", "example.com", "Facebook"},
        {"https://m.facebook.com/", "example.com", "Facebook"},
        {"https://lm.facebook.com/", "example.com", "Facebook"},
        {"https://www.facebook.com/", "example.com", "Facebook"},
        {"https://l.instagram.com/", "example.com", "Instagram"},
        {"https://www.linkedin.com/feed/", "example.com", "LinkedIn"},
        {"https://lnkd.in/abc", "example.com", "LinkedIn"},
        {"https://old.reddit.com/r/c/", "example.com", "Reddit"},
        {"https://out.reddit.com/", "example.com", "Reddit"},
        {"https://www.pinterest.co.uk/", "example.com", "Pinterest"},
        {"https://m.youtube.com/watch?v=1", "example.com", "YouTube"},
        {"https://youtu.be/1", "example.com", "YouTube"},
        {"https://www.tiktok.com/", "example.com", "TikTok"},
        {"https://news.ycombinator.com/item?id=1", "example.com", "Hacker News"},
        {"https://mastodon.social/@x", "example.com", "Mastodon"},
        {"https://bsky.app/profile/x", "example.com", "Bluesky"},
        {"https://www.threads.net/", "example.com", "Threads"},
        {"https://github.com/org/repo", "example.com", "GitHub"},
        {"https://app.slack.com/client", "example.com", "Slack"},
        {"https://discord.com/channels/1", "example.com", "Discord"},
        {"https://web.telegram.org/", "example.com", "Telegram"},
        {"https://chatgpt.com/", "example.com", "ChatGPT"},
        {"https://www.perplexity.ai/", "example.com", "Perplexity"},
        {"https://outlook.live.com/mail/", "example.com", "Outlook"},
        {"https://en.wikipedia.org/wiki/X", "example.com", "Wikipedia"},
        /* unknown hosts: the host itself, lowercased, without www. */
        {"https://blog.example.org/post?a=1", "example.com", "blog.example.org"},
        {"https://WWW.Some-Site.NET/x", "example.com", "some-site.net"},
        {"http://[::1]:8080/", "example.com", "[::1]"},
        {"https://user:pw@partner.example:8443/", "example.com", "partner.example"},
        {"https://www.example.com.evil.net/", "example.com", "example.com.evil.net"},
        /* look-alikes must not match the patterns */
        {"https://google.example.com/", "example.org", "google.example.com"},
        {"https://notgoogle.com/", "example.com", "notgoogle.com"},
        {"https://google.com.evil/", "example.com", "google.com.evil"},
        {"https://mygoogle.co.uk/", "example.com", "mygoogle.co.uk"},
        {"https://afacebook.com/", "example.com", "afacebook.com"},
        {"https://t.com/", "example.com", "t.com"},
        {"https://facebook.com.evil.net/", "example.com", "facebook.com.evil.net"},
        /* self-referrals: same host ignoring case, www., port and trailing dot */
        {"https://example.com/page", "example.com", NULL},
        {"https://www.example.com/page", "example.com", NULL},
        {"https://Example.COM/", "www.example.com", NULL},
        {"https://example.com./", "EXAMPLE.com", NULL},
        {"https://example.com:8443/", "example.com:8443", NULL},
        {"http://[::1]:8080/", "[::1]:3000", NULL},
        /* a different subdomain is not a self-referral */
        {"https://blog.example.com/", "example.com", "blog.example.com"},
        {"https://example.com/", "shop.example.com", "example.com"},
        /* empty, relative and non-http referrers give no source */
        {"", "example.com", NULL},
        {"/local/path", "example.com", NULL},
        {"//example.org/x", "example.com", NULL},
        {"android-app://com.google.android.gm/", "example.com", NULL},
        {"javascript:void(0)", "example.com", NULL},
        {"https://exa mple.org/", "example.com", NULL},
        {"not a url", "example.com", NULL},
        /* no page host: any valid referrer is a source */
        {"https://www.google.com/", "", "Google"},
        {"https://#frag", "", NULL},
    };
    tly_buf b = {0};
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) {
        const ref_case *c = &cases[i];
        tly_buf_reset(&b);
        tly_buf_append_str(&b, "<");   /* the result is appended, not replacing */
        int ret = tly_referrer_source(c->referrer, strlen(c->referrer), c->page_host,
                                      strlen(c->page_host), &b);
        char want[300], msg[600];
        snprintf(want, sizeof(want), "<%s", c->want ? c->want : "");
        int ok = ret == (c->want != NULL) && strcmp(tly_buf_cstr(&b), want) == 0;
        snprintf(msg, sizeof(msg), "source of \"%s\" on \"%s\" is %s", c->referrer, c->page_host,
                 c->want ? c->want : "(none)");
        tap_result(ok, __FILE__, __LINE__, msg);
        if (!ok) printf("#   got: %d \"%s\"\n", ret, tly_buf_cstr(&b) + 1);
    }
    /* The length is honoured and NULL page host is allowed. */
    tly_buf_reset(&b);
    CHECK_INT(tly_referrer_source("https://t.co/xyz", 12, NULL, 0, &b), 1);
    CHECK_STR(tly_buf_cstr(&b), "Twitter");
    tly_buf_reset(&b);
    CHECK_INT(tly_referrer_source("https://t.co/xyz", 7, NULL, 0, &b), 0);
    CHECK_INT(b.len, 0);
    CHECK_INT(tly_referrer_source(NULL, 0, NULL, 0, &b), 0);
    tly_buf_free(&b);
}

static void test_known(void)
{
    CHECK_INT(tly_referrer_table_check(), 0);
    CHECK_STR(tly_referrer_known("google.com", 10), "Google");
    CHECK_STR(tly_referrer_known("google.com.mx", 13), "Google");
    CHECK_STR(tly_referrer_known("docs.google.co.uk", 17), "Google");
    CHECK_STR(tly_referrer_known("amazon.de", 9), "Amazon");
    CHECK_STR(tly_referrer_known("facebook.com", 12), "Facebook");
    CHECK_STR(tly_referrer_known("a.b.c.facebook.com", 18), "Facebook");
    CHECK_STR(tly_referrer_known("ycombinator.com", 15), NULL);
    CHECK_STR(tly_referrer_known("google", 6), NULL);
    CHECK_STR(tly_referrer_known("google.", 7), NULL);
    CHECK_STR(tly_referrer_known("google.c", 8), NULL);
    CHECK_STR(tly_referrer_known("google.info.de", 14), NULL);
    CHECK_STR(tly_referrer_known("com", 3), NULL);
    CHECK_STR(tly_referrer_known("", 0), NULL);
    CHECK_STR(tly_referrer_known(NULL, 0), NULL);
    /* Not NUL-terminated at len: "t.co" inside "t.com". */
    CHECK_STR(tly_referrer_known("t.com", 4), "Twitter");
}

static void run_tests(void)
{
    test_sources();
    test_known();
}
