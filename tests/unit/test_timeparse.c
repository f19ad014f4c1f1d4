#include "first.h"
#include "tap.h"
#include "timeparse.h"

#include <string.h>
#include <time.h>

typedef struct rfc_case {
    const char *in;
    int ret;
    int64_t ms;   /* expected when ret == 0 */
} rfc_case;

static void test_parse_rfc3339(void)
{
    static const rfc_case cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2026-01-24T18:12:33Z", 0, INT64_C(1769278353000)},
        {"2026-01-24T18:12:33.123Z", 0, INT64_C(1769278353123)},
        {"2026-01-24T18:12:33.1Z", 0, INT64_C(1769278353100)},
        {"2026-01-24T18:12:33.12Z", 0, INT64_C(1769278353120)},
        {"2026-01-24T18:12:33.123456789Z", 0, INT64_C(1769278353123)},
        {"2026-01-24T18:12:33.999999999999999999999Z", 0, INT64_C(1769278353999)},
        {"2026-01-24T18:12:33.123+02:00", 0, INT64_C(1769278353123) - 7200000},
        {"2026-01-24T18:12:33-05:30", 0, INT64_C(1769278353000) + 19800000},
        {"2026-01-24t18:12:33z", 0, INT64_C(1769278353000)},
        {"2026-01-24T18:12:33+00:00", 0, INT64_C(1769278353000)},
        {"2026-01-24T18:12:33-00:00", 0, INT64_C(1769278353000)},
        {"1969-12-31T23:59:59.999Z", 0, -1},
        {"2000-02-29T12:00:00Z", 0, INT64_C(951825600000)},
        {"2024-02-29T00:00:00Z", 0, INT64_C(1709164800000)},
        {"2038-01-19T03:14:08Z", 0, INT64_C(2147483648000)},
        {"0001-01-01T00:00:00Z", 0, INT64_C(-62135596800000)},
        {"9999-12-31T23:59:59.999Z", 0, INT64_C(253402300799999)},
        {"2026-01-01T00:30:00+01:00", 0, INT64_C(1767223800000)},
        {"2026-01-24T23:59:59+23:59", 0, INT64_C(1769299199000) - (23 * 60 + 59) * 60000},
        /* invalid */
        {"", -1, 0},
        {"2026-01-24", -1, 0},
        {"2026-01-24T18:12:33", -1, 0},
        {"2026-01-24 18:12:33Z", -1, 0},
        {"2026-01-24T18:12Z", -1, 0},
        {"2026-1-24T18:12:33Z", -1, 0},
        {"2026-01-24T18:12:33.Z", -1, 0},
        {"2026-01-24T18:12:33.123", -1, 0},
        {"2026-01-24T18:12:33ZZ", -1, 0},
        {"2026-01-24T18:12:33Z ", -1, 0},
        {" 2026-01-24T18:12:33Z", -1, 0},
        {"2026-01-24T18:12:33+0200", -1, 0},
        {"2026-01-24T18:12:33+02", -1, 0},
        {"2026-01-24T18:12:33+24:00", -1, 0},
        {"2026-01-24T18:12:33+02:60", -1, 0},
        {"2026-13-24T18:12:33Z", -1, 0},
        {"2026-00-24T18:12:33Z", -1, 0},
        {"2026-01-00T18:12:33Z", -1, 0},
        {"2026-01-32T18:12:33Z", -1, 0},
        {"2026-02-30T18:12:33Z", -1, 0},
        {"2025-02-29T00:00:00Z", -1, 0},
        {"1900-02-29T00:00:00Z", -1, 0},
        {"2026-04-31T00:00:00Z", -1, 0},
        {"2026-01-24T24:00:00Z", -1, 0},
        {"2026-01-24T18:60:00Z", -1, 0},
        {"2026-01-24T18:12:60Z", -1, 0},
        {"0000-01-01T00:00:00Z", -1, 0},
        {"+2026-01-24T18:12:33Z", -1, 0},
        {"2026-01-24T18:12:3aZ", -1, 0},
        {"2026-01-24T-1:12:33Z", -1, 0},
        {"2026/01/24T18:12:33Z", -1, 0},
        {"1769278353000", -1, 0},
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(cases); i++) {
        int64_t ms = 42;
        int ret = tly_time_parse_rfc3339(cases[i].in, strlen(cases[i].in), &ms);
        char msg[200];
        snprintf(msg, sizeof(msg), "rfc3339 \"%s\" -> %d", cases[i].in, cases[i].ret);
        tap_result(ret == cases[i].ret, __FILE__, __LINE__, msg);
        if (cases[i].ret == 0 && ret == 0) CHECK_INT(ms, cases[i].ms);
        if (cases[i].ret != 0) CHECK_INT(ms, 42);   /* output untouched on failure */
    }
    /* The length is honoured: a valid prefix followed by junk beyond len. */
    int64_t ms;
    CHECK_INT(tly_time_parse_rfc3339("1970-01-01T00:00:01Zjunk", 20, &ms), 0);
    CHECK_INT(ms, 1000);
    CHECK_INT(tly_time_parse_rfc3339("1970-01-01T00:00:01Z", 19, &ms), -1);
    CHECK_INT(tly_time_parse_rfc3339(NULL, 0, &ms), -1);
}

