#include "first.h"
#include "report_sql.h"
#include "timeparse.h"

#include <stdio.h>
#include <string.h>

bool tly_dim_is_event(tly_dim_kind kind)
{
    return kind == TLY_DIM_PATH || kind == TLY_DIM_HOSTNAME || kind == TLY_DIM_EVENT_TYPE ||
           kind == TLY_DIM_GOAL || kind == TLY_DIM_PROP;
}

tly_report_mode tly_report_mode_of(const tly_report_spec *spec)
{
    if (spec->n_group_by == 0) return TLY_REPORT_TOTAL;
    for (size_t i = 0; i < spec->n_group_by; i++)
        if (tly_dim_is_event(spec->group_by[i].kind)) return TLY_REPORT_EVENTS;
    return TLY_REPORT_VISITS;
}

/* The column of a visit dimension in sessions (alias s). */
static const char *visit_column(tly_dim_kind kind)
{
    switch (kind) {
    case TLY_DIM_ENTRY_PAGE: return "s.entry_path";
    case TLY_DIM_EXIT_PAGE: return "s.exit_path";
    case TLY_DIM_SOURCE: return "s.source";
    case TLY_DIM_REFERRER: return "s.referrer";
    case TLY_DIM_UTM_SOURCE: return "s.utm_source";
    case TLY_DIM_UTM_MEDIUM: return "s.utm_medium";
    case TLY_DIM_UTM_CAMPAIGN: return "s.utm_campaign";
    case TLY_DIM_UTM_TERM: return "s.utm_term";
    case TLY_DIM_UTM_CONTENT: return "s.utm_content";
    case TLY_DIM_CAMPAIGN_ID: return "s.campaign_id";
    case TLY_DIM_CAMPAIGN: return "coalesce(nullif(s.campaign_id, ''), s.utm_campaign)";
    case TLY_DIM_COUNTRY: return "s.country";
    case TLY_DIM_REGION: return "s.region";
    case TLY_DIM_CITY: return "s.city";
    case TLY_DIM_DEVICE: return "s.device";
    case TLY_DIM_BROWSER: return "s.browser";
    case TLY_DIM_BROWSER_VERSION: return "s.browser_version";
    case TLY_DIM_OS: return "s.os";
    case TLY_DIM_OS_VERSION: return "s.os_version";
    default: return NULL;
    }
}

/* Appends the value of a dimension for an event (alias e; visit dimensions through the joined
 * visit s; goals through the joined goal g). */
static void dim_expr(tly_sql *q, const tly_dim *d)
{
    switch (d->kind) {
    case TLY_DIM_PATH: tly_sql_add(q, "e.path"); break;
    case TLY_DIM_HOSTNAME: tly_sql_add(q, "e.hostname"); break;
    case TLY_DIM_EVENT_TYPE: tly_sql_add(q, "e.name"); break;
    case TLY_DIM_GOAL: tly_sql_add(q, "g.name"); break;
    case TLY_DIM_PROP:
        tly_sql_add(q, "coalesce(e.props ->> ");
        tly_sql_value(q, d->prop_key);
        tly_sql_add(q, ", '')");
        break;
    default: tly_sql_add(q, "%s", visit_column(d->kind)); break;
    }
}

static void compare_with(tly_sql *q, tly_filter_op op, const char *value)
{
    switch (op) {
    case TLY_FILTER_EQ: tly_sql_add(q, " = "); tly_sql_value(q, value); break;
    case TLY_FILTER_NE: tly_sql_add(q, " <> "); tly_sql_value(q, value); break;
    case TLY_FILTER_CONTAINS: break;   /* written around the expression: see filter_cond */
    }
}

/* One filter as a condition on an event e (goal filters look the goal up by name). */
static void event_filter(tly_sql *q, const tly_filter *f)
{
    if (f->dim.kind == TLY_DIM_GOAL) {
        tly_sql_add(q, "%sEXISTS (SELECT 1 FROM goals fg WHERE fg.property_pk = e.property_pk AND ",
                    f->op == TLY_FILTER_NE ? "NOT " : "");
        if (f->op == TLY_FILTER_CONTAINS) {
            tly_sql_add(q, "strpos(lower(fg.name), lower(");
            tly_sql_value(q, f->value);
            tly_sql_add(q, ")) > 0");
        } else {
            tly_sql_add(q, "fg.name = ");
            tly_sql_value(q, f->value);
        }
        tly_sql_add(q, " AND tally_goal_hit(fg, e.name, e.path))");
        return;
    }
    if (f->op == TLY_FILTER_CONTAINS) {
        tly_sql_add(q, "strpos(lower(");
        dim_expr(q, &f->dim);
        tly_sql_add(q, "), lower(");
        tly_sql_value(q, f->value);
        tly_sql_add(q, ")) > 0");
        return;
    }
    dim_expr(q, &f->dim);
    compare_with(q, f->op, f->value);
}

