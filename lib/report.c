#include "first.h"
#include "report.h"
#include "csv.h"
#include "events_store.h"
#include "log.h"
#include "report_auth.h"
#include "report_query.h"
#include "report_sql.h"
#include "timeparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hourly figures are for short ranges; longer ones are asked by day. */
#define MAX_HOURLY_DAYS 31
/* Rows of the previous period fetched to pair with a breakdown's rows (compare). */
#define COMPARE_ROWS 1000

#define VISIT_METRICS (TLY_METRIC_SESSIONS | TLY_METRIC_BOUNCE_RATE | TLY_METRIC_VISIT_DURATION | \
                       TLY_METRIC_VIEWS_PER_SESSION)
#define GOAL_METRICS (TLY_METRIC_CONVERSIONS | TLY_METRIC_CONVERSION_RATE | TLY_METRIC_REVENUE)
#define SITE_METRICS (TLY_METRIC_PAGEVIEWS | TLY_METRIC_UNIQUE_VISITORS | VISIT_METRICS | TLY_METRIC_EVENTS)

/* The figures of one result row, in the column order of report_sql.h. */
typedef struct figures {
    long long visitors, pageviews, events, sessions, bounces, duration;
} figures;

/* One request being answered. */
typedef struct report {
    tly_db *db;
    tly_req *req;
    tly_resp *resp;
    tly_report_target target;
    tly_report_query q;
} report;

/* --- figures to JSON --------------------------------------------------------------------------- */

static double ratio(long long part, long long whole, double scale, double step)
{
    if (whole <= 0) return 0;
    return round((double)part * scale / (double)whole / step) * step;
}

/* Adds each metric of `metrics` to obj, in canonical order. */
static void put_metrics(json_t *obj, unsigned metrics, const figures *f)
{
    for (unsigned bit = 1; bit <= TLY_METRIC_REVENUE; bit <<= 1) {
        if (!(metrics & bit)) continue;
        json_t *v = NULL;
        switch (bit) {
        case TLY_METRIC_PAGEVIEWS: v = json_integer(f->pageviews); break;
        case TLY_METRIC_UNIQUE_VISITORS: v = json_integer(f->visitors); break;
        case TLY_METRIC_SESSIONS: v = json_integer(f->sessions); break;
        case TLY_METRIC_BOUNCE_RATE: v = json_real(ratio(f->bounces, f->sessions, 100, 0.1)); break;
        case TLY_METRIC_VISIT_DURATION: v = json_integer((json_int_t)ratio(f->duration, f->sessions, 1, 1)); break;
        case TLY_METRIC_VIEWS_PER_SESSION: v = json_real(ratio(f->pageviews, f->sessions, 1, 0.01)); break;
        case TLY_METRIC_EVENTS: v = json_integer(f->events); break;
        default: break;   /* goal metrics are added by the goals report */
        }
        if (v) json_object_set_new(obj, tly_metric_name(bit), v);
    }
}

static void read_figures(const tly_rows *res, size_t row, size_t first, figures *f)
{
    long long *slots[] = {&f->visitors, &f->pageviews, &f->events, &f->sessions, &f->bounces, &f->duration};
    for (size_t i = 0; i < 6; i++) *slots[i] = tly_rows_int(res, row, first + i);   /* NULL reads as "" = 0 */
}

/* --- running the query ------------------------------------------------------------------------- */

static void db_failed(report *r, const tly_db_error *err)
{
    if (tly_db_error_transient(err)) {
        tly_resp_header(r->resp, "Retry-After", "5");
        tly_resp_error(r->resp, 503, "%s; retry later%s", tly_db_error_summary(err),
                       err->canceled ? ", or ask for a shorter period" : "");
    } else {
        tly_log_error("report query failed: %s", err->message);
        tly_resp_error(r->resp, 500, "database error");
    }
}

/* A report the configured events store cannot answer yet (its operation is NULL). */
static void not_available(report *r, const char *what)
{
    tly_resp_error(r->resp, 501, "%s is not available on the %s events store yet; see README "
                   "'Scale-out events store' for what it answers", what, tly_events_store()->name);
}

/* Answers the error of a failed store operation (rc from events_store.h); 0 passes through. */
static int store_result(report *r, int rc, const tly_db_error *err, const char *too_large)
{
    if (rc == TLY_STORE_TOO_LARGE) tly_resp_error(r->resp, 400, "%s", too_large);
    else if (rc != 0) db_failed(r, err);
    return rc;
}

