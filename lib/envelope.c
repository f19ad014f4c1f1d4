#include "first.h"
#include "envelope.h"
#include "buf.h"
#include "json_arena.h"
#include "limits.h"
#include "timeparse.h"
#include "url.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TLY_PRINTF(3, 4) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* --- envelope ------------------------------------------------------------------------------ */

/* Epoch milliseconds as a JSON integer, or an RFC 3339 string. 0 ok, -1 neither. */
static int parse_timestamp(const json_t *v, int64_t *ms)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        /* 0001-01-01 .. 9999-12-31, the range RFC 3339 strings can express. */
        if (n < -62135596800000LL || n > 253402300799999LL) return -1;
        *ms = n;
        return 0;
    }
    if (json_is_string(v))
        return tly_time_parse_rfc3339(json_string_value(v), json_string_length(v), ms);
    return -1;
}

bool tly_json_depth_within(const char *text, size_t len, int max_depth)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

int tly_json_body_check(const char *text, size_t len, char *err, size_t errlen)
{
    if (memchr(text, '\0', len))
        return fail(err, errlen, "body is not valid JSON: it contains a NUL byte");
    if (!tly_json_depth_within(text, len, TLY_MAX_JSON_DEPTH))
        return fail(err, errlen, "body: JSON nested deeper than %d levels (the limit)", TLY_MAX_JSON_DEPTH);
    return 0;
}

int tly_envelope_parse(const char *body, size_t len, int max_events, tly_envelope *env,
                       tly_envelope_error *err)
{
    memset(env, 0, sizeof *env);
    err->status = 400;
    if (tly_json_body_check(body, len, err->message, sizeof err->message) != 0) return -1;
    json_error_t jerr;
    env->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!env->root) {
        snprintf(err->message, sizeof err->message, "body is not valid JSON: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        return -1;
    }
    const char *problem = NULL;
    json_t *root = env->root, *v;
    if (!json_is_object(root)) {
        problem = "body: expected a JSON object (the envelope)";
    } else if ((v = json_object_get(root, "schema_version")) &&
               (!json_is_integer(v) || json_integer_value(v) < 1)) {
        problem = "schema_version: must be an integer >= 1";
    } else if (!(v = json_object_get(root, "property_id"))) {
        problem = "property_id: required";
    } else if (!json_is_string(v) || json_string_length(v) == 0 ||
               json_string_length(v) > TLY_MAX_PROPERTY_ID_LEN) {
        problem = "property_id: must be a non-empty string of at most 64 characters";
    } else if (!(env->events = json_object_get(root, "events"))) {
        problem = "events: required";
    } else if (!json_is_array(env->events)) {
        problem = "events: must be an array";
    }
    if (!problem && (v = json_object_get(root, "sent_at")) && !json_is_null(v)) {
        if (parse_timestamp(v, &env->sent_at_ms) != 0)
            problem = "sent_at: not RFC 3339 or epoch milliseconds";
        else
            env->has_sent_at = true;
    }
    if (problem) {
        snprintf(err->message, sizeof err->message, "%s", problem);
        tly_envelope_clear(env);
        return -1;
    }
    env->property_id = json_string_value(json_object_get(root, "property_id"));
    if (json_array_size(env->events) > (size_t)max_events) {
        err->status = 413;
        snprintf(err->message, sizeof err->message, "events: %zu events; the limit is %d per request",
                 json_array_size(env->events), max_events);
        tly_envelope_clear(env);
        return -1;
    }
    return 0;
}

void tly_envelope_clear(tly_envelope *env)
{
    tly_json_arena_drop(env->root);
    memset(env, 0, sizeof *env);
}

/* --- one event ----------------------------------------------------------------------------- */

void tly_event_init(tly_event *ev)
{
    memset(ev, 0, sizeof *ev);
    char **empty[] = {&ev->name, &ev->hostname, &ev->path, &ev->query, &ev->title, &ev->referrer,
                      &ev->utm_source, &ev->utm_medium, &ev->utm_campaign, &ev->utm_term,
                      &ev->utm_content, &ev->campaign_id};
    for (size_t i = 0; i < TLY_ARRAY_LEN(empty); i++) *empty[i] = tly_json_strndup("", 0);
    ev->screen_width = -1;
    ev->interactive = true;
}

