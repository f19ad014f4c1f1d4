#include "first.h"
#include "event_copy.h"
#include "timeparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a row member becomes a column, in the order of TLY_EVENT_COPY_COLUMNS after property_pk
 * and ts. */
typedef struct column {
    const char *key;        /* the member of the row */
    const char *missing;    /* the column's text when the member is absent or null */
} column;

#define NULL_TEXT "\\N"

static const column columns[] = {
    {"event_id", NULL_TEXT},
    {"name", NULL_TEXT},
    {"visitor", NULL_TEXT},
    {"prev_visitor", NULL_TEXT},
    {"session_key", NULL_TEXT},
    {"hostname", ""}, {"path", ""}, {"query", ""}, {"title", ""}, {"referrer", ""}, {"source", ""},
    {"utm_source", ""}, {"utm_medium", ""}, {"utm_campaign", ""}, {"utm_term", ""}, {"utm_content", ""},
    {"campaign_id", ""}, {"country", ""}, {"region", ""}, {"city", ""}, {"device", ""}, {"browser", ""},
    {"browser_version", ""}, {"os", ""}, {"os_version", ""},
    {"screen_width", NULL_TEXT},
    {"user_id_hash", NULL_TEXT},
    {"interactive", "t"},
    {"revenue_amount", NULL_TEXT},
    {"revenue_currency", NULL_TEXT},
    {"props", NULL_TEXT},
    {"visit_token", NULL_TEXT},
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

static void put_value(tly_buf *out, const json_t *v, const char *missing)
{
    char num[32];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        put_escaped(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        tly_buf_append_str(out, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        tly_buf_append_str(out, num);
        break;
    case JSON_TRUE: tly_buf_append_char(out, 't'); break;
    case JSON_FALSE: tly_buf_append_char(out, 'f'); break;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *text = json_dumps(v, JSON_COMPACT);
        if (text) put_escaped(out, text, strlen(text));
        else tly_buf_append_str(out, NULL_TEXT);
        free(text);
        break;
    }
    case JSON_NULL:
        tly_buf_append_str(out, missing);
        break;
    }
}

/* The event time: milliseconds since 1970 as an RFC 3339 timestamp in UTC. */
static void put_ts(tly_buf *out, const json_t *v)
{
    if (!json_is_integer(v)) {
        tly_buf_append_str(out, NULL_TEXT);
        return;
    }
    char text[32];
    tly_time_format_rfc3339(json_integer_value(v), text);
    tly_buf_append_str(out, text);
}

void tly_event_copy_row(tly_buf *out, int property_pk, const json_t *row)
{
    char pk[16];
    snprintf(pk, sizeof pk, "%d", property_pk);
    tly_buf_append_str(out, pk);
    tly_buf_append_char(out, '\t');
    put_ts(out, json_object_get(row, "ts_ms"));
    for (size_t i = 0; i < TLY_ARRAY_LEN(columns); i++) {
        tly_buf_append_char(out, '\t');
        put_value(out, json_object_get(row, columns[i].key), columns[i].missing);
    }
    tly_buf_append_char(out, '\n');
}
