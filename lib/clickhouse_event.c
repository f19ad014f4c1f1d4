#include "first.h"
#include "clickhouse_event.h"
#include "json_arena.h"
#include "mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Text columns of the table, each from the row member of the same name ("" when absent). */
static const char *const text_columns[] = {
    "hostname", "path", "query", "title", "referrer", "source", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "campaign_id", "country", "region", "city", "device",
    "browser", "browser_version", "os", "os_version",
};

/* Nullable text columns, null when the row has no such member. */
static const char *const nullable_text_columns[] = {"user_id_hash", "revenue_currency", "visit_token"};

bool tly_ch_amount_e4(const char *text, int64_t *out)
{
    const char *p = text;
    bool negative = *p == '-';
    if (negative) p++;
    int64_t v = 0;
    int int_digits = 0, frac_digits = 0;
    for (; isdigit((unsigned char)*p); p++, int_digits++) {
        if (int_digits >= 14) return false;
        v = v * 10 + (*p - '0');
    }
    if (int_digits == 0) return false;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, frac_digits++) {
            if (frac_digits >= 4) return false;
            v = v * 10 + (*p - '0');
        }
        if (frac_digits == 0) return false;
    }
    if (*p) return false;
    for (; frac_digits < 4; frac_digits++) v *= 10;
    *out = negative ? -v : v;
    return true;
}

/* Writes a JSON number's text in plain decimal, as PostgreSQL's numeric prints it: the exponent
 * applied, as many fraction digits as the text had after applying it, no sign on zero. */
static void plain_decimal(tly_buf *out, const char *text)
{
    const char *p = text;
    bool negative = *p == '-';
    if (negative || *p == '+') p++;
    char digits[128];
    size_t n = 0, int_len = 0, frac_len = 0;
    for (; isdigit((unsigned char)*p) && n < sizeof digits - 1; p++, int_len++) digits[n++] = *p;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p) && n < sizeof digits - 1; p++, frac_len++) digits[n++] = *p;
    long exp = (*p == 'e' || *p == 'E') ? strtol(p + 1, NULL, 10) : 0;
    if (exp > 400 || exp < -400) {   /* far beyond a double: leave it as written */
        tly_buf_append_str(out, text);
        return;
    }
    digits[n] = '\0';
    long point = (long)int_len + exp;                    /* digits before the decimal point */
    long scale = (long)frac_len - exp > 0 ? (long)frac_len - exp : 0;
    tly_buf number = {0};
    /* Integer part: the digits before the point (zeros where the point lies beyond them). */
    for (long i = 0; i < point; i++) tly_buf_append_char(&number, i < (long)n ? digits[i] : '0');
    /* Without leading zeros, but at least "0". */
    const char *int_part = tly_buf_cstr(&number);
    while (*int_part == '0' && int_part[1]) int_part++;
    if (!*int_part) int_part = "0";
    tly_buf frac = {0};
    for (long i = 0; i < scale; i++) {
        long at = point + i;
        tly_buf_append_char(&frac, at >= 0 && at < (long)n ? digits[at] : '0');
    }
    bool zero = strspn(int_part, "0") == strlen(int_part) && strspn(tly_buf_cstr(&frac), "0") == frac.len;
    if (negative && !zero) tly_buf_append_char(out, '-');
    tly_buf_append_str(out, int_part);
    if (scale > 0) {
        tly_buf_append_char(out, '.');
        tly_buf_append_str(out, tly_buf_cstr(&frac));
    }
    tly_buf_free(&number);
    tly_buf_free(&frac);
}

void tly_ch_prop_text(tly_buf *out, const json_t *value)
{
    if (json_is_string(value)) {
        tly_buf_append(out, json_string_value(value), json_string_length(value));
    } else if (json_is_true(value)) {
        tly_buf_append_str(out, "true");
    } else if (json_is_false(value)) {
        tly_buf_append_str(out, "false");
    } else if (json_is_integer(value)) {
        tly_buf_printf(out, "%lld", (long long)json_integer_value(value));
    } else if (json_is_real(value)) {
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        if (text) plain_decimal(out, text);
        tly_json_free(text);
    }
}

static int missing(char *err, size_t errlen, const char *field)
{
    snprintf(err, errlen, "event row without a valid %s", field);
    return -1;
}

