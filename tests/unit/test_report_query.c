#include "first.h"
#include "tap.h"
#include "report_query.h"
#include "timeparse.h"

#include <string.h>

static int32_t day_of(const char *ymd)
{
    int32_t d = 0;
    if (tly_time_parse_date(ymd, strlen(ymd), &d) != 0) {
        printf("# bad date in test: %s\n", ymd);
        exit(99);
    }
    return d;
}

/* "Today" in the property's time zone for most tests: Sunday 2026-03-15. */
#define TODAY day_of("2026-03-15")

#define NOT_A_FILTER "is not dimension==value, dimension!=value or dimension=~value"
#define BAD_PROP_KEY "needs a key of 1-64 characters A-Z a-z 0-9 _ . : -"

/* Writes the TAP description "what qs" with control characters masked. */
static void describe(char *out, size_t size, const char *what, const char *qs)
{
    snprintf(out, size, "%s %s", what, qs);
    for (char *m = out; *m; m++)
        if ((unsigned char)*m < 0x20) *m = '?';
}

static int parse_at(tly_report_query *q, const char *qs, const char *accept, int32_t today,
                    char *err)
{
    return tly_report_query_parse(q, qs, strlen(qs), accept, today, err, TLY_REPORT_ERR_SIZE);
}

/* Parses qs (today = TODAY) and reports whether it succeeded; q must be freed by the caller. */
static int ok_at(int line, tly_report_query *q, const char *qs, const char *accept, int32_t today)
{
    char err[TLY_REPORT_ERR_SIZE], what[600];
    int rc = parse_at(q, qs, accept, today, err);
    describe(what, sizeof what, "parses:", qs);
    tap_result(rc == 0, __FILE__, line, what);
    if (rc != 0) printf("#   error: \"%s\"\n", err);
    return rc == 0;
}
#define OK(q, qs) ok_at(__LINE__, (q), (qs), NULL, TODAY)

/* Checks that qs is refused with exactly the message `want`, leaving nothing allocated. */
static void fails_at(int line, const char *qs, const char *accept, int32_t today, const char *want)
{
    tly_report_query q;
    char err[TLY_REPORT_ERR_SIZE], what[600];
    int rc = parse_at(&q, qs, accept, today, err);
    int ok = rc == -1 && strcmp(err, want) == 0 && q.n_filters == 0;
    describe(what, sizeof what, "refuses:", qs);
    tap_result(ok, __FILE__, line, what);
    if (!ok) printf("#   expected: -1 \"%s\"\n#        got: %d \"%s\"\n", want, rc, rc ? err : "");
    if (rc == 0) tly_report_query_free(&q);
}
#define FAILS(qs, want) fails_at(__LINE__, (qs), NULL, TODAY, (want))

/* The range of q as "from..to", for readable comparisons. */
static const char *range_of(const tly_report_query *q)
{
    static char s[32];
    char from[11], to[11];
    tly_time_format_date(q->from_day, from);
    tly_time_format_date(q->to_day, to);
    snprintf(s, sizeof s, "%s..%s", from, to);
    return s;
}

/* The range that qs selects when today is `today`, or the error. */
static const char *range_at(const char *qs, const char *today)
{
    static char s[TLY_REPORT_ERR_SIZE + 16];
    tly_report_query q;
    char err[TLY_REPORT_ERR_SIZE];
    if (parse_at(&q, qs, NULL, day_of(today), err) != 0) {
        snprintf(s, sizeof s, "error: %s", err);
        return s;
    }
    snprintf(s, sizeof s, "%s%s", range_of(&q), q.realtime ? " realtime" : "");
    tly_report_query_free(&q);
    return s;
}

static void test_defaults(void)
{
    tly_report_query q;
    char err[TLY_REPORT_ERR_SIZE];
    if (OK(&q, "")) {
        CHECK_STR(range_of(&q), "2026-03-09..2026-03-15");
        CHECK(!q.realtime);
        CHECK_INT(q.n_filters, 0);
        CHECK_INT(q.limit, 50);
        CHECK_INT(q.offset, 0);
        CHECK_INT(q.interval, TLY_INTERVAL_NONE);
        CHECK_INT(q.metrics, 0);
        CHECK_INT(q.n_group_by, 0);
        CHECK(!q.compare);
        CHECK(!q.csv);
        tly_report_query_free(&q);
    }
    /* No query string at all. */
    CHECK_INT(tly_report_query_parse(&q, NULL, 0, NULL, TODAY, err, sizeof err), 0);
    CHECK_STR(range_of(&q), "2026-03-09..2026-03-15");
    CHECK_INT(q.limit, 50);
    tly_report_query_free(&q);
    /* Separators alone, unknown and caller-owned parameters change nothing. */
    if (OK(&q, "&&&share=abc&key=k_123&utm_source=x&x=1&x=2&Limit=0&colour=%FF&&")) {
        CHECK_STR(range_of(&q), "2026-03-09..2026-03-15");
        CHECK_INT(q.limit, 50);
        tly_report_query_free(&q);
    }
    /* The length bounds the query: "limit=12" cut after 7 bytes is limit=1. */
    CHECK_INT(tly_report_query_parse(&q, "limit=12", 7, NULL, TODAY, err, sizeof err), 0);
    CHECK_INT(q.limit, 1);
    tly_report_query_free(&q);
    /* Freeing twice is harmless. */
    tly_report_query_free(&q);
    CHECK_INT(q.n_filters, 0);
}