static void test_parse_date(void)
{
    int32_t d = 7;
    CHECK_INT(tly_time_parse_date("1970-01-01", 10, &d), 0);
    CHECK_INT(d, 0);
    CHECK_INT(tly_time_parse_date("2026-01-24", 10, &d), 0);
    CHECK_INT(d, 20477);
    CHECK_INT(tly_time_parse_date("1969-12-31", 10, &d), 0);
    CHECK_INT(d, -1);
    CHECK_INT(tly_time_parse_date("2000-03-01", 10, &d), 0);
    CHECK_INT(d, 11017);
    CHECK_INT(tly_time_parse_date("0001-01-01", 10, &d), 0);
    CHECK_INT(d, -719162);
    CHECK_INT(tly_time_parse_date("9999-12-31", 10, &d), 0);
    CHECK_INT(d, 2932896);
    CHECK_INT(tly_time_parse_date("2024-02-29", 10, &d), 0);
    CHECK_INT(d, 19782);
    d = 7;
    CHECK_INT(tly_time_parse_date("2023-02-29", 10, &d), -1);
    CHECK_INT(tly_time_parse_date("2100-02-29", 10, &d), -1);
    CHECK_INT(tly_time_parse_date("2026-1-24", 9, &d), -1);
    CHECK_INT(tly_time_parse_date("2026-01-24T", 11, &d), -1);
    CHECK_INT(tly_time_parse_date("2026-01-24", 9, &d), -1);
    CHECK_INT(tly_time_parse_date("2026_01_24", 10, &d), -1);
    CHECK_INT(tly_time_parse_date("0000-12-31", 10, &d), -1);
    CHECK_INT(tly_time_parse_date("2026-12-32", 10, &d), -1);
    CHECK_INT(tly_time_parse_date("２０２６-01-24", strlen("２０２６-01-24"), &d), -1);
    CHECK_INT(d, 7);
}

static void test_format(void)
{
    char out[32];
    tly_time_format_rfc3339(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    tly_time_format_rfc3339(INT64_C(1769278353123), out);
    CHECK_STR(out, "2026-01-24T18:12:33.123Z");
    tly_time_format_rfc3339(-1, out);
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
    tly_time_format_rfc3339(INT64_C(951825600000), out);
    CHECK_STR(out, "2000-02-29T12:00:00.000Z");
    tly_time_format_rfc3339(INT64_C(-62135596800000), out);
    CHECK_STR(out, "0001-01-01T00:00:00.000Z");
    tly_time_format_rfc3339(INT64_MIN, out);
    CHECK_STR(out, "0001-01-01T00:00:00.000Z");
    tly_time_format_rfc3339(INT64_MAX, out);
    CHECK_STR(out, "9999-12-31T23:59:59.999Z");

    char date[11];
    tly_time_format_date(0, date);
    CHECK_STR(date, "1970-01-01");
    tly_time_format_date(20477, date);
    CHECK_STR(date, "2026-01-24");
    tly_time_format_date(-1, date);
    CHECK_STR(date, "1969-12-31");
    tly_time_format_date(19782, date);
    CHECK_STR(date, "2024-02-29");
    tly_time_format_date(INT32_MIN, date);
    CHECK_STR(date, "0001-01-01");
    tly_time_format_date(INT32_MAX, date);
    CHECK_STR(date, "9999-12-31");

    /* Round trip every day from 1600 to 2400 through format and parse, and a few ms per day. */
    int bad = 0;
    for (int32_t day = -135140; day <= 157071; day++) {
        tly_time_format_date(day, date);
        int32_t back;
        if (tly_time_parse_date(date, 10, &back) != 0 || back != day) bad++;
        int64_t ms = (int64_t)day * 86400000 + (day & 0xffff) * 1297;
        tly_time_format_rfc3339(ms, out);
        int64_t ms_back;
        if (tly_time_parse_rfc3339(out, strlen(out), &ms_back) != 0 || ms_back != ms) bad++;
    }
    CHECK_INT(bad, 0);
}

static void test_days_and_now(void)
{
    CHECK_INT(tly_time_day_of_ms(0), 0);
    CHECK_INT(tly_time_day_of_ms(86399999), 0);
    CHECK_INT(tly_time_day_of_ms(86400000), 1);
    CHECK_INT(tly_time_day_of_ms(-1), -1);
    CHECK_INT(tly_time_day_of_ms(-86400000), -1);
    CHECK_INT(tly_time_day_of_ms(-86400001), -2);
    CHECK_INT(tly_time_day_of_ms(INT64_C(1769278353123)), 20477);

    CHECK_INT(tly_time_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(tly_time_days_from_civil(2026, 1, 24), 20477);
    int64_t y;
    unsigned m, d;
    tly_time_civil_from_days(-719162, &y, &m, &d);
    CHECK(y == 1 && m == 1 && d == 1);

    /* Agrees with the system clock (to the second) and with gmtime's calendar. */
    int64_t now = tly_time_now_ms();
    time_t t = time(NULL);
    CHECK(now / 1000 >= (int64_t)t - 2 && now / 1000 <= (int64_t)t + 2);
    struct tm tm;
    gmtime_r(&t, &tm);
    char want[11];
    strftime(want, sizeof(want), "%Y-%m-%d", &tm);
    char got[11];
    tly_time_format_date(tly_time_day_of_ms((int64_t)t * 1000), got);
    CHECK_STR(got, want);
}

static void run_tests(void)
{
    test_parse_rfc3339();
    test_parse_date();
    test_format();
    test_days_and_now();
}
