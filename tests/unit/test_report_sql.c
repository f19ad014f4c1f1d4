#include "first.h"
#include "tap.h"
#include "report_sql.h"

#include <stdio.h>
#include <string.h>

static tly_filter filter(tly_dim_kind kind, tly_filter_op op, const char *value)
{
    tly_filter f;
    memset(&f, 0, sizeof f);
    f.dim.kind = kind;
    f.op = op;
    f.value = (char *)value;
    return f;
}

static tly_report_spec base(void)
{
    tly_report_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.property_pk = 7;
    spec.timezone = "Europe/Berlin";
    spec.from_day = 20000;
    spec.to_day = 20029;
    return spec;
}

static bool has_param(const tly_sql *q, const char *value)
{
    for (size_t i = 0; i < q->n_params; i++)
        if (strcmp(q->params[i], value) == 0) return true;
    return false;
}

static void test_modes(void)
{
    tly_report_spec spec = base();
    CHECK_INT(tly_report_mode_of(&spec), TLY_REPORT_TOTAL);
    tly_dim dims[2] = {{TLY_DIM_SOURCE, ""}, {TLY_DIM_COUNTRY, ""}};
    spec.group_by = dims;
    spec.n_group_by = 2;
    CHECK_INT(tly_report_mode_of(&spec), TLY_REPORT_VISITS);
    dims[1].kind = TLY_DIM_PATH;
    CHECK_INT(tly_report_mode_of(&spec), TLY_REPORT_EVENTS);
    CHECK(tly_dim_is_event(TLY_DIM_PROP) && tly_dim_is_event(TLY_DIM_GOAL) && tly_dim_is_event(TLY_DIM_EVENT_TYPE));
    CHECK(!tly_dim_is_event(TLY_DIM_ENTRY_PAGE) && !tly_dim_is_event(TLY_DIM_CAMPAIGN));
}

/* Values travel only as parameters: nothing a client sends appears in the statement's text. */
static void test_values_are_parameters(void)
{
    static const char *const evil[] = {"'; DROP TABLE events; --", "$1", "x') OR ('1'='1", "\\", "%"};
    for (size_t i = 0; i < TLY_ARRAY_LEN(evil); i++) {
        tly_report_spec spec = base();
        tly_filter fs[4] = {filter(TLY_DIM_PATH, TLY_FILTER_EQ, evil[i]),
                            filter(TLY_DIM_SOURCE, TLY_FILTER_NE, evil[i]),
                            filter(TLY_DIM_GOAL, TLY_FILTER_CONTAINS, evil[i]),
                            filter(TLY_DIM_PROP, TLY_FILTER_EQ, evil[i])};
        strcpy(fs[3].dim.prop_key, "plan");
        spec.filters = fs;
        spec.n_filters = 4;
        tly_dim prop = {TLY_DIM_PROP, "weird'key"};
        spec.group_by = &prop;
        spec.n_group_by = 1;
        spec.drop_empty = true;
        spec.drop_value = evil[i];
        spec.limit = 10;
        tly_sql q = {0};
        CHECK_INT(tly_report_sql(&spec, &q), 0);
        CHECK(strstr(tly_buf_cstr(&q.text), evil[i]) == NULL || strcmp(evil[i], "$1") == 0 ||
              strcmp(evil[i], "\\") == 0 || strcmp(evil[i], "%") == 0);
        CHECK(strstr(tly_buf_cstr(&q.text), "weird'key") == NULL);
        CHECK(has_param(&q, evil[i]));
        CHECK(has_param(&q, "weird'key"));
        CHECK(has_param(&q, "Europe/Berlin"));
        tly_sql_free(&q);
    }
}

