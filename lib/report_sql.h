/* The one query behind every report: figures per interval and per value of up to three
 * dimensions, over a range of local days, under filters.
 *
 * Closed days that the rollup job has summarised (rollup_state, and not marked dirty since) are
 * read from rollup_days when the question allows it (no filters, at most one dimension, no hourly
 * interval). Days under way that the sessioniser keeps live figures of (live_days: the site's and
 * each path's) are read from them, plus the events stored after its mark, when the question is
 * the site's or per path under the same conditions. Every other day is computed from raw events
 * and visits. All produce the same daily partial figures, which are then added up, so a day reads
 * the same either way.
 *
 * Figures: visitors (distinct visitor hashes per day, added up over days: the hash changes every
 * day, so a person counts once per day; per path, the visitors who viewed it), pageviews, events, sessions, bounces (visits with at most
 * one pageview and no interactive event) and duration (seconds, summed over visits). */
#ifndef TLY_REPORT_SQL_H
#define TLY_REPORT_SQL_H
#include "first.h"
#include "report_query.h"
#include "sqlbuild.h"
#include <stdbool.h>
#include <stdint.h>

/* What a query counts, decided by its dimensions. */
typedef enum {
    TLY_REPORT_TOTAL,    /* no dimension: the whole site; events and visits both count */
    TLY_REPORT_VISITS,   /* only visit dimensions (source, country, entry_page, ...): visits count,
                          * and a visit's pageviews and events are credited to its values */
    TLY_REPORT_EVENTS    /* an event dimension (path, hostname, event_type, goal, prop:*): events
                          * count; visit figures (sessions, bounces, duration) are not defined */
} tly_report_mode;

typedef struct tly_report_spec {
    int property_pk;
    const char *timezone;          /* the property's IANA zone: days are local days */
    int32_t from_day, to_day;      /* inclusive, days since 1970-01-01 */
    tly_interval interval;
    const tly_dim *group_by;
    size_t n_group_by;
    const tly_filter *filters;
    size_t n_filters;
    bool drop_empty;               /* leave out rows whose first dimension has no value */
    const char *drop_value;        /* and rows whose first dimension is this value; NULL: none */
    bool viewed_only;              /* and rows without pageviews */
    const char *order;             /* figure to sort by, descending ("visitors", "pageviews",
                                    * "events", "sessions"), then the dimensions; NULL: dimensions */
    unsigned limit, offset;        /* limit 0: every row */
    bool zero_fill;                /* with an interval and no dimension: every interval appears */
    bool visit_figures_unused;     /* sessions, bounces and duration are not shown: a query
                                    * without dimensions may leave them 0 and skip the visits */
} tly_report_spec;

/* Whether a dimension belongs to events (path, hostname, event_type, goal, prop:*) rather than
 * to visits. */
bool tly_dim_is_event(tly_dim_kind kind);
tly_report_mode tly_report_mode_of(const tly_report_spec *spec) TLY_NONNULL(1);
/* Whether a dimension or filter of the spec is a visit's, so events must be joined to visits. */
bool tly_report_needs_visits(const tly_report_spec *spec) TLY_NONNULL(1);
/* Whether the spec groups by this kind of dimension. */
bool tly_report_groups_by(const tly_report_spec *spec, tly_dim_kind kind) TLY_NONNULL(1);

/* Builds the query into q. Its columns: "date" (text; only with an interval), one text column per
 * dimension, then visitors, pageviews, events, sessions, bounces, duration (integers). 0 ok, -1
 * when the statement would need more parameters than a tly_sql holds. */
int tly_report_sql(const tly_report_spec *spec, tly_sql *q) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* Revenue by visit: per value of at most one visit dimension (none: the site), the visitors,
 * visits, converting visitors (with a positive revenue event in one of their visits) and revenue per
 * currency (purchases less refunds) of visits that started in the range, under the filters. Read
 * from raw visits and events. Columns: key, visitors, sessions, conversions, revenue (JSON text
 * {"EUR": "49.90"}). */
int tly_report_revenue_by_sql(const tly_report_spec *spec, tly_sql *q) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* A funnel: of the visits that started in the range (under the filters), how many reached each
 * step in order, each step an event after the previous step's (path steps are pageviews of that
 * path; event_type and goal steps any such event). One row: visits, visitors, then visits and
 * visitors per step. */
int tly_report_funnel_sql(const tly_report_spec *spec, const tly_filter *steps, size_t n_steps, tly_sql *q)
    TLY_NONNULL(1, 2, 4) TLY_MUST_CHECK;
/* Revenue of each goal per currency over the spec's days and filters (group_by, interval and
 * paging are ignored). Columns: goal, currency, amount (text, two decimals). */
int tly_report_revenue_sql(const tly_report_spec *spec, tly_sql *q) TLY_NONNULL(1, 2) TLY_MUST_CHECK;

#endif