int tly_ch_event_line(tly_buf *out, int property_pk, uint64_t seq, const json_t *row, char *err, size_t errlen)
{
    json_t *ts = json_object_get(row, "ts_ms"), *name = json_object_get(row, "name");
    json_t *visitor = json_object_get(row, "visitor");
    if (!json_is_integer(ts)) return missing(err, errlen, "ts_ms");
    if (!json_is_string(name)) return missing(err, errlen, "name");
    if (!json_is_integer(visitor)) return missing(err, errlen, "visitor");
    int64_t ms = json_integer_value(ts);
    json_t *line = json_object();
    json_object_set_new(line, "property_pk", json_integer(property_pk));
    /* DateTime counts seconds from 1970; an earlier time (which no report can ask for) is 1970. */
    json_object_set_new(line, "ts", json_integer(ms < 0 ? 0 : ms / 1000));
    json_object_set_new(line, "ts_ms", json_integer(ms));
    /* Above 2^63 only after the year 2248 (see store_clickhouse.c): a JSON integer holds it. */
    json_object_set_new(line, "seq", json_integer((json_int_t)seq));
    json_t *id = json_object_get(row, "event_id");
    json_object_set_new(line, "event_id", json_string(json_is_string(id) ? json_string_value(id) : ""));
    json_object_set(line, "name", name);
    json_object_set(line, "visitor", visitor);
    json_t *prev = json_object_get(row, "prev_visitor"), *session = json_object_get(row, "session_key");
    json_object_set_new(line, "prev_visitor", json_is_integer(prev) ? json_incref(prev) : json_null());
    json_object_set_new(line, "session", json_is_integer(session) ? json_incref(session) : json_null());
    for (size_t i = 0; i < TLY_ARRAY_LEN(text_columns); i++) {
        json_t *v = json_object_get(row, text_columns[i]);
        json_object_set_new(line, text_columns[i], json_string(json_is_string(v) ? json_string_value(v) : ""));
    }
    for (size_t i = 0; i < TLY_ARRAY_LEN(nullable_text_columns); i++) {
        json_t *v = json_object_get(row, nullable_text_columns[i]);
        json_object_set_new(line, nullable_text_columns[i], json_is_string(v) ? json_incref(v) : json_null());
    }
    json_t *width = json_object_get(row, "screen_width");
    json_object_set_new(line, "screen_width", json_is_integer(width) ? json_incref(width) : json_null());
    json_t *interactive = json_object_get(row, "interactive");
    json_object_set_new(line, "interactive", json_integer(json_is_false(interactive) ? 0 : 1));
    json_t *amount = json_object_get(row, "revenue_amount");
    int64_t e4 = 0;
    if (json_is_string(amount) && !tly_ch_amount_e4(json_string_value(amount), &e4)) {
        json_decref(line);
        return missing(err, errlen, "revenue_amount");
    }
    json_object_set_new(line, "revenue_amount_e4", json_is_string(amount) ? json_integer(e4) : json_null());
    json_t *keys = json_array(), *values = json_array(), *kinds = json_array();
    json_t *props = json_object_get(row, "props");
    const char *key;
    json_t *value;
    json_object_foreach(props, key, value) {
        tly_buf text = {0};
        tly_ch_prop_text(&text, value);
        json_array_append_new(keys, json_string(key));
        json_array_append_new(values, json_stringn(tly_buf_cstr(&text), text.len));
        json_array_append_new(kinds, json_integer(json_is_string(value) ? TLY_CH_PROP_STRING
                                                  : json_is_boolean(value) ? TLY_CH_PROP_BOOLEAN : TLY_CH_PROP_NUMBER));
        tly_buf_free(&text);
    }
    json_object_set_new(line, "props.key", keys);
    json_object_set_new(line, "props.value", values);
    json_object_set_new(line, "props.kind", kinds);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    tly_buf_append_str(out, text);
    tly_buf_append_char(out, '\n');
    tly_json_free(text);
    return 0;
}

void tly_ch_amount_text(tly_buf *out, int64_t e4)
{
    uint64_t magnitude = e4 < 0 ? (uint64_t)0 - (uint64_t)e4 : (uint64_t)e4;
    tly_buf_printf(out, "%s%llu.%04llu", e4 < 0 ? "-" : "", (unsigned long long)(magnitude / 10000),
                   (unsigned long long)(magnitude % 10000));
}

void tly_ch_time_text(tly_buf *out, int64_t ts_ms)
{
    time_t seconds = (time_t)(ts_ms / 1000);
    int ms = (int)(ts_ms % 1000);
    if (ms < 0) {
        seconds--;
        ms += 1000;
    }
    struct tm tm;
    gmtime_r(&seconds, &tm);
    tly_buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* A JSON string as PostgreSQL's escape_json writes it. */
static void pg_json_string(tly_buf *out, const char *s)
{
    tly_buf_append_char(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\b': tly_buf_append_str(out, "\\b"); break;
        case '\f': tly_buf_append_str(out, "\\f"); break;
        case '\n': tly_buf_append_str(out, "\\n"); break;
        case '\r': tly_buf_append_str(out, "\\r"); break;
        case '\t': tly_buf_append_str(out, "\\t"); break;
        case '"': tly_buf_append_str(out, "\\\""); break;
        case '\\': tly_buf_append_str(out, "\\\\"); break;
        default:
            if (*p < ' ') tly_buf_printf(out, "\\u%04x", *p);
            else tly_buf_append_char(out, (char)*p);
        }
    }
    tly_buf_append_char(out, '"');
}

/* A property's key and its place in the arrays. */
typedef struct keyed_prop {
    const char *key;
    size_t len, index;
} keyed_prop;

/* jsonb's order of keys: shorter first, then by bytes. */
static int jsonb_key_order(const void *a, const void *b)
{
    const keyed_prop *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->key, y->key, x->len);
}

bool tly_ch_props_text(tly_buf *out, const json_t *keys, const json_t *values, const json_t *kinds)
{
    size_t n = json_array_size(keys);
    if (n == 0 || json_array_size(values) != n || json_array_size(kinds) != n) return false;
    keyed_prop *order = tly_xcalloc(n, sizeof *order);
    for (size_t i = 0; i < n; i++) {
        const json_t *key = json_array_get(keys, i);
        if (!json_is_string(key) || !json_is_string(json_array_get(values, i))) {
            free(order);
            return false;
        }
        order[i] = (keyed_prop){json_string_value(key), json_string_length(key), i};
    }
    qsort(order, n, sizeof *order, jsonb_key_order);
    tly_buf_append_char(out, '{');
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k].index;
        if (k) tly_buf_append_str(out, ", ");
        pg_json_string(out, order[k].key);
        tly_buf_append_str(out, ": ");
        const char *v = json_string_value(json_array_get(values, i));
        if (json_integer_value(json_array_get(kinds, i)) == TLY_CH_PROP_STRING) pg_json_string(out, v);
        else tly_buf_append_str(out, v);
    }
    tly_buf_append_char(out, '}');
    free(order);
    return true;
}