/* The figures of a spec; 0, or -1 after answering an error. */
static int run_spec(report *r, const tly_report_spec *spec, tly_rows *res)
{
    tly_db_error err = {0};
    int rc = tly_events_store()->figures(r->db, spec, res, &err);
    return store_result(r, rc, &err, "filters: too many values in one query") == 0 ? 0 : -1;
}

static void base_spec(const report *r, tly_report_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->property_pk = r->target.pk;
    spec->timezone = r->target.timezone;
    spec->from_day = r->q.from_day;
    spec->to_day = r->q.to_day;
    spec->filters = r->q.filters;
    spec->n_filters = r->q.n_filters;
}

/* Rows of a spec as JSON objects: "date" (with an interval), one member per dimension, then the
 * metrics. NULL after answering an error. */
static json_t *rows_json(report *r, const tly_report_spec *spec, unsigned metrics, const char *const *keys)
{
    tly_report_spec asked = *spec;
    asked.visit_figures_unused = !(metrics & VISIT_METRICS);
    tly_rows res;
    if (run_spec(r, &asked, &res) != 0) return NULL;
    size_t dated = spec->interval != TLY_INTERVAL_NONE;
    size_t first_figure = dated + spec->n_group_by;
    json_t *rows = json_array();
    for (size_t i = 0; i < res.n_rows; i++) {
        json_t *row = json_object();
        if (dated) json_object_set_new(row, "date", json_string(tly_rows_get(&res, i, 0)));
        for (size_t k = 0; k < spec->n_group_by; k++)
            json_object_set_new(row, keys[k], json_string(tly_rows_get(&res, i, dated + k)));
        figures f;
        read_figures(&res, i, first_figure, &f);
        put_metrics(row, metrics, &f);
        json_array_append_new(rows, row);
    }
    tly_rows_free(&res);
    return rows;
}

/* --- answering --------------------------------------------------------------------------------- */

static json_t *envelope(const report *r)
{
    char from[11], to[11];
    tly_time_format_date(r->q.from_day, from);
    tly_time_format_date(r->q.to_day, to);
    return json_pack("{s:s, s:s, s:s}", "property_id", r->target.id, "from", from, "to", to);
}

static void answer_csv(report *r, json_t *rows, const char *const *columns, size_t n)
{
    tly_buf csv = {0};
    if (tly_csv_from_rows(rows, columns, n, TLY_JSON_REAL_PRECISION, &csv) != 0) {
        tly_resp_error(r->resp, 500, "could not write CSV");
    } else {
        tly_resp_header(r->resp, "Content-Disposition", "attachment; filename=\"report.csv\"");
        tly_resp_text(r->resp, 200, "text/csv; charset=utf-8", tly_buf_cstr(&csv));
    }
    tly_buf_free(&csv);
}

/* The CSV columns of rows: [date], the dimension keys, the metrics, [previous]. */
static size_t csv_columns(const char **cols, bool dated, const char *const *keys, size_t n_keys,
                          unsigned metrics, bool previous)
{
    size_t n = 0;
    if (dated) cols[n++] = "date";
    for (size_t i = 0; i < n_keys; i++) cols[n++] = keys[i];
    for (unsigned bit = 1; bit <= TLY_METRIC_REVENUE; bit <<= 1)
        if (metrics & bit) cols[n++] = tly_metric_name(bit);
    if (previous) cols[n++] = "previous";
    return n;
}

/* Answers rows (stolen) in the format asked for. */
static void answer_rows(report *r, json_t *rows, bool dated, const char *const *keys, size_t n_keys,
                        unsigned metrics, json_t *extra)
{
    if (r->q.csv) {
        const char *cols[1 + TLY_REPORT_MAX_GROUP_BY + TLY_METRIC_COUNT + 1];
        size_t n = csv_columns(cols, dated, keys, n_keys, metrics, r->q.compare && !dated);
        answer_csv(r, rows, cols, n);
        json_decref(rows);
        json_decref(extra);
        return;
    }
    json_t *body = envelope(r);
    json_object_set_new(body, "results", rows);
    if (extra) json_object_update(body, extra);
    json_decref(extra);
    tly_resp_json(r->resp, 200, body);
}