void tly_event_clear(tly_event *ev)
{
    char *owned[] = {ev->event_id, ev->name, ev->hostname, ev->path, ev->query, ev->title,
                     ev->referrer, ev->utm_source, ev->utm_medium, ev->utm_campaign, ev->utm_term,
                     ev->utm_content, ev->campaign_id, ev->visitor_id, ev->session_id,
                     ev->user_id_hash, ev->revenue_amount, ev->revenue_currency, ev->visit_token,
                     ev->client_ip, ev->client_ua};
    for (size_t i = 0; i < TLY_ARRAY_LEN(owned); i++) tly_json_free(owned[i]);
    json_decref(ev->props);
    memset(ev, 0, sizeof *ev);
}

/* An event's texts are allocated like JSON values (json_arena.h): during a request, from its
 * arena, since an event lives no longer than the request that parsed it. Through malloc, the
 * texts of a 100-event request were 4,000 allocations and frees, 5% of its instructions. */
void tly_event_set_text(char **slot, const char *s, size_t len)
{
    tly_json_free(*slot);
    *slot = tly_json_strndup(s, len);
}

bool tly_event_name_valid(const char *name, size_t len)
{
    size_t chars = tly_utf8_length(name, len);
    if (chars < 1 || chars > TLY_MAX_EVENT_NAME_LEN) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        /* Non-ASCII bytes belong to letters of other scripts (the JSON parser checked UTF-8). */
        if (c >= 0x80 || isalnum(c) || strchr("_-.:/ ", c)) continue;
        return false;
    }
    return true;
}

bool tly_event_name_interactive(const char *name)
{
    return strcmp(name, "engagement") != 0;
}

static bool event_id_valid(const char *id, size_t len)
{
    if (len < 1 || len > TLY_MAX_EVENT_ID_LEN) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)id[i]) && !strchr("-_.:", id[i])) return false;
    return true;
}

static bool visit_token_valid(const char *s, size_t len)
{
    if (len < TLY_MIN_VISIT_TOKEN_LEN || len > TLY_MAX_VISIT_TOKEN_LEN) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return false;
    return true;
}

/* Client-side hashes only: "<algorithm>:<hex>" or bare hex of 32-128 digits, so that an email
 * address or a name cannot be stored in a field meant for hashes. */