/* A visit filter: a condition on the visit s. */
static void visit_filter(tly_sql *q, const tly_filter *f)
{
    if (f->op == TLY_FILTER_CONTAINS) {
        tly_sql_add(q, "strpos(lower(%s), lower(", visit_column(f->dim.kind));
        tly_sql_value(q, f->value);
        tly_sql_add(q, ")) > 0");
        return;
    }
    tly_sql_add(q, "%s", visit_column(f->dim.kind));
    compare_with(q, f->op, f->value);
}

/* Placeholders shared by every part of the statement. */
typedef struct shared {
    int pk, tz, from, to;
    int32_t from_day_n, to_day_n;
    int ts_lo, ts_hi;    /* instants surely before and after the range (0: not a parameter yet) */
    bool rollups;        /* closed, summarised days come from rollup_days */
    bool live;           /* days under way come from live_days and the tail of raw events */
    bool weeks;          /* whole rolled-up weeks come from rollup_weeks (no interval asked) */
    bool hours;          /* rolled days come from rollup_hours (site figures by hour, 020) */
    char from_day[48], to_day[48];   /* the range's first and last day as SQL dates */
} shared;

bool tly_report_needs_visits(const tly_report_spec *spec)
{
    for (size_t i = 0; i < spec->n_group_by; i++)
        if (!tly_dim_is_event(spec->group_by[i].kind)) return true;
    for (size_t i = 0; i < spec->n_filters; i++)
        if (!tly_dim_is_event(spec->filters[i].dim.kind)) return true;
    return false;
}

bool tly_report_groups_by(const tly_report_spec *spec, tly_dim_kind kind)
{
    for (size_t i = 0; i < spec->n_group_by; i++)
        if (spec->group_by[i].kind == kind) return true;
    return false;
}

static bool groups_by_goal(const tly_report_spec *spec)
{
    return tly_report_groups_by(spec, TLY_DIM_GOAL);
}

static bool groups_by_path(const tly_report_spec *spec)
{
    return tly_report_groups_by(spec, TLY_DIM_PATH);
}

/* The local day (or hour) an instant falls in: the partial figures' bucket. */
static void bucket(tly_sql *q, const tly_report_spec *spec, const shared *sh, const char *instant)
{
    if (spec->interval == TLY_INTERVAL_HOUR)
        tly_sql_add(q, "date_trunc('hour', %s AT TIME ZONE $%d)", instant, sh->tz);
    else
        tly_sql_add(q, "(%s AT TIME ZONE $%d)::date::timestamp", instant, sh->tz);
}

static void group_list(tly_sql *q, size_t n_keys)
{
    tly_sql_add(q, " GROUP BY 1");
    for (size_t i = 0; i < n_keys; i++) tly_sql_add(q, ", %zu", i + 2);
}

static void not_rolled(tly_sql *q, const shared *sh, const char *instant)
{
    if (sh->rollups)
        tly_sql_add(q, " AND (%s AT TIME ZONE $%d)::date NOT IN (SELECT day FROM rolled)", instant, sh->tz);
    if (sh->live)
        tly_sql_add(q, " AND (%s AT TIME ZONE $%d)::date NOT IN (SELECT day FROM live)", instant, sh->tz);
}

/* A day at UTC midnight as a parameter. */
static int utc_midnight(tly_sql *q, int32_t day)
{
    char date[11], instant[32];
    tly_time_format_date(day, date);
    snprintf(instant, sizeof instant, "%s 00:00:00+00", date);
    return tly_sql_param(q, instant);
}

/* " AND e.ts ..." between constants that enclose the range, so that the planner drops the other
 * monthly partitions of events (raw's bounds are known only when the statement runs). UTC
 * offsets are within -12 and +14 hours: the day before the first and two days after the last,
 * at UTC midnight, enclose the range in any zone. */
