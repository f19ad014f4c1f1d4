/* The query string of a report request (api.md section 2), validated into a struct: the date range,
 * filters, breakdown options and output format. Pure parsing: no database, no clock (the caller
 * passes today's date in the property's time zone), no FastCGI.
 *
 * Query-string rules, for every parameter below:
 * - Names and values are percent-decoded ('+' is a space). An invalid escape ("%zz", "100%") stays
 *   literal; a decoded NUL byte ("%00") or text that is not valid UTF-8 is a 400.
 * - Names are case-sensitive. Unknown names are ignored (forward compatibility), and so are the
 *   caller's own `share` and `key`. A known parameter given twice is a 400 naming it.
 * - An empty value is "not given" for the lists (filters, metrics, group_by) and an error for every
 *   other parameter (e.g. "limit=" -> "limit: must be an integer 1-1000").
 *
 * Parameters:
 *   from, to   YYYY-MM-DD, a real calendar date in years 2000-2100, inclusive. Neither given: the last
 *              7 days including today. Only from: to = today. Only to: the 7 days ending on to.
 *              from > to, or a range longer than 3660 days, is a 400.
 *   period     today | yesterday | 7d | 30d | month | year | realtime; a shortcut that cannot be
 *              combined with from/to. 7d and 30d end today; month = the 1st of this month..today;
 *              year = Jan 1..today; realtime = today with `realtime` set.
 *   filters    `;`-separated `dim==value`, `dim!=value` or `dim=~substring` (all must hold).
 *              The dimension ends at the first '=' or '!', so values may contain "==" etc.
 *              Splitting happens after percent-decoding (%3B separates like ';'), so a literal ';' in
 *              a value is escaped as `\;` (%5C%3B) and a backslash as `\\` where it precedes ';' or
 *              '\'; a backslash before any other character is kept ("C:\dir" needs no escaping).
 *              Empty terms (";;", a trailing ';') are skipped. == and != accept an empty value,
 *              meaning "(none)"; =~ does not. At most 16 filters; a value at most 500 characters.
 *   limit      1-1000, default 50.          offset   0-1000000, default 0.
 *   interval   hour | day | week | month.    metrics  comma list of metric names (no repeats).
 *   group_by   comma list of at most 3 distinct dimensions.
 *   compare    previous_period.              format   csv | json (wins over the Accept header).
 *   steps      a funnel's ordered steps, in the syntax of filters (at most 8).
 *
 * Dimension names are exact and lowercase: path entry_page exit_page hostname source referrer
 * utm_source utm_medium utm_campaign utm_term utm_content campaign_id campaign country region city
 * device browser browser_version os os_version event_type goal, and prop:<key> with a key of 1-64
 * characters of [A-Za-z0-9_.:-]. */
#ifndef TLY_REPORT_QUERY_H
#define TLY_REPORT_QUERY_H
#include "first.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The limits of a report query; each rejection names its parameter and the limit. */
#define TLY_REPORT_MAX_FILTERS        16
#define TLY_REPORT_MAX_STEPS          8          /* funnel steps */
#define TLY_REPORT_MAX_GROUP_BY       3
#define TLY_REPORT_MAX_FILTER_VALUE   500        /* characters (code points) of one filter value */
#define TLY_REPORT_MAX_PROP_KEY       64         /* bytes of the key in prop:<key> */
#define TLY_REPORT_DEFAULT_LIMIT      50
#define TLY_REPORT_MAX_LIMIT          1000
#define TLY_REPORT_MAX_OFFSET         1000000
#define TLY_REPORT_DEFAULT_DAYS       7          /* no from/to/period: the last 7 days with today */
#define TLY_REPORT_MAX_RANGE_DAYS     3660
#define TLY_REPORT_MIN_YEAR           2000       /* years a from/to date may name */
#define TLY_REPORT_MAX_YEAR           2100
#define TLY_REPORT_ERR_SIZE           256        /* enough for every message of the parser */

typedef enum {
    TLY_DIM_NONE = 0,
    TLY_DIM_PATH, TLY_DIM_ENTRY_PAGE, TLY_DIM_EXIT_PAGE, TLY_DIM_HOSTNAME, TLY_DIM_SOURCE,
    TLY_DIM_REFERRER, TLY_DIM_UTM_SOURCE, TLY_DIM_UTM_MEDIUM, TLY_DIM_UTM_CAMPAIGN, TLY_DIM_UTM_TERM,
    TLY_DIM_UTM_CONTENT, TLY_DIM_CAMPAIGN_ID,
    TLY_DIM_CAMPAIGN,          /* campaign_id when present, else utm_campaign */
    TLY_DIM_COUNTRY, TLY_DIM_REGION, TLY_DIM_CITY, TLY_DIM_DEVICE, TLY_DIM_BROWSER,
    TLY_DIM_BROWSER_VERSION, TLY_DIM_OS, TLY_DIM_OS_VERSION, TLY_DIM_EVENT_TYPE, TLY_DIM_GOAL,
    TLY_DIM_PROP,              /* a custom property; the key is in tly_dim.prop_key */
    TLY_DIM_COUNT
} tly_dim_kind;

typedef struct tly_dim {
    tly_dim_kind kind;
    char prop_key[TLY_REPORT_MAX_PROP_KEY + 1];   /* TLY_DIM_PROP only; "" otherwise */
} tly_dim;