static bool user_id_hash_valid(const char *s, size_t len)
{
    const char *colon = memchr(s, ':', len);
    size_t start = 0;
    if (colon) {
        start = (size_t)(colon - s) + 1;
        if (start < 2 || start > 17) return false;
        for (size_t i = 0; i + 1 < start; i++)
            if (!isalnum((unsigned char)s[i]) && s[i] != '-') return false;
    }
    size_t hex = len - start;
    if (hex < 32 || hex > 128) return false;
    for (size_t i = start; i < len; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* Fills the UTM fields from the query string of the page (ev->query). */
static void fill_utm_from_query(tly_event *ev)
{
    static const char *const names[] = {"utm_source", "utm_medium", "utm_campaign", "utm_term",
                                        "utm_content"};
    char **slots[] = {&ev->utm_source, &ev->utm_medium, &ev->utm_campaign, &ev->utm_term,
                      &ev->utm_content};
    size_t query_len = strlen(ev->query);
    tly_buf value = {0}, clean = {0};
    for (size_t i = 0; i < TLY_ARRAY_LEN(names); i++) {
        tly_buf_reset(&value);
        int found = tly_url_query_param(ev->query, query_len, names[i], &value);
        /* Like other analytics tools, ?ref= and ?source= name a source when utm_source is absent. */
        if (!found && i == 0)
            found = tly_url_query_param(ev->query, query_len, "ref", &value) ||
                    tly_url_query_param(ev->query, query_len, "source", &value);
        if (found && value.len <= TLY_MAX_UTM_LEN) {
            tly_buf_reset(&clean);
            tly_utf8_sanitize(tly_buf_cstr(&value), value.len, &clean);
            tly_event_set_text(slots[i], tly_buf_cstr(&clean), clean.len);
        }
    }
    tly_buf_free(&value);
    tly_buf_free(&clean);
}

int tly_event_set_url(tly_event *ev, const char *url, size_t len, bool fill_utm)
{
    len = tly_url_without_fragment(url, len);
    tly_url u;
    if (tly_url_parse(url, len, &u) != 0) return -1;
    tly_buf host = {0};
    tly_url_host_lower(&u, true, &host);
    tly_event_set_text(&ev->hostname, tly_buf_cstr(&host), host.len);
    tly_buf_free(&host);
    if (u.path_len) tly_event_set_text(&ev->path, u.path, u.path_len);
    else tly_event_set_text(&ev->path, "/", 1);
    tly_event_set_text(&ev->query, u.query, u.query_len);
    if (fill_utm) fill_utm_from_query(ev);
    return 0;
}

void tly_event_set_referrer(tly_event *ev, const char *ref, size_t len)
{
    tly_url u;
    len = tly_url_without_fragment(ref, len);
    if (len == 0 || tly_url_parse(ref, len, &u) != 0) {
        tly_event_set_text(&ev->referrer, "", 0);
        return;
    }
    /* Query strings of referrers carry other people's search terms and tokens: not kept. */
    tly_buf clean = {0};
    tly_buf_append(&clean, u.scheme, u.scheme_len);
    for (size_t i = 0; i < clean.len; i++) clean.ptr[i] = (char)tolower((unsigned char)clean.ptr[i]);
    tly_buf_append_str(&clean, "://");
    tly_url_host_lower(&u, false, &clean);
    if (u.path_len) tly_buf_append(&clean, u.path, u.path_len);
    else tly_buf_append_char(&clean, '/');
    tly_event_set_text(&ev->referrer, tly_buf_cstr(&clean), clean.len);
    tly_buf_free(&clean);
}

/* A decimal amount with at most 12 integer and 4 fraction digits, optional '-'. */
static bool amount_text_valid(const char *s, size_t len)
{
    size_t i = 0, int_digits = 0, frac_digits = 0;
    if (i < len && s[i] == '-') i++;
    while (i < len && isdigit((unsigned char)s[i])) { i++; int_digits++; }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && isdigit((unsigned char)s[i])) { i++; frac_digits++; }
        if (frac_digits == 0) return false;
    }
    return i == len && int_digits >= 1 && int_digits <= 12 && frac_digits <= 4;
}

int tly_event_set_revenue(tly_event *ev, json_t *revenue, const char *field, char *err,
                          size_t errlen)
{
    if (!json_is_object(revenue))
        return fail(err, errlen, "%s: must be an object with amount and currency", field);
    json_t *amount = json_object_get(revenue, "amount");
    json_t *currency = json_object_get(revenue, "currency");
    char text[64];
    if (json_is_string(amount) && amount_text_valid(json_string_value(amount), json_string_length(amount))) {
        snprintf(text, sizeof text, "%s", json_string_value(amount));
    } else if (json_is_number(amount) && isfinite(json_number_value(amount)) &&
               fabs(json_number_value(amount)) < 1e12) {
        snprintf(text, sizeof text, "%.4f", json_number_value(amount));
    } else {
        return fail(err, errlen, "%s.amount: must be a decimal number (string or number) below 10^12 with at most 4 decimals", field);
    }
    const char *cur = json_string_value(currency);
    if (!cur || json_string_length(currency) != 3 || !isalpha((unsigned char)cur[0]) ||
        !isalpha((unsigned char)cur[1]) || !isalpha((unsigned char)cur[2]))
        return fail(err, errlen, "%s.currency: must be a 3-letter ISO 4217 code", field);
    tly_event_set_text(&ev->revenue_amount, text, strlen(text));
    tly_event_set_text(&ev->revenue_currency, cur, 3);
    for (int i = 0; i < 3; i++) ev->revenue_currency[i] = (char)toupper((unsigned char)ev->revenue_currency[i]);
    return 0;
}