static void events_within(tly_sql *q, shared *sh)
{
    if (sh->ts_lo == 0) {
        sh->ts_lo = utc_midnight(q, sh->from_day_n - 1);
        sh->ts_hi = utc_midnight(q, sh->to_day_n + 2);
    }
    tly_sql_add(q, " AND e.ts >= $%d::timestamptz AND e.ts < $%d::timestamptz", sh->ts_lo, sh->ts_hi);
}

/* The property's raw events, stored or archived (tally_events, sql/migrations/018), from the start
 * of the days without rollups to their end plus `after` (an SQL interval, or ""). The bounds are
 * the raw CTE's, so that only the archived days the report needs are read. */
static void raw_events(tly_sql *q, const shared *sh, const char *after)
{
    tly_sql_add(q, "tally_events($%d, (SELECT lo FROM raw), (SELECT hi FROM raw)%s)", sh->pk, after);
}

/* FROM and WHERE over the raw events of days without rollups, under the filters. */
static void event_source(tly_sql *q, const tly_report_spec *spec, shared *sh, bool join_goals)
{
    tly_sql_add(q, " FROM ");
    raw_events(q, sh, "");
    tly_sql_add(q, " e");
    if (tly_report_needs_visits(spec))
        /* An event belongs to its visitor's visit that spans it. */
        tly_sql_add(q, " JOIN sessions s ON s.property_pk = e.property_pk AND s.visitor = e.visitor"
                       " AND e.ts BETWEEN s.started_at AND s.last_seen"
                       " AND s.started_at >= (SELECT lo FROM raw) - interval '1 day'"
                       " AND s.started_at < (SELECT hi FROM raw)");
    if (join_goals)
        tly_sql_add(q, " JOIN goals g ON g.property_pk = e.property_pk AND tally_goal_hit(g, e.name, e.path)");
    tly_sql_add(q, " WHERE e.property_pk = $%d AND e.ts >= (SELECT lo FROM raw) AND e.ts < (SELECT hi FROM raw)",
                sh->pk);
    events_within(q, sh);
    not_rolled(q, sh, "e.ts");
    /* Grouped by a custom property: the events that carry it (as in the rollups). */
    for (size_t i = 0; i < spec->n_group_by; i++) {
        if (spec->group_by[i].kind != TLY_DIM_PROP) continue;
        tly_sql_add(q, " AND e.props ? ");
        tly_sql_value(q, spec->group_by[i].prop_key);
    }
    for (size_t i = 0; i < spec->n_filters; i++) {
        tly_sql_add(q, " AND ");
        if (tly_dim_is_event(spec->filters[i].dim.kind)) event_filter(q, &spec->filters[i]);
        else visit_filter(q, &spec->filters[i]);
    }
}

/* Daily figures of days without rollups, from raw events. */
static void event_part(tly_sql *q, const tly_report_spec *spec, shared *sh)
{
    tly_sql_add(q, "SELECT ");
    bucket(q, spec, sh, "e.ts");
    for (size_t i = 0; i < spec->n_group_by; i++) {
        tly_sql_add(q, ", ");
        dim_expr(q, &spec->group_by[i]);
    }
    /* A page's visitors are those who viewed it, not those who sent a custom event from it. */
    tly_sql_add(q, ", count(DISTINCT e.visitor)%s, count(*) FILTER (WHERE e.name = 'pageview'), count(*), "
                   "0::bigint, 0::bigint, 0::bigint",
                groups_by_path(spec) ? " FILTER (WHERE e.name = 'pageview')" : "");
    event_source(q, spec, sh, groups_by_goal(spec));
    group_list(q, spec->n_group_by);
}

/* The filters as conditions on a visit s ("AND ..." each). */
static void visit_filters(tly_sql *q, const tly_report_spec *spec, const shared *sh)
{
    for (size_t i = 0; i < spec->n_filters; i++) {
        const tly_filter *f = &spec->filters[i];
        tly_sql_add(q, " AND ");
        if (!tly_dim_is_event(f->dim.kind)) {
            visit_filter(q, f);
            continue;
        }
        /* A visit matches an event filter when one of its events does. */
        tly_sql_add(q, "EXISTS (SELECT 1 FROM ");
        raw_events(q, sh, " + interval '1 day'");
        tly_sql_add(q, " e WHERE e.visitor = s.visitor AND e.ts BETWEEN s.started_at AND s.last_seen AND ");
        event_filter(q, f);
        tly_sql_add(q, ")");
    }
}