static void test_from_to(void)
{
    const char *t = "2026-03-15";
    CHECK_STR(range_at("from=2026-01-01&to=2026-01-31", t), "2026-01-01..2026-01-31");
    CHECK_STR(range_at("to=2026-01-31&from=2026-01-01", t), "2026-01-01..2026-01-31");
    CHECK_STR(range_at("from=2026-03-15&to=2026-03-15", t), "2026-03-15..2026-03-15");
    /* A range may reach into the future (e.g. "this year" as a whole). */
    CHECK_STR(range_at("from=2026-01-01&to=2026-12-31", t), "2026-01-01..2026-12-31");
    /* Only from: up to today. Only to: the 7 days ending there. */
    CHECK_STR(range_at("from=2026-03-01", t), "2026-03-01..2026-03-15");
    CHECK_STR(range_at("from=2026-03-15", t), "2026-03-15..2026-03-15");
    CHECK_STR(range_at("to=2026-02-03", t), "2026-01-28..2026-02-03");
    CHECK_STR(range_at("to=2030-01-01", t), "2029-12-26..2030-01-01");
    /* Leap days. */
    CHECK_STR(range_at("from=2024-02-28&to=2024-03-01", t), "2024-02-28..2024-03-01");
    CHECK_STR(range_at("from=2024-02-29&to=2024-02-29", t), "2024-02-29..2024-02-29");
    CHECK_STR(range_at("from=2000-02-29&to=2000-03-01", t), "2000-02-29..2000-03-01");
    CHECK_STR(range_at("to=2024-03-02", t), "2024-02-25..2024-03-02");
    /* The year bounds themselves. */
    CHECK_STR(range_at("from=2000-01-01&to=2000-01-01", t), "2000-01-01..2000-01-01");
    CHECK_STR(range_at("from=2100-12-31&to=2100-12-31", t), "2100-12-31..2100-12-31");
    /* The longest range, 3660 days, and one day more. */
    CHECK_STR(range_at("from=2016-01-01&to=2026-01-07", t), "2016-01-01..2026-01-07");
    CHECK_STR(range_at("from=2000-01-01&to=2010-01-07", t), "2000-01-01..2010-01-07");
    FAILS("from=2016-01-01&to=2026-01-08", "from/to: 2016-01-01..2026-01-08 is 3661 days; the limit is 3660");
    FAILS("from=2000-01-01&to=2100-12-31", "from/to: 2000-01-01..2100-12-31 is 36890 days; the limit is 3660");
    /* Only from, far back: the range up to today is too long. */
    FAILS("from=2010-01-01", "from/to: 2010-01-01..2026-03-15 is 5918 days; the limit is 3660");

    FAILS("from=2026-03-02&to=2026-03-01", "from: 2026-03-02 is after to (2026-03-01)");
    FAILS("from=2026-03-16", "from: 2026-03-16 is after to (2026-03-15, today)");
    FAILS("to=2026-03-01&from=2027-01-01", "from: 2027-01-01 is after to (2026-03-01)");

    static const char *const not_dates[] = {
        "2026-02-30", "2026-02-29", "2100-02-29", "1900-02-29", "2026-04-31", "2026-06-31",
        "2026-09-31", "2026-11-31", "2026-01-32", "2026-13-01", "2026-00-10", "2026-01-00",
        "2026-1-05", "2026-01-5", "26-01-05", "2026/01/05", "20260105", "2026-01-05x",
        "2026-01-05T00:00:00Z", "x2026-01-05", "2026-O1-05", "-2026-01-05", "today",
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(not_dates); i++) {
        char qs[64], want[128];
        snprintf(qs, sizeof qs, "from=%s", not_dates[i]);
        snprintf(want, sizeof want, "from: '%s' is not a date (YYYY-MM-DD)", not_dates[i]);
        fails_at(__LINE__, qs, NULL, TODAY, want);
        snprintf(qs, sizeof qs, "to=%s", not_dates[i]);
        snprintf(want, sizeof want, "to: '%s' is not a date (YYYY-MM-DD)", not_dates[i]);
        fails_at(__LINE__, qs, NULL, TODAY, want);
    }
    /* Percent-decoding happens first: "+" is a space and %2D a '-'. */
    FAILS("from=2026-01-05+", "from: '2026-01-05 ' is not a date (YYYY-MM-DD)");
    FAILS("from=%202026-01-05", "from: ' 2026-01-05' is not a date (YYYY-MM-DD)");
    CHECK_STR(range_at("from=2026%2D03%2D10", t), "2026-03-10..2026-03-15");
    FAILS("from=", "from: '' is not a date (YYYY-MM-DD)");
    FAILS("from", "from: '' is not a date (YYYY-MM-DD)");
    FAILS("to=", "to: '' is not a date (YYYY-MM-DD)");
    FAILS("from=1999-12-31&to=2000-01-01", "from: the year must be 2000-2100");
    FAILS("to=2101-01-01", "to: the year must be 2000-2100");
    FAILS("from=0001-01-01", "from: the year must be 2000-2100");
    FAILS("to=9999-12-31", "to: the year must be 2000-2100");
}

