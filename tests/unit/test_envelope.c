/* Envelope and event validation: every rule of api.md section 1 that does not need a server. */
#include "first.h"
#include "envelope.h"
#include "tap.h"

#define NOW 1769278353000LL   /* 2026-01-24T18:12:33Z */

static tly_envelope env;
static tly_envelope_error eerr;

static int parse_env(const char *body)
{
    tly_envelope_clear(&env);
    return tly_envelope_parse(body, strlen(body), 1000, &env, &eerr);
}

/* Parses a one-event envelope; returns the event's result and leaves the message in err. */
static char err[400];
static int parse_one(const char *event_json, tly_event *ev)
{
    char body[8192];
    snprintf(body, sizeof body, "{\"property_id\":\"prop_1\",\"events\":[%s]}", event_json);
    if (parse_env(body) != 0) {
        snprintf(err, sizeof err, "envelope: %s", eerr.message);
        return -2;
    }
    err[0] = '\0';
    return tly_event_parse(&env, 0, NOW, ev, err, sizeof err);
}

static void expect_event_error(const char *event_json, const char *message)
{
    tly_event ev;
    int rc = parse_one(event_json, &ev);
    CHECK_INT(rc, -1);
    CHECK_STR(err, message);
    if (rc == 0) tly_event_clear(&ev);
}

static void test_envelope_errors(void)
{
    CHECK_INT(parse_env("not json"), -1);
    CHECK_INT(eerr.status, 400);
    CHECK(strncmp(eerr.message, "body is not valid JSON", 22) == 0);
    CHECK_INT(parse_env("[1,2]"), -1);
    CHECK_STR(eerr.message, "body: expected a JSON object (the envelope)");
    CHECK_INT(parse_env("{\"events\":[]}"), -1);
    CHECK_STR(eerr.message, "property_id: required");
    CHECK_INT(parse_env("{\"property_id\":5,\"events\":[]}"), -1);
    CHECK_STR(eerr.message, "property_id: must be a non-empty string of at most 64 characters");
    CHECK_INT(parse_env("{\"property_id\":\"p\"}"), -1);
    CHECK_STR(eerr.message, "events: required");
    CHECK_INT(parse_env("{\"property_id\":\"p\",\"events\":{}}"), -1);
    CHECK_STR(eerr.message, "events: must be an array");
    CHECK_INT(parse_env("{\"property_id\":\"p\",\"events\":[],\"schema_version\":0}"), -1);
    CHECK_STR(eerr.message, "schema_version: must be an integer >= 1");
    CHECK_INT(parse_env("{\"property_id\":\"p\",\"events\":[],\"sent_at\":\"yesterday\"}"), -1);
    CHECK_STR(eerr.message, "sent_at: not RFC 3339 or epoch milliseconds");
    CHECK_INT(parse_env("{\"property_id\":\"p\",\"property_id\":\"q\",\"events\":[]}"), -1);
    CHECK(strstr(eerr.message, "duplicate") != NULL);
    /* A newer schema version is accepted and unknown fields ignored. */
    CHECK_INT(parse_env("{\"property_id\":\"p\",\"events\":[],\"schema_version\":7,\"future\":{\"x\":1}}"), 0);

    /* 1001 events: 413 naming the limit. */
    char *big = malloc(1001 * 3 + 64);
    strcpy(big, "{\"property_id\":\"p\",\"events\":[");
    for (int i = 0; i < 1001; i++) strcat(big, i ? ",{}" : "{}");
    strcat(big, "]}");
    CHECK_INT(parse_env(big), -1);
    CHECK_INT(eerr.status, 413);
    CHECK_STR(eerr.message, "events: 1001 events; the limit is 1000 per request");
    free(big);
}

