/* The ClickHouse events store: events in ClickHouse (sql/clickhouse/events.sql: MergeTree tables
 * on each shard, a Distributed table over them), metadata and the dedupe ledger in PostgreSQL.
 *
 * Append: within one PostgreSQL transaction, the batch's event ids are claimed in the ledger
 * (tally_claim_event_ids, sql/migrations/012), the new events are inserted into ClickHouse (one
 * INSERT, synchronous on every shard), and only then is the claim committed. A failed insert rolls
 * the claim back, so a retry stores the events; ClickHouse being unreachable lets ingest spool, as
 * for PostgreSQL. Should the commit fail after the insert, the retry inserts the events again:
 * the table is a ReplacingMergeTree keyed by (property, day, event id), which folds such copies
 * together when it merges.
 *
 * Deletions are ALTER ... DELETE on every shard's local table: those of retention (and of any
 * deleted property left over) run by cron through `track.fcgi --purge-events`, a property's own
 * by admin.fcgi as it deletes the property.
 *
 * Reports: the SQL of report_sql_clickhouse.h, which builds visits as it reads events; the
 * property's visit timeout and goals come from PostgreSQL. */
#include "first.h"
#include "events_store.h"
#include "clickhouse.h"
#include "clickhouse_event.h"
#include "json_arena.h"
#include "log.h"
#include "mem.h"
#include "report_sql_clickhouse.h"
#include "timeparse.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char database[72] = "tally";
static char *shards;          /* every shard node's URL, space-separated (deletions) */

static int ch_setup(const tly_conf *conf, char *err, size_t errlen)
{
    snprintf(database, sizeof database, "%s", conf->clickhouse_database);
    free(shards);
    shards = tly_xstrdup(conf->clickhouse_shards ? conf->clickhouse_shards : conf->clickhouse_url);
    return tly_ch_setup(conf->clickhouse_url, conf->database_timeout, conf->report_timeout, err, errlen);
}

/* Runs a statement; with rows, reads its JSONCompact answer into them. */
static int run(const char *sql, const char *data, size_t len, tly_rows *rows, tly_db_error *err)
{
    tly_buf out = {0};
    int rc = tly_ch_run(sql, data, len, &out, err);
    if (rc == 0 && rows && tly_rows_from_json_compact(rows, tly_buf_cstr(&out), out.len) != 0) {
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "ClickHouse: unexpected answer: %.120s", tly_buf_cstr(&out));
        rc = -1;
    }
    tly_buf_free(&out);
    return rc;
}

/* --- append ------------------------------------------------------------------------------------ */

/* Arrival order: the millisecond of arrival times 2^20, plus one per event, never going back
 * within the process. Events of one millisecond then keep their order, as with events_seq. */
static uint64_t next_seq(void)
{
    static _Atomic uint64_t last;
    uint64_t now = (uint64_t)tly_time_now_ms() << 20;
    uint64_t seen = atomic_load(&last);
    for (;;) {
        uint64_t next = now > seen ? now : seen + 1;
        if (atomic_compare_exchange_weak(&last, &seen, next)) return next;
    }
}

static const tly_db_stmt stmt_claim = {
    "claim_event_ids", "SELECT n FROM tally_claim_event_ids($1::int, $2::jsonb)", 2};

/* Claims the ids of every job of one property and appends their new events as JSONEachRow lines. */
static int claim_group(tly_db *db, tly_store_job *const *jobs, size_t n, size_t first, bool *done,
                       tly_buf *lines, tly_db_error *err)
{
    int pk = jobs[first]->property_pk;
    json_t *ids = json_array();
    for (size_t i = first; i < n; i++) {
        if (done[i] || jobs[i]->property_pk != pk) continue;
        size_t k;
        json_t *row;
        json_array_foreach(jobs[i]->rows, k, row) {
            json_t *id = json_object_get(row, "event_id");
            json_array_append(ids, json_is_string(id) ? id : json_null());
        }
    }
    char pk_text[16];
    snprintf(pk_text, sizeof pk_text, "%d", pk);
    char *text = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    const char *params[] = {pk_text, text};
    PGresult *res = tly_db_exec(db, &stmt_claim, params, PGRES_TUPLES_OK, err);
    tly_json_free(text);
    if (!res) return -1;
    /* The kept positions come in order; walk the jobs' rows alongside. */
    int kept = 0, position = 0, rc = 0;
    for (size_t i = first; i < n && rc == 0; i++) {
        if (done[i] || jobs[i]->property_pk != pk) continue;
        done[i] = true;
        jobs[i]->sent = (int)json_array_size(jobs[i]->rows);
        jobs[i]->stored = 0;
        size_t k;
        json_t *row;
        json_array_foreach(jobs[i]->rows, k, row) {
            position++;
            if (kept >= PQntuples(res) || atoi(PQgetvalue(res, kept, 0)) != position) continue;
            kept++;
            char why[128];
            if (tly_ch_event_line(lines, pk, next_seq(), row, why, sizeof why) != 0) {
                memset(err, 0, sizeof *err);
                snprintf(err->message, sizeof err->message, "%s", why);
                rc = -1;
                break;
            }
            jobs[i]->stored++;
        }
    }
    PQclear(res);
    return rc;
}