static void test_periods(void)
{
    const char *t = "2026-03-15";
    CHECK_STR(range_at("period=today", t), "2026-03-15..2026-03-15");
    CHECK_STR(range_at("period=yesterday", t), "2026-03-14..2026-03-14");
    CHECK_STR(range_at("period=7d", t), "2026-03-09..2026-03-15");
    CHECK_STR(range_at("period=30d", t), "2026-02-14..2026-03-15");
    CHECK_STR(range_at("period=month", t), "2026-03-01..2026-03-15");
    CHECK_STR(range_at("period=year", t), "2026-01-01..2026-03-15");
    CHECK_STR(range_at("period=realtime", t), "2026-03-15..2026-03-15 realtime");
    /* Across month and year ends, on first days and in leap years. */
    CHECK_STR(range_at("period=yesterday", "2026-01-01"), "2025-12-31..2025-12-31");
    CHECK_STR(range_at("period=yesterday", "2024-03-01"), "2024-02-29..2024-02-29");
    CHECK_STR(range_at("period=yesterday", "2026-03-01"), "2026-02-28..2026-02-28");
    CHECK_STR(range_at("period=7d", "2026-01-03"), "2025-12-28..2026-01-03");
    CHECK_STR(range_at("period=30d", "2024-03-15"), "2024-02-15..2024-03-15");
    CHECK_STR(range_at("period=30d", "2026-03-15"), "2026-02-14..2026-03-15");
    CHECK_STR(range_at("period=month", "2026-03-01"), "2026-03-01..2026-03-01");
    CHECK_STR(range_at("period=month", "2024-02-29"), "2024-02-01..2024-02-29");
    CHECK_STR(range_at("period=month", "2026-12-31"), "2026-12-01..2026-12-31");
    CHECK_STR(range_at("period=year", "2026-01-01"), "2026-01-01..2026-01-01");
    CHECK_STR(range_at("period=year", "2024-12-31"), "2024-01-01..2024-12-31");
    CHECK_STR(range_at("period=today", "2024-02-29"), "2024-02-29..2024-02-29");
    /* Without a period there is no realtime flag. */
    CHECK_STR(range_at("from=2026-03-15&to=2026-03-15", t), "2026-03-15..2026-03-15");

    FAILS("period=week", "period: must be today, yesterday, 7d, 30d, month, year or realtime");
    FAILS("period=Today", "period: must be today, yesterday, 7d, 30d, month, year or realtime");
    FAILS("period=7D", "period: must be today, yesterday, 7d, 30d, month, year or realtime");
    FAILS("period=7", "period: must be today, yesterday, 7d, 30d, month, year or realtime");
    FAILS("period=", "period: must be today, yesterday, 7d, 30d, month, year or realtime");
    FAILS("period=today%20", "period: must be today, yesterday, 7d, 30d, month, year or realtime");
    FAILS("period=7d&from=2026-03-01", "period: cannot be combined with from/to");
    FAILS("to=2026-03-01&period=month", "period: cannot be combined with from/to");
    FAILS("period=today&from=2026-03-15&to=2026-03-15", "period: cannot be combined with from/to");
    FAILS("period=7d&period=30d", "period: given more than once");
}

static void check_filter(int line, const tly_report_query *q, size_t i, tly_dim_kind kind,
                         const char *prop_key, tly_filter_op op, const char *value)
{
    char what[200];
    snprintf(what, sizeof what, "filter %zu is %s %d \"%s\"", i, tly_dim_name(kind), (int)op, value);
    int ok = i < q->n_filters && q->filters[i].dim.kind == kind &&
             strcmp(q->filters[i].dim.prop_key, prop_key) == 0 && q->filters[i].op == op &&
             q->filters[i].value && strcmp(q->filters[i].value, value) == 0;
    tap_result(ok, __FILE__, line, what);
    if (!ok && i < q->n_filters)
        printf("#   got: kind %d key \"%s\" op %d \"%s\"\n", q->filters[i].dim.kind,
               q->filters[i].dim.prop_key, q->filters[i].op,
               q->filters[i].value ? q->filters[i].value : "(null)");
}
#define CHECK_FILTER(q, i, kind, key, op, value) check_filter(__LINE__, (q), (i), (kind), (key), (op), (value))