/* Metrics that need visits cannot be counted per event dimension. 0 ok, -1 answered. */
static int check_metrics(report *r, const tly_report_spec *spec, unsigned metrics)
{
    if (metrics & GOAL_METRICS) {
        tly_resp_error(r->resp, 400, "metrics: conversions, conversion_rate and revenue are answered by /goals");
        return -1;
    }
    if (tly_report_mode_of(spec) == TLY_REPORT_EVENTS && (metrics & VISIT_METRICS)) {
        tly_resp_error(r->resp, 400, "metrics: sessions, bounce_rate, visit_duration and views_per_session "
                                     "are figures of visits, not available when grouping by an event "
                                     "dimension (path, hostname, event_type, goal, prop:*)");
        return -1;
    }
    return 0;
}

/* The previous period's figures attached to each row as "previous", matched by dimension values. */
static int attach_previous(report *r, tly_report_spec spec, json_t *rows, const char *const *keys,
                           unsigned metrics)
{
    tly_report_query_previous(&r->q, &spec.from_day, &spec.to_day);
    spec.limit = COMPARE_ROWS;
    spec.offset = 0;
    json_t *before = rows_json(r, &spec, metrics, keys);
    if (!before) return -1;
    size_t i, j;
    json_t *row, *old;
    json_array_foreach(rows, i, row) {
        json_t *match = NULL;
        json_array_foreach(before, j, old) {
            bool same = true;
            for (size_t k = 0; k < spec.n_group_by && same; k++)
                same = json_equal(json_object_get(row, keys[k]), json_object_get(old, keys[k]));
            if (same) {
                match = old;
                break;
            }
        }
        json_t *prev = json_object();
        figures zero = {0};
        if (match) {
            for (unsigned bit = 1; bit <= TLY_METRIC_REVENUE; bit <<= 1)
                if (metrics & bit) json_object_set(prev, tly_metric_name(bit), json_object_get(match, tly_metric_name(bit)));
        } else {
            put_metrics(prev, metrics, &zero);
        }
        json_object_set_new(row, "previous", prev);
    }
    json_decref(before);
    return 0;
}

/* --- the reports ------------------------------------------------------------------------------- */

typedef struct breakdown {
    const char *name;        /* the path segment */
    tly_dim_kind dim;
    const char *key;         /* the member naming the value in each row */
    unsigned metrics;        /* default metrics */
    const char *order;
    const char *drop_value;
    bool viewed_only;        /* only values with pageviews (pages: not the paths of custom events) */
} breakdown;

#define VISIT_TABLE (TLY_METRIC_UNIQUE_VISITORS | TLY_METRIC_SESSIONS | TLY_METRIC_PAGEVIEWS | \
                     TLY_METRIC_BOUNCE_RATE | TLY_METRIC_VISIT_DURATION)

static const breakdown breakdowns[] = {
    {"pages", TLY_DIM_PATH, "path", TLY_METRIC_PAGEVIEWS | TLY_METRIC_UNIQUE_VISITORS, "pageviews", NULL, true},
    {"entry-pages", TLY_DIM_ENTRY_PAGE, "entry_page", VISIT_TABLE, "sessions", NULL, false},
    {"exit-pages", TLY_DIM_EXIT_PAGE, "exit_page", TLY_METRIC_UNIQUE_VISITORS | TLY_METRIC_SESSIONS, "sessions", NULL, false},
    {"sources", TLY_DIM_SOURCE, "source", VISIT_TABLE, "visitors", NULL, false},
    {"campaigns", TLY_DIM_CAMPAIGN, "campaign", VISIT_TABLE, "visitors", NULL, false},
    {"countries", TLY_DIM_COUNTRY, "country", VISIT_TABLE, "visitors", NULL, false},
    {"devices", TLY_DIM_DEVICE, "device", VISIT_TABLE, "visitors", NULL, false},
    {"browsers", TLY_DIM_BROWSER, "browser", VISIT_TABLE, "visitors", NULL, false},
    {"os", TLY_DIM_OS, "os", VISIT_TABLE, "visitors", NULL, false},
    {"events", TLY_DIM_EVENT_TYPE, "event_type", TLY_METRIC_EVENTS | TLY_METRIC_UNIQUE_VISITORS, "events", "pageview", false},
};