static int ch_append(tly_db *db, tly_store_job *const *jobs, size_t n, tly_db_error *err)
{
    if (tly_db_command(db, "BEGIN", err) != 0) return -1;
    bool *done = tly_xcalloc(n, sizeof *done);
    tly_buf lines = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (done[i]) continue;
        if (json_array_size(jobs[i]->rows) == 0) {
            jobs[i]->sent = jobs[i]->stored = 0;
            done[i] = true;
            continue;
        }
        rc = claim_group(db, jobs, n, i, done, &lines, err);
    }
    free(done);
    if (rc == 0 && lines.len > 0) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO %s.events FORMAT JSONEachRow", database);
        rc = run(sql, lines.ptr, lines.len, NULL, err);
    }
    tly_buf_free(&lines);
    tly_db_error ignored;
    if (rc == 0) rc = tly_db_command(db, "COMMIT", err);
    else if (tly_db_command(db, "ROLLBACK", &ignored) != 0)
        tly_log_warn("rollback failed: %s", ignored.message);
    return rc;
}

/* --- health ----------------------------------------------------------------------------------- */

/* Every shard node answers a trivial query (an insert needs them all). */
static int ch_ping(tly_db_error *err)
{
    int rc = 0;
    char *list = tly_xstrdup(shards);
    for (char *save = NULL, *url = strtok_r(list, " \t", &save); url && rc == 0; url = strtok_r(NULL, " \t", &save)) {
        tly_buf out = {0};
        rc = tly_ch_run_on(url, "SELECT 1", &out, err);
        tly_buf_free(&out);
    }
    free(list);
    return rc;
}

/* --- quotas ------------------------------------------------------------------------------------ */

static int ch_count_today(tly_db *db, int property_pk, long long *count, tly_db_error *err)
{
    (void)db;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count() FROM %s.events WHERE property_pk = %d"
             " AND ts >= toStartOfDay(now(), 'UTC') FORMAT JSONCompact", database, property_pk);
    tly_rows rows;
    if (run(sql, NULL, 0, &rows, err) != 0) return -1;
    *count = tly_rows_int(&rows, 0, 0);
    tly_rows_free(&rows);
    return 0;
}

/* --- deletions -------------------------------------------------------------------------------- */

/* Nodes of the cluster that holds the events table, as ClickHouse knows it; -1 on error. */
static long long cluster_nodes(tly_db_error *err)
{
    char sql[512];
    /* engine_full: "Distributed(cluster, database, events_local, cityHash64(visitor))". */
    snprintf(sql, sizeof sql, "SELECT count() FROM system.clusters WHERE cluster = (SELECT replaceRegexpAll("
             "splitByChar(',', replaceOne(engine_full, 'Distributed(', ''))[1], '[^A-Za-z0-9_]', '')"
             " FROM system.tables WHERE database = '%s' AND name = 'events') FORMAT JSONCompact", database);
    tly_rows rows;
    if (run(sql, NULL, 0, &rows, err) != 0) return -1;
    long long n = tly_rows_int(&rows, 0, 0);
    tly_rows_free(&rows);
    return n;
}

static const tly_db_stmt stmt_retention = {
    "clickhouse_retention", "SELECT pk, retention_days FROM properties ORDER BY pk", 0};