/* Daily figures of visits that started on days without rollups. With only_visit_figures the
 * site's visitors, pageviews and events are left to event_part. */
static void visit_part(tly_sql *q, const tly_report_spec *spec, const shared *sh, bool only_visit_figures)
{
    tly_sql_add(q, "SELECT ");
    bucket(q, spec, sh, "s.started_at");
    for (size_t i = 0; i < spec->n_group_by; i++) tly_sql_add(q, ", %s", visit_column(spec->group_by[i].kind));
    if (only_visit_figures) tly_sql_add(q, ", 0::bigint, 0::bigint, 0::bigint");
    else tly_sql_add(q, ", count(DISTINCT s.visitor), sum(s.pageviews), sum(s.events)");
    tly_sql_add(q, ", count(*), count(*) FILTER (WHERE s.pageviews <= 1 AND s.interactive = 0), "
                   "sum(extract(epoch FROM s.last_seen - s.started_at))::bigint FROM sessions s"
                   " WHERE s.property_pk = $%d AND s.started_at >= (SELECT lo FROM raw)"
                   " AND s.started_at < (SELECT hi FROM raw)", sh->pk);
    not_rolled(q, sh, "s.started_at");
    visit_filters(q, spec, sh);
    group_list(q, spec->n_group_by);
}

static void rollup_part(tly_sql *q, const tly_report_spec *spec, const shared *sh)
{
    if (sh->hours) {
        /* The rolled days' hours, one range of the key (property, hour). */
        tly_sql_add(q, "SELECT h.hour, h.visitors, h.pageviews, h.events, h.sessions, h.bounces, h.duration"
                       " FROM rollup_hours h WHERE h.property_pk = $%d AND h.hour >= %s AND h.hour < %s + 1"
                       " AND h.hour::date IN (SELECT day FROM rolled)", sh->pk, sh->from_day, sh->to_day);
        return;
    }
    char label[TLY_DIM_LABEL_SIZE] = "total";
    if (spec->n_group_by == 1) tly_dim_label(&spec->group_by[0], label);
    tly_sql_add(q, "SELECT r.day::timestamp%s, r.visitors, r.pageviews, r.events, r.sessions, r.bounces, "
                   "r.duration FROM rollup_days r WHERE r.property_pk = $%d AND r.dim = ",
                spec->n_group_by == 1 ? ", r.value" : "", sh->pk);
    tly_sql_value(q, label);
    /* Each rolled day is one range of the key (property, day, dimension): whatever the dimension,
     * only its rows of the asked days are read. */
    if (!sh->weeks) {
        tly_sql_add(q, " AND r.day = ANY (ARRAY(SELECT day FROM rolled))");
        return;
    }
    /* The days of whole weeks are read as their weeks' sums (017), one range of the key each. */
    tly_sql_add(q, " AND r.day = ANY (ARRAY(SELECT day FROM rolled WHERE NOT EXISTS (SELECT 1 FROM weeks w"
                   " WHERE day BETWEEN w.week AND w.week + 6)))"
                   " UNION ALL SELECT w.week::timestamp%s, w.visitors, w.pageviews, w.events, w.sessions, w.bounces,"
                   " w.duration FROM rollup_weeks w WHERE w.property_pk = $%d AND w.dim = ",
                spec->n_group_by == 1 ? ", w.value" : "", sh->pk);
    tly_sql_value(q, label);
    tly_sql_add(q, " AND w.week = ANY (ARRAY(SELECT week FROM weeks))");
}

/* The live figures of days under way, as of the sessioniser's mark (migration 017). */
static void live_part(tly_sql *q, const tly_report_spec *spec, const shared *sh)
{
    tly_sql_add(q, "SELECT l.day::timestamp%s, l.visitors, l.pageviews, l.events, l.sessions, l.bounces, "
                   "l.duration::bigint FROM live_days l WHERE l.property_pk = $%d AND l.dim = '%s'"
                   " AND l.day = ANY (ARRAY(SELECT day FROM live))",
                spec->n_group_by == 1 ? ", l.value" : "", sh->pk, spec->n_group_by == 1 ? "path" : "total");
}