static void breakdown_report(report *r, const breakdown *b)
{
    tly_dim dim = {b->dim, ""};
    tly_report_spec spec;
    base_spec(r, &spec);
    spec.group_by = &dim;
    spec.n_group_by = 1;
    spec.drop_empty = true;
    spec.drop_value = b->drop_value;
    spec.viewed_only = b->viewed_only;
    spec.order = b->order;
    spec.limit = r->q.limit;
    spec.offset = r->q.offset;
    unsigned metrics = r->q.metrics ? r->q.metrics : b->metrics;
    if (check_metrics(r, &spec, metrics) != 0) return;
    const char *keys[] = {b->key};
    json_t *rows = rows_json(r, &spec, metrics, keys);
    if (!rows) return;
    if (r->q.compare && attach_previous(r, spec, rows, keys, metrics) != 0) {
        json_decref(rows);
        return;
    }
    answer_rows(r, rows, false, keys, 1, metrics, NULL);
}

/* The whole site's figures over [from_day, to_day]; NULL after answering an error. */
static json_t *site_figures(report *r, int32_t from_day, int32_t to_day, unsigned metrics)
{
    tly_report_spec spec;
    base_spec(r, &spec);
    spec.from_day = from_day;
    spec.to_day = to_day;
    json_t *rows = rows_json(r, &spec, metrics, NULL);
    if (!rows) return NULL;
    json_t *one = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return one ? one : json_object();
}

static void overview_report(report *r)
{
    unsigned metrics = r->q.metrics ? r->q.metrics : SITE_METRICS;
    if (metrics & GOAL_METRICS) {
        tly_resp_error(r->resp, 400, "metrics: conversions, conversion_rate and revenue are answered by /goals");
        return;
    }
    json_t *now = site_figures(r, r->q.from_day, r->q.to_day, metrics);
    if (!now) return;
    json_t *body = envelope(r);
    json_object_update(body, now);
    json_decref(now);
    if (r->q.compare) {
        int32_t from, to;
        tly_report_query_previous(&r->q, &from, &to);
        json_t *prev = site_figures(r, from, to, metrics);
        if (!prev) {
            json_decref(body);
            return;
        }
        char a[11], b[11];
        tly_time_format_date(from, a);
        tly_time_format_date(to, b);
        json_object_set_new(prev, "from", json_string(a));
        json_object_set_new(prev, "to", json_string(b));
        json_object_set_new(body, "previous", prev);
    }
    if (r->q.csv) {
        json_t *rows = json_pack("[O]", body);
        const char *cols[3 + TLY_METRIC_COUNT + 1] = {"property_id", "from", "to"};
        size_t n = 3 + csv_columns(cols + 3, false, NULL, 0, metrics, r->q.compare);
        answer_csv(r, rows, cols, n);
        json_decref(rows);
        json_decref(body);
        return;
    }
    tly_resp_json(r->resp, 200, body);
}

static void metrics_report(report *r)
{
    unsigned metrics = r->q.metrics ? r->q.metrics : TLY_METRIC_PAGEVIEWS | TLY_METRIC_UNIQUE_VISITORS;
    if (r->q.interval == TLY_INTERVAL_HOUR && r->q.to_day - r->q.from_day >= MAX_HOURLY_DAYS) {
        tly_resp_error(r->resp, 400, "interval: hour covers at most %d days; use day for longer ranges", MAX_HOURLY_DAYS);
        return;
    }
    tly_report_spec spec;
    base_spec(r, &spec);
    spec.interval = r->q.interval;
    spec.group_by = r->q.group_by;
    spec.n_group_by = r->q.n_group_by;
    spec.zero_fill = true;
    spec.order = spec.n_group_by ? (tly_report_mode_of(&spec) == TLY_REPORT_EVENTS ? "pageviews" : "visitors") : NULL;
    if (spec.n_group_by > 0) {
        spec.limit = r->q.limit;
        spec.offset = r->q.offset;
    }
    if (check_metrics(r, &spec, metrics) != 0) return;
    char labels[TLY_REPORT_MAX_GROUP_BY][TLY_DIM_LABEL_SIZE];
    const char *keys[TLY_REPORT_MAX_GROUP_BY];
    for (size_t i = 0; i < spec.n_group_by; i++) {
        tly_dim_label(&spec.group_by[i], labels[i]);
        keys[i] = labels[i];
    }
    json_t *rows = rows_json(r, &spec, metrics, keys);
    if (!rows) return;
    json_t *extra = NULL;
    bool dated = spec.interval != TLY_INTERVAL_NONE;
    if (r->q.compare && !dated && spec.n_group_by > 0) {
        if (attach_previous(r, spec, rows, keys, metrics) != 0) {
            json_decref(rows);
            return;
        }
    } else if (r->q.compare) {
        tly_report_query_previous(&r->q, &spec.from_day, &spec.to_day);
        json_t *before = rows_json(r, &spec, metrics, keys);
        if (!before) {
            json_decref(rows);
            return;
        }
        extra = json_pack("{s:o}", "previous", before);
    }
    answer_rows(r, rows, dated, keys, spec.n_group_by, metrics, extra);
}

