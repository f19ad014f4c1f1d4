/* User-agent parsing against real browser user agents (expected values checked by hand). */
#include "first.h"
#include "ua.h"
#include "utf8.h"
#include "tap.h"

static const struct {
    const char *ua, *browser, *version, *os, *os_version, *device;
} cases[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "Windows", "10", "desktop"},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
     "Firefox", "121", "Linux", "", "desktop"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
     "Safari", "17", "macOS", "10.15", "desktop"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
     "Mobile Safari", "17", "iOS", "17.2", "mobile"},
    {"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
     "Mobile Safari", "16", "iOS", "16.6", "tablet"},
    {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
     "Chrome Mobile", "120", "Android", "14", "mobile"},
    {"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
     "Chrome", "119", "Android", "13", "tablet"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
     "Edge", "120", "Windows", "10", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
     "Opera", "105", "Windows", "10", "desktop"},
    {"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
     "Samsung Internet", "23", "Android", "14", "mobile"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
     "Firefox iOS", "121", "iOS", "17.2", "mobile"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
     "Chrome Mobile iOS", "120", "iOS", "17.2", "mobile"},
    {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "Chrome OS", "14541.0", "desktop"},
    {"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
     "Firefox Mobile", "121", "Android", "14", "mobile"},
    {"Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
     "Firefox", "115", "Windows", "7", "desktop"},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
     "Firefox", "120", "Ubuntu", "", "desktop"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "macOS", "10.15", "desktop"},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 YaBrowser/23.11.0.0",
     "Chrome Mobile", "120", "Android", "10", "mobile"},
    {"Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
     "IE", "11", "Windows", "10", "desktop"},
    {"Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.3.5 like Chrome/120.0.6099.216 Safari/537.36",
     "Amazon Silk", "120", "Android", "9", "tablet"},
    {"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
     "Edge Mobile", "15", "Windows Phone", "10.0", "mobile"},
    {"Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
     "Opera Mini", "36", "Android", "", "mobile"},
    {"Mozilla/5.0 (Android 13; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
     "Firefox Mobile", "121", "Android", "13", "tablet"},
    {"Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.2210.115",
     "Edge Mobile", "120", "Android", "14", "mobile"},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
     "Chrome", "120", "Linux", "", "desktop"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Vivaldi/6.5.3206.48",
     "Vivaldi", "6", "Windows", "10", "desktop"},
    {"Mozilla/5.0 (Linux; U; Android 10; en-US; RMX1911 Build/QKQ1.200209.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
     "UC Browser", "13", "Android", "10", "mobile"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/444.0.0.32.118;FBBV/536404482;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
     "Facebook", "444", "iOS", "17.1", "mobile"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
     "Firefox", "121", "macOS", "10.15", "desktop"},
    {"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36",
     "Samsung Internet", "23", "Android", "13", "tablet"},
    /* A Windows touch PC says "Tablet PC" but is a desktop. */
    {"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0; Touch; Tablet PC 2.0)",
     "IE", "10", "Windows", "8", "desktop"},
    {"Mozilla/5.0 (Linux; Android 12; SM-A525F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.210 Mobile Safari/537.36 OPR/79.2.4195.76872",
     "Opera Mobile", "79", "Android", "12", "mobile"},
    {"Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
     "Chrome", "109", "Windows", "8.1", "desktop"},
    /* Android TV: no "Mobile", but not a tablet either. */
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 (Linux; Android 12; BRAVIA 4K) SmartTV",
     "Chrome", "120", "Android", "12", "desktop"},
    {"Mozilla/5.0 (Mobile; rv:48.0; KAIOS/2.5) Gecko/48.0 Firefox/48.0",
     "Firefox Mobile", "48", "KaiOS", "2.5", "mobile"},
};

static void check_case(size_t i)
{
    tly_ua_info u;
    tly_ua_parse(cases[i].ua, strlen(cases[i].ua), &u);
    printf("# %.90s\n", cases[i].ua);
    CHECK_STR(u.browser, cases[i].browser);
    CHECK_STR(u.browser_version, cases[i].version);
    CHECK_STR(u.os, cases[i].os);
    CHECK_STR(u.os_version, cases[i].os_version);
    CHECK_STR(u.device, cases[i].device);
}

/* True when every field is NUL-terminated within its array and valid UTF-8. */
static int fields_valid(const tly_ua_info *u)
{
    const char *f[] = {u->browser, u->browser_version, u->os, u->os_version, u->device};
    size_t sz[] = {sizeof u->browser, sizeof u->browser_version, sizeof u->os, sizeof u->os_version,
                   sizeof u->device};
    for (size_t i = 0; i < TLY_ARRAY_LEN(f); i++) {
        size_t n = strnlen(f[i], sz[i]);
        if (n == sz[i] || !tly_utf8_valid(f[i], n)) return 0;
    }
    return 1;
}

