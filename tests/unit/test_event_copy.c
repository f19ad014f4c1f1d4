#include "first.h"
#include "tap.h"
#include "event_copy.h"

#include <stdio.h>
#include <string.h>

/* The line of a row, without its newline, as a string the test owns. */
static const char *line_of(tly_buf *out, int pk, const char *row_json)
{
    json_t *row = json_loads(row_json, 0, NULL);
    tly_buf_reset(out);
    tly_event_copy_row(out, pk, row);
    json_decref(row);
    CHECK(out->len > 0 && out->ptr[out->len - 1] == '\n');
    if (out->len) out->ptr[--out->len] = '\0';
    return tly_buf_cstr(out);
}

/* The columns of the line, split at tabs. */
static size_t fields(const char *line, char parts[40][600])
{
    size_t n = 0;
    const char *start = line;
    for (const char *p = line;; p++) {
        if (*p == '\t' || *p == '\0') {
            if (n < 40) snprintf(parts[n], 600, "%.*s", (int)(p - start), start);
            n++;
            start = p + 1;
            if (!*p) break;
        }
    }
    return n;
}

static size_t column_count(void)
{
    size_t n = 1;
    for (const char *p = TLY_EVENT_COPY_COLUMNS; *p; p++) n += *p == ',';
    return n;
}

static void test_missing_fields_take_the_columns_defaults(void)
{
    tly_buf out = {0};
    char f[40][600];
    size_t n = fields(line_of(&out, 7, "{\"event_id\": \"e1\", \"ts_ms\": 1769278353123, \"name\": \"pageview\", "
                                       "\"visitor\": -5}"), f);
    CHECK_INT((long long)n, (long long)column_count());
    CHECK_STR(f[0], "7");
    CHECK_STR(f[1], "2026-01-24T18:12:33.123Z");
    CHECK_STR(f[2], "e1");
    CHECK_STR(f[3], "pageview");
    CHECK_STR(f[4], "-5");
    CHECK_STR(f[5], "\\N");   /* prev_visitor */
    CHECK_STR(f[6], "\\N");   /* session */
    CHECK_STR(f[7], "");      /* hostname: text columns are never NULL */
    CHECK_STR(f[26], "");     /* os_version */
    CHECK_STR(f[27], "\\N");  /* screen_width */
    CHECK_STR(f[28], "\\N");  /* user_id_hash */
    CHECK_STR(f[29], "t");    /* interactive unless said otherwise */
    CHECK_STR(f[30], "\\N");  /* revenue_amount */
    CHECK_STR(f[32], "\\N");  /* props */
    CHECK_STR(f[33], "\\N");  /* visit_token */
    tly_buf_free(&out);
}

static void test_values_and_escapes(void)
{
    tly_buf out = {0};
    char f[40][600];
    size_t n = fields(line_of(&out, 1, "{\"event_id\": \"a\\\\b\", \"ts_ms\": 0, \"name\": \"x\", \"visitor\": 1, "
                                       "\"session_key\": 9007199254740993, \"title\": \"tab\\there\\nnew\\rline\", "
                                       "\"screen_width\": 1440, \"interactive\": false, \"revenue_amount\": \"49.90\", "
                                       "\"revenue_currency\": \"EUR\", \"props\": {\"plan\": \"pro\\\\x\", \"n\": 2}, "
                                       "\"job\": 3}"), f);
    CHECK_INT((long long)n, (long long)column_count());   /* no tab or newline leaks out of a value */
    CHECK_STR(f[1], "1970-01-01T00:00:00.000Z");
    CHECK_STR(f[2], "a\\\\b");
    CHECK_STR(f[6], "9007199254740993");
    CHECK_STR(f[10], "tab\\there\\nnew\\rline");
    CHECK_STR(f[27], "1440");
    CHECK_STR(f[29], "f");
    CHECK_STR(f[30], "49.90");
    CHECK_STR(f[31], "EUR");
    CHECK_STR(f[32], "{\"plan\":\"pro\\\\\\\\x\",\"n\":2}");   /* JSON's own escape, escaped again for COPY */
    CHECK(strchr(tly_buf_cstr(&out), '\n') == NULL);
    tly_buf_free(&out);
}

static void test_lines_append(void)
{
    tly_buf out = {0};
    json_t *row = json_pack("{s:s, s:I, s:s, s:I}", "event_id", "e", "ts_ms", (json_int_t)0, "name", "n",
                            "visitor", (json_int_t)1);
    tly_event_copy_row(&out, 1, row);
    size_t one = out.len;
    tly_event_copy_row(&out, 1, row);
    CHECK_INT((long long)out.len, (long long)(2 * one));
    json_decref(row);
    tly_buf_free(&out);
}

/* Every member lands in its column whatever the members' order, and members that are no column
 * are left out. The members in the columns' order (after property_pk and ts). */
static const char *const members[] = {
    "event_id", "name", "visitor", "prev_visitor", "session_key", "hostname", "path", "query", "title",
    "referrer", "source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "campaign_id", "country", "region", "city", "device", "browser", "browser_version", "os",
    "os_version", "screen_width", "user_id_hash", "interactive", "revenue_amount", "revenue_currency",
    "props", "visit_token",
};

static void test_members_in_any_order(void)
{
    CHECK_INT((long long)TLY_ARRAY_LEN(members) + 2, (long long)column_count());
    json_t *row = json_object();
    json_object_set_new(row, "not_a_column", json_string("x"));
    for (size_t i = TLY_ARRAY_LEN(members); i-- > 0;) {   /* the columns' order reversed */
        char value[16];
        snprintf(value, sizeof value, "m%zu", i);
        json_object_set_new(row, members[i], json_string(value));
    }
    json_object_set_new(row, "ts_ms", json_integer(0));
    json_object_set_new(row, "ts", json_string("not the time"));
    tly_buf out = {0};
    tly_event_copy_row(&out, 3, row);
    char f[40][600];
    size_t n = fields(tly_buf_cstr(&out), f);
    CHECK_INT((long long)n, (long long)column_count());
    CHECK_STR(f[0], "3");
    CHECK_STR(f[1], "1970-01-01T00:00:00.000Z");
    for (size_t i = 0; i < TLY_ARRAY_LEN(members) && i + 2 < n; i++) {
        char value[16];
        snprintf(value, sizeof value, "m%zu", i);
        if (i + 1 == TLY_ARRAY_LEN(members)) strcat(value, "\n");   /* the line's end */
        CHECK_STR(f[i + 2], value);
    }
    CHECK(strstr(tly_buf_cstr(&out), "x") == NULL);
    json_decref(row);
    tly_buf_free(&out);
}

static void run_tests(void)
{
    test_missing_fields_take_the_columns_defaults();
    test_values_and_escapes();
    test_lines_append();
    test_members_in_any_order();
}

