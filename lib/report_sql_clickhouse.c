#include "first.h"
#include "report_sql_clickhouse.h"
#include "clickhouse.h"
#include "timeparse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DAY_SECONDS 86400

/* What every part of one statement shares: the property, its zone and the range as instants. */
typedef struct shared {
    const tly_report_spec *spec;
    const tly_ch_report_context *cx;
    char table[80];          /* database.events */
    tly_buf tz;              /* the zone as a literal */
    tly_buf lo, hi;          /* the range's first instant and the one after it, as DateTime */
    long long gap_ms;        /* the visit timeout */
} shared;

static void add(tly_buf *q, const char *fmt, ...) TLY_PRINTF(2, 3);
static void add(tly_buf *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tly_buf_vprintf(q, fmt, ap);
    va_end(ap);
}

static void shared_init(shared *sh, const tly_report_spec *spec, const tly_ch_report_context *cx)
{
    memset(sh, 0, sizeof *sh);
    sh->spec = spec;
    sh->cx = cx;
    snprintf(sh->table, sizeof sh->table, "%s.events", cx->database);
    tly_ch_quote(&sh->tz, spec->timezone);
    char from[11], after[11];
    tly_time_format_date(spec->from_day, from);
    tly_time_format_date(spec->to_day + 1, after);
    add(&sh->lo, "toDateTime('%s 00:00:00', %s)", from, tly_buf_cstr(&sh->tz));
    add(&sh->hi, "toDateTime('%s 00:00:00', %s)", after, tly_buf_cstr(&sh->tz));
    sh->gap_ms = (long long)cx->session_timeout * 1000;
}

static void shared_free(shared *sh)
{
    tly_buf_free(&sh->tz);
    tly_buf_free(&sh->lo);
    tly_buf_free(&sh->hi);
}

/* --- dimensions and filters -------------------------------------------------------------------- */

/* The visit attributes a visit may be grouped or filtered by, as columns of a visit (v_...). */
static const char *visit_attr(tly_dim_kind kind)
{
    switch (kind) {
    case TLY_DIM_SOURCE: return "source";
    case TLY_DIM_REFERRER: return "referrer";
    case TLY_DIM_UTM_SOURCE: return "utm_source";
    case TLY_DIM_UTM_MEDIUM: return "utm_medium";
    case TLY_DIM_UTM_CAMPAIGN: return "utm_campaign";
    case TLY_DIM_UTM_TERM: return "utm_term";
    case TLY_DIM_UTM_CONTENT: return "utm_content";
    case TLY_DIM_CAMPAIGN_ID: return "campaign_id";
    case TLY_DIM_COUNTRY: return "country";
    case TLY_DIM_REGION: return "region";
    case TLY_DIM_CITY: return "city";
    case TLY_DIM_DEVICE: return "device";
    case TLY_DIM_BROWSER: return "browser";
    case TLY_DIM_BROWSER_VERSION: return "browser_version";
    case TLY_DIM_OS: return "os";
    case TLY_DIM_OS_VERSION: return "os_version";
    default: return NULL;
    }
}

/* Appends the value of a visit dimension of a visit. */
static void visit_dim(tly_buf *q, tly_dim_kind kind)
{
    switch (kind) {
    case TLY_DIM_ENTRY_PAGE: add(q, "v_entry_path"); break;
    case TLY_DIM_EXIT_PAGE: add(q, "v_exit_path"); break;
    case TLY_DIM_CAMPAIGN: add(q, "if(v_campaign_id != '', v_campaign_id, v_utm_campaign)"); break;
    default: add(q, "v_%s", visit_attr(kind)); break;
    }
}

/* Whether an event hits goal g (the goal_hit of 005_rollups.sql). */
static void goal_hit(tly_buf *q, const tly_ch_goal *g)
{
    if (g->event_name) {
        add(q, "(name = ");
        tly_ch_quote(q, g->event_name);
        add(q, ")");
        return;
    }
    tly_buf re = {0};
    tly_ch_goal_regex(&re, g->path_pattern);
    add(q, "(name = 'pageview' AND match(path, ");
    tly_ch_quote(q, tly_buf_cstr(&re));
    add(q, "))");
    tly_buf_free(&re);
}

/* Lower-cases ASCII letters only, as PostgreSQL's lower() does under the C locale and
 * ClickHouse's lower() does. */