static void test_rollups_only_when_they_answer(void)
{
    tly_report_spec spec = base();
    tly_sql q = {0};
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "rollup_days") != NULL);
    CHECK(has_param(&q, "total"));
    tly_sql_free(&q);

    tly_filter f = filter(TLY_DIM_COUNTRY, TLY_FILTER_EQ, "DE");
    spec.filters = &f;
    spec.n_filters = 1;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "rollup_days") == NULL);
    tly_sql_free(&q);

    spec = base();
    tly_dim two[2] = {{TLY_DIM_SOURCE, ""}, {TLY_DIM_DEVICE, ""}};
    spec.group_by = two;
    spec.n_group_by = 2;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "rollup_days") == NULL);
    tly_sql_free(&q);

    spec.n_group_by = 1;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(has_param(&q, "source"));
    tly_sql_free(&q);
}

/* Every parameter appears in the text: PostgreSQL refuses a statement with one it cannot type. */
static bool every_param_used(const tly_sql *q)
{
    for (size_t i = 1; i <= q->n_params; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "$%zu", i);
        const char *at = tly_buf_cstr(&q->text);
        bool found = false;
        while (!found && (at = strstr(at, ref)) != NULL) {
            at += strlen(ref);
            found = *at < '0' || *at > '9';   /* $1 is not $12 */
        }
        if (!found) return false;
    }
    return true;
}

/* Rollup rows are read for the range's rolled days only, and raw events between constant instants that
 * enclose the range in any zone (so that the planner keeps only the months it needs). */
static void test_reads_are_bounded(void)
{
    tly_report_spec spec = base();
    tly_sql q = {0};
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "r.day = ANY (ARRAY(SELECT day FROM rolled") != NULL);
    CHECK(strstr(tly_buf_cstr(&q.text), "w.week = ANY (ARRAY(SELECT week FROM weeks))") != NULL);
    CHECK(strstr(tly_buf_cstr(&q.text), "l.day = ANY (ARRAY(SELECT day FROM live))") != NULL);
    CHECK(strstr(tly_buf_cstr(&q.text), "r.day IN") == NULL);
    CHECK(has_param(&q, "2024-10-03 00:00:00+00"));   /* the day before 2024-10-04 */
    CHECK(has_param(&q, "2024-11-04 00:00:00+00"));   /* two days after 2024-11-02 */
    CHECK(strstr(tly_buf_cstr(&q.text), "e.ts >= $") != NULL);
    CHECK(every_param_used(&q));
    tly_sql_free(&q);

    tly_dim goal = {TLY_DIM_GOAL, ""};
    spec.group_by = &goal;
    spec.n_group_by = 1;
    CHECK_INT(tly_report_revenue_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "day = ANY (ARRAY(SELECT day FROM rolled))") != NULL);
    CHECK(every_param_used(&q));
    tly_sql_free(&q);

    tly_dim source = {TLY_DIM_SOURCE, ""};
    spec.group_by = &source;
    CHECK_INT(tly_report_revenue_by_sql(&spec, &q), 0);
    CHECK(every_param_used(&q));
    tly_sql_free(&q);
    tly_filter step = filter(TLY_DIM_PATH, TLY_FILTER_EQ, "/pricing");
    spec.n_group_by = 0;
    CHECK_INT(tly_report_funnel_sql(&spec, &step, 1, &q), 0);
    CHECK(every_param_used(&q));
    tly_sql_free(&q);
}

static bool has_text(const tly_sql *q, const char *text)
{
    return strstr(tly_buf_cstr(&q->text), text) != NULL;
}

/* By hour: the site's hours (020), of rolled days that have them; never live days' figures. */
static void test_hourly_rollups(void)
{
    tly_report_spec spec = base();
    tly_sql q = {0};
    spec.interval = TLY_INTERVAL_HOUR;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(has_text(&q, "FROM rollup_hours") && has_text(&q, "AND r.hours"));
    CHECK(!has_text(&q, "rollup_days") && !has_text(&q, "live_days") && !has_text(&q, "rollup_weeks"));
    CHECK(has_text(&q, "generate_series"));
    CHECK(every_param_used(&q));
    tly_sql_free(&q);

    tly_dim by_path = {TLY_DIM_PATH, ""};
    spec.group_by = &by_path;
    spec.n_group_by = 1;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(!has_text(&q, "rollup_hours") && !has_text(&q, "rollup_days"));
    tly_sql_free(&q);
}