static void test_filters(void)
{
    tly_report_query q;
    if (OK(&q, "filters=path==/pricing;country==DE;source!=Google")) {
        CHECK_INT(q.n_filters, 3);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "/pricing");
        CHECK_FILTER(&q, 1, TLY_DIM_COUNTRY, "", TLY_FILTER_EQ, "DE");
        CHECK_FILTER(&q, 2, TLY_DIM_SOURCE, "", TLY_FILTER_NE, "Google");
        tly_report_query_free(&q);
        CHECK_INT(q.n_filters, 0);
    }
    /* The same, percent-encoded as a browser would send it. */
    if (OK(&q, "filters=path%3D%3D%2Fpricing%3Bcountry%3D%3DDE%3Bsource%21%3DGoogle")) {
        CHECK_INT(q.n_filters, 3);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "/pricing");
        CHECK_FILTER(&q, 2, TLY_DIM_SOURCE, "", TLY_FILTER_NE, "Google");
        tly_report_query_free(&q);
    }
    if (OK(&q, "filters=path=~blog;utm_campaign==winter+sale;prop:plan==pro;campaign!=")) {
        CHECK_INT(q.n_filters, 4);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_CONTAINS, "blog");
        CHECK_FILTER(&q, 1, TLY_DIM_UTM_CAMPAIGN, "", TLY_FILTER_EQ, "winter sale");
        CHECK_FILTER(&q, 2, TLY_DIM_PROP, "plan", TLY_FILTER_EQ, "pro");
        CHECK_FILTER(&q, 3, TLY_DIM_CAMPAIGN, "", TLY_FILTER_NE, "");
        tly_report_query_free(&q);
    }
    /* Empty values mean "(none)" for == and !=. */
    if (OK(&q, "filters=referrer==;utm_source!=")) {
        CHECK_INT(q.n_filters, 2);
        CHECK_FILTER(&q, 0, TLY_DIM_REFERRER, "", TLY_FILTER_EQ, "");
        CHECK_FILTER(&q, 1, TLY_DIM_UTM_SOURCE, "", TLY_FILTER_NE, "");
        tly_report_query_free(&q);
    }
    /* The dimension ends at the first '=' or '!': the rest, operators included, is the value. */
    if (OK(&q, "filters=path==a==b;path!==x;path=~!=;path===")) {
        CHECK_INT(q.n_filters, 4);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "a==b");
        CHECK_FILTER(&q, 1, TLY_DIM_PATH, "", TLY_FILTER_NE, "=x");
        CHECK_FILTER(&q, 2, TLY_DIM_PATH, "", TLY_FILTER_CONTAINS, "!=");
        CHECK_FILTER(&q, 3, TLY_DIM_PATH, "", TLY_FILTER_EQ, "=");
        tly_report_query_free(&q);
    }
    /* Escapes: \; is a ';', \\ a backslash, any other backslash stays. */
    if (OK(&q, "filters=path==/a\\;b;city==x\\\\;hostname==C:\\dir\\n")) {
        CHECK_INT(q.n_filters, 3);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "/a;b");
        CHECK_FILTER(&q, 1, TLY_DIM_CITY, "", TLY_FILTER_EQ, "x\\");
        CHECK_FILTER(&q, 2, TLY_DIM_HOSTNAME, "", TLY_FILTER_EQ, "C:\\dir\\n");
        tly_report_query_free(&q);
    }
    /* Percent-encoded escapes; %3B alone separates; a trailing backslash is literal. */
    if (OK(&q, "filters=path%3D%3D%2Fa%5C%3Bb%3Bos%3D%3Dx%5C%5C%5C%3By;device==a%5C")) {
        CHECK_INT(q.n_filters, 3);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "/a;b");
        CHECK_FILTER(&q, 1, TLY_DIM_OS, "", TLY_FILTER_EQ, "x\\;y");
        CHECK_FILTER(&q, 2, TLY_DIM_DEVICE, "", TLY_FILTER_EQ, "a\\");
        tly_report_query_free(&q);
    }
    /* Empty terms are skipped; an empty filters parameter is no filter. */
    if (OK(&q, "filters=;;path==/;;")) {
        CHECK_INT(q.n_filters, 1);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "/");
        tly_report_query_free(&q);
    }
    if (OK(&q, "filters=")) {
        CHECK_INT(q.n_filters, 0);
        tly_report_query_free(&q);
    }
    /* UTF-8 values, '&' and '=' encoded inside a value, '+' as a space and %2B as a plus. */
    if (OK(&q, "filters=city==M%C3%BCnchen;path==/a%3Fb%3D1%26c;utm_term==a+b%2Bc")) {
        CHECK_FILTER(&q, 0, TLY_DIM_CITY, "", TLY_FILTER_EQ, "M\xc3\xbcnchen");
        CHECK_FILTER(&q, 1, TLY_DIM_PATH, "", TLY_FILTER_EQ, "/a?b=1&c");
        CHECK_FILTER(&q, 2, TLY_DIM_UTM_TERM, "", TLY_FILTER_EQ, "a b+c");
        tly_report_query_free(&q);
    }
    /* prop: keys. */
    if (OK(&q, "filters=prop:plan.tier:v-2_X==1;prop:a=~b")) {
        CHECK_FILTER(&q, 0, TLY_DIM_PROP, "plan.tier:v-2_X", TLY_FILTER_EQ, "1");
        CHECK_FILTER(&q, 1, TLY_DIM_PROP, "a", TLY_FILTER_CONTAINS, "b");
        tly_report_query_free(&q);
    }
    char qs[4096];   /* 501 percent-encoded two-byte characters need 3006 bytes */
    char key64[65];
    memset(key64, 'k', 64);
    key64[64] = '\0';
    snprintf(qs, sizeof qs, "filters=prop:%s==v", key64);
    if (OK(&q, qs)) {
        CHECK_FILTER(&q, 0, TLY_DIM_PROP, key64, TLY_FILTER_EQ, "v");
        tly_report_query_free(&q);
    }
    /* 65 characters; the message quotes the first 60 bytes of the name. */
    snprintf(qs, sizeof qs, "filters=prop:%sk==v", key64);
    char want[TLY_REPORT_ERR_SIZE];
    snprintf(want, sizeof want, "filters: 'prop:%.55s...' " BAD_PROP_KEY, key64);
    fails_at(__LINE__, qs, NULL, TODAY, want);
    FAILS("filters=prop:==v", "filters: 'prop:' " BAD_PROP_KEY);
    FAILS("filters=prop:a+b==v", "filters: 'prop:a b' " BAD_PROP_KEY);
    FAILS("filters=prop:a/b==v", "filters: 'prop:a/b' " BAD_PROP_KEY);
    FAILS("filters=prop:%C3%A9==v", "filters: 'prop:\xc3\xa9' " BAD_PROP_KEY);
    FAILS("filters=prop==v", "filters: unknown dimension 'prop'");

    /* Value length: 500 characters (not bytes) is the limit. */
    strcpy(qs, "filters=path==");
    memset(qs + strlen(qs), 'a', 500);
    qs[14 + 500] = '\0';
    if (OK(&q, qs)) {
        CHECK_INT(strlen(q.filters[0].value), 500);
        tly_report_query_free(&q);
    }
    strcat(qs, "a");
    FAILS(qs, "filters: the value for 'path' is longer than 500 characters");
    strcpy(qs, "filters=path=~");
    for (int i = 0; i < 500; i++) strcat(qs, "%C3%A9");   /* 500 x 'é', 1000 bytes */
    if (OK(&q, qs)) {
        CHECK_INT(strlen(q.filters[0].value), 1000);
        tly_report_query_free(&q);
    }
    strcat(qs, "%C3%A9");
    FAILS(qs, "filters: the value for 'path' is longer than 500 characters");

    /* At most 16 filters. */
    strcpy(qs, "filters=");
    for (int i = 0; i < 16; i++) strcat(qs, "path!=x;");
    if (OK(&q, qs)) {
        CHECK_INT(q.n_filters, 16);
        CHECK_FILTER(&q, 15, TLY_DIM_PATH, "", TLY_FILTER_NE, "x");
        tly_report_query_free(&q);
    }
    strcat(qs, "country==DE");
    FAILS(qs, "filters: more than 16 filters");

    FAILS("filters=colour==red", "filters: unknown dimension 'colour'");
    FAILS("filters=path==/;Path==/", "filters: unknown dimension 'Path'");
    FAILS("filters=path==/;+path==/", "filters: unknown dimension ' path'");
    FAILS("filters=prop:a==1;%C3%A9t%C3%A9==x", "filters: unknown dimension '\xc3\xa9t\xc3\xa9'");
    FAILS("filters=path=/pricing", "filters: 'path=/pricing' " NOT_A_FILTER);
    FAILS("filters=path", "filters: 'path' " NOT_A_FILTER);
    FAILS("filters=path~=x", "filters: 'path~=x' " NOT_A_FILTER);
    FAILS("filters=path!x", "filters: 'path!x' " NOT_A_FILTER);
    FAILS("filters=path!", "filters: 'path!' " NOT_A_FILTER);
    FAILS("filters=path=", "filters: 'path=' " NOT_A_FILTER);
    FAILS("filters=path:=x", "filters: 'path:=x' " NOT_A_FILTER);
    FAILS("filters===x", "filters: '==x' names no dimension");
    FAILS("filters=!=x", "filters: '!=x' names no dimension");
    FAILS("filters=path=~", "filters: 'path=~' needs a substring after =~");
    /* An escaped ';' keeps what follows in the value. */
    if (OK(&q, "filters=path==/a\\;path=~")) {
        CHECK_INT(q.n_filters, 1);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "/a;path=~");
        tly_report_query_free(&q);
    }
    FAILS("filters=path==x%FF", "filters: not valid UTF-8");
    FAILS("filters=path==%C0%AF", "filters: not valid UTF-8");
    FAILS("filters=path==%ED%A0%80", "filters: not valid UTF-8");
    FAILS("filters=path==a%00b", "filters: contains a NUL byte (%00)");
    FAILS("filters=path==/&filters=country==DE", "filters: given more than once");
    /* Long client text is cut in messages to 60 bytes, on a character boundary: with 58 'a' an 'é'
     * still fits, with 59 it does not; 60 bytes exactly are not cut. */
    char a59[60];
    memset(a59, 'a', 59);
    a59[59] = '\0';
    snprintf(qs, sizeof qs, "filters=%.58s%%C3%%A9%%C3%%A9==1", a59);
    snprintf(want, sizeof want, "filters: unknown dimension '%.58s\xc3\xa9...'", a59);
    fails_at(__LINE__, qs, NULL, TODAY, want);
    snprintf(qs, sizeof qs, "filters=%s%%C3%%A9==1", a59);
    snprintf(want, sizeof want, "filters: unknown dimension '%s...'", a59);
    fails_at(__LINE__, qs, NULL, TODAY, want);
    snprintf(qs, sizeof qs, "filters=%.58s%%C3%%A9==1", a59);
    snprintf(want, sizeof want, "filters: unknown dimension '%.58s\xc3\xa9'", a59);
    fails_at(__LINE__, qs, NULL, TODAY, want);
    /* A filter that failed frees the ones before it (checked by fails_at and LeakSanitizer). */
    FAILS("filters=path==/a;path==/b;path==/c;nope==1", "filters: unknown dimension 'nope'");
    FAILS("filters=path==/a&limit=0", "limit: must be an integer 1-1000");
    FAILS("filters=path==/a&from=2026-03-16", "from: 2026-03-16 is after to (2026-03-15, today)");
    /* Invalid %-escapes stay literal. */
    if (OK(&q, "filters=path==100%25;path==100%;path==%zz;path==%4")) {
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_EQ, "100%");
        CHECK_FILTER(&q, 1, TLY_DIM_PATH, "", TLY_FILTER_EQ, "100%");
        CHECK_FILTER(&q, 2, TLY_DIM_PATH, "", TLY_FILTER_EQ, "%zz");
        CHECK_FILTER(&q, 3, TLY_DIM_PATH, "", TLY_FILTER_EQ, "%4");
        tly_report_query_free(&q);
    }
}