static bool contains_ascii_ci(const char *hay, const char *needle)
{
    size_t n = strlen(hay), m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && tolower((unsigned char)hay[i + j]) == tolower((unsigned char)needle[j])) j++;
        if (j == m) return true;
    }
    return false;
}

/* Whether goal g is what a filter on goals names (== and != by name, =~ by part of it). */
static bool goal_named(const tly_ch_goal *g, const tly_filter *f)
{
    if (f->op == TLY_FILTER_CONTAINS) return contains_ascii_ci(g->name, f->value);
    return strcmp(g->name, f->value) == 0;
}

/* The array of the names of the goals an event hits. */
static void goal_names(tly_buf *q, const shared *sh)
{
    if (sh->cx->n_goals == 0) {
        add(q, "emptyArrayString()");
        return;
    }
    add(q, "arrayFilter(g -> g != '', [");
    for (size_t i = 0; i < sh->cx->n_goals; i++) {
        add(q, "%sif(", i ? ", " : "");
        goal_hit(q, &sh->cx->goals[i]);
        add(q, ", ");
        tly_ch_quote(q, sh->cx->goals[i].name);
        add(q, ", '')");
    }
    add(q, "])");
}

/* Appends the value of an event dimension of an event (columns by their own names; the custom
 * properties as prop_keys/prop_values where `joined`, since dotted names do not pass through a
 * subquery). Goals are grouped through arrayJoin: an event counts for every goal it hits. */
static void event_dim(tly_buf *q, const shared *sh, const tly_dim *d, bool joined)
{
    switch (d->kind) {
    case TLY_DIM_PATH: add(q, "path"); break;
    case TLY_DIM_HOSTNAME: add(q, "hostname"); break;
    case TLY_DIM_EVENT_TYPE: add(q, "name"); break;
    case TLY_DIM_GOAL:
        add(q, "arrayJoin(");
        goal_names(q, sh);
        add(q, ")");
        break;
    case TLY_DIM_PROP:
        add(q, joined ? "prop_values[indexOf(prop_keys, " : "props.value[indexOf(props.key, ");
        tly_ch_quote(q, d->prop_key);
        add(q, ")]");
        break;
    default: break;
    }
}

/* Appends `expr op value` for a filter (=~: contains, ignoring the case of ASCII letters, as
 * PostgreSQL's lower() under the C locale and ClickHouse's lower() do). */
static void compare(tly_buf *q, const tly_filter *f, const char *expr)
{
    if (f->op == TLY_FILTER_CONTAINS) {
        add(q, "position(lower(%s), lower(", expr);
        tly_ch_quote(q, f->value);
        add(q, ")) > 0");
        return;
    }
    add(q, "%s %s ", expr, f->op == TLY_FILTER_NE ? "!=" : "=");
    tly_ch_quote(q, f->value);
}

/* One event filter as a condition on an event. */
static void event_filter(tly_buf *q, const shared *sh, const tly_filter *f, bool joined)
{
    if (f->dim.kind == TLY_DIM_GOAL) {
        add(q, "%s(0", f->op == TLY_FILTER_NE ? "NOT " : "");
        for (size_t i = 0; i < sh->cx->n_goals; i++) {
            if (!goal_named(&sh->cx->goals[i], f)) continue;
            add(q, " OR ");
            goal_hit(q, &sh->cx->goals[i]);
        }
        add(q, ")");
        return;
    }
    tly_buf expr = {0};
    event_dim(&expr, sh, &f->dim, joined);
    compare(q, f, tly_buf_cstr(&expr));
    tly_buf_free(&expr);
}

/* One visit filter (a visit dimension) as a condition on a visit. */
static void visit_filter(tly_buf *q, const tly_filter *f)
{
    tly_buf expr = {0};
    visit_dim(&expr, f->dim.kind);
    compare(q, f, tly_buf_cstr(&expr));
    tly_buf_free(&expr);
}

static size_t event_filter_count(const tly_report_spec *spec)
{
    size_t n = 0;
    for (size_t i = 0; i < spec->n_filters; i++) n += tly_dim_is_event(spec->filters[i].dim.kind);
    return n;
}

/* --- time -------------------------------------------------------------------------------------- */

/* The local day ('YYYY-MM-DD'), or hour ('YYYY-MM-DDTHH:00:00') with an hourly interval, of a
 * DateTime: the bucket of the partial figures. */