/* --- goals ------------------------------------------------------------------------------------- */

static const tly_db_stmt stmt_goal_names = {
    "report_goal_names", "SELECT name FROM goals WHERE property_pk = $1 ORDER BY name COLLATE \"C\"", 1};

/* Revenue per goal and currency: {"goal": {"EUR": "49.90"}}; NULL after answering an error. */
static json_t *goal_revenue(report *r)
{
    tly_report_spec spec;
    base_spec(r, &spec);
    tly_rows res;
    tly_db_error err = {0};
    if (store_result(r, tly_events_store()->goal_revenue(r->db, &spec, &res, &err), &err,
                     "filters: too many values in one query") != 0)
        return NULL;
    json_t *out = json_object();
    for (size_t i = 0; i < res.n_rows; i++) {
        const char *goal = tly_rows_get(&res, i, 0);
        json_t *per = json_object_get(out, goal);
        if (!per) json_object_set_new(out, goal, per = json_object());
        json_object_set_new(per, tly_rows_get(&res, i, 1), json_string(tly_rows_get(&res, i, 2)));
    }
    tly_rows_free(&res);
    return out;
}

static void goals_report(report *r)
{
    if (!tly_events_store()->goal_revenue) {
        not_available(r, "the goals report");
        return;
    }
    tly_dim dim = {TLY_DIM_GOAL, ""};
    tly_report_spec spec;
    base_spec(r, &spec);
    spec.group_by = &dim;
    spec.n_group_by = 1;
    spec.order = "visitors";
    const char *keys[] = {"goal"};
    json_t *site = site_figures(r, r->q.from_day, r->q.to_day, TLY_METRIC_UNIQUE_VISITORS);
    if (!site) return;
    json_int_t visitors = json_integer_value(json_object_get(site, "unique_visitors"));
    json_decref(site);
    json_t *hits = rows_json(r, &spec, TLY_METRIC_UNIQUE_VISITORS | TLY_METRIC_EVENTS, keys);
    if (!hits) return;
    json_t *revenue = goal_revenue(r);
    if (!revenue) {
        json_decref(hits);
        return;
    }
    tly_db_error err = {0};
    char pk[16];
    snprintf(pk, sizeof pk, "%d", r->target.pk);
    const char *params[] = {pk};
    PGresult *names = tly_db_exec(r->db, &stmt_goal_names, params, PGRES_TUPLES_OK, &err);
    if (!names) {
        db_failed(r, &err);
        json_decref(hits);
        json_decref(revenue);
        return;
    }
    /* Goals with conversions first (most converting visitors first), then the others by name. */
    json_t *all = json_array();
    size_t i;
    json_t *hit;
    json_array_foreach(hits, i, hit) json_array_append(all, hit);
    for (int g = 0; g < PQntuples(names); g++) {
        const char *name = PQgetvalue(names, g, 0);
        bool seen = false;
        json_array_foreach(hits, i, hit) seen = seen || strcmp(json_string_value(json_object_get(hit, "goal")), name) == 0;
        if (!seen) json_array_append_new(all, json_pack("{s:s, s:i, s:i}", "goal", name, "unique_visitors", 0, "events", 0));
    }
    PQclear(names);
    json_decref(hits);
    json_t *rows = json_array();
    json_t *row;
    json_array_foreach(all, i, row) {
        if (i < r->q.offset || json_array_size(rows) >= r->q.limit) continue;
        json_int_t converted = json_integer_value(json_object_get(row, "unique_visitors"));
        const char *goal = json_string_value(json_object_get(row, "goal"));
        json_t *money = json_object_get(revenue, goal);
        json_t *item = json_pack("{s:s, s:I, s:I, s:f}", "goal", goal, "conversions", converted,
                                 "events", json_integer_value(json_object_get(row, "events")),
                                 "conversion_rate", ratio(converted, visitors, 100, 0.1));
        json_object_set_new(item, "revenue", money ? json_incref(money) : json_object());
        json_array_append_new(rows, item);
    }
    json_decref(all);
    json_decref(revenue);
    const char *cols[] = {"goal", "conversions", "events", "conversion_rate", "revenue"};
    if (r->q.csv) {
        answer_csv(r, rows, cols, TLY_ARRAY_LEN(cols));
        json_decref(rows);
        return;
    }
    json_t *body = envelope(r);
    json_object_set_new(body, "unique_visitors", json_integer(visitors));
    json_object_set_new(body, "results", rows);
    tly_resp_json(r->resp, 200, body);
}

