/* The events store: where enriched events are appended and where reports read them from. Every
 * ingest and report endpoint goes through this one interface, so the store can change without
 * changing an endpoint.
 *
 * Two stores implement it:
 * - postgresql (store_postgresql.c, the default): events, visits and rollups in the same
 *   PostgreSQL database as the metadata (sql/migrations/).
 * - clickhouse (store_clickhouse.c): events in ClickHouse MergeTree tables behind a Distributed
 *   table (sql/clickhouse/), for sites whose events outgrow one PostgreSQL server. PostgreSQL keeps
 *   the metadata and the dedupe ledger; visits are built from events as reports read them.
 *
 * `events_store` in tally.conf chooses one per installation; every process selects it once, at
 * start, with tly_events_store_setup. Every operation gets the process's PostgreSQL handle (for
 * metadata, and for the postgresql store its events); a store keeps whatever else it needs
 * (ClickHouse's HTTP connections) itself, safe to use from several threads.
 *
 * Operations return 0, or -1 with err filled (err->unreachable when the store could not be reached:
 * ingest then spools, reports answer 503). A report operation may also return
 * TLY_STORE_TOO_LARGE when the question needs more values than one statement takes (a 400). An
 * operation a store does not offer is NULL: the report answers 501 on that store. */
#ifndef TLY_EVENTS_STORE_H
#define TLY_EVENTS_STORE_H
#include "first.h"
#include "conf.h"
#include "db.h"
#include "rows.h"
#include "store.h"

#include <stddef.h>

#define TLY_STORE_TOO_LARGE (-2)

/* The attributes of a visit (its first event's), as columns of events in both stores. */
#define TLY_VISIT_ATTRIBUTES "hostname, path, referrer, source, utm_source, utm_medium, utm_campaign, " \
    "utm_term, utm_content, campaign_id, country, region, city, device, browser, browser_version, os, os_version"

/* The columns of the raw-events export, in order (admin_export.c writes them as CSV). */
#define TLY_EXPORT_COLUMNS "ts", "event_id", "name", "visitor", "session", "hostname", "path", "query", \
    "title", "referrer", "source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", \
    "campaign_id", "country", "region", "city", "device", "browser", "browser_version", "os", "os_version", \
    "screen_width", "interactive", "revenue_amount", "revenue_currency", "props"
#define TLY_EXPORT_N_COLUMNS 30

/* Receives one exported event: TLY_EXPORT_N_COLUMNS values as PostgreSQL writes them as text (ts
 * as 2026-01-31T23:59:59.123Z, interactive as true/false, revenue_amount with four decimals,
 * props as jsonb text), NULL for none. Returns 0 to go on, non-zero to stop (the reader left). */
typedef int (*tly_export_row_fn)(void *ctx, const char *const *values);

/* Declared in report_sql.h and report_query.h, which the programs need not see. */
struct tly_report_spec;
struct tly_filter;

typedef struct tly_events_store_ops {
    const char *name;          /* as in tally.conf: "postgresql", "clickhouse" */
    /* Prepares the store from the configuration, once per process; NULL: nothing to prepare. 0
     * ok; -1 with a message naming the setting. */
    int (*setup)(const tly_conf *conf, char *err, size_t errlen);

    /* Whether the store answers (health checks): 0, or -1 with err naming what does not. NULL
     * when the store is PostgreSQL itself, which the health check asks anyway. */
    int (*ping)(tly_db_error *err);

    /* Appends the rows of every job (several requests, maybe several properties), deduplicated
     * by (property, event_id) against every event stored within the dedupe window and within
     * the jobs; fills each job's sent and stored. All or nothing. */
    int (*append)(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err);
    /* Adds newly stored events to visits; returns how many it took. NULL when the store builds
     * visits as reports read them. */
    long long (*build_visits)(tly_db *db, tly_db_error *err);
    /* Events stored for a property with a time since the start of the current UTC day (quotas). */
    int (*count_today)(tly_db *db, int property_pk, long long *count, tly_db_error *err);
    /* The event that last carried a visit token (tracker's tally.visit) from a day before `at`
     * (seconds since 1970) to an hour after it: one row of visitor, prev_visitor ("" for none) and
     * the columns of TLY_VISIT_ATTRIBUTES, or no row. For crediting a payment to its visit. */
    int (*visit_of_token)(tly_db *db, int property_pk, const char *token, long long at, tly_rows *out,
                          tly_db_error *err);

    /* Deletes the events of deleted properties and those older than their property's
     * retention_days; *deleted: how many. NULL when the store's own jobs do it (PostgreSQL's
     * tally-cron retention and tally_delete_property). */
    int (*purge)(tly_db *db, long long *deleted, tly_db_error *err);
    /* Deletes every event of one property (being deleted); *deleted: how many. NULL when the
     * property's deletion in PostgreSQL takes its events (tally_delete_property). */
    int (*purge_property)(tly_db *db, int property_pk, long long *deleted, tly_db_error *err);

    /* Streams a property's events, oldest first (by time, then arrival), one call of `row` per
     * event; `from` and `to` (YYYY-MM-DD, either NULL) limit them to those local days of the
     * property's time zone. Rows go out as they are read, so the size of the export does not
     * matter. 0 when every event went out or `row` stopped; -1 with err (rows may have gone). */
    int (*export_events)(tly_db *db, int property_pk, const char *from, const char *to, tly_export_row_fn row,
                         void *ctx, tly_db_error *err);

    /* The figures of a report spec: the columns of tly_report_sql (report_sql.h). */
    int (*figures)(tly_db *db, const struct tly_report_spec *spec, tly_rows *out, tly_db_error *err);
    /* Revenue per goal and currency: the columns of tly_report_revenue_sql. */
    int (*goal_revenue)(tly_db *db, const struct tly_report_spec *spec, tly_rows *out, tly_db_error *err);
    /* Revenue by visit: the columns of tly_report_revenue_by_sql. */
    int (*revenue_by)(tly_db *db, const struct tly_report_spec *spec, tly_rows *out, tly_db_error *err);
    /* A funnel: the columns of tly_report_funnel_sql. */
    int (*funnel)(tly_db *db, const struct tly_report_spec *spec, const struct tly_filter *steps, size_t n_steps,
                  tly_rows *out, tly_db_error *err);
    /* Realtime: one row of visitors in the last five minutes, pageviews per minute of the last
     * thirty (a JSON array, oldest first) and the top `limit` pages of the last thirty minutes (a
     * JSON array of {"path", "unique_visitors", "pageviews"}). */
    int (*realtime)(tly_db *db, int property_pk, unsigned limit, tly_rows *out, tly_db_error *err);
} tly_events_store_ops;

extern const tly_events_store_ops tly_store_postgresql;
extern const tly_events_store_ops tly_store_clickhouse;

/* Selects the store named by conf (and prepares it: ClickHouse's connection settings). Call once
 * per process, before threads start. 0 ok; -1 with a message naming the setting. */
int tly_events_store_setup(const tly_conf *conf, char *err, size_t errlen) TLY_NONNULL(1, 2) TLY_MUST_CHECK;
/* The selected store; postgresql until tly_events_store_setup chose another. */
const tly_events_store_ops *tly_events_store(void);

/* The body of a health check whose PostgreSQL answered, with *status: 200 {"status": "ok", "db":
 * "ok"} (and "<store>": "ok" for a store outside PostgreSQL), or 503 with "<store>": "unreachable"
 * and an error naming it when that store does not answer. */
json_t *tly_events_store_health(int *status) TLY_NONNULL(1);

#endif
