#include "first.h"
#include "admin_export.h"
#include "admin_audit.h"
#include "csv.h"
#include "log.h"
#include "timeparse.h"

#include <stdio.h>
#include <string.h>

/* Rows are sent in pieces of about this size. */
#define EXPORT_CHUNK (64 * 1024)

/* The columns, in order; numeric ones are written as they are, text ones quoted and defused
 * against spreadsheet formulas (csv.h). */
static const struct column {
    const char *name;
    bool numeric;
} columns[] = {
    {"ts", false}, {"event_id", false}, {"name", false}, {"visitor", true}, {"session", true},
    {"hostname", false}, {"path", false}, {"query", false}, {"title", false}, {"referrer", false},
    {"source", false}, {"utm_source", false}, {"utm_medium", false}, {"utm_campaign", false},
    {"utm_term", false}, {"utm_content", false}, {"campaign_id", false}, {"country", false},
    {"region", false}, {"city", false}, {"device", false}, {"browser", false},
    {"browser_version", false}, {"os", false}, {"os_version", false}, {"screen_width", true},
    {"interactive", true}, {"revenue_amount", true}, {"revenue_currency", false}, {"props", false},
};

static const char export_sql[] =
    "SELECT to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), e.event_id, e.name, "
    "       e.visitor, e.session, e.hostname, e.path, e.query, e.title, e.referrer, e.source, "
    "       e.utm_source, e.utm_medium, e.utm_campaign, e.utm_term, e.utm_content, e.campaign_id, "
    "       e.country, e.region, e.city, e.device, e.browser, e.browser_version, e.os, e.os_version, "
    "       e.screen_width, CASE WHEN e.interactive THEN 'true' ELSE 'false' END, e.revenue_amount, "
    "       e.revenue_currency, e.props::text "
    "FROM events e JOIN properties p ON p.pk = e.property_pk "
    "WHERE e.property_pk = $1::int "
    "  AND ($2::date IS NULL OR e.ts >= tally_day_start($2::date, p.timezone)) "
    "  AND ($3::date IS NULL OR e.ts < tally_day_start($3::date + 1, p.timezone)) "
    "ORDER BY e.ts";

static void append_row(tly_buf *out, const PGresult *res)
{
    for (int i = 0; i < (int)TLY_ARRAY_LEN(columns); i++) {
        if (i) tly_buf_append_char(out, ',');
        if (PQgetisnull(res, 0, i)) continue;
        const char *v = PQgetvalue(res, 0, i);
        if (columns[i].numeric) tly_buf_append(out, v, (size_t)PQgetlength(res, 0, i));
        else tly_csv_append_field(out, v, (size_t)PQgetlength(res, 0, i));
    }
    tly_buf_append(out, "\r\n", 2);
}

/* The optional ?from / ?to day as text for SQL (NULL when absent). 0 ok, -1 answered. */
static int read_day(tly_admin_ctx *c, const char *name, tly_buf *text, const char **out, int32_t *day)
{
    *out = NULL;
    if (tly_req_query_param(c->req, name, text) != 1) return 0;
    if (tly_time_parse_date(tly_buf_cstr(text), text->len, day) != 0) {
        tly_admin_fail(c, 400, "%s: expected a date YYYY-MM-DD", name);
        return -1;
    }
    *out = tly_buf_cstr(text);
    return 0;
}

/* Sends the status line and headers of the CSV answer. */
static int send_head(tly_admin_ctx *c)
{
    tly_buf head = {0};
    tly_buf_printf(&head,
                   "Status: 200 OK\r\nContent-Type: text/csv; charset=utf-8\r\n"
                   "Content-Disposition: attachment; filename=\"%s-events.csv\"\r\n"
                   "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n",
                   c->prop_id);
    int rc = c->req->io->write(c->req->ctx, head.ptr, head.len);
    tly_buf_free(&head);
    return rc;
}

/* Reads the rest of a query's results, after asking the server to stop (the client went away). */
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

/* Runs the export query and streams its rows. */
static void stream_events(tly_admin_ctx *c, const char *from, const char *to)
{
    tly_db_error err = {0};
    if (tly_db_ensure(c->db, &err) != 0) {
        tly_admin_db_fail(c, &err);
        return;
    }
    PGconn *conn = tly_db_conn(c->db);
    char pk[24];
    tly_admin_id_text(c->prop_pk, pk);
    const char *params[] = {pk, from, to};
    if (!PQsendQueryParams(conn, export_sql, 3, NULL, params, NULL, NULL, 0) || !PQsetSingleRowMode(conn)) {
        tly_log_error("export of %s could not start: %s", c->prop_id, PQerrorMessage(conn));
        abandon(conn);
        tly_admin_fail(c, 500, "database error");
        return;
    }
    tly_buf out = {0};
    for (size_t i = 0; i < TLY_ARRAY_LEN(columns); i++) {
        if (i) tly_buf_append_char(&out, ',');
        tly_buf_append_str(&out, columns[i].name);
    }
    tly_buf_append(&out, "\r\n", 2);
    bool started = false;
    long long rows = 0;
    PGresult *res;
    while ((res = PQgetResult(conn))) {
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_SINGLE_TUPLE) {
            append_row(&out, res);
            rows++;
        } else if (status != PGRES_TUPLES_OK) {
            /* Before the first row the client still gets a proper error; after it, a cut file. */
            tly_log_error("export of %s failed after %lld rows: %s", c->prop_id, rows, PQresultErrorMessage(res));
            if (!started) tly_admin_fail(c, 500, "database error");
            PQclear(res);
            abandon(conn);
            break;
        }
        PQclear(res);
        if (out.len < EXPORT_CHUNK && status != PGRES_TUPLES_OK) continue;
        bool gone = false;
        if (!started) {
            started = c->streamed = true;
            c->resp->status = 200;   /* what was sent, for whoever counts answers */
            gone = send_head(c) != 0;
        }
        if (gone || c->req->io->write(c->req->ctx, out.ptr, out.len) != 0) {
            tly_log_info("export of %s: the client went away after %lld rows", c->prop_id, rows);
            abandon(conn);
            break;
        }
        tly_buf_reset(&out);
    }
    tly_buf_free(&out);
}

void tly_admin_export_events(tly_admin_ctx *c)
{
    tly_buf from_text = {0}, to_text = {0};
    const char *from = NULL, *to = NULL;
    int32_t from_day = 0, to_day = 0;
    if (read_day(c, "from", &from_text, &from, &from_day) == 0 && read_day(c, "to", &to_text, &to, &to_day) == 0) {
        if (from && to && from_day > to_day)
            tly_admin_fail(c, 400, "from: %s is after to: %s", from, to);
        else if (tly_admin_audit(c, NULL, "export.events", c->prop_id,
                                 json_pack("{s:s?, s:s?}", "from", from, "to", to)) == 0)
            stream_events(c, from, to);
    }
    tly_buf_free(&from_text);
    tly_buf_free(&to_text);
}