/* --- revenue ---------------------------------------------------------------------------------- */

/* amount / visitors in the amount's own precision (two decimals), as text. */
static json_t *per_visitor(json_t *revenue, long long visitors)
{
    json_t *out = json_object();
    const char *currency;
    json_t *amount;
    json_object_foreach(revenue, currency, amount) {
        char text[48];
        double v = visitors > 0 ? strtod(json_string_value(amount), NULL) / (double)visitors : 0;
        snprintf(text, sizeof text, "%.2f", v);
        json_object_set_new(out, currency, json_string(text));
    }
    return out;
}

/* Revenue credited to visits: by source, campaign, landing page, country... (group_by, one visit
 * dimension) or for the whole site. */
static void revenue_report(report *r)
{
    if (r->q.n_group_by > 1 || (r->q.n_group_by == 1 && tly_dim_is_event(r->q.group_by[0].kind))) {
        tly_resp_error(r->resp, 400, "group_by: revenue is credited to visits; give one visit dimension "
                                     "(source, campaign, entry_page, country, device, utm_*, ...)");
        return;
    }
    char label[TLY_DIM_LABEL_SIZE] = "";
    if (r->q.n_group_by == 1) tly_dim_label(&r->q.group_by[0], label);
    tly_report_spec spec;
    base_spec(r, &spec);
    spec.group_by = r->q.group_by;
    spec.n_group_by = r->q.n_group_by;
    spec.drop_empty = spec.n_group_by == 1;
    spec.limit = r->q.limit;
    spec.offset = r->q.offset;
    if (!tly_events_store()->revenue_by) {
        not_available(r, "the revenue report");
        return;
    }
    tly_rows res;
    tly_db_error err = {0};
    if (store_result(r, tly_events_store()->revenue_by(r->db, &spec, &res, &err), &err,
                     "filters: too many values in one query") != 0)
        return;
    json_t *rows = json_array();
    for (size_t i = 0; i < res.n_rows; i++) {
        long long visitors = tly_rows_int(&res, i, 1), conversions = tly_rows_int(&res, i, 3);
        json_t *revenue = json_loads(tly_rows_get(&res, i, 4), 0, NULL);
        if (!revenue) revenue = json_object();
        json_t *row = json_object();
        if (*label) json_object_set_new(row, label, json_string(tly_rows_get(&res, i, 0)));
        json_object_set_new(row, "unique_visitors", json_integer(visitors));
        json_object_set_new(row, "sessions", json_integer(tly_rows_int(&res, i, 2)));
        json_object_set_new(row, "conversions", json_integer(conversions));
        json_object_set_new(row, "conversion_rate", json_real(ratio(conversions, visitors, 100, 0.1)));
        json_object_set_new(row, "revenue_per_visitor", per_visitor(revenue, visitors));
        json_object_set_new(row, "revenue", revenue);
        json_array_append_new(rows, row);
    }
    tly_rows_free(&res);
    const char *cols[] = {label, "unique_visitors", "sessions", "conversions", "conversion_rate", "revenue",
                          "revenue_per_visitor"};
    if (r->q.csv) {
        answer_csv(r, rows, *label ? cols : cols + 1, *label ? TLY_ARRAY_LEN(cols) : TLY_ARRAY_LEN(cols) - 1);
        json_decref(rows);
        return;
    }
    json_t *body = envelope(r);
    json_object_set_new(body, "results", rows);
    tly_resp_json(r->resp, 200, body);
}

/* --- funnels ---------------------------------------------------------------------------------- */

/* The step as it was asked for ("path==/pricing"). */
static json_t *step_text(const tly_filter *f)
{
    char label[TLY_DIM_LABEL_SIZE];
    tly_dim_label(&f->dim, label);
    return json_sprintf("%s%s%s", label, f->op == TLY_FILTER_CONTAINS ? "=~" : "==", f->value);
}

