/* Strict RFC 3339 / ISO date parsing and formatting in UTC, with our own calendar arithmetic
 * (proleptic Gregorian, years 0001-9999) so results never depend on TZ, locale or timegm. */
#ifndef TLY_TIMEPARSE_H
#define TLY_TIMEPARSE_H
#include "first.h"
#include <stddef.h>
#include <stdint.h>

/* RFC 3339 date-time ("2026-01-24T18:12:33Z", "2026-01-24T18:12:33.123+02:00", lowercase t/z accepted,
 * fraction of any length truncated to ms) -> ms since the epoch. 0 ok, -1 invalid (out-of-range
 * fields, Feb 30, second 60, offset beyond 23:59, trailing bytes). */
int tly_time_parse_rfc3339(const char *s, size_t len, int64_t *ms_out) TLY_NONNULL(3) TLY_MUST_CHECK;
/* "YYYY-MM-DD" -> days since 1970-01-01. 0 ok, -1 invalid. */
int tly_time_parse_date(const char *s, size_t len, int32_t *days_out) TLY_NONNULL(3) TLY_MUST_CHECK;
/* Formats ms since epoch as "2026-01-24T18:12:33.123Z" (always milliseconds, UTC). Values outside
 * years 0001-9999 are clamped to that range. */
void tly_time_format_rfc3339(int64_t ms, char out[32]) TLY_NONNULL(2);
/* Formats days since epoch as "YYYY-MM-DD" (clamped to years 0001-9999 like above). */
void tly_time_format_date(int32_t days, char out[11]) TLY_NONNULL(2);
/* Days since 1970-01-01 of a proleptic Gregorian date; no validation (see tly_time_date_valid). */
int64_t tly_time_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse of tly_time_days_from_civil. */
void tly_time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d) TLY_NONNULL(2, 3, 4);
int64_t tly_time_now_ms(void);                 /* CLOCK_REALTIME in ms */
int32_t tly_time_day_of_ms(int64_t ms);        /* floor(ms / 86400000), correct for negatives */

#endif
