#include "first.h"
#include "plausible.h"
#include "limits.h"
#include "mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value under the long key, else under the short one. */
static json_t *member(json_t *root, const char *long_key, const char *short_key)
{
    json_t *v = json_object_get(root, long_key);
    if (!v || json_is_null(v)) v = json_object_get(root, short_key);
    return json_is_null(v) ? NULL : v;
}

/* "example.com, www.example.org" -> ["example.com", "www.example.org"] */
static json_t *split_domains(const char *list)
{
    json_t *out = json_array();
    while (*list) {
        size_t skip = strspn(list, ", ");
        list += skip;
        size_t n = strcspn(list, ", ");
        if (n == 0) break;
        if (n <= 253) {
            char *d = tly_xstrndup(list, n);
            for (char *c = d; *c; c++) *c = (char)tolower((unsigned char)*c);
            json_array_append_new(out, json_string(d));
            free(d);
        }
        list += n;
    }
    return out;
}

static int set_props(tly_event *ev, json_t *props, char *err, size_t errlen)
{
    if (json_is_string(props)) {
        /* Plausible's script sends props as a JSON-encoded string. */
        json_error_t jerr;
        json_t *parsed = json_loadb(json_string_value(props), json_string_length(props), JSON_REJECT_DUPLICATES, &jerr);
        if (!parsed) {
            snprintf(err, errlen, "props: not a JSON object (%s)", jerr.text);
            return -1;
        }
        int rc = tly_event_set_data(ev, parsed, "props", err, errlen);
        json_decref(parsed);
        return rc;
    }
    return tly_event_set_data(ev, props, "props", err, errlen);
}

/* Hash-based routing ("h": 1): the route in the URL's fragment becomes the path, as Tally's own
 * tracker does it: "https://a.example/app/#/users/7?tab=2" -> "/app/users/7" (the leading "!" and
 * "/" of the route dropped, its query too). No route: the path stays. */
static void set_hash_route(tly_event *ev, const char *url, size_t len)
{
    const char *hash = memchr(url, '#', len);
    if (!hash) return;
    const char *route = hash + 1, *end = url + len;
    if (route < end && *route == '!') route++;
    if (route < end && *route == '/') route++;
    size_t route_len = strcspn(route, "?#");
    if ((size_t)(end - route) < route_len) route_len = (size_t)(end - route);
    if (route_len == 0) return;
    size_t base = strlen(ev->path);
    if (base && ev->path[base - 1] == '/') base--;
    if (base + 1 + route_len > TLY_MAX_PATH_LEN) return;
    char path[TLY_MAX_PATH_LEN];
    memcpy(path, ev->path, base);
    path[base] = '/';
    memcpy(path + base + 1, route, route_len);
    tly_event_set_text(&ev->path, path, base + 1 + route_len);
}

/* Plausible's "engagement" event carries scroll depth ("sd", percent) and engagement time ("e",
 * milliseconds): kept as the properties scroll_depth and engaged_ms, as Tally's tracker sends
 * them. */
static void set_engagement(tly_event *ev, json_t *root)
{
    static const char *const keys[][2] = {{"sd", "scroll_depth"}, {"e", "engaged_ms"}};
    for (size_t i = 0; i < TLY_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(root, keys[i][0]);
        if (!json_is_integer(v) || json_integer_value(v) < 0) continue;
        if (!ev->props) ev->props = json_object();
        if (json_object_size(ev->props) < TLY_MAX_DATA_KEYS || json_object_get(ev->props, keys[i][1]))
            json_object_set(ev->props, keys[i][1], v);
    }
}

static int parse_fields(json_t *root, tly_event *ev, json_t **domains, char *err, size_t errlen)
{
    json_t *v = member(root, "name", "n");
    if (!json_is_string(v) || !tly_event_name_valid(json_string_value(v), json_string_length(v)))
        return snprintf(err, errlen, "name: required, 1-64 characters of letters, digits, '_', '-', '.', ':', '/' or space"), -1;
    tly_event_set_text(&ev->name, json_string_value(v), json_string_length(v));
    ev->interactive = tly_event_name_interactive(ev->name);

    v = member(root, "url", "u");
    if (!json_is_string(v) || json_string_length(v) > TLY_MAX_URL_LEN ||
        tly_event_set_url(ev, json_string_value(v), json_string_length(v), true) != 0)
        return snprintf(err, errlen, "url: required, an absolute http(s) URL of at most %d characters", TLY_MAX_URL_LEN), -1;
    json_t *hash = member(root, "hashMode", "h");
    if (json_is_true(hash) || (json_is_integer(hash) && json_integer_value(hash) == 1))
        set_hash_route(ev, json_string_value(v), json_string_length(v));

    v = member(root, "domain", "d");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1000)
        return snprintf(err, errlen, "domain: required, the site's domain (comma-separated for several)"), -1;
    *domains = split_domains(json_string_value(v));

    v = member(root, "referrer", "r");
    if (v) {
        if (!json_is_string(v)) return snprintf(err, errlen, "referrer: must be a string"), -1;
        if (json_string_length(v) <= TLY_MAX_URL_LEN) tly_event_set_referrer(ev, json_string_value(v), json_string_length(v));
    }
    if ((v = member(root, "props", "p")) && set_props(ev, v, err, errlen) != 0) return -1;
    if (strcmp(ev->name, "engagement") == 0) set_engagement(ev, root);
    if ((v = member(root, "revenue", "$"))) {
        json_t *revenue = v, *parsed = NULL;
        if (json_is_string(v)) revenue = parsed = json_loads(json_string_value(v), 0, NULL);
        int rc = revenue ? tly_event_set_revenue(ev, revenue, "revenue", err, errlen)
                         : (snprintf(err, errlen, "revenue: not a JSON object"), -1);
        json_decref(parsed);
        if (rc != 0) return -1;
    }
    if ((v = member(root, "interactive", "i"))) {
        if (!json_is_boolean(v)) return snprintf(err, errlen, "interactive: must be true or false"), -1;
        ev->interactive = json_is_true(v);
    }
    if ((v = json_object_get(root, "w")) && json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= TLY_MAX_SCREEN_WIDTH)
        ev->screen_width = (int)json_integer_value(v);
    return 0;
}

int tly_plausible_parse(const char *body, size_t len, int64_t received_ms, tly_event *ev,
                        json_t **domains, char *err, size_t errlen)
{
    *domains = NULL;
    if (tly_json_body_check(body, len, err, errlen) != 0) return -1;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, errlen, "body: expected a JSON object");
        return -1;
    }
    tly_event_init(ev);
    ev->ts_ms = received_ms;
    int rc = parse_fields(root, ev, domains, err, errlen);
    json_decref(root);
    if (rc != 0) {
        tly_event_clear(ev);
        json_decref(*domains);
        *domains = NULL;
    }
    return rc;
}