static void bucket(tly_buf *q, const shared *sh, const char *instant)
{
    if (sh->spec->interval == TLY_INTERVAL_HOUR)
        add(q, "formatDateTime(%s, '%%Y-%%m-%%dT%%H:00:00', %s)", instant, tly_buf_cstr(&sh->tz));
    else
        add(q, "toString(toDate(%s, %s))", instant, tly_buf_cstr(&sh->tz));
}

/* The interval a bucket falls in, as the report names it. */
static void interval_of(tly_buf *q, tly_interval iv, const char *b)
{
    switch (iv) {
    case TLY_INTERVAL_WEEK: add(q, "toString(toMonday(toDate(%s)))", b); break;
    case TLY_INTERVAL_MONTH: add(q, "toString(toStartOfMonth(toDate(%s)))", b); break;
    default: add(q, "%s", b); break;
    }
}

/* The range's instants in milliseconds, optionally widened by days. */
static void lo_ms(tly_buf *q, const shared *sh, int days)
{
    add(q, "(toInt64(toUnixTimestamp(%s)) * 1000 - %lld)", tly_buf_cstr(&sh->lo), (long long)days * DAY_SECONDS * 1000);
}

static void hi_ms(tly_buf *q, const shared *sh, int days)
{
    add(q, "(toInt64(toUnixTimestamp(%s)) * 1000 + %lld)", tly_buf_cstr(&sh->hi), (long long)days * DAY_SECONDS * 1000);
}

/* The events of the property from `days` before the range to `days` after it. */
static void event_window(tly_buf *q, const shared *sh, int days)
{
    add(q, "property_pk = %d AND ts >= %s - %d AND ts < %s + %d", sh->spec->property_pk, tly_buf_cstr(&sh->lo),
        days * DAY_SECONDS, tly_buf_cstr(&sh->hi), days * DAY_SECONDS);
}

/* --- visits ------------------------------------------------------------------------------------ */

/* The attributes of a visit a statement uses (group_by and filters), in a fixed order. */
typedef struct visit_attrs {
    const char *names[TLY_DIM_COUNT];
    size_t n;
    bool paths;         /* entry and exit pages (else they are left empty, and paths unread) */
} visit_attrs;

static void want_attr(visit_attrs *a, tly_dim_kind kind)
{
    if (kind == TLY_DIM_ENTRY_PAGE || kind == TLY_DIM_EXIT_PAGE) a->paths = true;
    const char *names[2] = {visit_attr(kind), NULL};
    if (kind == TLY_DIM_CAMPAIGN) {
        names[0] = "campaign_id";
        names[1] = "utm_campaign";
    }
    for (size_t k = 0; k < 2 && names[k]; k++) {
        bool seen = false;
        for (size_t i = 0; i < a->n; i++) seen = seen || strcmp(a->names[i], names[k]) == 0;
        if (!seen) a->names[a->n++] = names[k];
    }
}

static void attrs_of(const tly_report_spec *spec, visit_attrs *a)
{
    memset(a, 0, sizeof *a);
    for (size_t i = 0; i < spec->n_group_by; i++) want_attr(a, spec->group_by[i].kind);
    for (size_t i = 0; i < spec->n_filters; i++) want_attr(a, spec->filters[i].dim.kind);
}

/* Each visitor's key for building visits: the same person's hash of yesterday (prev_visitor) when
 * its last event is within the timeout of this hash's first, so that a visit crosses midnight.
 * A daily hash's events all fall on its UTC day, so only hashes whose first event is within the
 * timeout after a midnight can continue one, and only the last timeout before a midnight can be
 * continued: the map reads just those events and holds just those visitors (the others keep
 * their own hash). */
static void person_map(tly_buf *q, const shared *sh)
{
    long long day_ms = (long long)DAY_SECONDS * 1000;
    add(q, "SELECT visitor, if(prev_last >= first_ms - %lld, prev, visitor) AS person FROM ("
           "SELECT visitor, min(ts_ms) AS first_ms, any(assumeNotNull(prev_visitor)) AS prev FROM %s WHERE ",
        sh->gap_ms, sh->table);
    event_window(q, sh, 1);
    add(q, " AND isNull(session) AND isNotNull(prev_visitor) AND ts_ms %% %lld < %lld GROUP BY visitor)"
           " ALL INNER JOIN (SELECT visitor AS prev, max(ts_ms) AS prev_last FROM %s WHERE ",
        day_ms, sh->gap_ms, sh->table);
    event_window(q, sh, 1);
    add(q, " AND isNull(session) AND ts_ms %% %lld >= %lld GROUP BY visitor) USING prev", day_ms, day_ms - sh->gap_ms);
}

