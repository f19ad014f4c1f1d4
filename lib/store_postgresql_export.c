/* The raw-events export of the postgresql events store: one query in libpq's single-row mode, so
 * that rows go out as PostgreSQL produces them and memory does not grow with the export. */
#include "first.h"
#include "store_postgresql_export.h"
#include "log.h"

#include <stdio.h>

static const char export_sql[] =
    "SELECT to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), e.event_id, e.name, "
    "       e.visitor, e.session, e.hostname, e.path, e.query, e.title, e.referrer, e.source, "
    "       e.utm_source, e.utm_medium, e.utm_campaign, e.utm_term, e.utm_content, e.campaign_id, "
    "       e.country, e.region, e.city, e.device, e.browser, e.browser_version, e.os, e.os_version, "
    "       e.screen_width, CASE WHEN e.interactive THEN 'true' ELSE 'false' END, e.revenue_amount, "
    "       e.revenue_currency, e.props::text "
    "FROM properties p, tally_events(p.pk, coalesce(tally_day_start($2::date, p.timezone), '-infinity'), "
    "                                coalesce(tally_day_start($3::date + 1, p.timezone), 'infinity')) e "
    "WHERE p.pk = $1::int "
    "ORDER BY e.ts, e.seq";

/* Reads the rest of a query's results, after asking the server to stop. */
static void abandon(PGconn *conn)
{
    PGcancel *cancel = PQgetCancel(conn);
    char ignored[256];
    if (cancel) {
        (void)!PQcancel(cancel, ignored, sizeof ignored);
        PQfreeCancel(cancel);
    }
    PGresult *res;
    while ((res = PQgetResult(conn))) PQclear(res);
}

/* Fills err as for any failed statement (res NULL: the connection's error), then stops the query
 * unless the connection was dropped as broken. */
static int fail(tly_db *db, PGresult *res, tly_db_error *err)
{
    tly_db_result_error(db, res, err);
    PQclear(res);
    if (tly_db_conn(db)) abandon(tly_db_conn(db));
    return -1;
}

static int stream_rows(tly_db *db, int property_pk, const char *from, const char *to, tly_export_row_fn row,
                       void *ctx, tly_db_error *err)
{
    PGconn *conn = tly_db_conn(db);
    char pk[24];
    snprintf(pk, sizeof pk, "%d", property_pk);
    const char *params[] = {pk, from, to};
    if (!PQsendQueryParams(conn, export_sql, 3, NULL, params, NULL, NULL, 0) || !PQsetSingleRowMode(conn))
        return fail(db, NULL, err);
    PGresult *res;
    while ((res = PQgetResult(conn))) {
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_SINGLE_TUPLE) {
            const char *values[TLY_EXPORT_N_COLUMNS];
            for (int i = 0; i < TLY_EXPORT_N_COLUMNS; i++)
                values[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
            int stop = row(ctx, values);
            PQclear(res);
            if (stop) {
                abandon(conn);
                return 0;
            }
        } else if (status != PGRES_TUPLES_OK) {
            return fail(db, res, err);
        } else {
            PQclear(res);
        }
    }
    return 0;
}

int tly_pg_export_events(tly_db *db, int property_pk, const char *from, const char *to, tly_export_row_fn row,
                         void *ctx, tly_db_error *err)
{
    /* An export takes as long as its rows are many and the client reads them: no statement_timeout
     * (tly_db_set_statement_timeout) for it. */
    if (tly_db_command(db, "SET statement_timeout = 0", err) != 0) return -1;
    int rc = stream_rows(db, property_pk, from, to, row, ctx, err);
    tly_db_error reset_err;
    if (tly_db_conn(db) && tly_db_command(db, "RESET statement_timeout", &reset_err) != 0)
        tly_log_warn("export: statement_timeout not reset: %s", reset_err.message);
    return rc;
}
