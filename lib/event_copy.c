#include "first.h"
#include "event_copy.h"
#include "json_arena.h"
#include "timeparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a row member becomes a column, in the order of TLY_EVENT_COPY_COLUMNS after property_pk
 * and ts. */
typedef struct column {
    const char *key;        /* the member of the row */
    size_t key_len;
    const char *missing;    /* the column's text when the member is absent or null */
    size_t missing_len;
} column;

#define NULL_TEXT "\\N"
#define COLUMN(key, missing) {key, sizeof key - 1, missing, sizeof missing - 1}

static const column columns[] = {
    COLUMN("event_id", NULL_TEXT),
    COLUMN("name", NULL_TEXT),
    COLUMN("visitor", NULL_TEXT),
    COLUMN("prev_visitor", NULL_TEXT),
    COLUMN("session_key", NULL_TEXT),
    COLUMN("hostname", ""), COLUMN("path", ""), COLUMN("query", ""), COLUMN("title", ""),
    COLUMN("referrer", ""), COLUMN("source", ""), COLUMN("utm_source", ""), COLUMN("utm_medium", ""),
    COLUMN("utm_campaign", ""), COLUMN("utm_term", ""), COLUMN("utm_content", ""), COLUMN("campaign_id", ""),
    COLUMN("country", ""), COLUMN("region", ""), COLUMN("city", ""), COLUMN("device", ""), COLUMN("browser", ""),
    COLUMN("browser_version", ""), COLUMN("os", ""), COLUMN("os_version", ""),
    COLUMN("screen_width", NULL_TEXT),
    COLUMN("user_id_hash", NULL_TEXT),
    COLUMN("interactive", "t"),
    COLUMN("revenue_amount", NULL_TEXT),
    COLUMN("revenue_currency", NULL_TEXT),
    COLUMN("props", NULL_TEXT),
    COLUMN("visit_token", NULL_TEXT),
};

/* Text with COPY's escapes: a backslash starts an escape; tab and newline would end the field or
 * the line. */
static void put_escaped(tly_buf *out, const char *s, size_t len)
{
    char *w = tly_buf_reserve(out, 2 * len);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '\\': w[n++] = '\\'; w[n++] = '\\'; break;
        case '\t': w[n++] = '\\'; w[n++] = 't'; break;
        case '\n': w[n++] = '\\'; w[n++] = 'n'; break;
        case '\r': w[n++] = '\\'; w[n++] = 'r'; break;
        default: w[n++] = c;
        }
    }
    tly_buf_commit(out, n);
}

static void put_value(tly_buf *out, const json_t *v, const column *col)
{
    char num[32];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        put_escaped(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        tly_buf_append_int(out, json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        tly_buf_append_str(out, num);
        break;
    case JSON_TRUE: tly_buf_append(out, "t", 1); break;
    case JSON_FALSE: tly_buf_append(out, "f", 1); break;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *text = json_dumps(v, JSON_COMPACT);
        if (text) put_escaped(out, text, strlen(text));
        else tly_buf_append(out, NULL_TEXT, sizeof NULL_TEXT - 1);
        tly_json_free(text);
        break;
    }
    case JSON_NULL:
        tly_buf_append(out, col->missing, col->missing_len);
        break;
    }
}

/* The event time: milliseconds since 1970 as an RFC 3339 timestamp in UTC. */
static void put_ts(tly_buf *out, const json_t *v)
{
    if (!json_is_integer(v)) {
        tly_buf_append(out, NULL_TEXT, sizeof NULL_TEXT - 1);
        return;
    }
    char text[32];
    tly_time_format_rfc3339(json_integer_value(v), text);
    tly_buf_append_str(out, text);
}

void tly_event_copy_row(tly_buf *out, int property_pk, const json_t *row)
{
    tly_buf_append_int(out, property_pk);
    tly_buf_append(out, "\t", 1);
    put_ts(out, json_object_get(row, "ts_ms"));
    for (size_t i = 0; i < TLY_ARRAY_LEN(columns); i++) {
        tly_buf_append(out, "\t", 1);
        put_value(out, json_object_getn(row, columns[i].key, columns[i].key_len), &columns[i]);
    }
    tly_buf_append(out, "\n", 1);
}