/* The events to delete: of properties that no longer exist, or older than their retention. */
static int purge_condition(tly_db *db, tly_buf *cond, tly_db_error *err)
{
    PGresult *res = tly_db_exec(db, &stmt_retention, NULL, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    long long now = (long long)tly_time_now_ms();
    tly_buf_append_str(cond, "property_pk NOT IN (0");
    for (int i = 0; i < PQntuples(res); i++) tly_buf_printf(cond, ", %d", atoi(PQgetvalue(res, i, 0)));
    tly_buf_append_str(cond, ")");
    for (int i = 0; i < PQntuples(res); i++) {
        long long days = atoll(PQgetvalue(res, i, 1));
        if (days > 0)
            tly_buf_printf(cond, " OR (property_pk = %d AND ts_ms < %lld)", atoi(PQgetvalue(res, i, 0)),
                           now - days * 86400000LL);
    }
    PQclear(res);
    return 0;
}

/* On every shard: counts the events matching cond and, when there are some, deletes them (an
 * ALTER ... DELETE, which ClickHouse applies in the background within seconds). Refused unless
 * clickhouse_shards lists every node of the cluster, or events would stay on the others. */
static int delete_where(const char *cond, long long *deleted, tly_db_error *err)
{
    *deleted = 0;
    size_t n_urls = 0;
    for (const char *u = shards; *u; u += strcspn(u, " \t"), u += strspn(u, " \t")) n_urls += strcspn(u, " \t") > 0;
    long long nodes = cluster_nodes(err);
    if (nodes < 0) return -1;
    if (nodes != (long long)n_urls) {
        memset(err, 0, sizeof *err);
        snprintf(err->message, sizeof err->message, "clickhouse_shards names %zu node(s) but the cluster of %s.events "
                 "has %lld: list every shard node's URL, or events would stay on the others", n_urls, database, nodes);
        return -1;
    }
    /* Counted on every shard first, so that one being down deletes nothing anywhere. */
    long long *counts = tly_xcalloc(n_urls ? n_urls : 1, sizeof *counts);
    char *list = tly_xstrdup(shards);
    char **urls = tly_xcalloc(n_urls ? n_urls : 1, sizeof *urls);
    size_t k = 0;
    for (char *save = NULL, *url = strtok_r(list, " \t", &save); url && k < n_urls; url = strtok_r(NULL, " \t", &save))
        urls[k++] = url;
    int rc = 0;
    tly_buf sql = {0}, out = {0};
    for (size_t i = 0; i < k && rc == 0; i++) {
        tly_buf_reset(&sql);
        tly_buf_reset(&out);
        tly_buf_printf(&sql, "SELECT count() FROM %s.events_local WHERE %s", database, cond);
        rc = tly_ch_run_on(urls[i], tly_buf_cstr(&sql), &out, err);
        counts[i] = rc == 0 ? atoll(tly_buf_cstr(&out)) : 0;
    }
    for (size_t i = 0; i < k && rc == 0; i++) {
        if (counts[i] == 0) continue;
        tly_buf_reset(&sql);
        tly_buf_printf(&sql, "ALTER TABLE %s.events_local DELETE WHERE %s", database, cond);
        rc = tly_ch_run_on(urls[i], tly_buf_cstr(&sql), &out, err);
        if (rc == 0) *deleted += counts[i];
    }
    tly_buf_free(&sql);
    tly_buf_free(&out);
    free(urls);
    free(list);
    free(counts);
    return rc;
}

static int ch_purge(tly_db *db, long long *deleted, tly_db_error *err)
{
    *deleted = 0;
    tly_buf cond = {0};
    int rc = purge_condition(db, &cond, err);
    if (rc == 0) rc = delete_where(tly_buf_cstr(&cond), deleted, err);
    tly_buf_free(&cond);
    return rc;
}

static int ch_purge_property(tly_db *db, int property_pk, long long *deleted, tly_db_error *err)
{
    (void)db;
    char cond[64];
    snprintf(cond, sizeof cond, "property_pk = %d", property_pk);
    return delete_where(cond, deleted, err);
}

/* --- payments --------------------------------------------------------------------------------- */

static int ch_visit_of_token(tly_db *db, int property_pk, const char *token, long long at, tly_rows *out,
                             tly_db_error *err)
{
    (void)db;
    tly_buf sql = {0};
    tly_buf_printf(&sql, "SELECT visitor, prev_visitor, " TLY_VISIT_ATTRIBUTES " FROM %s.events"
                   " WHERE property_pk = %d AND visit_token = ", database, property_pk);
    tly_ch_quote(&sql, token);
    /* A day before to an hour after, to the millisecond; ts narrows the scan to whole seconds. */
    tly_buf_printf(&sql, " AND ts >= toDateTime(%lld) AND ts_ms >= %lld AND ts_ms <= %lld"
                   " ORDER BY ts_ms DESC, seq DESC LIMIT 1 FORMAT JSONCompact",
                   at - 86400 < 0 ? 0 : at - 86400, (at - 86400) * 1000, (at + 3600) * 1000);
    int rc = run(tly_buf_cstr(&sql), NULL, 0, out, err);
    tly_buf_free(&sql);
    return rc;
}

/* --- the raw-events export -------------------------------------------------------------------- */

/* Events go out in pages of this many, each page starting after the last event of the one before
 * (by time, arrival and id), so that memory does not grow with the export. */
#define EXPORT_PAGE 5000

static const tly_db_stmt stmt_export_range = {
    "clickhouse_export_range",
    "SELECT (extract(epoch FROM tally_day_start($2::date, p.timezone)) * 1000)::bigint,"
    "       (extract(epoch FROM tally_day_start($3::date + 1, p.timezone)) * 1000)::bigint "
    "FROM properties p WHERE p.pk = $1::int", 3};

/* The export's columns as ClickHouse has them; each row ends with seq, for the next page. */
#define EXPORT_SELECT "ts_ms, event_id, name, visitor, session, hostname, path, query, title, referrer, source," \
    " utm_source, utm_medium, utm_campaign, utm_term, utm_content, campaign_id, country, region, city, device," \
    " browser, browser_version, os, os_version, screen_width, interactive, revenue_amount_e4, revenue_currency," \
    " props.key, props.value, props.kind, seq"
enum { X_TS = 0, X_SESSION = 4, X_WIDTH = 25, X_INTERACTIVE = 26, X_AMOUNT = 27, X_KEYS = 29, X_SEQ = 32 };

/* Hands one row of a page to the reader, as PostgreSQL writes the columns. */
static int export_row(const tly_rows *page, size_t r, tly_export_row_fn row, void *ctx)
{
    const char *values[TLY_EXPORT_N_COLUMNS];
    tly_buf ts = {0}, amount = {0}, props = {0};
    for (size_t i = 0; i < X_KEYS; i++) values[i] = tly_rows_get(page, r, i);
    tly_ch_time_text(&ts, tly_rows_int(page, r, X_TS));
    values[X_TS] = tly_buf_cstr(&ts);
    /* Nullable numbers come back as "": none. */
    if (!*values[X_SESSION]) values[X_SESSION] = NULL;
    if (!*values[X_WIDTH]) values[X_WIDTH] = NULL;
    values[X_INTERACTIVE] = tly_rows_int(page, r, X_INTERACTIVE) ? "true" : "false";
    if (*values[X_AMOUNT]) {
        tly_ch_amount_text(&amount, tly_rows_int(page, r, X_AMOUNT));
        values[X_AMOUNT] = tly_buf_cstr(&amount);
    } else {
        values[X_AMOUNT] = NULL;
    }
    json_t *keys = json_loads(tly_rows_get(page, r, X_KEYS), 0, NULL);
    json_t *vals = json_loads(tly_rows_get(page, r, X_KEYS + 1), 0, NULL);
    json_t *kinds = json_loads(tly_rows_get(page, r, X_KEYS + 2), 0, NULL);
    values[X_KEYS] = tly_ch_props_text(&props, keys, vals, kinds) ? tly_buf_cstr(&props) : NULL;
    json_decref(keys);
    json_decref(vals);
    json_decref(kinds);
    int stop = row(ctx, values);
    tly_buf_free(&ts);
    tly_buf_free(&amount);
    tly_buf_free(&props);
    return stop;
}

static int ch_export_events(tly_db *db, int property_pk, const char *from, const char *to, tly_export_row_fn row,
                            void *ctx, tly_db_error *err)
{
    char pk[24];
    snprintf(pk, sizeof pk, "%d", property_pk);
    const char *params[] = {pk, from, to};
    PGresult *res = tly_db_exec(db, &stmt_export_range, params, PGRES_TUPLES_OK, err);
    if (!res) return -1;
    bool known = PQntuples(res) == 1;
    long long lo = known && !PQgetisnull(res, 0, 0) ? atoll(PQgetvalue(res, 0, 0)) : 0;
    long long hi = known && !PQgetisnull(res, 0, 1) ? atoll(PQgetvalue(res, 0, 1)) : INT64_MAX;
    PQclear(res);
    if (!known) return 0;
    /* Where the next page starts: from start_ms, after this (time, arrival, id) once a page came. */
    long long start_ms = lo, after_ms = 0;
    char after_seq[24] = "0";
    tly_buf after_id = {0};
    bool first = true;
    int rc = 0;
    for (bool more = true; more && rc == 0;) {
        tly_buf sql = {0};
        tly_buf_printf(&sql, "SELECT " EXPORT_SELECT " FROM %s.events WHERE property_pk = %d"
                       " AND ts >= toDateTime(%lld) AND ts_ms >= %lld AND ts_ms < %lld",
                       database, property_pk, start_ms < 0 ? 0 : start_ms / 1000, start_ms, hi);
        if (!first) {
            tly_buf_printf(&sql, " AND (ts_ms > %lld OR (ts_ms = %lld AND (seq > %s OR (seq = %s AND event_id > ",
                           after_ms, after_ms, after_seq, after_seq);
            tly_ch_quote(&sql, tly_buf_cstr(&after_id));
            tly_buf_append_str(&sql, "))))");
        }
        tly_buf_printf(&sql, " ORDER BY ts_ms, seq, event_id LIMIT %d FORMAT JSONCompact", EXPORT_PAGE);
        tly_rows page;
        rc = run(tly_buf_cstr(&sql), NULL, 0, &page, err);
        tly_buf_free(&sql);
        if (rc != 0) break;
        for (size_t r = 0; r < page.n_rows; r++) {
            if (export_row(&page, r, row, ctx) != 0) {
                more = false;
                break;
            }
        }
        if (more && page.n_rows == EXPORT_PAGE) {
            size_t last = page.n_rows - 1;
            start_ms = after_ms = tly_rows_int(&page, last, X_TS);
            snprintf(after_seq, sizeof after_seq, "%s", tly_rows_get(&page, last, X_SEQ));
            tly_buf_reset(&after_id);
            tly_buf_append_str(&after_id, tly_rows_get(&page, last, 1));
            first = false;
        } else {
            more = false;
        }
        tly_rows_free(&page);
    }
    tly_buf_free(&after_id);
    return rc;
}

/* --- reports ----------------------------------------------------------------------------------- */

static const tly_db_stmt stmt_context = {
    "clickhouse_report_context",
    "SELECT p.session_timeout, g.name, g.event_name, g.path_pattern FROM properties p"
    " LEFT JOIN goals g ON g.property_pk = p.pk WHERE p.pk = $1 ORDER BY g.name COLLATE \"C\"",
    1};

/* What a report needs from PostgreSQL: the property's visit timeout and goals. */
typedef struct context {
    tly_ch_report_context cx;
    tly_ch_goal *goals;
    PGresult *res;            /* holds the goals' strings */
} context;

static int context_load(tly_db *db, int property_pk, context *c, tly_db_error *err)
{
    memset(c, 0, sizeof *c);
    char pk[16];
    snprintf(pk, sizeof pk, "%d", property_pk);
    const char *params[] = {pk};
    c->res = tly_db_exec(db, &stmt_context, params, PGRES_TUPLES_OK, err);
    if (!c->res) return -1;
    int n = PQntuples(c->res);
    c->cx.database = database;
    c->cx.session_timeout = n > 0 ? atoi(PQgetvalue(c->res, 0, 0)) : 1800;
    c->goals = tly_xcalloc((size_t)n + 1, sizeof *c->goals);
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(c->res, i, 1)) continue;
        tly_ch_goal *g = &c->goals[c->cx.n_goals++];
        g->name = PQgetvalue(c->res, i, 1);
        g->event_name = PQgetisnull(c->res, i, 2) ? NULL : PQgetvalue(c->res, i, 2);
        g->path_pattern = PQgetisnull(c->res, i, 3) ? NULL : PQgetvalue(c->res, i, 3);
    }
    c->cx.goals = c->goals;
    return 0;
}