static int check_steps(report *r)
{
    if (r->q.n_steps < 2) {
        tly_resp_error(r->resp, 400, "steps: a funnel needs 2 to %d steps, ';'-separated, e.g. "
                                     "steps=path==/pricing;event_type==signup", TLY_REPORT_MAX_STEPS);
        return -1;
    }
    for (size_t i = 0; i < r->q.n_steps; i++) {
        const tly_filter *f = &r->q.steps[i];
        if (f->dim.kind != TLY_DIM_PATH && f->dim.kind != TLY_DIM_EVENT_TYPE && f->dim.kind != TLY_DIM_GOAL) {
            tly_resp_error(r->resp, 400, "steps: step %zu: a step is a path, an event_type or a goal", i + 1);
            return -1;
        }
        if (f->op == TLY_FILTER_NE) {
            tly_resp_error(r->resp, 400, "steps: step %zu: a step is == or =~, not !=", i + 1);
            return -1;
        }
    }
    return 0;
}

/* Ordered steps within a visit: how many visits (and visitors) reached each. */
static void funnel_report(report *r)
{
    if (check_steps(r) != 0) return;
    tly_report_spec spec;
    base_spec(r, &spec);
    if (!tly_events_store()->funnel) {
        not_available(r, "the funnel report");
        return;
    }
    tly_rows res;
    tly_db_error err = {0};
    if (store_result(r, tly_events_store()->funnel(r->db, &spec, r->q.steps, r->q.n_steps, &res, &err), &err,
                     "steps: too many values in one query") != 0)
        return;
    json_t *steps = json_array();
    long long first = 0, previous = 0;
    for (size_t i = 0; i < r->q.n_steps; i++) {
        long long visits = tly_rows_int(&res, 0, 2 + 2 * i);
        if (i == 0) first = previous = visits;
        json_t *step = json_pack("{s:o, s:I, s:I, s:f, s:I}", "step", step_text(&r->q.steps[i]),
                                 "visits", (json_int_t)visits,
                                 "visitors", (json_int_t)tly_rows_int(&res, 0, 3 + 2 * i),
                                 "conversion_rate", ratio(visits, first, 100, 0.1),
                                 "drop_off", (json_int_t)(previous - visits));
        json_array_append_new(steps, step);
        previous = visits;
    }
    json_t *body = envelope(r);
    json_object_set_new(body, "visits", json_integer(tly_rows_int(&res, 0, 0)));
    json_object_set_new(body, "visitors", json_integer(tly_rows_int(&res, 0, 1)));
    tly_rows_free(&res);
    if (r->q.csv) {
        const char *cols[] = {"step", "visits", "visitors", "conversion_rate", "drop_off"};
        answer_csv(r, steps, cols, TLY_ARRAY_LEN(cols));
        json_decref(steps);
        json_decref(body);
        return;
    }
    json_object_set_new(body, "steps", steps);
    tly_resp_json(r->resp, 200, body);
}

/* --- realtime ---------------------------------------------------------------------------------- */

static void realtime_report(report *r)
{
    tly_rows res;
    tly_db_error err = {0};
    if (store_result(r, tly_events_store()->realtime(r->db, r->target.pk, r->q.limit < 10 ? r->q.limit : 10,
                                                     &res, &err), &err, "") != 0)
        return;
    json_t *body = json_pack("{s:s, s:I, s:o, s:o}", "property_id", r->target.id,
                             "visitors", (json_int_t)tly_rows_int(&res, 0, 0),
                             "pageviews_30m", json_loads(tly_rows_get(&res, 0, 1), 0, NULL),
                             "top_pages", json_loads(tly_rows_get(&res, 0, 2), 0, NULL));
    tly_rows_free(&res);
    tly_resp_json(r->resp, 200, body);
}

/* --- routing ----------------------------------------------------------------------------------- */

/* Splits "/v1/properties/{id}/{report}" into its two names; -1 if the path has another shape, -2
 * if the id is too long to be one. */
static int split_path(const char *path, char *id, size_t id_size, char *name, size_t name_size)
{
    static const char prefix[] = "/v1/properties/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) return -1;
    const char *p = path + sizeof prefix - 1;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || strchr(slash + 1, '/')) return -1;
    if ((size_t)(slash - p) >= id_size) return -2;
    size_t name_len = strlen(slash + 1);
    if (name_len == 0 || name_len >= name_size) return -1;
    memcpy(id, p, (size_t)(slash - p));
    id[slash - p] = '\0';
    memcpy(name, slash + 1, name_len + 1);
    return 0;
}

