#include "first.h"
#include "timeparse.h"

#include <stdbool.h>
#include <time.h>

#define MS_PER_DAY INT64_C(86400000)
/* 0001-01-01 and 9999-12-31 as days since the epoch: the range we accept and print. */
#define MIN_DAYS INT64_C(-719162)
#define MAX_DAYS INT64_C(2932896)

/* Howard Hinnant's days_from_civil: exact for all proleptic Gregorian dates, no tables, no libc. */
int64_t tly_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void tly_time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Exactly n ASCII digits at s (locale-free, no sign, no spaces). */
static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DD" at s (at least 10 bytes available) -> validated days since the epoch. */
static bool parse_ymd(const char *s, int64_t *days)
{
    unsigned y, m, d;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return false;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return false;
    *days = tly_time_days_from_civil(y, m, d);
    return true;
}

int tly_time_parse_date(const char *s, size_t len, int32_t *days_out)
{
    int64_t days;
    if (s == NULL || len != 10 || !parse_ymd(s, &days)) return -1;
    *days_out = (int32_t)days;
    return 0;
}

int tly_time_parse_rfc3339(const char *s, size_t len, int64_t *ms_out)
{
    /* Shortest form: "YYYY-MM-DDTHH:MM:SSZ" (20 bytes). */
    if (s == NULL || len < 20) return -1;
    int64_t days;
    unsigned hh, mi, ss, ms = 0;
    if (!parse_ymd(s, &days)) return -1;
    if (s[10] != 'T' && s[10] != 't') return -1;
    if (!digits(s + 11, 2, &hh) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &ss))
        return -1;
    /* Leap seconds (":60") are refused: browsers never send them and they cannot be stored exactly. */
    if (hh > 23 || mi > 59 || ss > 59) return -1;
    size_t i = 19;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        /* Any number of digits; only the first three matter, the rest are truncated. */
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) ms = ms * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t n = i - start;
        if (n == 0) return -1;
        for (; n < 3; n++) ms *= 10;
    }
    if (i >= len) return -1;
    int64_t offset_min = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        unsigned oh, om;
        if (len - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || !digits(s + i + 4, 2, &om))
            return -1;
        if (oh > 23 || om > 59) return -1;
        offset_min = (int64_t)(oh * 60 + om);
        if (s[i] == '-') offset_min = -offset_min;
        i += 6;
    } else {
        return -1;
    }
    if (i != len) return -1;
    int64_t secs = days * 86400 + (int64_t)(hh * 3600 + mi * 60 + ss) - offset_min * 60;
    *ms_out = secs * 1000 + ms;
    return 0;
}

/* Writes v as exactly n zero-padded digits (v must fit). */
static void put_digits(char *dst, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static void format_ymd(int64_t days, char *out)
{
    int64_t y;
    unsigned m, d;
    tly_time_civil_from_days(days, &y, &m, &d);
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
}

void tly_time_format_rfc3339(int64_t ms, char out[32])
{
    /* Clamping keeps the output a valid 24-byte timestamp whatever garbage value comes in. */
    if (ms < MIN_DAYS * MS_PER_DAY) ms = MIN_DAYS * MS_PER_DAY;
    if (ms > (MAX_DAYS + 1) * MS_PER_DAY - 1) ms = (MAX_DAYS + 1) * MS_PER_DAY - 1;
    int64_t days = floor_div(ms, MS_PER_DAY);
    unsigned rem = (unsigned)(ms - days * MS_PER_DAY);
    format_ymd(days, out);
    out[10] = 'T';
    put_digits(out + 11, rem / 3600000, 2);
    out[13] = ':';
    put_digits(out + 14, rem / 60000 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, rem / 1000 % 60, 2);
    out[19] = '.';
    put_digits(out + 20, rem % 1000, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

void tly_time_format_date(int32_t days, char out[11])
{
    int64_t d = days;
    if (d < MIN_DAYS) d = MIN_DAYS;
    if (d > MAX_DAYS) d = MAX_DAYS;
    format_ymd(d, out);
    out[10] = '\0';
}

int64_t tly_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int32_t tly_time_day_of_ms(int64_t ms)
{
    return (int32_t)floor_div(ms, MS_PER_DAY);
}