/* Every visit of the events from a day before the range to a day after it: v_kind (0 by
 * visitor, 1 by explicit session), v_kid and v_no name it; then v_visitor, v_start and v_last
 * (milliseconds), v_entry_path, v_exit_path, v_pageviews, v_events, v_interactive (interactive
 * events other than pageviews), and v_<attribute> for each attribute asked for. */
static void visits(tly_buf *q, const shared *sh, const visit_attrs *a)
{
    /* Each event as a tuple e: (ts_ms, seq, visitor, is a pageview, path, interactive, the
     * attributes asked for). Without entry or exit pages the path is a constant 0: sorting and
     * regrouping strings is much of what building visits costs. */
    add(q, "SELECT v_kind, v_kid, v_no, argMin(e.3, i) AS v_visitor, min(e.1) AS v_start, max(e.1) AS v_last, %s,"
           " toUInt64(countIf(e.4 = 1)) AS v_pageviews, toUInt64(count()) AS v_events,"
           " toUInt64(countIf(e.4 = 0 AND e.6 = 1)) AS v_interactive",
        a->paths ? "argMinIf(e.5, i, e.4 = 1) AS v_entry_path, argMaxIf(e.5, i, e.4 = 1) AS v_exit_path"
                 : "'' AS v_entry_path, '' AS v_exit_path");
    for (size_t i = 0; i < a->n; i++) add(q, ", argMin(e.%zu, i) AS v_%s", i + 7, a->names[i]);
    /* Each key's events in order of time and arrival; a new visit where the gap exceeds the
     * timeout (never within an explicit session). */
    add(q, " FROM (SELECT kind AS v_kind, kid AS v_kid,"
           " arraySort(x -> (x.1, x.2), groupArray((ts_ms, seq, visitor, pv, %s, interactive",
        a->paths ? "path" : "toUInt8(0)");
    for (size_t i = 0; i < a->n; i++) add(q, ", %s", a->names[i]);
    add(q, "))) AS s, arrayCumSum(arrayMap(j -> toUInt32(j = 1 OR (kind = 0 AND s[j].1 - s[j - 1].1 > %lld)),"
           " arrayEnumerate(s))) AS nos FROM (SELECT if(isNull(session), 0, 1) AS kind,"
           " if(isNull(session), if(person = 0, visitor, person), assumeNotNull(session)) AS kid,"
           " ts_ms, seq, visitor, pv%s, interactive", sh->gap_ms, a->paths ? ", path" : "");
    for (size_t i = 0; i < a->n; i++) add(q, ", %s", a->names[i]);
    add(q, " FROM (SELECT session, ts_ms, seq, visitor, toUInt8(name = 'pageview') AS pv%s, interactive",
        a->paths ? ", path" : "");
    for (size_t i = 0; i < a->n; i++) add(q, ", %s", a->names[i]);
    add(q, " FROM %s WHERE ", sh->table);
    event_window(q, sh, 1);
    add(q, ") ANY LEFT JOIN (");
    person_map(q, sh);
    add(q, ") USING visitor) GROUP BY kind, kid) ARRAY JOIN s AS e, nos AS v_no, arrayEnumerate(s) AS i"
           " GROUP BY v_kind, v_kid, v_no");
}

/* The visits, each with m<k> = whether one of its visitor's events within its span matches the
 * k-th event filter (PostgreSQL: EXISTS (... e.visitor = s.visitor AND e.ts BETWEEN ...)). */