static void test_limit_offset(void)
{
    tly_report_query q;
    static const struct { const char *qs; unsigned limit, offset; } good[] = {
        {"limit=1", 1, 0},           {"limit=1000", 1000, 0},  {"limit=50&offset=0", 50, 0},
        {"offset=1000000", 50, 1000000}, {"limit=007&offset=010", 7, 10}, {"offset=999999", 50, 999999},
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(good); i++) {
        if (ok_at(__LINE__, &q, good[i].qs, NULL, TODAY)) {
            CHECK_INT(q.limit, good[i].limit);
            CHECK_INT(q.offset, good[i].offset);
            tly_report_query_free(&q);
        }
    }
    /* Digits only, for both. */
    static const char *const not_counts[] = {
        "-1", "-0", "+5", "%2B5", " 5", "5 ", "5+", "abc", "", "1e3", "0x10", "5.0", "5,0",
        "99999999999999999999999", "18446744073709551617", "4294967297",
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(not_counts); i++) {
        char qs[64];
        snprintf(qs, sizeof qs, "limit=%s", not_counts[i]);
        fails_at(__LINE__, qs, NULL, TODAY, "limit: must be an integer 1-1000");
        snprintf(qs, sizeof qs, "offset=%s", not_counts[i]);
        fails_at(__LINE__, qs, NULL, TODAY, "offset: must be an integer 0-1000000");
    }
    FAILS("limit=0", "limit: must be an integer 1-1000");
    FAILS("limit=1001", "limit: must be an integer 1-1000");
    FAILS("offset=1000001", "offset: must be an integer 0-1000000");
    FAILS("limit", "limit: must be an integer 1-1000");
    FAILS("limit=5&limit=5", "limit: given more than once");
    FAILS("offset=0&offset=0", "offset: given more than once");
    /* The first error wins. */
    FAILS("limit=0&offset=-1", "limit: must be an integer 1-1000");
    FAILS("offset=-1&limit=0", "offset: must be an integer 0-1000000");
}

