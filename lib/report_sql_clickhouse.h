/* The ClickHouse SQL behind reports on the clickhouse events store: the same questions as
 * report_sql.h, the same columns, the same figures, asked of the events table of
 * sql/clickhouse/events.sql (a Distributed table over MergeTree shards).
 *
 * ClickHouse has no visits table: visits are built from events as the query reads them, by the
 * definitions the PostgreSQL sessioniser (sql/migrations/004_sessions.sql) follows:
 * - a visit is a visitor's events with gaps of at most the property's session timeout, ordered by
 *   time and arrival; an explicit session key (identity.session_id) makes its events one visit;
 * - a visitor's first event of the day continues the visit of the same person under yesterday's
 *   hash (prev_visitor) when that visit's last event is within the timeout;
 * - a visit belongs to its first event's visitor and has that event's attributes (source,
 *   campaign, country, ...); its entry page is its first pageview, its exit page its last;
 * - an event belongs to the visits of its visitor whose span holds it (how reports join events
 *   to visits in PostgreSQL too).
 * Visits are built from the events of the range and one day either side, so a visit longer than
 * a day is cut (PostgreSQL's reports look back one day for the visit of an event, too).
 *
 * No rollups: every figure is computed from raw events. Values from requests are written as
 * string literals by tly_ch_quote (clickhouse.h); identifiers and numbers by the program.
 * Each function appends a whole statement to sql and returns 0; the result type leaves room for a
 * question that ClickHouse could not be asked (events_store.h: TLY_STORE_TOO_LARGE). */
#ifndef TLY_REPORT_SQL_CLICKHOUSE_H
#define TLY_REPORT_SQL_CLICKHOUSE_H
#include "first.h"
#include "buf.h"
#include "report_sql.h"

#include <stdint.h>

/* A goal, as the goals table defines it: an event name, or a pageview path pattern ('*'). */
typedef struct tly_ch_goal {
    const char *name;
    const char *event_name;     /* NULL for a path goal */
    const char *path_pattern;   /* NULL for an event goal */
} tly_ch_goal;

/* What a ClickHouse report needs besides the spec: the database, the property's visit timeout
 * and its goals (metadata that lives in PostgreSQL). */
typedef struct tly_ch_report_context {
    const char *database;         /* holds the `events` table; a checked identifier (conf.c) */
    int session_timeout;          /* seconds */
    const tly_ch_goal *goals;
    size_t n_goals;
} tly_ch_report_context;

/* The figures of a spec: the columns of tly_report_sql. */
int tly_ch_report_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *sql)
    TLY_NONNULL(1, 2, 3) TLY_MUST_CHECK;
/* Revenue per goal and currency: goal, currency and the sum in ten-thousandths (the caller
 * rounds it to cents as PostgreSQL's round(amount, 2) does). */
int tly_ch_goal_revenue_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *sql)
    TLY_NONNULL(1, 2, 3) TLY_MUST_CHECK;
/* Revenue by visit, first part: k1 (the value of the spec's one visit dimension, or ''), visitors,
 * visits and converting visitors, ordered and paged as tly_report_revenue_by_sql. */
int tly_ch_revenue_by_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *sql)
    TLY_NONNULL(1, 2, 3) TLY_MUST_CHECK;
/* Revenue by visit, second part: k1, currency and the sum in ten-thousandths of the revenue
 * events of those visits. */
int tly_ch_revenue_money_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *sql)
    TLY_NONNULL(1, 2, 3) TLY_MUST_CHECK;
/* A funnel: the columns of tly_report_funnel_sql. */
int tly_ch_funnel_sql(const tly_report_spec *spec, const tly_filter *steps, size_t n_steps,
                      const tly_ch_report_context *cx, tly_buf *sql) TLY_NONNULL(1, 2, 4, 5) TLY_MUST_CHECK;
/* A goal's path pattern as an anchored RE2 expression ('*' any run of characters, everything else
 * literal), as tally_goal_like() makes a LIKE pattern of it. */
void tly_ch_goal_regex(tly_buf *out, const char *pattern) TLY_NONNULL(1, 2);

#endif