static void test_event_fields(void)
{
    tly_event ev;
    int rc = parse_one("{\"event_id\":\"01HR3Z8Y1V6Q9J3K4M5N6P7Q8R\",\"type\":\"pageview\","
                       "\"ts\":\"2026-01-24T18:10:00Z\","
                       "\"context\":{\"page\":{\"url\":\"https://WWW.Example.com/products/sku1?utm_source=news&utm_medium=email&x=1#top\","
                       "\"title\":\"Product\",\"referrer\":\"https://www.google.com/search?q=secret\"},"
                       "\"screen\":{\"width\":1440}},"
                       "\"identity\":{\"user_id_hash\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
                       "\"data\":{\"plan\":\"pro\",\"seats\":3,\"trial\":false,\"revenue\":{\"amount\":\"49.90\",\"currency\":\"eur\"}}}",
                       &ev);
    CHECK_INT(rc, 0);
    if (rc != 0) { printf("# %s\n", err); return; }
    CHECK_STR(ev.event_id, "01HR3Z8Y1V6Q9J3K4M5N6P7Q8R");
    CHECK_STR(ev.name, "pageview");
    CHECK_INT(ev.ts_ms, NOW - 153000);
    CHECK_STR(ev.hostname, "example.com");
    CHECK_STR(ev.path, "/products/sku1");
    CHECK_STR(ev.query, "utm_source=news&utm_medium=email&x=1");
    CHECK_STR(ev.title, "Product");
    CHECK_STR(ev.referrer, "https://www.google.com/search");
    CHECK_STR(ev.utm_source, "news");
    CHECK_STR(ev.utm_medium, "email");
    CHECK_STR(ev.utm_campaign, "");
    CHECK_INT(ev.screen_width, 1440);
    CHECK_STR(ev.revenue_amount, "49.90");
    CHECK_STR(ev.revenue_currency, "EUR");
    CHECK(ev.props && json_object_size(ev.props) == 3 && !json_object_get(ev.props, "revenue"));
    CHECK(ev.interactive);
    tly_event_clear(&ev);

    /* An explicit utm object wins over the URL; path given explicitly wins over the URL's. */
    rc = parse_one("{\"type\":\"signup\",\"context\":{\"page\":{\"url\":\"https://a.example/x?utm_source=url\",\"path\":\"/y\"},"
                   "\"campaign\":{\"campaign_id\":\"cmp_7\",\"utm\":{\"source\":\"google\",\"campaign\":\"winter\"}}},"
                   "\"interactive\":false}", &ev);
    CHECK_INT(rc, 0);
    CHECK(ev.event_id == NULL);
    CHECK_STR(ev.path, "/y");
    CHECK_STR(ev.utm_source, "google");
    CHECK_STR(ev.utm_campaign, "winter");
    CHECK_STR(ev.campaign_id, "cmp_7");
    CHECK_INT(ev.ts_ms, NOW);   /* no ts: receive time */
    CHECK(!ev.interactive);
    tly_event_clear(&ev);

    /* "engagement" (time on page, scroll depth) is not interactive unless it says so. */
    CHECK_INT(parse_one("{\"type\":\"engagement\",\"context\":{\"page\":{\"url\":\"https://a.example/\"}},"
                        "\"data\":{\"engaged_ms\":1200,\"scroll_depth\":80}}", &ev), 0);
    CHECK(!ev.interactive);
    tly_event_clear(&ev);
    CHECK_INT(parse_one("{\"type\":\"engagement\",\"interactive\":true}", &ev), 0);
    CHECK(ev.interactive);
    tly_event_clear(&ev);

    /* ?ref= stands in for utm_source. */
    CHECK_INT(parse_one("{\"type\":\"pageview\",\"context\":{\"page\":{\"url\":\"https://a.example/?ref=producthunt\"}}}", &ev), 0);
    CHECK_STR(ev.utm_source, "producthunt");
    tly_event_clear(&ev);

    /* Epoch milliseconds; a ts too far in the future becomes the receive time. */
    CHECK_INT(parse_one("{\"type\":\"x\",\"ts\":1769278000000}", &ev), 0);
    CHECK_INT(ev.ts_ms, 1769278000000LL);
    tly_event_clear(&ev);
    CHECK_INT(parse_one("{\"type\":\"x\",\"ts\":\"2026-01-24T19:00:00Z\"}", &ev), 0);
    CHECK_INT(ev.ts_ms, NOW);
    tly_event_clear(&ev);
    CHECK_INT(parse_one("{\"type\":\"x\",\"ts\":\"2026-01-24T18:20:00Z\"}", &ev), 0);
    CHECK_INT(ev.ts_ms, NOW + 447000);   /* 7.45 minutes ahead: allowed */
    tly_event_clear(&ev);
}

static void test_skew(void)
{
    /* The client's clock is 1 hour behind: its ts and sent_at are shifted by the same hour. */
    const char *body = "{\"property_id\":\"p\",\"sent_at\":\"2026-01-24T17:12:33Z\","
                       "\"events\":[{\"type\":\"x\",\"ts\":\"2026-01-24T17:12:00Z\"}]}";
    tly_envelope_clear(&env);
    CHECK_INT(tly_envelope_parse(body, strlen(body), 1000, &env, &eerr), 0);
    tly_event ev;
    CHECK_INT(tly_event_parse(&env, 0, NOW, &ev, err, sizeof err), 0);
    CHECK_INT(ev.ts_ms, NOW - 33000);
    tly_event_clear(&ev);
}