static void test_interval_compare_format(void)
{
    tly_report_query q;
    static const struct { const char *qs; tly_interval interval; } intervals[] = {
        {"interval=hour", TLY_INTERVAL_HOUR}, {"interval=day", TLY_INTERVAL_DAY},
        {"interval=week", TLY_INTERVAL_WEEK}, {"interval=month", TLY_INTERVAL_MONTH},
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(intervals); i++) {
        if (ok_at(__LINE__, &q, intervals[i].qs, NULL, TODAY)) {
            CHECK_INT(q.interval, intervals[i].interval);
            tly_report_query_free(&q);
        }
    }
    FAILS("interval=year", "interval: must be hour, day, week or month");
    FAILS("interval=Day", "interval: must be hour, day, week or month");
    FAILS("interval=", "interval: must be hour, day, week or month");
    FAILS("interval=day&interval=day", "interval: given more than once");

    if (OK(&q, "compare=previous_period")) {
        CHECK(q.compare);
        tly_report_query_free(&q);
    }
    FAILS("compare=previous", "compare: must be previous_period");
    FAILS("compare=true", "compare: must be previous_period");
    FAILS("compare=", "compare: must be previous_period");
    FAILS("compare", "compare: must be previous_period");
    FAILS("compare=previous_period&compare=previous_period", "compare: given more than once");

    if (OK(&q, "format=csv")) {
        CHECK(q.csv);
        tly_report_query_free(&q);
    }
    if (OK(&q, "format=json")) {
        CHECK(!q.csv);
        tly_report_query_free(&q);
    }
    FAILS("format=CSV", "format: must be csv or json");
    FAILS("format=xml", "format: must be csv or json");
    FAILS("format=", "format: must be csv or json");
    FAILS("format=csv&format=json", "format: given more than once");
}

/* Whether `qs` with this Accept header answers in CSV. */
static int csv_for(const char *qs, const char *accept)
{
    tly_report_query q;
    char err[TLY_REPORT_ERR_SIZE];
    if (parse_at(&q, qs, accept, TODAY, err) != 0) return -1;
    int csv = q.csv;
    tly_report_query_free(&q);
    return csv;
}

static void test_accept(void)
{
    CHECK_INT(csv_for("", NULL), 0);
    CHECK_INT(csv_for("", ""), 0);
    CHECK_INT(csv_for("", "text/csv"), 1);
    CHECK_INT(csv_for("", "TEXT/CSV"), 1);
    CHECK_INT(csv_for("", "text/csv; charset=utf-8"), 1);
    CHECK_INT(csv_for("", " text/csv ;header=present"), 1);
    CHECK_INT(csv_for("", "text/csv;q=0"), 0);
    CHECK_INT(csv_for("", "text/csv;q=0.001"), 1);
    CHECK_INT(csv_for("", "text/csv;q=abc"), 0);
    CHECK_INT(csv_for("", "text/csv;q=1.5"), 0);
    CHECK_INT(csv_for("", "application/json"), 0);
    CHECK_INT(csv_for("", "*/*"), 0);
    CHECK_INT(csv_for("", "text/*"), 0);
    CHECK_INT(csv_for("", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), 0);
    CHECK_INT(csv_for("", "application/json, text/csv;q=0.5"), 0);
    CHECK_INT(csv_for("", "text/csv, application/json;q=0.9"), 1);
    CHECK_INT(csv_for("", "application/json;q=0.5, text/csv;Q=0.8"), 1);
    CHECK_INT(csv_for("", "text/csv, application/json"), 0);     /* a tie keeps the default */
    CHECK_INT(csv_for("", "text/csvx"), 0);
    CHECK_INT(csv_for("", "text/plain, text/csv"), 1);
    CHECK_INT(csv_for("", ",,text/csv,,"), 1);
    /* The format parameter wins over Accept. */
    CHECK_INT(csv_for("format=json", "text/csv"), 0);
    CHECK_INT(csv_for("format=csv", "application/json"), 1);
    CHECK_INT(csv_for("format=csv", NULL), 1);
}

static void test_metrics(void)
{
    tly_report_query q;
    if (OK(&q, "metrics=pageviews,unique_visitors,sessions,bounce_rate,visit_duration,"
               "views_per_session,events,conversions,conversion_rate,revenue")) {
        CHECK_INT(q.metrics, TLY_METRIC_ALL);
        tly_report_query_free(&q);
    }
    if (OK(&q, "metrics=unique_visitors%2Cpageviews")) {
        CHECK_INT(q.metrics, TLY_METRIC_PAGEVIEWS | TLY_METRIC_UNIQUE_VISITORS);
        tly_report_query_free(&q);
    }
    if (OK(&q, "metrics=bounce_rate")) {
        CHECK_INT(q.metrics, TLY_METRIC_BOUNCE_RATE);
        tly_report_query_free(&q);
    }
    if (OK(&q, "metrics=")) {
        CHECK_INT(q.metrics, 0);
        tly_report_query_free(&q);
    }
    FAILS("metrics=pageviews,visits", "metrics: unknown metric 'visits'");
    FAILS("metrics=Pageviews", "metrics: unknown metric 'Pageviews'");
    FAILS("metrics=pageviews,+events", "metrics: unknown metric ' events'");
    FAILS("metrics=pageviews,events,pageviews", "metrics: 'pageviews' is listed twice");
    FAILS("metrics=pageviews,,events", "metrics: empty name in the comma-separated list");
    FAILS("metrics=pageviews,", "metrics: empty name in the comma-separated list");
    FAILS("metrics=,pageviews", "metrics: empty name in the comma-separated list");
    FAILS("metrics=,", "metrics: empty name in the comma-separated list");
    FAILS("metrics=pageviews&metrics=events", "metrics: given more than once");
    FAILS("metrics=%FF", "metrics: not valid UTF-8");

    /* Names and bits. */
    for (unsigned i = 0; i < TLY_METRIC_COUNT; i++) {
        const char *name = tly_metric_name(1u << i);
        unsigned bit = 0;
        CHECK(name != NULL);
        if (!name) continue;
        CHECK_INT(tly_metric_parse(name, strlen(name), &bit), 0);
        CHECK_INT(bit, 1u << i);
    }
    CHECK_STR(tly_metric_name(TLY_METRIC_PAGEVIEWS), "pageviews");
    CHECK_STR(tly_metric_name(TLY_METRIC_VIEWS_PER_SESSION), "views_per_session");
    CHECK_STR(tly_metric_name(TLY_METRIC_REVENUE), "revenue");
    CHECK(tly_metric_name(0) == NULL);
    CHECK(tly_metric_name(TLY_METRIC_PAGEVIEWS | TLY_METRIC_EVENTS) == NULL);
    CHECK(tly_metric_name(1u << TLY_METRIC_COUNT) == NULL);
    unsigned bit = 12345;
    CHECK_INT(tly_metric_parse("pageview", 8, &bit), -1);
    CHECK_INT(tly_metric_parse("pageviewsx", 9, &bit), 0);   /* the length bounds the name */
    CHECK_INT(bit, TLY_METRIC_PAGEVIEWS);
    CHECK_INT(tly_metric_parse(NULL, 0, &bit), -1);
}