static void context_free(context *c)
{
    PQclear(c->res);
    free(c->goals);
}

typedef int (*sql_builder)(const tly_report_spec *, const tly_ch_report_context *, tly_buf *);

/* Runs the SQL a builder made (built: the builder's result, non-zero when the query would be too
 * large) and frees it. */
static int run_built(int built, tly_buf *sql, tly_rows *out, tly_db_error *err)
{
    int rc = TLY_STORE_TOO_LARGE;
    if (built == 0) {
        tly_buf_append_str(sql, " FORMAT JSONCompact");
        rc = run(tly_buf_cstr(sql), NULL, 0, out, err);
    }
    tly_buf_free(sql);
    return rc;
}

static int report(tly_db *db, const tly_report_spec *spec, sql_builder build, tly_rows *out, tly_db_error *err)
{
    context c;
    if (context_load(db, spec->property_pk, &c, err) != 0) return -1;
    tly_buf sql = {0};
    int rc = run_built(build(spec, &c.cx, &sql), &sql, out, err);
    context_free(&c);
    return rc;
}

static int ch_figures(tly_db *db, const tly_report_spec *spec, tly_rows *out, tly_db_error *err)
{
    return report(db, spec, tly_ch_report_sql, out, err);
}

/* Ten-thousandths as PostgreSQL's round(amount, 2)::text writes them: half away from zero. */
static void cents_text(long long e4, char out[32])
{
    long long cents = (e4 < 0 ? -e4 + 50 : e4 + 50) / 100;
    snprintf(out, 32, "%s%lld.%02lld", e4 < 0 && cents > 0 ? "-" : "", cents / 100, cents % 100);
}

