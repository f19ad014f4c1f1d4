#include "first.h"
#include "event_copy.h"
#include "json_arena.h"
#include "timeparse.h"

#include <pthread.h>
#include <stdint.h>
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

/* The second byte of COPY's escape for each byte that needs one: a backslash starts an escape;
 * tab and newline would end the field or the line. 0 for the bytes that stand for themselves. */
static const char escape_as[256] = {['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'};

/* A tab, then the text with COPY's escapes. One reserve for both, with room for every byte
 * escaped: a row is 34 fields, and a call to the buffer per piece was a fifth of its cost. */
static void put_escaped_field(tly_buf *out, const char *s, size_t len)
{
    char *w = tly_buf_reserve(out, 1 + 2 * len);
    size_t n = 0;
    w[n++] = '\t';
    for (size_t i = 0; i < len; i++) {
        char escape = escape_as[(unsigned char)s[i]];
        if (escape) {
            w[n++] = '\\';
            w[n++] = escape;
        } else {
            w[n++] = s[i];
        }
    }
    tly_buf_commit(out, n);
}

/* A tab, then text that needs no escapes. */
static void put_field(tly_buf *out, const char *text, size_t len)
{
    char *w = tly_buf_reserve(out, 1 + len);
    w[0] = '\t';
    memcpy(w + 1, text, len);
    tly_buf_commit(out, 1 + len);
}

static void put_value(tly_buf *out, const json_t *v, const column *col)
{
    char num[32];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        put_escaped_field(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        tly_buf_append_char(out, '\t');
        tly_buf_append_int(out, json_integer_value(v));
        break;
    case JSON_REAL:
        put_field(out, num, (size_t)snprintf(num, sizeof num, "%.17g", json_real_value(v)));
        break;
    case JSON_TRUE: put_field(out, "t", 1); break;
    case JSON_FALSE: put_field(out, "f", 1); break;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *text = json_dumps(v, JSON_COMPACT);
        if (text) put_escaped_field(out, text, strlen(text));
        else put_field(out, NULL_TEXT, sizeof NULL_TEXT - 1);
        tly_json_free(text);
        break;
    }
    case JSON_NULL:
        put_field(out, col->missing, col->missing_len);
        break;
    }
}

/* A tab, then the event time: milliseconds since 1970 as an RFC 3339 timestamp in UTC. */
static void put_ts(tly_buf *out, const json_t *v)
{
    if (!json_is_integer(v)) {
        put_field(out, NULL_TEXT, sizeof NULL_TEXT - 1);
        return;
    }
    char text[32];
    tly_time_format_rfc3339(json_integer_value(v), text);
    put_field(out, text, strlen(text));
}

/* Which column each member of a row fills, found by going through the row once: looking every
 * column up by name hashed its key and walked a bucket, 8,000 instructions a row. A table of the
 * members' names, open addressing on FNV-1a, built once. */
#define TS_COLUMN TLY_ARRAY_LEN(columns)   /* "ts_ms", the slot after the columns */
#define NAME_SLOTS 128                     /* a power of two, about four times the names */

static signed char name_slots[NAME_SLOTS];   /* -1 empty, else a column (or TS_COLUMN) */
static pthread_once_t name_slots_once = PTHREAD_ONCE_INIT;

static uint32_t name_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h;
}

static const char *column_name(size_t index, size_t *len)
{
    if (index == TS_COLUMN) {
        *len = sizeof "ts_ms" - 1;
        return "ts_ms";
    }
    *len = columns[index].key_len;
    return columns[index].key;
}

static void build_name_slots(void)
{
    memset(name_slots, -1, sizeof name_slots);
    for (size_t c = 0; c <= TS_COLUMN; c++) {
        size_t len;
        const char *name = column_name(c, &len);
        uint32_t i = name_hash(name, len) & (NAME_SLOTS - 1);
        while (name_slots[i] >= 0) i = (i + 1) & (NAME_SLOTS - 1);
        name_slots[i] = (signed char)c;
    }
}

/* The column a member named `key` fills; -1 for a member that is none. */
static int column_of(const char *key, size_t len)
{
    for (uint32_t i = name_hash(key, len) & (NAME_SLOTS - 1); name_slots[i] >= 0; i = (i + 1) & (NAME_SLOTS - 1)) {
        size_t name_len;
        const char *name = column_name((size_t)name_slots[i], &name_len);
        if (name_len == len && memcmp(name, key, len) == 0) return name_slots[i];
    }
    return -1;
}

void tly_event_copy_row(tly_buf *out, int property_pk, const json_t *row)
{
    pthread_once(&name_slots_once, build_name_slots);
    const json_t *values[TS_COLUMN + 1] = {NULL};
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)row, key, key_len, value) {
        int c = column_of(key, key_len);
        if (c >= 0) values[c] = value;
    }
    tly_buf_append_int(out, property_pk);
    put_ts(out, values[TS_COLUMN]);
    for (size_t i = 0; i < TLY_ARRAY_LEN(columns); i++) put_value(out, values[i], &columns[i]);
    tly_buf_append_char(out, '\n');
}