static void visits_matching(tly_buf *q, const shared *sh, const visit_attrs *a)
{
    const tly_report_spec *spec = sh->spec;
    if (event_filter_count(spec) == 0) {
        visits(q, sh, a);
        return;
    }
    add(q, "SELECT v_kind, v_kid, v_no, any(v_visitor) AS v_visitor, any(v_start) AS v_start, any(v_last) AS v_last,"
           " any(v_entry_path) AS v_entry_path, any(v_exit_path) AS v_exit_path, any(v_pageviews) AS v_pageviews,"
           " any(v_events) AS v_events, any(v_interactive) AS v_interactive");
    for (size_t i = 0; i < a->n; i++) add(q, ", any(v_%s) AS v_%s", a->names[i], a->names[i]);
    size_t k = 0;
    for (size_t i = 0; i < spec->n_filters; i++)
        if (tly_dim_is_event(spec->filters[i].dim.kind))
            add(q, ", max(f_ts >= w_start AND f_ts <= w_last AND f%zu) AS m%zu", k, k), k++;
    /* w_start and w_last: the span under names that the aggregates above do not shadow. */
    add(q, " FROM (SELECT *, v_visitor AS k_visitor, v_start AS w_start, v_last AS w_last FROM (");
    visits(q, sh, a);
    add(q, ")) ALL LEFT JOIN (SELECT visitor AS k_visitor, ts_ms AS f_ts");
    k = 0;
    for (size_t i = 0; i < spec->n_filters; i++) {
        if (!tly_dim_is_event(spec->filters[i].dim.kind)) continue;
        add(q, ", toUInt8(");
        event_filter(q, sh, &spec->filters[i], false);
        add(q, ") AS f%zu", k++);
    }
    add(q, " FROM %s WHERE ", sh->table);
    event_window(q, sh, 1);
    add(q, " AND (0");
    for (size_t i = 0; i < spec->n_filters; i++) {
        if (!tly_dim_is_event(spec->filters[i].dim.kind)) continue;
        add(q, " OR ");
        event_filter(q, sh, &spec->filters[i], false);
    }
    add(q, ")) USING k_visitor GROUP BY v_kind, v_kid, v_no");
}

/* The filters as conditions on a visit ("AND ..." each). */
static void visit_conditions(tly_buf *q, const shared *sh)
{
    size_t k = 0;
    for (size_t i = 0; i < sh->spec->n_filters; i++) {
        const tly_filter *f = &sh->spec->filters[i];
        if (tly_dim_is_event(f->dim.kind)) {
            add(q, " AND m%zu", k++);
        } else {
            add(q, " AND ");
            visit_filter(q, f);
        }
    }
}

/* --- the parts --------------------------------------------------------------------------------- */

#define ZERO_VISIT_FIGURES "toUInt64(0) AS sessions, toUInt64(0) AS bounces, toUInt64(0) AS duration"

static void group_list(tly_buf *q, size_t n_keys)
{
    add(q, " GROUP BY bucket");
    for (size_t i = 0; i < n_keys; i++) add(q, ", k%zu", i + 1);
}

/* FROM and WHERE over the events of the range under the filters; with visit dimensions, each
 * event joined to its visitor's visits that span it (visits started at most a day before). */
static void event_source(tly_buf *q, const shared *sh)
{
    const tly_report_spec *spec = sh->spec;
    bool joined = tly_report_needs_visits(spec);
    if (joined) {
        add(q, " FROM (SELECT visitor AS k_visitor, visitor, ts, ts_ms, name, path, hostname,"
               " props.key AS prop_keys, props.value AS prop_values, revenue_amount_e4, revenue_currency FROM %s WHERE ",
            sh->table);
        event_window(q, sh, 0);
        add(q, ") ALL INNER JOIN (SELECT *, v_visitor AS k_visitor FROM (");
        visit_attrs a;
        attrs_of(spec, &a);
        visits(q, sh, &a);
        add(q, ") WHERE v_start >= ");
        lo_ms(q, sh, 1);
        add(q, " AND v_start < ");
        hi_ms(q, sh, 0);
        add(q, ") USING k_visitor WHERE ts_ms >= v_start AND ts_ms <= v_last");
    } else {
        add(q, " FROM %s WHERE ", sh->table);
        event_window(q, sh, 0);
    }
    /* Grouped by a custom property: the events that carry it. */
    for (size_t i = 0; i < spec->n_group_by; i++) {
        if (spec->group_by[i].kind != TLY_DIM_PROP) continue;
        add(q, joined ? " AND has(prop_keys, " : " AND has(props.key, ");
        tly_ch_quote(q, spec->group_by[i].prop_key);
        add(q, ")");
    }
    for (size_t i = 0; i < spec->n_filters; i++) {
        const tly_filter *f = &spec->filters[i];
        add(q, " AND ");
        if (tly_dim_is_event(f->dim.kind)) event_filter(q, sh, f, joined);
        else visit_filter(q, f);
    }
}