int tly_event_set_data(tly_event *ev, json_t *data, const char *field, char *err, size_t errlen)
{
    if (!json_is_object(data)) return fail(err, errlen, "%s: must be a JSON object", field);
    if (json_object_size(data) > TLY_MAX_DATA_KEYS)
        return fail(err, errlen, "%s: %zu keys; the limit is %d", field, json_object_size(data),
                    TLY_MAX_DATA_KEYS);
    json_t *props = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(data, key, value) {
        size_t key_len = strlen(key);
        if (key_len == 0 || tly_utf8_length(key, key_len) > TLY_MAX_DATA_KEY_LEN) {
            json_decref(props);
            return fail(err, errlen, "%s: keys must be 1-%d characters", field, TLY_MAX_DATA_KEY_LEN);
        }
        if (strcmp(key, "revenue") == 0) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.revenue", field);
            if (tly_event_set_revenue(ev, value, sub, err, errlen) != 0) {
                json_decref(props);
                return -1;
            }
            continue;
        }
        if (json_is_string(value)) {
            if (tly_utf8_length(json_string_value(value), json_string_length(value)) > TLY_MAX_DATA_STRING_LEN) {
                json_decref(props);
                return fail(err, errlen, "%s.%s: string longer than %d characters", field, key,
                            TLY_MAX_DATA_STRING_LEN);
            }
        } else if (json_is_real(value) && !isfinite(json_real_value(value))) {
            json_decref(props);
            return fail(err, errlen, "%s.%s: number is not finite", field, key);
        } else if (!json_is_number(value) && !json_is_boolean(value)) {
            json_decref(props);
            return fail(err, errlen, "%s.%s: must be a string, number or boolean", field, key);
        }
        json_object_set(props, key, value);
    }
    json_decref(ev->props);
    ev->props = json_object_size(props) ? props : NULL;
    if (!ev->props) json_decref(props);
    return 0;
}

/* Fetches an optional member that must be an object; sets *out NULL when absent. */
static int optional_object(json_t *parent, const char *key, const char *field, json_t **out,
                           char *err, size_t errlen)
{
    *out = parent ? json_object_get(parent, key) : NULL;
    if (*out && json_is_null(*out)) *out = NULL;
    if (*out && !json_is_object(*out)) return fail(err, errlen, "%s: must be a JSON object", field);
    return 0;
}

/* Fetches an optional string member with a length limit (in characters). 1 present, 0 absent. */
static int optional_string(json_t *parent, const char *key, const char *field, size_t max_chars,
                           const char **out, size_t *len, char *err, size_t errlen)
{
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    *out = NULL;
    *len = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return fail(err, errlen, "%s: must be a string", field);
    *out = json_string_value(v);
    *len = json_string_length(v);
    if (tly_utf8_length(*out, *len) > max_chars)
        return fail(err, errlen, "%s: longer than %zu characters", field, max_chars);
    return 1;
}

