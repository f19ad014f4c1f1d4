/* The PostgreSQL events store: events, visits and rollups live in the same database as the
 * metadata. Ingest claims event ids and COPYs events (store_postgresql_append.h, sql/migrations/019),
 * visits are built by tally_sessionize() (004, through sessionizer.h), and reports run the SQL of
 * report_sql.h. */
#include "first.h"
#include "events_store.h"
#include "report_sql.h"
#include "log.h"
#include "mem.h"
#include "sessionizer.h"
#include "store_postgresql_append.h"
#include "store_postgresql_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- quotas ------------------------------------------------------------------------------------ */

static const tly_db_stmt stmt_today = {
    "quota_today",
    "SELECT count(*) FROM events WHERE property_pk = $1 AND ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    1};

static int pg_count_today(tly_db *db, int property_pk, long long *count, tly_db_error *err)
{
    char pk[16];
    snprintf(pk, sizeof pk, "%d", property_pk);
    const char *params[] = {pk};
    PGresult *res = tly_db_exec(db, &stmt_today, params, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    *count = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* --- payments --------------------------------------------------------------------------------- */

static const tly_db_stmt stmt_visit_of_token = {
    "visit_of_token",
    "SELECT visitor, prev_visitor, " TLY_VISIT_ATTRIBUTES " "
    "FROM tally_events($1, to_timestamp($3) - interval '1 day', to_timestamp($3) + interval '1 hour 1 microsecond') "
    "WHERE visit_token = $2 ORDER BY ts DESC LIMIT 1",
    3};

static int pg_visit_of_token(tly_db *db, int property_pk, const char *token, long long at, tly_rows *out,
                             tly_db_error *err)
{
    char pk[16], when[24];
    snprintf(pk, sizeof pk, "%d", property_pk);
    snprintf(when, sizeof when, "%lld", at);
    const char *params[] = {pk, token, when};
    PGresult *res = tly_db_exec(db, &stmt_visit_of_token, params, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    tly_rows_from_pg(out, res);
    PQclear(res);
    return 0;
}

/* --- reports ----------------------------------------------------------------------------------- */

/* Runs a statement built by report_sql.h (-1 from the builder: too many values). */
static int run_built(tly_db *db, int built, tly_sql *sql, tly_rows *out, tly_db_error *err)
{
    int rc = TLY_STORE_TOO_LARGE;
    if (built == 0) {
        PGresult *res = tly_db_query(db, tly_buf_cstr(&sql->text), (const char *const *)sql->params,
                                     (int)sql->n_params, PGRES_TUPLES_OK, err);
        rc = res ? 0 : -1;
        if (res) {
            tly_rows_from_pg(out, res);
            PQclear(res);
        }
    }
    tly_sql_free(sql);
    return rc;
}

static int pg_figures(tly_db *db, const tly_report_spec *spec, tly_rows *out, tly_db_error *err)
{
    tly_sql sql = {0};
    return run_built(db, tly_report_sql(spec, &sql), &sql, out, err);
}

static int pg_goal_revenue(tly_db *db, const tly_report_spec *spec, tly_rows *out, tly_db_error *err)
{
    tly_sql sql = {0};
    return run_built(db, tly_report_revenue_sql(spec, &sql), &sql, out, err);
}

static int pg_revenue_by(tly_db *db, const tly_report_spec *spec, tly_rows *out, tly_db_error *err)
{
    tly_sql sql = {0};
    return run_built(db, tly_report_revenue_by_sql(spec, &sql), &sql, out, err);
}

static int pg_funnel(tly_db *db, const tly_report_spec *spec, const tly_filter *steps, size_t n_steps,
                     tly_rows *out, tly_db_error *err)
{
    tly_sql sql = {0};
    return run_built(db, tly_report_funnel_sql(spec, steps, n_steps, &sql), &sql, out, err);
}

static const tly_db_stmt stmt_realtime = {
    "report_realtime",
    "SELECT (SELECT count(DISTINCT visitor) FROM events WHERE property_pk = $1"
    "          AND ts >= now() - interval '5 minutes' AND ts <= now() + interval '1 minute'),"
    "       (SELECT coalesce(json_agg(coalesce(m.n, 0) ORDER BY g.ago DESC), '[]')::text"
    "          FROM generate_series(0, 29) AS g(ago) LEFT JOIN ("
    "            SELECT floor(extract(epoch FROM now() - ts) / 60)::int AS ago, count(*) AS n"
    "            FROM events WHERE property_pk = $1 AND name = 'pageview'"
    "              AND ts > now() - interval '30 minutes' AND ts <= now() GROUP BY 1) m USING (ago)),"
    "       (SELECT coalesce(json_agg(json_build_object('path', path, 'unique_visitors', v, 'pageviews', pv)"
    "                                 ORDER BY v DESC, pv DESC, path COLLATE \"C\"), '[]')::text"
    "          FROM (SELECT path, count(DISTINCT visitor) AS v, count(*) AS pv FROM events"
    "                WHERE property_pk = $1 AND name = 'pageview' AND ts > now() - interval '30 minutes'"
    "                  AND ts <= now() + interval '1 minute'"
    "                GROUP BY path ORDER BY v DESC, pv DESC, path COLLATE \"C\" LIMIT $2) t)",
    2};

static int pg_realtime(tly_db *db, int property_pk, unsigned limit, tly_rows *out, tly_db_error *err)
{
    char pk[16], n[16];
    snprintf(pk, sizeof pk, "%d", property_pk);
    snprintf(n, sizeof n, "%u", limit);
    const char *params[] = {pk, n};
    PGresult *res = tly_db_exec(db, &stmt_realtime, params, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    tly_rows_from_pg(out, res);
    PQclear(res);
    return 0;
}

const tly_events_store_ops tly_store_postgresql = {
    .name = "postgresql",
    .setup = NULL,
    .append = tly_pg_append,
    .build_visits = tly_sessionize_pending,
    .count_today = pg_count_today,
    .visit_of_token = pg_visit_of_token,
    .purge = NULL,   /* tally_purge_retention() and tally_delete_property() */
    .export_events = tly_pg_export_events,
    .figures = pg_figures,
    .goal_revenue = pg_goal_revenue,
    .revenue_by = pg_revenue_by,
    .funnel = pg_funnel,
    .realtime = pg_realtime,
};