/* Live figures of days under way answer the site's figures and pages, with or without an interval;
 * weekly sums of rolled-up days answer any rolled-up dimension without an interval; neither under
 * filters. */
static void test_live_days_and_weeks_when_they_answer(void)
{
    tly_report_spec spec = base();
    tly_sql q = {0};
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(has_text(&q, "FROM live_days") && has_text(&q, "tally_live_tail(") && has_text(&q, "live_visitors"));
    CHECK(has_text(&q, "FROM rollup_weeks"));
    CHECK(every_param_used(&q));
    tly_sql_free(&q);

    tly_dim path = {TLY_DIM_PATH, ""};
    spec.group_by = &path;
    spec.n_group_by = 1;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(has_text(&q, "l.dim = 'path'") && has_text(&q, "live_page_visitors"));
    CHECK(has_text(&q, "FROM rollup_weeks"));
    CHECK(every_param_used(&q));
    tly_sql_free(&q);

    tly_dim source = {TLY_DIM_SOURCE, ""};
    spec.group_by = &source;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(!has_text(&q, "live_days") && has_text(&q, "FROM rollup_weeks"));
    tly_sql_free(&q);

    spec.n_group_by = 0;
    spec.interval = TLY_INTERVAL_DAY;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(has_text(&q, "FROM live_days") && !has_text(&q, "rollup_weeks"));
    tly_sql_free(&q);

    spec.interval = TLY_INTERVAL_NONE;
    tly_filter f = filter(TLY_DIM_PATH, TLY_FILTER_EQ, "/");
    spec.filters = &f;
    spec.n_filters = 1;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(!has_text(&q, "live_days") && !has_text(&q, "rollup_weeks") && !has_text(&q, "rollup_days"));
    tly_sql_free(&q);
}

/* Whole-site figures without visit metrics leave the visits unread; with them, or by a visit
 * dimension, the visits are read. */
static void test_visits_only_when_asked(void)
{
    tly_report_spec spec = base();
    tly_sql q = {0};
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "FROM sessions s") != NULL);
    tly_sql_free(&q);

    spec.visit_figures_unused = true;
    spec.interval = TLY_INTERVAL_DAY;
    spec.zero_fill = true;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "FROM sessions s") == NULL);
    CHECK(strstr(tly_buf_cstr(&q.text), "FROM tally_events(") != NULL);
    CHECK(every_param_used(&q));
    tly_sql_free(&q);

    tly_dim source = {TLY_DIM_SOURCE, ""};
    spec.group_by = &source;
    spec.n_group_by = 1;
    spec.zero_fill = false;
    CHECK_INT(tly_report_sql(&spec, &q), 0);
    CHECK(strstr(tly_buf_cstr(&q.text), "FROM sessions s") != NULL);
    tly_sql_free(&q);
}

static void test_too_many_values(void)
{
    tly_report_spec spec = base();
    tly_filter fs[TLY_SQL_MAX_PARAMS];
    for (size_t i = 0; i < TLY_SQL_MAX_PARAMS; i++) fs[i] = filter(TLY_DIM_GOAL, TLY_FILTER_EQ, "g");
    spec.filters = fs;
    spec.n_filters = TLY_SQL_MAX_PARAMS;
    tly_sql q = {0};
    CHECK_INT(tly_report_sql(&spec, &q), -1);
    tly_sql_free(&q);
}

static void run_tests(void)
{
    test_modes();
    test_values_are_parameters();
    test_rollups_only_when_they_answer();
    test_hourly_rollups();
    test_reads_are_bounded();
    test_visits_only_when_asked();
    test_live_days_and_weeks_when_they_answer();
    test_too_many_values();
}