static int parse_page(json_t *context, tly_event *ev, char *err, size_t errlen)
{
    json_t *page;
    const char *s;
    size_t len;
    int r;
    if (optional_object(context, "page", "context.page", &page, err, errlen) != 0) return -1;
    if ((r = optional_string(page, "url", "context.page.url", TLY_MAX_URL_LEN, &s, &len, err, errlen)) < 0) return -1;
    bool has_url = r == 1;
    if (has_url && tly_event_set_url(ev, s, len, false) != 0)
        return fail(err, errlen, "context.page.url: not an absolute http(s) URL");
    if ((r = optional_string(page, "path", "context.page.path", TLY_MAX_PATH_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1) {
        if (len == 0 || s[0] != '/') return fail(err, errlen, "context.page.path: must start with '/'");
        /* A path given explicitly wins; its own query (if any) is split off like a URL's. */
        size_t cut = tly_url_without_fragment(s, len);
        const char *q = memchr(s, '?', cut);
        tly_event_set_text(&ev->path, s, q ? (size_t)(q - s) : cut);
        if (q && !has_url) tly_event_set_text(&ev->query, q + 1, cut - (size_t)(q - s) - 1);
    } else if (!has_url && strcmp(ev->name, "pageview") == 0) {
        return fail(err, errlen, "context.page.url: required for a pageview (or context.page.path)");
    }
    if ((r = optional_string(page, "title", "context.page.title", TLY_MAX_TITLE_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1) tly_event_set_text(&ev->title, s, len);
    if ((r = optional_string(page, "referrer", "context.page.referrer", TLY_MAX_URL_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1) tly_event_set_referrer(ev, s, len);
    return 0;
}

static int parse_campaign(json_t *context, tly_event *ev, char *err, size_t errlen)
{
    json_t *campaign, *utm;
    const char *s;
    size_t len;
    int r;
    if (optional_object(context, "campaign", "context.campaign", &campaign, err, errlen) != 0) return -1;
    if ((r = optional_string(campaign, "campaign_id", "context.campaign.campaign_id", TLY_MAX_UTM_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1) tly_event_set_text(&ev->campaign_id, s, len);
    if (optional_object(campaign, "utm", "context.campaign.utm", &utm, err, errlen) != 0) return -1;
    if (!utm) {
        /* UTM parameters of the page URL stand in for an absent utm object. */
        fill_utm_from_query(ev);
        return 0;
    }
    static const char *const keys[] = {"source", "medium", "campaign", "term", "content"};
    static const char *const fields[] = {"context.campaign.utm.source", "context.campaign.utm.medium",
                                         "context.campaign.utm.campaign", "context.campaign.utm.term",
                                         "context.campaign.utm.content"};
    char **slots[] = {&ev->utm_source, &ev->utm_medium, &ev->utm_campaign, &ev->utm_term, &ev->utm_content};
    for (size_t i = 0; i < TLY_ARRAY_LEN(keys); i++) {
        if ((r = optional_string(utm, keys[i], fields[i], TLY_MAX_UTM_LEN, &s, &len, err, errlen)) < 0) return -1;
        if (r == 1) tly_event_set_text(slots[i], s, len);
    }
    return 0;
}

static int parse_identity(json_t *ev_json, tly_event *ev, char *err, size_t errlen)
{
    json_t *identity;
    const char *s;
    size_t len;
    int r;
    if (optional_object(ev_json, "identity", "identity", &identity, err, errlen) != 0) return -1;
    if ((r = optional_string(identity, "visitor_id", "identity.visitor_id", TLY_MAX_IDENTITY_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1 && len) tly_event_set_text(&ev->visitor_id, s, len);
    if ((r = optional_string(identity, "session_id", "identity.session_id", TLY_MAX_IDENTITY_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1 && len) tly_event_set_text(&ev->session_id, s, len);
    if ((r = optional_string(identity, "user_id_hash", "identity.user_id_hash", TLY_MAX_IDENTITY_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1 && len) {
        if (!user_id_hash_valid(s, len))
            return fail(err, errlen, "identity.user_id_hash: must be a hash such as sha256:<64 hex digits>, never raw personal data");
        tly_event_set_text(&ev->user_id_hash, s, len);
    }
    if ((r = optional_string(identity, "visit_token", "identity.visit_token", TLY_MAX_VISIT_TOKEN_LEN, &s, &len, err, errlen)) < 0) return -1;
    if (r == 1) {
        if (!visit_token_valid(s, len))
            return fail(err, errlen, "identity.visit_token: must be %d-%d letters, digits, '-' or '_'",
                        TLY_MIN_VISIT_TOKEN_LEN, TLY_MAX_VISIT_TOKEN_LEN);
        tly_event_set_text(&ev->visit_token, s, len);
    }
    return 0;
}

/* context.client: the end user's address and user agent, as a server-side sender saw them. Only
 * server keys may send it (ingest checks); they are hashed and enriched like a browser's, never
 * stored. */
static int parse_client(json_t *context, tly_event *ev, char *err, size_t errlen)
{
    json_t *client;
    const char *s;
    size_t len;
    int r;
    if (optional_object(context, "client", "context.client", &client, err, errlen) != 0) return -1;
    if (!client) return 0;
    if ((r = optional_string(client, "ip", "context.client.ip", 45, &s, &len, err, errlen)) < 0) return -1;
    unsigned char addr[16];
    char ip[46];
    if (r == 1) {
        /* The limit above counts characters, and a character may take four bytes: an address is
         * ASCII, so anything longer than the buffer in bytes is not one. */
        if (len >= sizeof ip) return fail(err, errlen, "context.client.ip: not an IPv4 or IPv6 address");
        memcpy(ip, s, len);
        ip[len] = '\0';
        if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)
            return fail(err, errlen, "context.client.ip: not an IPv4 or IPv6 address");
        tly_event_set_text(&ev->client_ip, s, len);
    }
    if ((r = optional_string(client, "user_agent", "context.client.user_agent", TLY_MAX_UA_LEN, &s, &len, err, errlen)) < 0)
        return -1;
    if (r == 1) tly_event_set_text(&ev->client_ua, s, len);
    if (!ev->client_ip || !ev->client_ua)
        return fail(err, errlen, "context.client: needs both ip and user_agent");
    return 0;
}

static int parse_ts(json_t *ev_json, const tly_envelope *env, int64_t received_ms, tly_event *ev,
                    char *err, size_t errlen)
{
    json_t *ts = json_object_get(ev_json, "ts");
    ev->ts_ms = received_ms;
    if (!ts || json_is_null(ts)) return 0;
    int64_t ms;
    if (parse_timestamp(ts, &ms) != 0) return fail(err, errlen, "ts: not RFC 3339 or epoch milliseconds");
    /* Correct the client's clock by how far its sent_at is from our receive time. */
    if (env->has_sent_at) ms += received_ms - env->sent_at_ms;
    ev->ts_ms = ms > received_ms + TLY_MAX_FUTURE_MS ? received_ms : ms;
    return 0;
}

int tly_event_parse(const tly_envelope *env, size_t index, int64_t received_ms, tly_event *ev,
                    char *err, size_t errlen)
{
    tly_event_init(ev);
    json_t *e = json_array_get(env->events, index), *v, *context;
    const char *s;
    size_t len;
    int r;
    if (!json_is_object(e)) goto bad_object;

    if ((r = optional_string(e, "event_id", "event_id", TLY_MAX_EVENT_ID_LEN, &s, &len, err, errlen)) < 0) goto error;
    if (r == 1) {
        if (!event_id_valid(s, len)) {
            fail(err, errlen, "event_id: must be 1-64 characters of letters, digits, '-', '_', '.' or ':' (a UUID or ULID)");
            goto error;
        }
        tly_event_set_text(&ev->event_id, s, len);
    }
    v = json_object_get(e, "type");
    if (!v) { fail(err, errlen, "type: required ('pageview' or a custom event name)"); goto error; }
    if (!json_is_string(v) || !tly_event_name_valid(json_string_value(v), json_string_length(v))) {
        fail(err, errlen, "type: must be 1-64 characters of letters, digits, '_', '-', '.', ':', '/' or space");
        goto error;
    }
    tly_event_set_text(&ev->name, json_string_value(v), json_string_length(v));
    ev->interactive = tly_event_name_interactive(ev->name);
    if (parse_ts(e, env, received_ms, ev, err, errlen) != 0) goto error;

    if (optional_object(e, "context", "context", &context, err, errlen) != 0) goto error;
    if (parse_page(context, ev, err, errlen) != 0) goto error;
    if (parse_campaign(context, ev, err, errlen) != 0) goto error;
    if (parse_client(context, ev, err, errlen) != 0) goto error;

    json_t *screen;
    if (optional_object(context, "screen", "context.screen", &screen, err, errlen) != 0) goto error;
    if (screen && (v = json_object_get(screen, "width")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > TLY_MAX_SCREEN_WIDTH) {
            fail(err, errlen, "context.screen.width: must be an integer between 0 and %d", TLY_MAX_SCREEN_WIDTH);
            goto error;
        }
        ev->screen_width = (int)json_integer_value(v);
    }
    if (parse_identity(e, ev, err, errlen) != 0) goto error;
    if ((v = json_object_get(e, "data")) && !json_is_null(v) &&
        tly_event_set_data(ev, v, "data", err, errlen) != 0)
        goto error;
    if ((v = json_object_get(e, "interactive")) && !json_is_null(v)) {
        if (!json_is_boolean(v)) { fail(err, errlen, "interactive: must be true or false"); goto error; }
        ev->interactive = json_is_true(v);
    }
    return 0;

bad_object:
    fail(err, errlen, "event: must be a JSON object");
error:
    tly_event_clear(ev);
    return -1;
}