static void test_event_errors(void)
{
    expect_event_error("42", "event: must be a JSON object");
    expect_event_error("{}", "type: required ('pageview' or a custom event name)");
    expect_event_error("{\"type\":\"\"}", "type: must be 1-64 characters of letters, digits, '_', '-', '.', ':', '/' or space");
    expect_event_error("{\"type\":\"a<b\"}", "type: must be 1-64 characters of letters, digits, '_', '-', '.', ':', '/' or space");
    expect_event_error("{\"type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                       "type: must be 1-64 characters of letters, digits, '_', '-', '.', ':', '/' or space");
    expect_event_error("{\"type\":\"x\",\"event_id\":\"a b\"}",
                       "event_id: must be 1-64 characters of letters, digits, '-', '_', '.' or ':' (a UUID or ULID)");
    expect_event_error("{\"type\":\"x\",\"event_id\":5}", "event_id: must be a string");
    expect_event_error("{\"type\":\"x\",\"ts\":\"24/01/2026\"}", "ts: not RFC 3339 or epoch milliseconds");
    expect_event_error("{\"type\":\"x\",\"ts\":true}", "ts: not RFC 3339 or epoch milliseconds");
    expect_event_error("{\"type\":\"pageview\"}", "context.page.url: required for a pageview (or context.page.path)");
    expect_event_error("{\"type\":\"pageview\",\"context\":{\"page\":{\"url\":\"javascript:alert(1)\"}}}",
                       "context.page.url: not an absolute http(s) URL");
    expect_event_error("{\"type\":\"pageview\",\"context\":{\"page\":{\"path\":\"nope\"}}}",
                       "context.page.path: must start with '/'");
    expect_event_error("{\"type\":\"x\",\"context\":[]}", "context: must be a JSON object");
    expect_event_error("{\"type\":\"x\",\"context\":{\"screen\":{\"width\":-1}}}",
                       "context.screen.width: must be an integer between 0 and 100000");
    expect_event_error("{\"type\":\"x\",\"context\":{\"campaign\":{\"utm\":{\"source\":7}}}}",
                       "context.campaign.utm.source: must be a string");
    expect_event_error("{\"type\":\"x\",\"identity\":{\"user_id_hash\":\"alice@example.com\"}}",
                       "identity.user_id_hash: must be a hash such as sha256:<64 hex digits>, never raw personal data");
    expect_event_error("{\"type\":\"x\",\"data\":[1]}", "data: must be a JSON object");
    expect_event_error("{\"type\":\"x\",\"data\":{\"a\":{\"b\":1}}}", "data.a: must be a string, number or boolean");
    expect_event_error("{\"type\":\"x\",\"data\":{\"a\":null}}", "data.a: must be a string, number or boolean");
    expect_event_error("{\"type\":\"x\",\"data\":{\"revenue\":{\"amount\":\"4,50\",\"currency\":\"EUR\"}}}",
                       "data.revenue.amount: must be a decimal number (string or number) below 10^12 with at most 4 decimals");
    expect_event_error("{\"type\":\"x\",\"data\":{\"revenue\":{\"amount\":1,\"currency\":\"EURO\"}}}",
                       "data.revenue.currency: must be a 3-letter ISO 4217 code");
    expect_event_error("{\"type\":\"x\",\"interactive\":\"no\"}", "interactive: must be true or false");

    char many[2048] = "{\"type\":\"x\",\"data\":{";
    for (int i = 0; i < 33; i++) sprintf(many + strlen(many), "%s\"k%d\":1", i ? "," : "", i);
    strcat(many, "}}");
    expect_event_error(many, "data: 33 keys; the limit is 32");

    char longstr[700];
    snprintf(longstr, sizeof longstr, "{\"type\":\"x\",\"data\":{\"k\":\"%0501d\"}}", 0);
    expect_event_error(longstr, "data.k: string longer than 500 characters");
}

/* context.client.ip is limited to 45 characters, but 45 characters of four bytes each are 180
 * bytes: such a value is refused as not an address, like any other that is not one. */
static void test_client_ip(void)
{
    const char *ua = ",\"user_agent\":\"Mozilla/5.0\"}}}";
    char body[1024];
    tly_event ev;
    snprintf(body, sizeof body, "{\"type\":\"x\",\"context\":{\"client\":{\"ip\":\"2001:db8::1\"%s", ua);
    CHECK_INT(parse_one(body, &ev), 0);
    CHECK_STR(ev.client_ip, "2001:db8::1");
    tly_event_clear(&ev);
    snprintf(body, sizeof body, "{\"type\":\"x\",\"context\":{\"client\":{\"ip\":\"0000:0000:0000:0000:0000:ffff:192.168.100.228\"%s", ua);
    CHECK_INT(parse_one(body, &ev), 0);   /* 45 characters, the longest IPv6 text */
    tly_event_clear(&ev);

    char wide[45 * 4 + 1] = "";
    for (int i = 0; i < 45; i++) strcat(wide, "\xF0\x9F\x98\x80");   /* U+1F600, four bytes */
    snprintf(body, sizeof body, "{\"type\":\"x\",\"context\":{\"client\":{\"ip\":\"%s\"%s", wide, ua);
    expect_event_error(body, "context.client.ip: not an IPv4 or IPv6 address");
    snprintf(body, sizeof body, "{\"type\":\"x\",\"context\":{\"client\":{\"ip\":\"%s\xF0\x9F\x98\x80\"%s", wide, ua);
    expect_event_error(body, "context.client.ip: longer than 45 characters");
    snprintf(body, sizeof body, "{\"type\":\"x\",\"context\":{\"client\":{\"ip\":\"192.0.2.300\"%s", ua);
    expect_event_error(body, "context.client.ip: not an IPv4 or IPv6 address");
    expect_event_error("{\"type\":\"x\",\"context\":{\"client\":{\"ip\":\"192.0.2.1\"}}}",
                       "context.client: needs both ip and user_agent");
}

/* Nesting deeper than TLY_MAX_JSON_DEPTH is refused before parsing, naming the limit; brackets
 * inside strings are text, not nesting. */
static void test_depth(void)
{
    char body[512];
    /* The envelope is level 1, events 2, an event 3: "data" holds 13 more levels (16 in all). */
    char nest[64] = "", close[64] = "";
    for (int i = 0; i < 13; i++) { strcat(nest, "["); strcat(close, "]"); }
    snprintf(body, sizeof body, "{\"property_id\":\"p\",\"events\":[{\"type\":\"x\",\"future\":%s1%s}]}", nest, close);
    CHECK_INT(parse_env(body), 0);
    snprintf(body, sizeof body, "{\"property_id\":\"p\",\"events\":[{\"type\":\"x\",\"future\":[%s1%s]}]}", nest, close);
    CHECK_INT(parse_env(body), -1);
    CHECK_INT(eerr.status, 400);
    CHECK_STR(eerr.message, "body: JSON nested deeper than 16 levels (the limit)");
    /* Deep garbage is refused for its depth before the parser reads it. */
    char deep[4100];
    memset(deep, '[', 4096);
    deep[4096] = '\0';
    CHECK_INT(parse_env(deep), -1);
    CHECK_STR(eerr.message, "body: JSON nested deeper than 16 levels (the limit)");
    /* Brackets in strings, escaped quotes included, do not nest. */
    CHECK_INT(parse_env("{\"property_id\":\"p\",\"events\":[],\"x\":\"[[[[[[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{{{{{{{{{\"}"), 0);
    CHECK(tly_json_depth_within("[[]]", 4, 2));
    CHECK(!tly_json_depth_within("[[[]]]", 6, 2));
    CHECK(tly_json_depth_within("[]]]]][[", 8, 2));   /* malformed: left to the parser */
}

/* A NUL byte is not JSON anywhere in a body; Jansson on its own drops one that follows a number
 * (found by the malformed-requests catalogue, tests/e2e/test_malformed.py). */
static void test_nul_byte(void)
{
    tly_envelope_clear(&env);
    static const char body[] = "{\"property_id\":\"p\",\"schema_version\":1\0,\"events\":[]}";
    CHECK_INT(tly_envelope_parse(body, sizeof body - 1, 1000, &env, &eerr), -1);
    CHECK_INT(eerr.status, 400);
    CHECK_STR(eerr.message, "body is not valid JSON: it contains a NUL byte");
    static const char in_string[] = "{\"property_id\":\"p\0\",\"events\":[]}";
    CHECK_INT(tly_envelope_parse(in_string, sizeof in_string - 1, 1000, &env, &eerr), -1);
    CHECK_STR(eerr.message, "body is not valid JSON: it contains a NUL byte");
    static const char trailing[] = "{\"property_id\":\"p\",\"events\":[]}\0";
    CHECK_INT(tly_envelope_parse(trailing, sizeof trailing - 1, 1000, &env, &eerr), -1);
    /* Without the NUL the same text is fine. */
    CHECK_INT(parse_env("{\"property_id\":\"p\",\"schema_version\":1,\"events\":[]}"), 0);
}

static void run_tests(void)
{
    test_envelope_errors();
    test_depth();
    test_nul_byte();
    test_event_fields();
    test_skew();
    test_event_errors();
    test_client_ip();
    tly_envelope_clear(&env);
}
