/* User-agent parsing against real browser user agents (expected values checked by hand). */
#include "first.h"
#include "ua.h"
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

static void run_tests(void)
{
    CHECK_INT(tly_ua_init(), 0);
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) check_case(i);
    /* Second round: answered from the memo, the same results. */
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) check_case(i);

    tly_ua_info u;
    tly_ua_parse("", 0, &u);
    CHECK_STR(u.browser, "");
    CHECK_STR(u.os, "");
    CHECK_STR(u.device, "desktop");
    tly_ua_parse("TotallyUnknownClient", 20, &u);
    CHECK_STR(u.browser, "");

    /* A 10 KB user agent is cut, not choked on; the result is still sane. */
    char *huge = malloc(10240);
    memset(huge, 'A', 10240);
    memcpy(huge, cases[0].ua, strlen(cases[0].ua));
    tly_ua_parse(huge, 10240, &u);
    CHECK_STR(u.browser, cases[0].browser);
    free(huge);

    /* Invalid UTF-8 bytes: no crash, and every field stays valid text. */
    const char *bad = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0 \xff\xfe\xc3";
    tly_ua_parse(bad, strlen(bad), &u);
    CHECK_STR(u.browser, "Firefox");
    CHECK_STR(u.browser_version, "121");
    tly_ua_shutdown();
}