/* The events of live days stored after the sessioniser's mark (seconds' worth): their pageviews
 * and events add up; a visitor counts when not yet in the day's set of visitors (per path: of
 * those who viewed it). Their visits are not in `sessions` yet either, so visit figures are the
 * live rows' alone, as raw days' are the visits table's. */
static void tail_part(tly_sql *q, const tly_report_spec *spec, const shared *sh)
{
    bool by_path = spec->n_group_by == 1;
    tly_sql_add(q, "SELECT (t.ts AT TIME ZONE $%d)::date::timestamp%s, count(DISTINCT t.visitor) FILTER (WHERE ",
                sh->tz, by_path ? ", t.path" : "");
    if (by_path)
        tly_sql_add(q, "t.name = 'pageview' AND NOT EXISTS (SELECT 1 FROM live_page_visitors v"
                       " WHERE v.property_pk = $%d AND v.day = (t.ts AT TIME ZONE $%d)::date AND v.path = t.path"
                       " AND v.visitor = t.visitor)", sh->pk, sh->tz);
    else
        tly_sql_add(q, "NOT EXISTS (SELECT 1 FROM live_visitors v WHERE v.property_pk = $%d"
                       " AND v.day = (t.ts AT TIME ZONE $%d)::date AND v.visitor = t.visitor)", sh->pk, sh->tz);
    tly_sql_add(q, "), count(*) FILTER (WHERE t.name = 'pageview'), count(*), 0::bigint, 0::bigint, 0::bigint"
                   " FROM tally_live_tail($%d, (SELECT tally_day_start(min(day), $%d) FROM live),"
                   " (SELECT tally_day_start(max(day) + 1, $%d) FROM live)) t"
                   " WHERE (t.ts AT TIME ZONE $%d)::date IN (SELECT day FROM live)",
                sh->pk, sh->tz, sh->tz, sh->tz);
    group_list(q, spec->n_group_by);
}

static const char *interval_unit(tly_interval iv)
{
    switch (iv) {
    case TLY_INTERVAL_HOUR: return "hour";
    case TLY_INTERVAL_WEEK: return "week";
    case TLY_INTERVAL_MONTH: return "month";
    default: return "day";
    }
}

static const char *date_format(tly_interval iv)
{
    return iv == TLY_INTERVAL_HOUR ? "'YYYY-MM-DD\"T\"HH24:00:00'" : "'YYYY-MM-DD'";
}

#define FIGURES "visitors, pageviews, events, sessions, bounces, duration"
#define SUMS "sum(visitors)::bigint, sum(pageviews)::bigint, sum(events)::bigint, " \
             "sum(sessions)::bigint, sum(bounces)::bigint, sum(duration)::bigint"

/* " LIMIT n OFFSET m" when the spec pages its rows. */
static void limit_offset(tly_sql *q, const tly_report_spec *spec)
{
    if (spec->limit == 0) return;
    char n[16];
    snprintf(n, sizeof n, "%u", spec->limit);
    tly_sql_add(q, " LIMIT ");
    tly_sql_value(q, n);
    snprintf(n, sizeof n, "%u", spec->offset);
    tly_sql_add(q, " OFFSET ");
    tly_sql_value(q, n);
}

static void order_and_page(tly_sql *q, const tly_report_spec *spec, bool dated)
{
    tly_sql_add(q, " ORDER BY ");
    if (dated) tly_sql_add(q, "1, ");
    if (spec->order) tly_sql_add(q, "sum(%s) DESC, ", spec->order);
    for (size_t i = 0; i < spec->n_group_by; i++) tly_sql_add(q, "k%zu COLLATE \"C\", ", i + 1);
    q->text.len -= 2;   /* the last ", " */
    q->text.ptr[q->text.len] = '\0';
    limit_offset(q, spec);
}

/* The parameters every part shares, and the CTEs that say which days come from where: rolled
 * (closed days with current rollups), weeks (of rolled days, summed), live (days under way with
 * live figures) and raw (the span of the other days, as instants). */
