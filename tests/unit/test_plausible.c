/* The Plausible-compatible body of POST /api/event: long and short keys, props as object or JSON
 * string, revenue, interactive, and the errors. */
#include "first.h"
#include "plausible.h"
#include "tap.h"

#define NOW 1769278353000LL

static char err[256];

static int parse(const char *body, tly_event *ev, json_t **domains)
{
    err[0] = '\0';
    return tly_plausible_parse(body, strlen(body), NOW, ev, domains, err, sizeof err);
}

static void expect_error(const char *body, const char *message)
{
    tly_event ev;
    json_t *domains;
    int rc = parse(body, &ev, &domains);
    CHECK_INT(rc, -1);
    CHECK_STR(err, message);
    CHECK(domains == NULL);
    if (rc == 0) { tly_event_clear(&ev); json_decref(domains); }
}

static void run_tests(void)
{
    tly_event ev;
    json_t *domains;
    CHECK_INT(parse("{\"name\":\"pageview\",\"url\":\"https://www.Example.com/docs?utm_campaign=launch#top\","
                    "\"domain\":\"Example.com, shop.example.com\",\"referrer\":\"https://news.ycombinator.com/item?id=1\","
                    "\"props\":{\"plan\":\"pro\"},\"w\":1280}", &ev, &domains), 0);
    CHECK_STR(ev.name, "pageview");
    CHECK_STR(ev.hostname, "example.com");
    CHECK_STR(ev.path, "/docs");
    CHECK_STR(ev.utm_campaign, "launch");
    CHECK_STR(ev.referrer, "https://news.ycombinator.com/item");
    CHECK_INT(ev.ts_ms, NOW);
    CHECK_INT(ev.screen_width, 1280);
    CHECK(ev.interactive);
    CHECK_STR(json_string_value(json_object_get(ev.props, "plan")), "pro");
    CHECK_INT(json_array_size(domains), 2);
    CHECK_STR(json_string_value(json_array_get(domains, 0)), "example.com");
    CHECK_STR(json_string_value(json_array_get(domains, 1)), "shop.example.com");
    tly_event_clear(&ev);
    json_decref(domains);

    /* Short keys as Plausible's script sends them: props as a JSON string, revenue under '$'. */
    CHECK_INT(parse("{\"n\":\"Purchase\",\"u\":\"https://example.com/checkout\",\"d\":\"example.com\","
                    "\"p\":\"{\\\"sku\\\":\\\"A1\\\"}\",\"$\":{\"currency\":\"eur\",\"amount\":10.5},\"i\":false}",
                    &ev, &domains), 0);
    CHECK_STR(ev.name, "Purchase");
    CHECK_STR(json_string_value(json_object_get(ev.props, "sku")), "A1");
    CHECK_STR(ev.revenue_amount, "10.5000");
    CHECK_STR(ev.revenue_currency, "EUR");
    CHECK(!ev.interactive);
    tly_event_clear(&ev);
    json_decref(domains);

    /* Plausible's engagement event: not interactive, sd and e kept as properties beside p. */
    CHECK_INT(parse("{\"n\":\"engagement\",\"u\":\"https://example.com/a\",\"d\":\"example.com\","
                    "\"sd\":62,\"e\":4210,\"p\":{\"plan\":\"pro\"},\"v\":36}", &ev, &domains), 0);
    CHECK(!ev.interactive);
    CHECK_INT(json_integer_value(json_object_get(ev.props, "scroll_depth")), 62);
    CHECK_INT(json_integer_value(json_object_get(ev.props, "engaged_ms")), 4210);
    CHECK_STR(json_string_value(json_object_get(ev.props, "plan")), "pro");
    tly_event_clear(&ev);
    json_decref(domains);
    /* sd and e mean nothing on other events; an explicit i wins over the name. */
    CHECK_INT(parse("{\"n\":\"signup\",\"u\":\"https://example.com/a\",\"d\":\"example.com\",\"sd\":62}",
                    &ev, &domains), 0);
    CHECK(ev.props == NULL);
    CHECK(ev.interactive);
    tly_event_clear(&ev);
    json_decref(domains);
    CHECK_INT(parse("{\"n\":\"engagement\",\"u\":\"https://example.com/a\",\"d\":\"example.com\",\"i\":true}",
                    &ev, &domains), 0);
    CHECK(ev.interactive);
    tly_event_clear(&ev);
    json_decref(domains);

    /* Hash-based routing (h: 1 or hashMode: 1): the fragment's route is the path. */
    static const char *const routes[][2] = {
        {"https://example.com/#/settings", "/settings"},
        {"https://example.com/app/#!/users/7?tab=2", "/app/users/7"},
        {"https://example.com/app#reports", "/app/reports"},
        {"https://example.com/app/#/", "/app/"},
        {"https://example.com/app/", "/app/"},
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(routes); i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"n\":\"pageview\",\"u\":\"%s\",\"d\":\"example.com\",\"%s\":1}",
                 routes[i][0], i % 2 ? "hashMode" : "h");
        CHECK_INT(parse(body, &ev, &domains), 0);
        CHECK_STR(ev.path, routes[i][1]);
        tly_event_clear(&ev);
        json_decref(domains);
    }
    /* Without h the fragment is dropped, as from every URL. */
    CHECK_INT(parse("{\"n\":\"pageview\",\"u\":\"https://example.com/#/settings\",\"d\":\"example.com\"}",
                    &ev, &domains), 0);
    CHECK_STR(ev.path, "/");
    tly_event_clear(&ev);
    json_decref(domains);

    expect_error("nope", "body is not valid JSON: '[' or '{' expected near 'nope' (line 1, column 4)");
    expect_error("[]", "body: expected a JSON object");
    expect_error("{\"n\":\"pageview\",\"u\":\"https://e.com/\",\"d\":\"e.com\",\"x\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}",
                 "body: JSON nested deeper than 16 levels (the limit)");
    static const char nul_body[] = "{\"n\":\"pageview\",\"w\":1\0,\"u\":\"https://e.com/\",\"d\":\"e.com\"}";
    CHECK_INT(tly_plausible_parse(nul_body, sizeof nul_body - 1, NOW, &ev, &domains, err, sizeof err), -1);
    CHECK_STR(err, "body is not valid JSON: it contains a NUL byte");
    expect_error("{\"u\":\"https://e.com/\",\"d\":\"e.com\"}",
                 "name: required, 1-64 characters of letters, digits, '_', '-', '.', ':', '/' or space");
    expect_error("{\"n\":\"pageview\",\"d\":\"e.com\"}",
                 "url: required, an absolute http(s) URL of at most 2048 characters");
    expect_error("{\"n\":\"pageview\",\"u\":\"ftp://e.com/\",\"d\":\"e.com\"}",
                 "url: required, an absolute http(s) URL of at most 2048 characters");
    expect_error("{\"n\":\"pageview\",\"u\":\"https://e.com/\"}",
                 "domain: required, the site's domain (comma-separated for several)");
    expect_error("{\"n\":\"pageview\",\"u\":\"https://e.com/\",\"d\":\"e.com\",\"p\":\"{broken\"}",
                 "props: not a JSON object (string or '}' expected near 'broken')");
    expect_error("{\"n\":\"pageview\",\"u\":\"https://e.com/\",\"d\":\"e.com\",\"p\":{\"a\":[1]}}",
                 "props.a: must be a string, number or boolean");
    expect_error("{\"n\":\"pageview\",\"u\":\"https://e.com/\",\"d\":\"e.com\",\"i\":1}",
                 "interactive: must be true or false");
    expect_error("{\"n\":\"pageview\",\"u\":\"https://e.com/\",\"d\":\"e.com\",\"$\":{\"amount\":1}}",
                 "revenue.currency: must be a 3-letter ISO 4217 code");
}