static int ch_goal_revenue(tly_db *db, const tly_report_spec *spec, tly_rows *out, tly_db_error *err)
{
    tly_rows sums;
    int rc = report(db, spec, tly_ch_goal_revenue_sql, &sums, err);
    if (rc != 0) return rc;
    tly_rows_init(out, 3);
    for (size_t i = 0; i < sums.n_rows; i++) {
        char amount[32];
        cents_text(tly_rows_int(&sums, i, 2), amount);
        const char *row[] = {tly_rows_get(&sums, i, 0), tly_rows_get(&sums, i, 1), amount};
        tly_rows_add_row(out, row);
    }
    tly_rows_free(&sums);
    return 0;
}

/* Revenue by visit: the visits' figures per value, then each value's revenue per currency (two
 * statements), as the one row per value of tly_report_revenue_by_sql. */
static int ch_revenue_by(tly_db *db, const tly_report_spec *spec, tly_rows *out, tly_db_error *err)
{
    tly_rows figures, money;
    int rc = report(db, spec, tly_ch_revenue_by_sql, &figures, err);
    if (rc != 0) return rc;
    if ((rc = report(db, spec, tly_ch_revenue_money_sql, &money, err)) != 0) {
        tly_rows_free(&figures);
        return rc;
    }
    tly_rows_init(out, 5);
    for (size_t i = 0; i < figures.n_rows; i++) {
        const char *key = tly_rows_get(&figures, i, 0);
        json_t *revenue = json_object();
        for (size_t m = 0; m < money.n_rows; m++) {
            if (strcmp(tly_rows_get(&money, m, 0), key) != 0) continue;
            char amount[32];
            cents_text(tly_rows_int(&money, m, 2), amount);
            json_object_set_new(revenue, tly_rows_get(&money, m, 1), json_string(amount));
        }
        char *text = json_dumps(revenue, JSON_COMPACT);
        const char *row[] = {key, tly_rows_get(&figures, i, 1), tly_rows_get(&figures, i, 2),
                             tly_rows_get(&figures, i, 3), text};
        tly_rows_add_row(out, row);
        tly_json_free(text);
        json_decref(revenue);
    }
    tly_rows_free(&figures);
    tly_rows_free(&money);
    return 0;
}