static bool known_report(const char *name)
{
    static const char *const others[] = {"overview", "metrics", "goals", "realtime", "revenue", "funnel"};
    for (size_t i = 0; i < TLY_ARRAY_LEN(others); i++)
        if (strcmp(name, others[i]) == 0) return true;
    for (size_t i = 0; i < TLY_ARRAY_LEN(breakdowns); i++)
        if (strcmp(name, breakdowns[i].name) == 0) return true;
    return false;
}

/* Parameters a report has no use for are refused rather than ignored: a client asking for a
 * series or a split must not get totals. 0 ok, -1 answered. */
static int refuse_unused(report *r, const char *name, bool format_given)
{
    bool metrics = strcmp(name, "metrics") == 0, realtime = strcmp(name, "realtime") == 0;
    bool revenue = strcmp(name, "revenue") == 0, funnel = strcmp(name, "funnel") == 0;
    const char *unused = NULL;
    if (!metrics && r->q.interval != TLY_INTERVAL_NONE) unused = "interval";
    else if (!metrics && !revenue && r->q.n_group_by > 0) unused = "group_by";
    else if ((realtime || revenue || funnel || strcmp(name, "goals") == 0) && r->q.compare) unused = "compare";
    else if (!funnel && r->q.n_steps > 0) unused = "steps";
    else if (realtime && r->q.n_filters > 0) unused = "filters";
    else if (realtime && r->q.csv && format_given) unused = "format";
    if (!unused) return 0;
    if (metrics || revenue || funnel || !(strcmp(unused, "interval") == 0 || strcmp(unused, "group_by") == 0))
        tly_resp_error(r->resp, 400, "%s: not available for /%s", unused, name);
    else
        tly_resp_error(r->resp, 400, "%s: interval and group_by belong to /metrics", unused);
    return -1;
}

static void dispatch(report *r, const char *name)
{
    if (strcmp(name, "overview") == 0) overview_report(r);
    else if (strcmp(name, "metrics") == 0) metrics_report(r);
    else if (strcmp(name, "goals") == 0) goals_report(r);
    else if (strcmp(name, "realtime") == 0) realtime_report(r);
    else if (strcmp(name, "revenue") == 0) revenue_report(r);
    else if (strcmp(name, "funnel") == 0) funnel_report(r);
    else
        for (size_t i = 0; i < TLY_ARRAY_LEN(breakdowns); i++)
            if (strcmp(name, breakdowns[i].name) == 0) breakdown_report(r, &breakdowns[i]);
}

void tly_report_serve(tly_db *db, tly_req *req, tly_resp *resp)
{
    char id[TLY_MAX_PROPERTY_ID_LEN + 1], name[32];
    const char *path = tly_buf_cstr(&req->path);
    int shape = split_path(path, id, sizeof id, name, sizeof name);
    if (shape == -2) {
        tly_resp_error(resp, 404, "no such property: the id is longer than %d characters", TLY_MAX_PROPERTY_ID_LEN);
        return;
    }
    if (shape != 0 || !known_report(name)) {
        tly_resp_error(resp, 404, "no such report: %.200s", path);
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        tly_resp_header(resp, "Allow", "GET, HEAD");
        tly_resp_error(resp, 405, "method %s not allowed on reports; use GET", req->method);
        return;
    }
    report r = {db, req, resp, {0}, {0}};
    char msg[TLY_REPORT_ERR_SIZE];
    int status = tly_report_authorise(db, req, id, &r.target, msg, sizeof msg);
    if (status != 0) {
        if (status == 401) tly_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"tally\"");
        if (status == 503) tly_resp_header(resp, "Retry-After", "5");
        tly_resp_error(resp, status, "%s", msg);
        return;
    }
    if (tly_report_query_parse(&r.q, req->query, strlen(req->query), tly_req_param(req, "HTTP_ACCEPT"),
                               r.target.today, msg, sizeof msg) != 0) {
        tly_resp_error(resp, 400, "%s", msg);
        return;
    }
    if (r.q.realtime && strcmp(name, "realtime") != 0) {
        /* period=realtime on another report: today so far. */
        r.q.realtime = false;
    }
    tly_buf format = {0};
    bool format_given = tly_req_query_param(req, "format", &format) == 1;
    tly_buf_free(&format);
    if (refuse_unused(&r, name, format_given) == 0) dispatch(&r, name);
    tly_report_query_free(&r.q);
}