/* Daily (or hourly) figures from events. */
static void event_part(tly_buf *q, const shared *sh)
{
    const tly_report_spec *spec = sh->spec;
    bool joined = tly_report_needs_visits(spec);
    add(q, "SELECT ");
    bucket(q, sh, "ts");
    add(q, " AS bucket");
    for (size_t i = 0; i < spec->n_group_by; i++) {
        add(q, ", ");
        if (tly_dim_is_event(spec->group_by[i].kind)) event_dim(q, sh, &spec->group_by[i], joined);
        else visit_dim(q, spec->group_by[i].kind);
        add(q, " AS k%zu", i + 1);
    }
    /* A page's visitors are those who viewed it, not those who sent a custom event from it. */
    add(q, ", toUInt64(%s) AS visitors, toUInt64(countIf(name = 'pageview')) AS pageviews,"
           " toUInt64(count()) AS events, " ZERO_VISIT_FIGURES,
        tly_report_groups_by(spec, TLY_DIM_PATH) ? "uniqExactIf(visitor, name = 'pageview')" : "uniqExact(visitor)");
    event_source(q, sh);
    group_list(q, spec->n_group_by);
}

/* Daily (or hourly) figures of the visits that started in the range. With only_visit_figures the
 * site's visitors, pageviews and events are left to event_part. */
static void visit_part(tly_buf *q, const shared *sh, bool only_visit_figures)
{
    const tly_report_spec *spec = sh->spec;
    add(q, "SELECT ");
    bucket(q, sh, "toDateTime(intDiv(v_start, 1000))");
    add(q, " AS bucket");
    for (size_t i = 0; i < spec->n_group_by; i++) {
        add(q, ", ");
        visit_dim(q, spec->group_by[i].kind);
        add(q, " AS k%zu", i + 1);
    }
    if (only_visit_figures)
        add(q, ", toUInt64(0) AS visitors, toUInt64(0) AS pageviews, toUInt64(0) AS events");
    else
        add(q, ", toUInt64(uniqExact(v_visitor)) AS visitors, toUInt64(sum(v_pageviews)) AS pageviews,"
               " toUInt64(sum(v_events)) AS events");
    /* Duration: seconds summed over the bucket's visits, rounded half up as numeric::bigint does. */
    add(q, ", toUInt64(count()) AS sessions, toUInt64(countIf(v_pageviews <= 1 AND v_interactive = 0)) AS bounces,"
           " toUInt64(intDiv(sum(v_last - v_start) + 500, 1000)) AS duration FROM (");
    visit_attrs a;
    attrs_of(spec, &a);
    visits_matching(q, sh, &a);
    add(q, ") WHERE v_start >= ");
    lo_ms(q, sh, 0);
    add(q, " AND v_start < ");
    hi_ms(q, sh, 0);
    visit_conditions(q, sh);
    group_list(q, spec->n_group_by);
}

/* --- the statement ----------------------------------------------------------------------------- */

#define SUMS "toUInt64(sum(visitors)) AS s_visitors, toUInt64(sum(pageviews)) AS s_pageviews, " \
             "toUInt64(sum(events)) AS s_events, toUInt64(sum(sessions)) AS s_sessions, " \
             "toUInt64(sum(bounces)) AS s_bounces, toUInt64(sum(duration)) AS s_duration"

static void parts(tly_buf *q, const shared *sh)
{
    switch (tly_report_mode_of(sh->spec)) {
    case TLY_REPORT_TOTAL:
        event_part(q, sh);
        add(q, " UNION ALL ");
        visit_part(q, sh, true);
        break;
    case TLY_REPORT_VISITS: visit_part(q, sh, false); break;
    case TLY_REPORT_EVENTS: event_part(q, sh); break;
    }
}