static void prelude(tly_sql *q, const tly_report_spec *spec, shared *sh, bool rollups, bool live, bool weeks)
{
    /* By hour, rollups are the site's hours (020): days under way and days without hours are raw. */
    bool hours = rollups && spec->interval == TLY_INTERVAL_HOUR;
    char n[16];
    snprintf(n, sizeof n, "%d", spec->property_pk);
    sh->pk = tly_sql_param(q, n);
    sh->tz = tly_sql_param(q, spec->timezone);
    snprintf(n, sizeof n, "%d", (int)spec->from_day);
    sh->from = tly_sql_param(q, n);
    snprintf(n, sizeof n, "%d", (int)spec->to_day);
    sh->to = tly_sql_param(q, n);
    sh->rollups = rollups;
    sh->live = rollups && live && !hours;
    sh->weeks = rollups && weeks && !hours;
    sh->hours = hours;
    snprintf(sh->from_day, sizeof sh->from_day, "(date '1970-01-01' + $%d::int)", sh->from);
    snprintf(sh->to_day, sizeof sh->to_day, "(date '1970-01-01' + $%d::int)", sh->to);
    sh->from_day_n = spec->from_day;
    sh->to_day_n = spec->to_day;
    sh->ts_lo = sh->ts_hi = 0;

    tly_sql_add(q, "WITH ");
    if (rollups)
        tly_sql_add(q, "rolled AS MATERIALIZED (SELECT r.day FROM rollup_state r WHERE r.property_pk = $%d"
                       " AND r.day BETWEEN %s AND %s%s AND NOT EXISTS (SELECT 1 FROM rollup_dirty d"
                       " WHERE d.property_pk = r.property_pk AND d.day = r.day)), ",
                    sh->pk, sh->from_day, sh->to_day, hours ? " AND r.hours" : "");
    /* Weeks whose seven days are all within the range, rolled up and clean. */
    if (sh->weeks)
        tly_sql_add(q, "weeks AS MATERIALIZED (SELECT w.week FROM rollup_week_state w WHERE w.property_pk = $%d"
                       " AND w.week >= %s AND w.week + 6 <= %s"
                       " AND (SELECT count(*) FROM rolled r WHERE r.day BETWEEN w.week AND w.week + 6) = 7), ",
                    sh->pk, sh->from_day, sh->to_day);
    if (sh->live)
        tly_sql_add(q, "live AS MATERIALIZED (SELECT l.day FROM live_days l WHERE l.property_pk = $%d"
                       " AND l.dim = 'total' AND l.value = '' AND l.day BETWEEN %s AND %s"
                       " AND l.day NOT IN (SELECT day FROM rolled)), ",
                    sh->pk, sh->from_day, sh->to_day);
    tly_sql_add(q, "raw AS MATERIALIZED (SELECT tally_day_start(min(g.d)::date, $%d) AS lo,"
                   " tally_day_start(max(g.d)::date + 1, $%d) AS hi"
                   " FROM generate_series(%s::timestamp, %s::timestamp, interval '1 day') AS g(d)%s%s), ",
                sh->tz, sh->tz, sh->from_day, sh->to_day,
                rollups ? " WHERE g.d::date NOT IN (SELECT day FROM rolled)" : "",
                sh->live ? " AND g.d::date NOT IN (SELECT day FROM live)" : "");
}

int tly_report_revenue_sql(const tly_report_spec *spec, tly_sql *q)
{
    shared sh;
    bool rollups = spec->n_filters == 0;
    prelude(q, spec, &sh, rollups, false, false);
    tly_sql_add(q, "money (goal, currency, amount) AS (");
    if (rollups)
        tly_sql_add(q, "SELECT goal, currency, amount FROM rollup_revenue WHERE property_pk = $%d"
                       " AND day = ANY (ARRAY(SELECT day FROM rolled)) UNION ALL ", sh.pk);
    tly_sql_add(q, "SELECT g.name, e.revenue_currency, e.revenue_amount");
    event_source(q, spec, &sh, true);
    tly_sql_add(q, " AND e.revenue_amount IS NOT NULL)"
                   " SELECT goal, currency, round(sum(amount), 2)::text FROM money GROUP BY 1, 2 ORDER BY 1, 2");
    return q->overflow ? -1 : 0;
}

