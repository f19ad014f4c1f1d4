/* Bot filtering: crawlers, scripts and headless browsers match; real browsers do not. */
#include "first.h"
#include "bot.h"
#include "tap.h"

static const char *const bots[] = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Wget/1.21.4",
    "Go-http-client/2.0",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.216 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "axios/1.6.2",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Mozilla/5.0 (compatible; GPTBot/1.0; +https://openai.com/gptbot)",
    /* These match through the regex patterns rather than the literal table. */
    "wget/1.20.3 (linux-gnu)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Mozilla/5.0 (compatible; SemrushBot-SA/0.97; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; Pingdom.com_bot_version_1.4_(http://www.pingdom.com/))",
};

static const char *const browsers[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 YaBrowser/23.11.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.3.5 like Chrome/120.0.6099.216 Safari/537.36",
};

/* Every example user agent that crawler-user-agents lists for its patterns is a bot. */
static void check_instances(void)
{
    const char *path = TLY_TEST_FIXTURES "/ua/crawler-instances.txt";
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[4096];
    int total = 0, missed = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        if (n == 0) continue;
        total++;
        if (!tly_bot_match(line, n)) {
            if (missed++ < 10) printf("# not recognised: %.100s\n", line);
        }
    }
    fclose(f);
    printf("# %d example user agents, %d not recognised\n", total, missed);
    CHECK(total > 2000);
    CHECK_INT(missed, 0);
}

static void run_tests(void)
{
    CHECK(!tly_bot_match("curl/8.4.0", 10));   /* before init nothing is known... */
    CHECK(tly_bot_match("", 0));               /* ...except that no user agent is not a browser */
    CHECK_INT(tly_bot_init(), 0);
    CHECK_INT(tly_bot_init(), 0);              /* a second init is harmless */
    for (int round = 0; round < 2; round++) {   /* the second round is answered from the memo */
        for (size_t i = 0; i < TLY_ARRAY_LEN(bots); i++) {
            printf("# bot: %.80s\n", bots[i]);
            CHECK(tly_bot_match(bots[i], strlen(bots[i])));
        }
        for (size_t i = 0; i < TLY_ARRAY_LEN(browsers); i++) {
            printf("# browser: %.80s\n", browsers[i]);
            CHECK(!tly_bot_match(browsers[i], strlen(browsers[i])));
        }
    }
    check_instances();

    CHECK(tly_bot_match("", 0));   /* no user agent at all: not a browser */
    /* Patterns are case-sensitive, as in crawler-user-agents: "googlebot/" is not "Googlebot\/". */
    CHECK(tly_bot_match("Googlebot/2.1", 13));
    CHECK(!tly_bot_match("GOOGLEBOT", 9));
    /* Only ua_len bytes are read. */
    CHECK(!tly_bot_match("Mozilla/5.0 Googlebot/2.1", 12));
    /* A literal at the very end of the user agent, and a pattern anchored with $. */
    CHECK(tly_bot_match("Mozilla/5.0 (X11) bingbot", 25));
    CHECK(tly_bot_match("Mozilla/5.0 SSL Labs", 20));
    CHECK(!tly_bot_match("Mozilla/5.0 SSL Labs x", 22));
    /* Anchored at the start: "curl" elsewhere is not the curl tool. */
    CHECK(tly_bot_match("curl/7.88.1", 11));
    CHECK(!tly_bot_match("Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0 curly", 51));

    char *huge = malloc(10240);
    memset(huge, 'x', 10240);
    CHECK(!tly_bot_match(huge, 10240));
    memcpy(huge + 100, "Googlebot/2.1", 13);
    CHECK(tly_bot_match(huge, 10240));
    /* Past TLY_MAX_UA_LEN (1024) bytes the user agent is not read. */
    memset(huge, 'x', 10240);
    memcpy(huge + 5000, "Googlebot/2.1", 13);
    CHECK(!tly_bot_match(huge, 10240));
    free(huge);

    /* Invalid UTF-8 and NUL bytes are just bytes. */
    const char bad[] = "\xff\xfe\xc3 Mozilla/5.0 \0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    CHECK(!tly_bot_match(bad, sizeof bad - 1));
    const char badbot[] = "\xff\xfe\0\xc3 python-requests/2.31.0 \x80";
    CHECK(tly_bot_match(badbot, sizeof badbot - 1));
    tly_bot_shutdown();
    CHECK(!tly_bot_match("curl/8.4.0", 10));   /* after shutdown nothing is known again */
    CHECK_INT(tly_bot_init(), 0);
    CHECK(tly_bot_match("curl/8.4.0", 10));
    tly_bot_shutdown();
}
