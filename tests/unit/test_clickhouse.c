/* Unit tests of the pure parts of the clickhouse events store: string literals, error answers,
 * the encoding of event rows, the reading of JSONCompact answers and the report SQL's literals. */
#include "first.h"
#include "tap.h"
#include "clickhouse.h"
#include "clickhouse_event.h"
#include "report_sql_clickhouse.h"
#include "rows.h"

#include <jansson.h>
#include <string.h>

static void check_quote(const char *in, const char *want)
{
    tly_buf b = {0};
    tly_ch_quote(&b, in);
    CHECK_STR(tly_buf_cstr(&b), want);
    tly_buf_free(&b);
}

static void test_quote(void)
{
    check_quote("", "''");
    check_quote("/pricing", "'/pricing'");
    check_quote("it's", "'it\\'s'");
    check_quote("a\\b", "'a\\\\b'");
    check_quote("'; DROP TABLE events; --", "'\\'; DROP TABLE events; --'");
    check_quote("\\'", "'\\\\\\''");
    check_quote("line\nbreak\ttab\r", "'line\\nbreak\\ttab\\r'");
    check_quote("\x01", "'\\x01'");
    check_quote("Zürich", "'Zürich'");
}

static void test_error_answer(void)
{
    tly_db_error err;
    tly_ch_error_from_answer("Code: 60, e.displayText() = DB::Exception: Table tally.events doesn't exist.\nStack", 404, &err);
    CHECK(!err.unreachable);
    CHECK_STR(err.message, "ClickHouse: Code: 60, e.displayText() = DB::Exception: Table tally.events doesn't exist.");
    tly_ch_error_from_answer("Code: 279, e.displayText() = DB::NetException: All connection tries failed", 500, &err);
    CHECK(err.unreachable);
    CHECK(!err.canceled);
    tly_ch_error_from_answer("", 503, &err);
    CHECK(err.unreachable);
    CHECK_STR(err.message, "ClickHouse answered HTTP 503");
    /* Past the statement timeout: stopped (a 503 to a report), and for ingest, spooled. */
    tly_ch_error_from_answer("Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 1.0 seconds", 500, &err);
    CHECK(err.canceled);
    CHECK(err.unreachable);
    CHECK(tly_db_error_transient(&err));
}

static void test_amounts(void)
{
    int64_t v = 0;
    CHECK(tly_ch_amount_e4("49.90", &v) && v == 499000);
    CHECK(tly_ch_amount_e4("-0.0005", &v) && v == -5);
    CHECK(tly_ch_amount_e4("12", &v) && v == 120000);
    CHECK(tly_ch_amount_e4("999999999999.9999", &v) && v == 9999999999999999LL);
    CHECK(!tly_ch_amount_e4("1.23456", &v));
    CHECK(!tly_ch_amount_e4("1.", &v));
    CHECK(!tly_ch_amount_e4(".5", &v));
    CHECK(!tly_ch_amount_e4("1e3", &v));
    CHECK(!tly_ch_amount_e4("", &v));
}

static void check_prop(json_t *value, const char *want)
{
    tly_buf b = {0};
    tly_ch_prop_text(&b, value);
    CHECK_STR(tly_buf_cstr(&b), want);
    tly_buf_free(&b);
    json_decref(value);
}

/* As PostgreSQL's ->> writes the JSON that Jansson sends it. */
static void test_prop_text(void)
{
    check_prop(json_string("pro"), "pro");
    check_prop(json_true(), "true");
    check_prop(json_false(), "false");
    check_prop(json_integer(-42), "-42");
    check_prop(json_real(1.5), "1.5");
    check_prop(json_real(100.0), "100.0");
    check_prop(json_real(0.1), "0.10000000000000001");
    check_prop(json_real(1e20), "100000000000000000000");
    check_prop(json_real(1.5e-5), "0.000015");
    check_prop(json_real(-0.0), "0.0");
    check_prop(json_real(1.2345678901234568e17), "123456789012345680");
    check_prop(json_real(1e-7), "0.000000099999999999999995");
    check_prop(json_real(-1500.0), "-1500.0");
}