int tly_report_revenue_by_sql(const tly_report_spec *spec, tly_sql *q)
{
    shared sh;
    prelude(q, spec, &sh, false, false, false);
    bool keyed = spec->n_group_by == 1;
    tly_sql_add(q, "v AS MATERIALIZED (SELECT s.property_pk, s.visitor, s.started_at, s.last_seen, %s AS k1"
                   " FROM sessions s WHERE s.property_pk = $%d AND s.started_at >= (SELECT lo FROM raw)"
                   " AND s.started_at < (SELECT hi FROM raw)",
                keyed ? visit_column(spec->group_by[0].kind) : "''::text", sh.pk);
    visit_filters(q, spec, &sh);
    /* The revenue events of those visits (refunds are negative amounts). */
    tly_sql_add(q, "), paid AS (SELECT v.k1, v.visitor, e.revenue_currency AS currency, e.revenue_amount AS amount"
                   " FROM v JOIN ");
    raw_events(q, &sh, " + interval '1 day'");
    tly_sql_add(q, " e ON e.visitor = v.visitor AND e.ts BETWEEN v.started_at AND v.last_seen"
                   " WHERE e.revenue_amount IS NOT NULL),"
                   " totals AS (SELECT k1, count(DISTINCT visitor) AS visitors, count(*) AS sessions FROM v GROUP BY k1),"
                   " conv AS (SELECT k1, count(DISTINCT visitor) FILTER (WHERE amount > 0) AS conversions"
                   " FROM paid GROUP BY k1),"
                   " money AS (SELECT k1, currency, round(sum(amount), 2) AS amount FROM paid GROUP BY k1, currency)"
                   " SELECT t.k1, t.visitors, t.sessions, coalesce(c.conversions, 0),"
                   " coalesce((SELECT json_object_agg(m.currency, m.amount::text ORDER BY m.currency) FROM money m"
                   " WHERE m.k1 = t.k1), '{}')::text"
                   " FROM totals t LEFT JOIN conv c USING (k1)%s"
                   " ORDER BY 4 DESC, 2 DESC, t.k1 COLLATE \"C\"",
                spec->drop_empty ? " WHERE t.k1 <> ''" : "");
    limit_offset(q, spec);
    return q->overflow ? -1 : 0;
}

int tly_report_funnel_sql(const tly_report_spec *spec, const tly_filter *steps, size_t n_steps, tly_sql *q)
{
    shared sh;
    prelude(q, spec, &sh, false, false, false);
    tly_sql_add(q, "v AS MATERIALIZED (SELECT s.property_pk, s.session, s.visitor, s.started_at, s.last_seen"
                   " FROM sessions s WHERE s.property_pk = $%d AND s.started_at >= (SELECT lo FROM raw)"
                   " AND s.started_at < (SELECT hi FROM raw)", sh.pk);
    visit_filters(q, spec, &sh);
    /* Each event of those visits, with which steps it satisfies. */
    tly_sql_add(q, "), e AS MATERIALIZED (SELECT v.session, v.visitor, e.ts, e.seq");
    for (size_t i = 0; i < n_steps; i++) {
        tly_sql_add(q, ", (%s", steps[i].dim.kind == TLY_DIM_PATH ? "e.name = 'pageview' AND " : "");
        event_filter(q, &steps[i]);
        tly_sql_add(q, ") AS m%zu", i + 1);
    }
    tly_sql_add(q, " FROM v JOIN ");
    raw_events(q, &sh, " + interval '1 day'");
    tly_sql_add(q, " e ON e.visitor = v.visitor AND e.ts BETWEEN v.started_at AND v.last_seen)");
    /* f<k>: the visits that reached step k, and the first event that did, after step k-1's. */
    for (size_t i = 1; i <= n_steps; i++) {
        if (i == 1)
            tly_sql_add(q, ", f1 AS (SELECT DISTINCT ON (session) session, visitor, ts, seq FROM e WHERE m1"
                           " ORDER BY session, ts, seq)");
        else
            tly_sql_add(q, ", f%zu AS (SELECT DISTINCT ON (e.session) e.session, e.visitor, e.ts, e.seq FROM e"
                           " JOIN f%zu p ON p.session = e.session WHERE e.m%zu AND (e.ts, e.seq) > (p.ts, p.seq)"
                           " ORDER BY e.session, e.ts, e.seq)", i, i - 1, i);
    }
    tly_sql_add(q, " SELECT (SELECT count(*) FROM v), (SELECT count(DISTINCT visitor) FROM v)");
    for (size_t i = 1; i <= n_steps; i++)
        tly_sql_add(q, ", (SELECT count(*) FROM f%zu), (SELECT count(DISTINCT visitor) FROM f%zu)", i, i);
    return q->overflow ? -1 : 0;
}