/* "prop:" + key + NUL: the size of a label written by tly_dim_label. */
#define TLY_DIM_LABEL_SIZE (5 + TLY_REPORT_MAX_PROP_KEY + 1)

/* The name of a kind as used in queries and result columns ("path", "utm_source", "prop" for
 * TLY_DIM_PROP); NULL for TLY_DIM_NONE and out-of-range values. */
const char *tly_dim_name(tly_dim_kind kind);
/* Parses a dimension name s[0..len) (not NUL-terminated), including "prop:<key>". 0 ok (out filled,
 * prop_key "" unless TLY_DIM_PROP), -1 unknown name or bad prop key (out untouched). */
int tly_dim_parse(const char *s, size_t len, tly_dim *out) TLY_NONNULL(3) TLY_MUST_CHECK;
/* Writes the dimension as a query would name it ("path", "prop:plan"): a result column name. */
void tly_dim_label(const tly_dim *d, char out[TLY_DIM_LABEL_SIZE]) TLY_NONNULL(1, 2);

typedef enum { TLY_FILTER_EQ, TLY_FILTER_NE, TLY_FILTER_CONTAINS } tly_filter_op;

typedef struct tly_filter {
    tly_dim dim;
    tly_filter_op op;
    char *value;       /* owned; decoded and unescaped, valid UTF-8 without NUL, <= 500 characters.
                        * "" (only with EQ/NE) means the dimension has no value, "(none)". */
} tly_filter;

typedef enum {
    TLY_INTERVAL_NONE = 0, TLY_INTERVAL_HOUR, TLY_INTERVAL_DAY, TLY_INTERVAL_WEEK, TLY_INTERVAL_MONTH
} tly_interval;

enum {
    TLY_METRIC_PAGEVIEWS         = 1u << 0,
    TLY_METRIC_UNIQUE_VISITORS   = 1u << 1,
    TLY_METRIC_SESSIONS          = 1u << 2,
    TLY_METRIC_BOUNCE_RATE       = 1u << 3,
    TLY_METRIC_VISIT_DURATION    = 1u << 4,
    TLY_METRIC_VIEWS_PER_SESSION = 1u << 5,
    TLY_METRIC_EVENTS            = 1u << 6,
    TLY_METRIC_CONVERSIONS       = 1u << 7,
    TLY_METRIC_CONVERSION_RATE   = 1u << 8,
    TLY_METRIC_REVENUE           = 1u << 9,
};
#define TLY_METRIC_COUNT 10
#define TLY_METRIC_ALL   ((1u << TLY_METRIC_COUNT) - 1)

/* The name of one metric bit ("pageviews", "bounce_rate"); NULL unless exactly one known bit is set.
 * Iterating bits from low to high gives the canonical column order. */
const char *tly_metric_name(unsigned metric_bit);
/* Parses one metric name s[0..len). 0 ok with its bit in *bit, -1 unknown. */
int tly_metric_parse(const char *s, size_t len, unsigned *bit) TLY_NONNULL(3) TLY_MUST_CHECK;

typedef struct tly_report_query {
    int32_t from_day, to_day;      /* days since 1970-01-01, inclusive, in the property's time zone */
    bool realtime;                 /* period=realtime (then from_day == to_day == today) */
    tly_filter filters[TLY_REPORT_MAX_FILTERS];
    size_t n_filters;
    unsigned limit, offset;        /* limit 1..1000 (default 50); offset 0..1000000 (default 0) */
    tly_interval interval;         /* TLY_INTERVAL_NONE when not given */
    unsigned metrics;              /* TLY_METRIC_* bits; 0 when not given (the caller picks defaults) */
    tly_dim group_by[TLY_REPORT_MAX_GROUP_BY];   /* in the order given, no duplicates */
    size_t n_group_by;
    bool compare;                  /* compare=previous_period */
    bool csv;                      /* format=csv, or no format and Accept prefers text/csv */
    tly_filter steps[TLY_REPORT_MAX_STEPS];   /* funnel steps, in order (the filters' syntax) */
    size_t n_steps;
} tly_report_query;

/* Parses the raw (still percent-encoded) query string query[0..query_len) (NULL with 0 is "none").
 * `accept` is the Accept header or NULL: without a format parameter the answer is CSV when Accept
 * gives text/csv a higher q than application/json (ties and wildcards stay JSON). `today` is the
 * property's current local date as days since the epoch, computed by the caller.
 * 0 on success: release with tly_report_query_free. -1 with a message in err (TLY_REPORT_ERR_SIZE
 * is always enough) that starts with the parameter's name, e.g. "from: '2026-02-30' is not a date
 * (YYYY-MM-DD)", "filters: unknown dimension 'colour'", "limit: must be an integer 1-1000"; it is
 * meant as the body of a 400. On -1 nothing stays allocated (freeing again is harmless). */
int tly_report_query_parse(tly_report_query *q, const char *query, size_t query_len,
                           const char *accept, int32_t today, char *err, size_t errlen)
    TLY_NONNULL(1, 6) TLY_MUST_CHECK;
/* Frees the filter values; q stays a valid empty query (safe to call twice). */
void tly_report_query_free(tly_report_query *q) TLY_NONNULL(1);
/* The period of equal length that ends the day before q's starts (compare=previous_period):
 * 2026-03-01..2026-03-31 gives 2026-01-29..2026-02-28, not "the previous month". */
void tly_report_query_previous(const tly_report_query *q, int32_t *from_day, int32_t *to_day)
    TLY_NONNULL(1, 2, 3);

#endif