static void test_group_by(void)
{
    tly_report_query q;
    if (OK(&q, "group_by=path")) {
        CHECK_INT(q.n_group_by, 1);
        CHECK_INT(q.group_by[0].kind, TLY_DIM_PATH);
        tly_report_query_free(&q);
    }
    if (OK(&q, "group_by=country,prop:plan,prop:tier")) {
        CHECK_INT(q.n_group_by, 3);
        CHECK_INT(q.group_by[0].kind, TLY_DIM_COUNTRY);
        CHECK_INT(q.group_by[1].kind, TLY_DIM_PROP);
        CHECK_STR(q.group_by[1].prop_key, "plan");
        CHECK_INT(q.group_by[2].kind, TLY_DIM_PROP);
        CHECK_STR(q.group_by[2].prop_key, "tier");
        tly_report_query_free(&q);
    }
    if (OK(&q, "group_by=campaign_id,path")) {
        CHECK_INT(q.group_by[0].kind, TLY_DIM_CAMPAIGN_ID);
        CHECK_INT(q.group_by[1].kind, TLY_DIM_PATH);
        tly_report_query_free(&q);
    }
    if (OK(&q, "group_by=")) {
        CHECK_INT(q.n_group_by, 0);
        tly_report_query_free(&q);
    }
    FAILS("group_by=path,country,city,device", "group_by: more than 3 dimensions");
    FAILS("group_by=path,country,path", "group_by: 'path' is listed twice");
    FAILS("group_by=prop:a,prop:a", "group_by: 'prop:a' is listed twice");
    FAILS("group_by=path,colour", "group_by: unknown dimension 'colour'");
    FAILS("group_by=prop:", "group_by: 'prop:' " BAD_PROP_KEY);
    FAILS("group_by=path,prop:a%2Fb", "group_by: 'prop:a/b' " BAD_PROP_KEY);
    FAILS("group_by=prop", "group_by: unknown dimension 'prop'");
    FAILS("group_by=path,+country", "group_by: unknown dimension ' country'");
    FAILS("group_by=path,,country", "group_by: empty name in the comma-separated list");
    FAILS("group_by=path,", "group_by: empty name in the comma-separated list");
    FAILS("group_by=path&group_by=country", "group_by: given more than once");
}

static void test_params(void)
{
    tly_report_query q;
    /* A name is percent-decoded before it is compared, so an encoded name is the same parameter. */
    FAILS("fr%6Fm=2026-03-01&from=2026-03-02", "from: given more than once");
    if (OK(&q, "group%5Fby=path&%6Cimit=5")) {
        CHECK_INT(q.n_group_by, 1);
        CHECK_INT(q.limit, 5);
        tly_report_query_free(&q);
    }
    /* Names are case-sensitive: "Limit" is unknown and ignored. */
    if (OK(&q, "Limit=0&LIMIT=5000&limit=20")) {
        CHECK_INT(q.limit, 20);
        tly_report_query_free(&q);
    }
    /* A name with a NUL or bad UTF-8 is just unknown. */
    if (OK(&q, "lim%00it=0&%FF=1&limit%00=0")) {
        CHECK_INT(q.limit, 50);
        tly_report_query_free(&q);
    }
    /* Values of known parameters are checked for UTF-8 and NUL. */
    FAILS("period=%FF", "period: not valid UTF-8");
    FAILS("period=today%00", "period: contains a NUL byte (%00)");
    FAILS("group_by=path%C3", "group_by: not valid UTF-8");
    FAILS("from=2026-03-01%E2%82", "from: not valid UTF-8");
    /* A raw NUL in the query string counts the same. */
    char err[TLY_REPORT_ERR_SIZE];
    CHECK_INT(tly_report_query_parse(&q, "limit=1\0" "0", 9, NULL, TODAY, err, sizeof err), -1);
    CHECK_STR(err, "limit: contains a NUL byte (%00)");
    /* Everything at once. */
    if (OK(&q, "from=2026-02-01&to=2026-02-28&filters=path=~/blog;country!=US&limit=100&offset=200"
               "&interval=week&metrics=pageviews,bounce_rate&group_by=path,prop:author"
               "&compare=previous_period&format=csv&share=tok")) {
        CHECK_STR(range_of(&q), "2026-02-01..2026-02-28");
        CHECK_INT(q.n_filters, 2);
        CHECK_FILTER(&q, 0, TLY_DIM_PATH, "", TLY_FILTER_CONTAINS, "/blog");
        CHECK_FILTER(&q, 1, TLY_DIM_COUNTRY, "", TLY_FILTER_NE, "US");
        CHECK_INT(q.limit, 100);
        CHECK_INT(q.offset, 200);
        CHECK_INT(q.interval, TLY_INTERVAL_WEEK);
        CHECK_INT(q.metrics, TLY_METRIC_PAGEVIEWS | TLY_METRIC_BOUNCE_RATE);
        CHECK_INT(q.n_group_by, 2);
        CHECK_STR(q.group_by[1].prop_key, "author");
        CHECK(q.compare);
        CHECK(q.csv);
        CHECK(!q.realtime);
        tly_report_query_free(&q);
    }
    /* A short error buffer is filled safely; errlen 0 writes nothing. */
    char small[12];
    memset(small, 'x', sizeof small);
    CHECK_INT(tly_report_query_parse(&q, "limit=0", 7, NULL, TODAY, small, sizeof small), -1);
    CHECK_STR(small, "limit: must");
    char none[1] = {'x'};
    CHECK_INT(tly_report_query_parse(&q, "limit=0", 7, NULL, TODAY, none, 0), -1);
    CHECK_INT(none[0], 'x');
}