/* The way back, for the raw-events export: as PostgreSQL writes numeric(18,4), timestamps and jsonb. */
static void test_export_text(void)
{
    tly_buf b = {0};
    tly_ch_amount_text(&b, 499000);
    CHECK_STR(tly_buf_cstr(&b), "49.9000");
    tly_buf_reset(&b);
    tly_ch_amount_text(&b, -5);
    CHECK_STR(tly_buf_cstr(&b), "-0.0005");
    tly_buf_reset(&b);
    tly_ch_amount_text(&b, 0);
    CHECK_STR(tly_buf_cstr(&b), "0.0000");
    tly_buf_reset(&b);
    tly_ch_time_text(&b, 1767225599123LL);
    CHECK_STR(tly_buf_cstr(&b), "2025-12-31T23:59:59.123Z");
    tly_buf_reset(&b);
    json_t *keys = json_pack("[s,s,s,s]", "plan", "b", "seats", "q");
    json_t *values = json_pack("[s,s,s,s]", "pro", "true", "3", "a\"\\\n\001\xc3\xa9");
    json_t *kinds = json_pack("[i,i,i,i]", 0, 2, 1, 0);
    CHECK(tly_ch_props_text(&b, keys, values, kinds));
    CHECK_STR(tly_buf_cstr(&b), "{\"b\": true, \"q\": \"a\\\"\\\\\\n\\u0001\xc3\xa9\", \"plan\": \"pro\", \"seats\": 3}");
    tly_buf_reset(&b);
    json_t *none = json_array();
    CHECK(!tly_ch_props_text(&b, none, none, none));
    CHECK(!tly_ch_props_text(&b, keys, none, kinds));
    CHECK_STR(tly_buf_cstr(&b), "");
    json_decref(keys);
    json_decref(values);
    json_decref(kinds);
    json_decref(none);
    tly_buf_free(&b);
}

static void test_event_line(void)
{
    json_t *row = json_pack("{s:s, s:I, s:s, s:I, s:I, s:s, s:s, s:b, s:s, s:s, s:{s:s, s:i}, s:i}",
                            "event_id", "e-1", "ts_ms", (json_int_t)1700000000123LL, "name", "pageview",
                            "visitor", (json_int_t)-5, "prev_visitor", (json_int_t)7, "path", "/a'b",
                            "source", "Google", "interactive", 0, "revenue_amount", "49.90",
                            "revenue_currency", "EUR", "props", "plan", "pro", "seats", 3, "screen_width", 1280);
    tly_buf b = {0};
    char err[128];
    CHECK_INT(tly_ch_event_line(&b, 9, 12345, row, err, sizeof err), 0);
    CHECK(b.len > 0 && b.ptr[b.len - 1] == '\n');
    json_t *line = json_loads(tly_buf_cstr(&b), 0, NULL);
    CHECK(line != NULL);
    CHECK_INT(json_integer_value(json_object_get(line, "property_pk")), 9);
    CHECK_INT(json_integer_value(json_object_get(line, "ts")), 1700000000);
    CHECK_INT(json_integer_value(json_object_get(line, "ts_ms")), 1700000000123LL);
    CHECK_INT(json_integer_value(json_object_get(line, "seq")), 12345);
    CHECK_STR(json_string_value(json_object_get(line, "event_id")), "e-1");
    CHECK_INT(json_integer_value(json_object_get(line, "visitor")), -5);
    CHECK_INT(json_integer_value(json_object_get(line, "prev_visitor")), 7);
    CHECK(json_is_null(json_object_get(line, "session")));
    CHECK_STR(json_string_value(json_object_get(line, "path")), "/a'b");
    CHECK_STR(json_string_value(json_object_get(line, "country")), "");
    CHECK(json_is_null(json_object_get(line, "user_id_hash")));
    CHECK_INT(json_integer_value(json_object_get(line, "interactive")), 0);
    CHECK_INT(json_integer_value(json_object_get(line, "revenue_amount_e4")), 499000);
    CHECK_STR(json_string_value(json_object_get(line, "revenue_currency")), "EUR");
    CHECK_INT(json_integer_value(json_object_get(line, "screen_width")), 1280);
    json_t *keys = json_object_get(line, "props.key"), *values = json_object_get(line, "props.value");
    json_t *kinds = json_object_get(line, "props.kind");
    CHECK_INT(json_array_size(keys), 2);
    CHECK_INT(json_array_size(kinds), 2);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const char *k = json_string_value(json_array_get(keys, i)), *v = json_string_value(json_array_get(values, i));
        json_int_t kind = json_integer_value(json_array_get(kinds, i));
        CHECK((strcmp(k, "plan") == 0 && strcmp(v, "pro") == 0 && kind == TLY_CH_PROP_STRING) ||
              (strcmp(k, "seats") == 0 && strcmp(v, "3") == 0 && kind == TLY_CH_PROP_NUMBER));
    }
    json_decref(line);

    /* Defaults: interactive, no revenue, no properties. */
    tly_buf_reset(&b);
    json_t *bare = json_pack("{s:I, s:s, s:I}", "ts_ms", (json_int_t)1000, "name", "signup", "visitor", (json_int_t)1);
    CHECK_INT(tly_ch_event_line(&b, 1, 1, bare, err, sizeof err), 0);
    line = json_loads(tly_buf_cstr(&b), 0, NULL);
    CHECK_INT(json_integer_value(json_object_get(line, "interactive")), 1);
    CHECK(json_is_null(json_object_get(line, "revenue_amount_e4")));
    CHECK_INT(json_array_size(json_object_get(line, "props.key")), 0);
    json_decref(line);

    /* What every row has is required. */
    json_object_del(bare, "visitor");
    CHECK_INT(tly_ch_event_line(&b, 1, 1, bare, err, sizeof err), -1);
    CHECK_STR(err, "event row without a valid visitor");
    json_decref(bare);
    json_decref(row);
    tly_buf_free(&b);
}

