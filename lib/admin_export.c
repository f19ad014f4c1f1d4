#include "first.h"
#include "admin_export.h"
#include "admin_audit.h"
#include "csv.h"
#include "events_store.h"
#include "log.h"
#include "timeparse.h"

#include <stdio.h>
#include <string.h>

/* Rows are sent in pieces of about this size. */
#define EXPORT_CHUNK (64 * 1024)

/* The columns (events_store.h) and which of them are numbers: written as they are, where text
 * is quoted and defused against spreadsheet formulas (csv.h). */
static const char *const columns[] = {TLY_EXPORT_COLUMNS};
static const bool numeric[TLY_EXPORT_N_COLUMNS] = {
    [3] = true /* visitor */, [4] = true /* session */, [25] = true /* screen_width */,
    [26] = true /* interactive */, [27] = true /* revenue_amount */,
};
_Static_assert(TLY_ARRAY_LEN(columns) == TLY_EXPORT_N_COLUMNS, "one name per exported column");

/* The export in flight: CSV waiting to go out, and whether the answer has started. */
typedef struct export_state {
    tly_admin_ctx *c;
    tly_buf out;
    bool started;
    bool gone;          /* the client went away */
    long long rows;
} export_state;

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

/* Sends what is waiting, after the head of the answer when it is the first piece. */
static int flush(export_state *x)
{
    tly_admin_ctx *c = x->c;
    if (!x->started) {
        x->started = c->streamed = true;
        c->resp->status = 200;   /* what was sent, for whoever counts answers */
        if (send_head(c) != 0) return -1;
    }
    if (c->req->io->write(c->req->ctx, x->out.ptr, x->out.len) != 0) return -1;
    tly_buf_reset(&x->out);
    return 0;
}

static int add_row(void *ctx, const char *const *values)
{
    export_state *x = ctx;
    for (size_t i = 0; i < TLY_EXPORT_N_COLUMNS; i++) {
        if (i) tly_buf_append_char(&x->out, ',');
        if (!values[i]) continue;
        if (numeric[i]) tly_buf_append_str(&x->out, values[i]);
        else tly_csv_append_field(&x->out, values[i], strlen(values[i]));
    }
    tly_buf_append(&x->out, "\r\n", 2);
    x->rows++;
    if (x->out.len >= EXPORT_CHUNK && flush(x) != 0) {
        x->gone = true;
        return 1;
    }
    return 0;
}

/* Streams the store's rows as CSV. */
static void stream_events(tly_admin_ctx *c, const char *from, const char *to)
{
    export_state x = {.c = c};
    for (size_t i = 0; i < TLY_EXPORT_N_COLUMNS; i++) {
        if (i) tly_buf_append_char(&x.out, ',');
        tly_buf_append_str(&x.out, columns[i]);
    }
    tly_buf_append(&x.out, "\r\n", 2);
    tly_db_error err = {0};
    const tly_events_store_ops *store = tly_events_store();
    if (store->export_events(c->db, c->prop_pk, from, to, add_row, &x, &err) != 0) {
        /* Before the first piece the client still gets a proper error; after it, a cut file. */
        tly_log_error("export of %s from the %s store failed after %lld rows: %s", c->prop_id, store->name,
                      x.rows, err.message);
        if (!x.started) {
            if (tly_db_error_transient(&err)) {
                tly_resp_header(c->resp, "Retry-After", "5");
                tly_admin_fail(c, 503, "events store (%s): %s; retry later", store->name, tly_db_error_summary(&err));
            } else {
                tly_admin_fail(c, 500, "events store (%s) error", store->name);
            }
        }
    } else if (x.gone || flush(&x) != 0) {
        tly_log_info("export of %s: the client went away after %lld rows", c->prop_id, x.rows);
    }
    tly_buf_free(&x.out);
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