int tly_ch_report_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *q)
{
    shared sh;
    shared_init(&sh, spec, cx);
    bool dated = spec->interval != TLY_INTERVAL_NONE;
    if (dated && spec->zero_fill && spec->n_group_by == 0) {
        char from[11];
        tly_time_format_date(spec->from_day, from);
        long long days = (long long)spec->to_day - spec->from_day + 1;
        add(q, "SELECT d, s_visitors, s_pageviews, s_events, s_sessions, s_bounces, s_duration FROM (");
        if (spec->interval == TLY_INTERVAL_HOUR) {
            add(q, "SELECT formatDateTime(toDateTime('%s 00:00:00', 'UTC') + number * 3600,"
                   " '%%Y-%%m-%%dT%%H:00:00', 'UTC') AS d FROM system.numbers LIMIT %lld", from, days * 24);
        } else {
            add(q, "SELECT DISTINCT ");
            char day[64];
            snprintf(day, sizeof day, "toString(toDate('%s') + number)", from);
            interval_of(q, spec->interval, day);
            add(q, " AS d FROM (SELECT number FROM system.numbers LIMIT %lld)", days);
        }
        add(q, ") ANY LEFT JOIN (SELECT ");
        interval_of(q, spec->interval, "bucket");
        add(q, " AS d, " SUMS " FROM (");
        parts(q, &sh);
        add(q, ") GROUP BY d) USING d ORDER BY d");
        shared_free(&sh);
        return 0;
    }
    add(q, "SELECT ");
    if (dated) {
        interval_of(q, spec->interval, "bucket");
        add(q, " AS d, ");
    }
    for (size_t i = 0; i < spec->n_group_by; i++) add(q, "k%zu, ", i + 1);
    add(q, SUMS " FROM (");
    parts(q, &sh);
    add(q, ") WHERE 1");
    if (spec->n_group_by > 0 && spec->drop_empty) add(q, " AND k1 != ''");
    if (spec->n_group_by > 0 && spec->drop_value) {
        add(q, " AND k1 != ");
        tly_ch_quote(q, spec->drop_value);
    }
    if (dated || spec->n_group_by > 0) {
        add(q, " GROUP BY ");
        if (dated) add(q, "d%s", spec->n_group_by ? ", " : "");
        for (size_t i = 0; i < spec->n_group_by; i++) add(q, "k%zu%s", i + 1, i + 1 < spec->n_group_by ? ", " : "");
        if (spec->viewed_only) add(q, " HAVING s_pageviews > 0");
        add(q, " ORDER BY ");
        if (dated) add(q, "d, ");
        if (spec->order) add(q, "s_%s DESC, ", spec->order);
        for (size_t i = 0; i < spec->n_group_by; i++) add(q, "k%zu, ", i + 1);
        q->len -= 2;
        q->ptr[q->len] = '\0';
        if (spec->limit > 0) add(q, " LIMIT %u, %u", spec->offset, spec->limit);
    } else if (spec->viewed_only) {
        add(q, " HAVING s_pageviews > 0");
    }
    shared_free(&sh);
    return 0;
}

int tly_ch_goal_revenue_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *q)
{
    shared sh;
    shared_init(&sh, spec, cx);
    add(q, "SELECT goal, currency, toString(sum(amount)) FROM (SELECT arrayJoin(");
    goal_names(q, &sh);
    add(q, ") AS goal, assumeNotNull(revenue_currency) AS currency, assumeNotNull(revenue_amount_e4) AS amount");
    event_source(q, &sh);
    add(q, " AND isNotNull(revenue_amount_e4)) GROUP BY goal, currency ORDER BY goal, currency");
    shared_free(&sh);
    return 0;
}

/* The visits that started in the range under the filters (as a FROM subquery), each with k1 (its
 * value of the spec's one visit dimension, or ''), w_start, w_last and k_visitor, joined to the
 * events of its visitor from the range's start to a day after its end that satisfy `events_where`
 * and carry the columns `event_columns` (f_ts first). A visit without such events keeps one row
 * with f_ts 0. */
static void visits_with_events(tly_buf *q, const shared *sh, const char *event_columns, const char *events_where)
{
    const tly_report_spec *spec = sh->spec;
    visit_attrs a;
    attrs_of(spec, &a);
    add(q, "(SELECT *, ");
    if (spec->n_group_by == 1) visit_dim(q, spec->group_by[0].kind);
    else add(q, "''");
    add(q, " AS k1, v_visitor AS k_visitor, v_start AS w_start, v_last AS w_last FROM (");
    visits_matching(q, sh, &a);
    add(q, ") WHERE v_start >= ");
    lo_ms(q, sh, 0);
    add(q, " AND v_start < ");
    hi_ms(q, sh, 0);
    visit_conditions(q, sh);
    add(q, ") ALL LEFT JOIN (SELECT visitor AS k_visitor, ts_ms AS f_ts, %s FROM %s WHERE property_pk = %d"
           " AND ts >= %s AND ts < %s + %d AND (%s)) USING k_visitor",
        event_columns, sh->table, spec->property_pk, tly_buf_cstr(&sh->lo), tly_buf_cstr(&sh->hi), DAY_SECONDS,
        events_where);
}

#define REVENUE_EVENTS "assumeNotNull(revenue_amount_e4) AS f_amount, assumeNotNull(revenue_currency) AS f_currency"