static void test_json_compact(void)
{
    static const char doc[] = "{\"meta\": [{\"name\": \"d\", \"type\": \"String\"}, {\"name\": \"n\", \"type\": \"UInt64\"},"
                              " {\"name\": \"x\", \"type\": \"Nullable(UInt8)\"}],"
                              " \"data\": [[\"2024-05-01\", \"18446744073709551615\", 1], [\"a\\/b\", \"0\", null]],"
                              " \"rows\": 2}";
    tly_rows r;
    CHECK_INT(tly_rows_from_json_compact(&r, doc, strlen(doc)), 0);
    CHECK_INT(r.n_rows, 2);
    CHECK_INT(r.n_cols, 3);
    CHECK_STR(tly_rows_get(&r, 0, 0), "2024-05-01");
    CHECK_STR(tly_rows_get(&r, 0, 1), "18446744073709551615");
    CHECK_STR(tly_rows_get(&r, 0, 2), "1");
    CHECK_STR(tly_rows_get(&r, 1, 0), "a/b");
    CHECK_STR(tly_rows_get(&r, 1, 2), "");
    CHECK_STR(tly_rows_get(&r, 2, 0), "");
    CHECK_INT(tly_rows_int(&r, 0, 2), 1);
    tly_rows_free(&r);
    CHECK_INT(tly_rows_from_json_compact(&r, "Ok.\n", 4), -1);
    CHECK_INT(tly_rows_from_json_compact(&r, "{\"meta\": [{}], \"data\": [[1, 2]]}", 32), -1);
    static const char empty[] = "{\"meta\": [{\"name\": \"c\"}], \"data\": []}";
    CHECK_INT(tly_rows_from_json_compact(&r, empty, strlen(empty)), 0);
    CHECK_INT(r.n_rows, 0);
    tly_rows_free(&r);
}

static void check_regex(const char *pattern, const char *want)
{
    tly_buf b = {0};
    tly_ch_goal_regex(&b, pattern);
    CHECK_STR(tly_buf_cstr(&b), want);
    tly_buf_free(&b);
}

static void test_goal_regex(void)
{
    check_regex("/pric*", "(?s)^/pric.*$");
    check_regex("/a.b(c)", "(?s)^/a\\.b\\(c\\)$");
    check_regex("100%_off", "(?s)^100%_off$");
    check_regex("*", "(?s)^.*$");
}

/* Values from a request appear in the statement only inside string literals. */
static void test_report_literals(void)
{
    static const char evil[] = "x'); DROP TABLE tally.events; --";
    tly_filter f;
    memset(&f, 0, sizeof f);
    f.dim.kind = TLY_DIM_PATH;
    f.op = TLY_FILTER_EQ;
    f.value = (char *)evil;
    tly_dim dim = {TLY_DIM_PROP, "it's"};
    tly_report_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.property_pk = 3;
    spec.timezone = "Europe/Berlin";
    spec.from_day = 19800;
    spec.to_day = 19806;
    spec.filters = &f;
    spec.n_filters = 1;
    spec.group_by = &dim;
    spec.n_group_by = 1;
    spec.drop_value = evil;
    spec.limit = 10;
    tly_ch_goal goal = {"Sign'up", "signup", NULL};
    tly_ch_report_context cx = {"tally", 1800, &goal, 1};
    tly_buf q = {0};
    CHECK_INT(tly_ch_report_sql(&spec, &cx, &q), 0);
    const char *sql = tly_buf_cstr(&q);
    CHECK(strstr(sql, "x\\'); DROP TABLE tally.events; --'") != NULL);
    CHECK(strstr(sql, "'x'); DROP") == NULL);
    CHECK(strstr(sql, "'it\\'s'") != NULL);
    CHECK(strstr(sql, "toDateTime('2024-03-18 00:00:00', 'Europe/Berlin')") != NULL);
    CHECK(strstr(sql, "property_pk = 3 ") != NULL);
    CHECK(strstr(sql, "LIMIT 0, 10") != NULL);
    tly_buf_free(&q);

    /* Visits: the timeout in milliseconds; a goal filter by the goals' own conditions. */
    f.dim.kind = TLY_DIM_GOAL;
    f.value = "Sign'up";
    dim.kind = TLY_DIM_SOURCE;
    spec.drop_value = NULL;
    CHECK_INT(tly_ch_report_sql(&spec, &cx, &q), 0);
    sql = tly_buf_cstr(&q);
    CHECK(strstr(sql, "> 1800000") != NULL);
    CHECK(strstr(sql, "(name = 'signup')") != NULL);
    tly_buf_free(&q);
}

static void run_tests(void)
{
    test_quote();
    test_error_answer();
    test_amounts();
    test_prop_text();
    test_export_text();
    test_event_line();
    test_json_compact();
    test_goal_regex();
    test_report_literals();
}