static void test_previous(void)
{
    static const struct { const char *qs, *prev; } cases[] = {
        {"from=2026-03-09&to=2026-03-15", "2026-03-02..2026-03-08"},
        {"period=today", "2026-03-14..2026-03-14"},
        {"period=yesterday", "2026-03-13..2026-03-13"},
        {"period=30d", "2026-01-15..2026-02-13"},
        {"from=2026-03-01&to=2026-03-31", "2026-01-29..2026-02-28"},
        {"from=2024-03-01&to=2024-03-31", "2024-01-30..2024-02-29"},
        {"from=2026-01-01&to=2026-12-31", "2025-01-01..2025-12-31"},
        {"from=2000-01-01&to=2000-01-07", "1999-12-25..1999-12-31"},
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) {
        tly_report_query q, prev;
        if (!ok_at(__LINE__, &q, cases[i].qs, NULL, TODAY)) continue;
        prev = q;
        tly_report_query_previous(&q, &prev.from_day, &prev.to_day);
        char what[200];
        snprintf(what, sizeof what, "previous of %s is %s", cases[i].qs, cases[i].prev);
        const char *got = range_of(&prev);
        int ok = strcmp(got, cases[i].prev) == 0 && prev.to_day - prev.from_day == q.to_day - q.from_day;
        tap_result(ok, __FILE__, __LINE__, what);
        if (!ok) printf("#   got: %s\n", got);
        tly_report_query_free(&q);
    }
}

static void test_dims(void)
{
    /* Every kind has a name that parses back to it. */
    for (int k = TLY_DIM_NONE + 1; k < TLY_DIM_COUNT; k++) {
        const char *name = tly_dim_name((tly_dim_kind)k);
        CHECK(name != NULL);
        if (!name || k == TLY_DIM_PROP) continue;
        tly_dim d = {.kind = TLY_DIM_NONE, .prop_key = "junk"};
        CHECK_INT(tly_dim_parse(name, strlen(name), &d), 0);
        CHECK_INT(d.kind, k);
        CHECK_STR(d.prop_key, "");
        char label[TLY_DIM_LABEL_SIZE];
        tly_dim_label(&d, label);
        CHECK_STR(label, name);
    }
    CHECK(tly_dim_name(TLY_DIM_NONE) == NULL);
    CHECK(tly_dim_name(TLY_DIM_COUNT) == NULL);
    CHECK(tly_dim_name((tly_dim_kind)-1) == NULL);
    CHECK_STR(tly_dim_name(TLY_DIM_PATH), "path");
    CHECK_STR(tly_dim_name(TLY_DIM_UTM_SOURCE), "utm_source");
    CHECK_STR(tly_dim_name(TLY_DIM_BROWSER_VERSION), "browser_version");
    CHECK_STR(tly_dim_name(TLY_DIM_CAMPAIGN), "campaign");
    CHECK_STR(tly_dim_name(TLY_DIM_GOAL), "goal");
    CHECK_STR(tly_dim_name(TLY_DIM_PROP), "prop");

    tly_dim d = {0};
    CHECK_INT(tly_dim_parse("prop:plan", 9, &d), 0);
    CHECK_INT(d.kind, TLY_DIM_PROP);
    CHECK_STR(d.prop_key, "plan");
    char label[TLY_DIM_LABEL_SIZE];
    tly_dim_label(&d, label);
    CHECK_STR(label, "prop:plan");
    char key64[65], name[80];
    memset(key64, 'Z', 64);
    key64[64] = '\0';
    snprintf(name, sizeof name, "prop:%s", key64);
    CHECK_INT(tly_dim_parse(name, strlen(name), &d), 0);
    tly_dim_label(&d, label);
    CHECK_STR(label, name);
    /* Unknown names leave out untouched. */
    d.kind = TLY_DIM_CITY;
    d.prop_key[0] = '\0';
    CHECK_INT(tly_dim_parse("prop", 4, &d), -1);
    CHECK_INT(tly_dim_parse("prop:", 5, &d), -1);
    CHECK_INT(tly_dim_parse("prop:a b", 8, &d), -1);
    CHECK_INT(tly_dim_parse("prop:a=b", 8, &d), -1);
    CHECK_INT(tly_dim_parse("Path", 4, &d), -1);
    CHECK_INT(tly_dim_parse("", 0, &d), -1);
    CHECK_INT(tly_dim_parse(NULL, 0, &d), -1);
    CHECK_INT(tly_dim_parse("none", 4, &d), -1);
    CHECK_INT(d.kind, TLY_DIM_CITY);
    /* The length bounds the name. */
    CHECK_INT(tly_dim_parse("pathname", 4, &d), 0);
    CHECK_INT(d.kind, TLY_DIM_PATH);
    CHECK_INT(tly_dim_parse("os_version", 2, &d), 0);
    CHECK_INT(d.kind, TLY_DIM_OS);
    CHECK_INT(tly_dim_parse("prop:ab", 6, &d), 0);
    CHECK_STR(d.prop_key, "a");
}

static void run_tests(void)
{
    test_defaults();
    test_from_to();
    test_periods();
    test_filters();
    test_limit_offset();
    test_interval_compare_format();
    test_accept();
    test_metrics();
    test_group_by();
    test_params();
    test_previous();
    test_dims();
}