static int ch_funnel(tly_db *db, const tly_report_spec *spec, const tly_filter *steps, size_t n_steps,
                     tly_rows *out, tly_db_error *err)
{
    context c;
    if (context_load(db, spec->property_pk, &c, err) != 0) return -1;
    tly_buf sql = {0};
    int rc = run_built(tly_ch_funnel_sql(spec, steps, n_steps, &c.cx, &sql), &sql, out, err);
    context_free(&c);
    return rc;
}

/* Realtime: the visitors of the last five minutes, pageviews per minute over the last thirty
 * (oldest first) and the top pages, as PostgreSQL's statement answers them (store_postgresql.c). */
static int ch_realtime(tly_db *db, int property_pk, unsigned limit, tly_rows *out, tly_db_error *err)
{
    (void)db;
    long long now = (long long)tly_time_now_ms();
    char sql[1024];
    tly_rows visitors, minutes, pages;
    snprintf(sql, sizeof sql, "SELECT uniqExact(visitor) FROM %s.events WHERE property_pk = %d"
             " AND ts >= toDateTime(%lld) AND ts_ms >= %lld AND ts_ms <= %lld FORMAT JSONCompact",
             database, property_pk, (now - 300000) / 1000 - 1, now - 300000, now + 60000);
    if (run(sql, NULL, 0, &visitors, err) != 0) return -1;
    snprintf(sql, sizeof sql, "SELECT intDiv(%lld - ts_ms, 60000) AS ago, count() FROM %s.events"
             " WHERE property_pk = %d AND name = 'pageview' AND ts >= toDateTime(%lld) AND ts_ms > %lld"
             " AND ts_ms <= %lld GROUP BY ago FORMAT JSONCompact",
             now, database, property_pk, (now - 1800000) / 1000 - 1, now - 1800000, now);
    if (run(sql, NULL, 0, &minutes, err) != 0) {
        tly_rows_free(&visitors);
        return -1;
    }
    snprintf(sql, sizeof sql, "SELECT path, uniqExact(visitor) AS v, count() AS pv FROM %s.events"
             " WHERE property_pk = %d AND name = 'pageview' AND ts >= toDateTime(%lld) AND ts_ms > %lld"
             " AND ts_ms <= %lld GROUP BY path ORDER BY v DESC, pv DESC, path LIMIT %u FORMAT JSONCompact",
             database, property_pk, (now - 1800000) / 1000 - 1, now - 1800000, now + 60000, limit);
    if (run(sql, NULL, 0, &pages, err) != 0) {
        tly_rows_free(&visitors);
        tly_rows_free(&minutes);
        return -1;
    }
    long long per_minute[30] = {0};
    for (size_t i = 0; i < minutes.n_rows; i++) {
        long long ago = tly_rows_int(&minutes, i, 0);
        if (ago >= 0 && ago < 30) per_minute[ago] = tly_rows_int(&minutes, i, 1);
    }
    json_t *series = json_array();
    for (int ago = 29; ago >= 0; ago--) json_array_append_new(series, json_integer(per_minute[ago]));
    json_t *top = json_array();
    for (size_t i = 0; i < pages.n_rows; i++)
        json_array_append_new(top, json_pack("{s:s, s:I, s:I}", "path", tly_rows_get(&pages, i, 0),
                                             "unique_visitors", (json_int_t)tly_rows_int(&pages, i, 1),
                                             "pageviews", (json_int_t)tly_rows_int(&pages, i, 2)));
    char *series_text = json_dumps(series, JSON_COMPACT), *top_text = json_dumps(top, JSON_COMPACT);
    tly_rows_init(out, 3);
    const char *row[] = {tly_rows_get(&visitors, 0, 0), series_text, top_text};
    tly_rows_add_row(out, row);
    tly_json_free(series_text);
    tly_json_free(top_text);
    json_decref(series);
    json_decref(top);
    tly_rows_free(&visitors);
    tly_rows_free(&minutes);
    tly_rows_free(&pages);
    return 0;
}

const tly_events_store_ops tly_store_clickhouse = {
    .name = "clickhouse",
    .setup = ch_setup,
    .ping = ch_ping,
    .append = ch_append,
    .build_visits = NULL,
    .count_today = ch_count_today,
    .visit_of_token = ch_visit_of_token,
    .purge = ch_purge,
    .purge_property = ch_purge_property,
    .export_events = ch_export_events,
    .figures = ch_figures,
    .goal_revenue = ch_goal_revenue,
    .revenue_by = ch_revenue_by,
    .funnel = ch_funnel,
    .realtime = ch_realtime,
};