int tly_ch_revenue_by_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *q)
{
    shared sh;
    shared_init(&sh, spec, cx);
    add(q, "SELECT k1, toUInt64(uniqExact(v_visitor)) AS visitors, toUInt64(count()) AS sessions,"
           " toUInt64(uniqExactIf(v_visitor, paid)) AS conversions FROM (SELECT v_kind, v_kid, v_no,"
           " any(v_visitor) AS v_visitor, any(k1) AS k1,"
           " max(f_ts >= w_start AND f_ts <= w_last AND f_amount > 0) AS paid FROM ");
    visits_with_events(q, &sh, REVENUE_EVENTS, "isNotNull(revenue_amount_e4)");
    add(q, " GROUP BY v_kind, v_kid, v_no)%s GROUP BY k1 ORDER BY conversions DESC, visitors DESC, k1",
        spec->drop_empty ? " WHERE k1 != ''" : "");
    if (spec->limit > 0) add(q, " LIMIT %u, %u", spec->offset, spec->limit);
    shared_free(&sh);
    return 0;
}

int tly_ch_revenue_money_sql(const tly_report_spec *spec, const tly_ch_report_context *cx, tly_buf *q)
{
    shared sh;
    shared_init(&sh, spec, cx);
    add(q, "SELECT k1, f_currency, toString(sum(f_amount)) FROM ");
    visits_with_events(q, &sh, REVENUE_EVENTS, "isNotNull(revenue_amount_e4)");
    add(q, " WHERE f_ts >= w_start AND f_ts <= w_last GROUP BY k1, f_currency ORDER BY k1, f_currency");
    shared_free(&sh);
    return 0;
}

int tly_ch_funnel_sql(const tly_report_spec *spec, const tly_filter *steps, size_t n_steps,
                      const tly_ch_report_context *cx, tly_buf *q)
{
    shared sh;
    shared_init(&sh, spec, cx);
    add(q, "SELECT toUInt64(count()), toUInt64(uniqExact(v_visitor))");
    for (size_t i = 1; i <= n_steps; i++)
        add(q, ", toUInt64(countIf(p%zu > 0)), toUInt64(uniqExactIf(v_visitor, p%zu > 0))", i, i);
    /* Each visit's events in order of time and arrival; p<k>: the position of the first event
     * that satisfies step k after step k-1's (0: the visit did not get that far). */
    add(q, " FROM (SELECT any(v_visitor) AS v_visitor, arraySort(x -> (x.1, x.2), groupArrayIf((f_ts, f_seq");
    for (size_t i = 1; i <= n_steps; i++) add(q, ", f_m%zu", i);
    add(q, "), f_ts >= w_start AND f_ts <= w_last)) AS s");
    for (size_t i = 1; i <= n_steps; i++) {
        if (i == 1) add(q, ", arrayFirstIndex(x -> x.3 = 1, s) AS p1");
        else
            add(q, ", if(p%zu = 0, 0, arrayFirstIndex((x, j) -> j > p%zu AND x.%zu = 1, s, arrayEnumerate(s))) AS p%zu",
                i - 1, i - 1, i + 2, i);
    }
    tly_buf columns = {0}, any = {0};
    tly_buf_append_str(&columns, "seq AS f_seq");
    tly_buf_append_str(&any, "0");
    for (size_t i = 0; i < n_steps; i++) {
        tly_buf cond = {0};
        add(&cond, "(%s", steps[i].dim.kind == TLY_DIM_PATH ? "name = 'pageview' AND " : "");
        event_filter(&cond, &sh, &steps[i], false);
        add(&cond, ")");
        add(&columns, ", toUInt8%s AS f_m%zu", tly_buf_cstr(&cond), i + 1);
        add(&any, " OR %s", tly_buf_cstr(&cond));
        tly_buf_free(&cond);
    }
    add(q, " FROM ");
    visits_with_events(q, &sh, tly_buf_cstr(&columns), tly_buf_cstr(&any));
    add(q, " GROUP BY v_kind, v_kid, v_no)");
    tly_buf_free(&columns);
    tly_buf_free(&any);
    shared_free(&sh);
    return 0;
}

void tly_ch_goal_regex(tly_buf *out, const char *pattern)
{
    /* (?s): '.' also matches a newline, as '%' does in LIKE. */
    tly_buf_append_str(out, "(?s)^");
    for (const char *p = pattern; *p; p++) {
        if (*p == '*') tly_buf_append_str(out, ".*");
        else {
            if (strchr("\\.+?()|[]{}^$-", *p)) tly_buf_append_char(out, '\\');
            tly_buf_append_char(out, *p);
        }
    }
    tly_buf_append_char(out, '$');
}