int tly_report_sql(const tly_report_spec *spec, tly_sql *q)
{
    shared sh;
    tly_report_mode mode = tly_report_mode_of(spec);
    /* Days under way have live figures for the whole site and per path (017). */
    bool live = mode == TLY_REPORT_TOTAL || (spec->n_group_by == 1 && spec->group_by[0].kind == TLY_DIM_PATH);
    /* Without an interval, whole rolled-up weeks are read as their sums (017). */
    /* By hour, only the site's figures have rollups (020). */
    bool rollups = spec->n_filters == 0 && (spec->interval == TLY_INTERVAL_HOUR ? spec->n_group_by == 0
                                                                               : spec->n_group_by <= 1);
    prelude(q, spec, &sh, rollups, live, spec->interval == TLY_INTERVAL_NONE);
    const char *from_day = sh.from_day, *to_day = sh.to_day;
    tly_sql_add(q, "parts (bucket");
    for (size_t i = 0; i < spec->n_group_by; i++) tly_sql_add(q, ", k%zu", i + 1);
    tly_sql_add(q, ", " FIGURES ") AS (");
    if (sh.rollups) {
        rollup_part(q, spec, &sh);
        tly_sql_add(q, " UNION ALL ");
    }
    if (sh.live) {
        live_part(q, spec, &sh);
        tly_sql_add(q, " UNION ALL ");
        tail_part(q, spec, &sh);
        tly_sql_add(q, " UNION ALL ");
    }
    switch (mode) {
    case TLY_REPORT_TOTAL:
        event_part(q, spec, &sh);
        if (!spec->visit_figures_unused) {
            tly_sql_add(q, " UNION ALL ");
            visit_part(q, spec, &sh, true);
        }
        break;
    case TLY_REPORT_VISITS: visit_part(q, spec, &sh, false); break;
    case TLY_REPORT_EVENTS: event_part(q, spec, &sh); break;
    }
    tly_sql_add(q, ")");

    const char *unit = interval_unit(spec->interval);
    bool dated = spec->interval != TLY_INTERVAL_NONE;
    if (dated && spec->zero_fill && spec->n_group_by == 0) {
        tly_sql_add(q, ", agg AS (SELECT date_trunc('%s', bucket) AS b, " SUMS " FROM parts GROUP BY 1)"
                       " SELECT to_char(g.b, %s), coalesce(a.visitors, 0), coalesce(a.pageviews, 0),"
                       " coalesce(a.events, 0), coalesce(a.sessions, 0), coalesce(a.bounces, 0),"
                       " coalesce(a.duration, 0)"
                       " FROM generate_series(date_trunc('%s', %s::timestamp), date_trunc('%s', %s::timestamp)%s,"
                       " interval '1 %s') AS g(b)"
                       " LEFT JOIN agg a (b, " FIGURES ") ON a.b = g.b ORDER BY g.b",
                    unit, date_format(spec->interval), unit, from_day, unit, to_day,
                    spec->interval == TLY_INTERVAL_HOUR ? " + interval '23 hours'" : "", unit);
        return q->overflow ? -1 : 0;
    }
    tly_sql_add(q, " SELECT ");
    if (dated) tly_sql_add(q, "to_char(date_trunc('%s', bucket), %s), ", unit, date_format(spec->interval));
    for (size_t i = 0; i < spec->n_group_by; i++) tly_sql_add(q, "k%zu, ", i + 1);
    tly_sql_add(q, SUMS " FROM parts WHERE true");
    if (spec->n_group_by > 0 && spec->drop_empty) tly_sql_add(q, " AND k1 <> ''");
    if (spec->n_group_by > 0 && spec->drop_value) {
        tly_sql_add(q, " AND k1 <> ");
        tly_sql_value(q, spec->drop_value);
    }
    tly_sql_add(q, " GROUP BY ");
    if (dated) tly_sql_add(q, "1, ");
    for (size_t i = 0; i < spec->n_group_by; i++) tly_sql_add(q, "k%zu, ", i + 1);
    if (!dated && spec->n_group_by == 0) tly_sql_add(q, "()  ");
    q->text.len -= 2;
    q->text.ptr[q->text.len] = '\0';
    if (spec->viewed_only) tly_sql_add(q, " HAVING sum(pageviews) > 0");
    if (dated || spec->n_group_by > 0) order_and_page(q, spec, dated);
    return q->overflow ? -1 : 0;
}