static void run_tests(void)
{
    CHECK(TLY_ARRAY_LEN(cases) >= 25);
    CHECK_INT(tly_ua_init(), 0);
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) check_case(i);
    /* Second round: answered from the memo, the same results. */
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) check_case(i);

    /* The memo gives byte-identical results to a parse with an empty memo (shutdown drops it). */
    tly_ua_info cached[TLY_ARRAY_LEN(cases)], fresh;
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) tly_ua_parse(cases[i].ua, strlen(cases[i].ua), &cached[i]);
    int same = 1;
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) {
        tly_ua_shutdown();
        CHECK_INT(tly_ua_init(), 0);
        memset(&fresh, 0x5a, sizeof fresh);
        tly_ua_parse(cases[i].ua, strlen(cases[i].ua), &fresh);
        if (strcmp(fresh.browser, cached[i].browser) || strcmp(fresh.browser_version, cached[i].browser_version) ||
            strcmp(fresh.os, cached[i].os) || strcmp(fresh.os_version, cached[i].os_version) ||
            strcmp(fresh.device, cached[i].device))
            same = 0;
    }
    CHECK(same);

    tly_ua_info u;
    tly_ua_parse("", 0, &u);
    CHECK_STR(u.browser, "");
    CHECK_STR(u.browser_version, "");
    CHECK_STR(u.os, "");
    CHECK_STR(u.os_version, "");
    CHECK_STR(u.device, "desktop");
    tly_ua_parse("TotallyUnknownClient", 20, &u);
    CHECK_STR(u.browser, "");
    CHECK_STR(u.os, "");

    /* Only ua_len bytes are read: a prefix of a Firefox user agent without its "Firefox/121.0". */
    const char *ff = cases[1].ua;
    tly_ua_parse(ff, strlen(ff) - strlen("Firefox/121.0"), &u);
    CHECK_STR(u.browser, "");
    CHECK_STR(u.os, "Linux");

    /* A 10 KB user agent is cut, not choked on; the result is still sane. */
    char *huge = malloc(10240);
    memset(huge, 'A', 10240);
    memcpy(huge, cases[0].ua, strlen(cases[0].ua));
    tly_ua_parse(huge, 10240, &u);
    CHECK_STR(u.browser, cases[0].browser);
    CHECK_STR(u.browser_version, cases[0].version);
    CHECK_STR(u.os, "Windows");
    CHECK(fields_valid(&u));
    /* Nothing but 10 KB of digits and dots: no rule runs away, every field is still terminated. */
    for (size_t i = 0; i < 10240; i++) huge[i] = i % 2 ? '.' : '1';
    tly_ua_parse(huge, 10240, &u);
    CHECK(fields_valid(&u));
    free(huge);

    /* Invalid UTF-8 bytes: no crash, and every field stays valid text. */
    const char *bad = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 \xff\xfe\xc3";
    tly_ua_parse(bad, strlen(bad), &u);
    CHECK_STR(u.browser, "Firefox");
    CHECK_STR(u.browser_version, "121");
    CHECK(fields_valid(&u));
    /* Here the browser name is captured from client bytes (uap-core's "App/N CFNetwork" rule):
     * ill-formed bytes come out as U+FFFD, never raw. */
    const char *cf = "\xff" "Bad\xc3/3 CFNetwork/1408.0.4 Darwin/22.5.0";
    tly_ua_parse(cf, strlen(cf), &u);
    CHECK_STR(u.browser, "\xef\xbf\xbd" "Bad" "\xef\xbf\xbd");
    CHECK_STR(u.browser_version, "3");
    CHECK(fields_valid(&u));
    /* A captured name longer than the field is cut on a character boundary: 30 x "ä" is 60 bytes,
     * 23 of them fit in 47 bytes (46), the 24th would be split. */
    char longname[128] = "";
    for (int i = 0; i < 30; i++) strcat(longname, "\xc3\xa4");
    strcat(longname, "/7 CFNetwork/1408.0.4 Darwin/22.5.0");
    tly_ua_parse(longname, strlen(longname), &u);
    CHECK_INT(strlen(u.browser), 46);
    CHECK(fields_valid(&u));
    CHECK_STR(u.browser_version, "7");
    /* NUL bytes inside the user agent do not end it early and never reach the output. */
    const char nul[] = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 \0 Firefox/121.0";
    tly_ua_parse(nul, sizeof nul - 1, &u);
    CHECK_STR(u.browser, "Firefox");
    CHECK(fields_valid(&u));
    tly_ua_shutdown();

    /* Without init (or after shutdown) parsing still answers, with the device class only. */
    tly_ua_parse(cases[3].ua, strlen(cases[3].ua), &u);
    CHECK_STR(u.browser, "");
    CHECK_STR(u.device, "mobile");
}
