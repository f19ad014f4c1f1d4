#include "first.h"
#include "report_query.h"
#include "buf.h"
#include "mem.h"
#include "strict.h"
#include "timeparse.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TLY_PRINTF(3, 4) TLY_COLD static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* Client text quoted into an error message: cut on a character boundary so that the message stays
 * valid UTF-8 and short. s must be valid UTF-8. */
#define QUOTE_MAX 60
typedef struct quoted { char text[QUOTE_MAX + 4]; } quoted;

static quoted quote(const char *s, size_t len)
{
    quoted q;
    size_t n = tly_utf8_cut(s, len, QUOTE_MAX);
    snprintf(q.text, sizeof q.text, "%.*s%s", (int)n, s, n < len ? "..." : "");
    return q;
}

/* --- dimensions and metrics ---------------------------------------------------------------- */

static const char *const dim_names[TLY_DIM_COUNT] = {
    [TLY_DIM_PATH] = "path", [TLY_DIM_ENTRY_PAGE] = "entry_page", [TLY_DIM_EXIT_PAGE] = "exit_page",
    [TLY_DIM_HOSTNAME] = "hostname", [TLY_DIM_SOURCE] = "source", [TLY_DIM_REFERRER] = "referrer",
    [TLY_DIM_UTM_SOURCE] = "utm_source", [TLY_DIM_UTM_MEDIUM] = "utm_medium",
    [TLY_DIM_UTM_CAMPAIGN] = "utm_campaign", [TLY_DIM_UTM_TERM] = "utm_term",
    [TLY_DIM_UTM_CONTENT] = "utm_content", [TLY_DIM_CAMPAIGN_ID] = "campaign_id",
    [TLY_DIM_CAMPAIGN] = "campaign", [TLY_DIM_COUNTRY] = "country", [TLY_DIM_REGION] = "region",
    [TLY_DIM_CITY] = "city", [TLY_DIM_DEVICE] = "device", [TLY_DIM_BROWSER] = "browser",
    [TLY_DIM_BROWSER_VERSION] = "browser_version", [TLY_DIM_OS] = "os",
    [TLY_DIM_OS_VERSION] = "os_version", [TLY_DIM_EVENT_TYPE] = "event_type", [TLY_DIM_GOAL] = "goal",
    [TLY_DIM_PROP] = "prop",
};

const char *tly_dim_name(tly_dim_kind kind)
{
    if ((int)kind <= TLY_DIM_NONE || (int)kind >= TLY_DIM_COUNT) return NULL;
    return dim_names[kind];
}

static bool prop_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

int tly_dim_parse(const char *s, size_t len, tly_dim *out)
{
    if (s == NULL) return -1;
    if (len > 5 && memcmp(s, "prop:", 5) == 0) {
        size_t key_len = len - 5;
        if (key_len > TLY_REPORT_MAX_PROP_KEY) return -1;
        for (size_t i = 5; i < len; i++)
            if (!prop_key_char((unsigned char)s[i])) return -1;
        out->kind = TLY_DIM_PROP;
        memcpy(out->prop_key, s + 5, key_len);
        out->prop_key[key_len] = '\0';
        return 0;
    }
    /* "prop" alone names no property, so the loop stops before TLY_DIM_PROP. */
    for (int k = TLY_DIM_NONE + 1; k < TLY_DIM_PROP; k++) {
        if (eq(s, len, dim_names[k])) {
            out->kind = (tly_dim_kind)k;
            out->prop_key[0] = '\0';
            return 0;
        }
    }
    return -1;
}

void tly_dim_label(const tly_dim *d, char out[TLY_DIM_LABEL_SIZE])
{
    const char *name = tly_dim_name(d->kind);
    if (d->kind == TLY_DIM_PROP)
        snprintf(out, TLY_DIM_LABEL_SIZE, "prop:%s", d->prop_key);
    else
        snprintf(out, TLY_DIM_LABEL_SIZE, "%s", name ? name : "");
}

static bool dim_equal(const tly_dim *a, const tly_dim *b)
{
    return a->kind == b->kind && (a->kind != TLY_DIM_PROP || strcmp(a->prop_key, b->prop_key) == 0);
}

/* Indexed by bit position. */
static const char *const metric_names[TLY_METRIC_COUNT] = {
    "pageviews", "unique_visitors", "sessions", "bounce_rate", "visit_duration",
    "views_per_session", "events", "conversions", "conversion_rate", "revenue",
};

const char *tly_metric_name(unsigned metric_bit)
{
    for (unsigned i = 0; i < TLY_METRIC_COUNT; i++)
        if (metric_bit == 1u << i) return metric_names[i];
    return NULL;
}

int tly_metric_parse(const char *s, size_t len, unsigned *bit)
{
    if (s == NULL) return -1;
    for (unsigned i = 0; i < TLY_METRIC_COUNT; i++) {
        if (eq(s, len, metric_names[i])) {
            *bit = 1u << i;
            return 0;
        }
    }
    return -1;
}

/* --- query-string decoding ----------------------------------------------------------------- */

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Appends the percent-decoded s[0..len) ('+' is a space). Invalid escapes stay literal, as in
 * tly_url_query_param; unlike there, "%00" becomes a NUL byte so that the caller refuses it rather
 * than filtering on the text "%00". */
static void append_decoded(const char *s, size_t len, tly_buf *out)
{
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '+') {
            tly_buf_append_char(out, ' ');
        } else if (s[i] == '%' && i + 2 < len &&
                   (hi = hex_val((unsigned char)s[i + 1])) >= 0 &&
                   (lo = hex_val((unsigned char)s[i + 2])) >= 0) {
            tly_buf_append_char(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            tly_buf_append_char(out, s[i]);
        }
    }
}

/* --- parameters ---------------------------------------------------------------------------- */

typedef enum {
    PERIOD_NONE, PERIOD_TODAY, PERIOD_YESTERDAY, PERIOD_7D, PERIOD_30D, PERIOD_MONTH, PERIOD_YEAR,
    PERIOD_REALTIME
} period_kind;

/* What the parameters said before the date range is resolved from them. */
typedef struct parse_state {
    tly_report_query *q;
    bool has_from, has_to, has_format;
    int32_t from_day, to_day;
    period_kind period;
    tly_buf term;          /* scratch: one unescaped filter term */
} parse_state;

/* A value handler: v[0..len) is decoded, valid UTF-8 without NUL. 0 ok, -1 with err set. */
typedef int (*param_fn)(parse_state *st, const char *v, size_t len, char *err, size_t errlen);

static int parse_day(const char *name, const char *v, size_t len, int32_t *day, char *err,
                     size_t errlen)
{
    if (tly_time_parse_date(v, len, day) != 0)
        return fail(err, errlen, "%s: '%s' is not a date (YYYY-MM-DD)", name, quote(v, len).text);
    int64_t y;
    unsigned m, d;
    tly_time_civil_from_days(*day, &y, &m, &d);
    if (y < TLY_REPORT_MIN_YEAR || y > TLY_REPORT_MAX_YEAR)
        return fail(err, errlen, "%s: the year must be %d-%d", name, TLY_REPORT_MIN_YEAR,
                    TLY_REPORT_MAX_YEAR);
    return 0;
}

static int param_from(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    st->has_from = true;
    return parse_day("from", v, len, &st->from_day, err, errlen);
}

static int param_to(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    st->has_to = true;
    return parse_day("to", v, len, &st->to_day, err, errlen);
}

static int param_period(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    static const struct { const char *name; period_kind kind; } periods[] = {
        {"today", PERIOD_TODAY}, {"yesterday", PERIOD_YESTERDAY}, {"7d", PERIOD_7D},
        {"30d", PERIOD_30D}, {"month", PERIOD_MONTH}, {"year", PERIOD_YEAR},
        {"realtime", PERIOD_REALTIME},
    };
    for (size_t i = 0; i < TLY_ARRAY_LEN(periods); i++) {
        if (eq(v, len, periods[i].name)) {
            st->period = periods[i].kind;
            return 0;
        }
    }
    return fail(err, errlen, "period: must be today, yesterday, 7d, 30d, month, year or realtime");
}

/* tly_dim_parse with an error naming `param` and saying what is wrong with a prop: key. */
static int parse_dim(const char *param, const char *s, size_t len, tly_dim *out, char *err,
                     size_t errlen)
{
    if (tly_dim_parse(s, len, out) == 0) return 0;
    if (len >= 5 && memcmp(s, "prop:", 5) == 0)
        return fail(err, errlen, "%s: '%s' needs a key of 1-%d characters A-Z a-z 0-9 _ . : -", param,
                    quote(s, len).text, TLY_REPORT_MAX_PROP_KEY);
    return fail(err, errlen, "%s: unknown dimension '%s'", param, quote(s, len).text);
}

/* Parses one unescaped filter term "dim==value" / "dim!=value" / "dim=~value" into f; messages
 * name `param` (filters, steps). */
static int parse_filter_term(const char *param, const char *t, size_t len, tly_filter *f, char *err,
                             size_t errlen)
{
    size_t d = 0;
    while (d < len && t[d] != '=' && t[d] != '!') d++;
    if (d + 2 > len || !((t[d] == '=' && (t[d + 1] == '=' || t[d + 1] == '~')) ||
                         (t[d] == '!' && t[d + 1] == '=')))
        return fail(err, errlen,
                    "%s: '%s' is not dimension==value, dimension!=value or dimension=~value",
                    param, quote(t, len).text);
    if (d == 0) return fail(err, errlen, "%s: '%s' names no dimension", param, quote(t, len).text);
    tly_dim dim;
    if (parse_dim(param, t, d, &dim, err, errlen) != 0) return -1;
    tly_filter_op op = t[d] == '!'      ? TLY_FILTER_NE
                       : t[d + 1] == '~' ? TLY_FILTER_CONTAINS
                                         : TLY_FILTER_EQ;
    const char *value = t + d + 2;
    size_t value_len = len - d - 2;
    if (op == TLY_FILTER_CONTAINS && value_len == 0)
        return fail(err, errlen, "%s: '%s' needs a substring after =~", param, quote(t, len).text);
    if (tly_utf8_length(value, value_len) > TLY_REPORT_MAX_FILTER_VALUE)
        return fail(err, errlen, "%s: the value for '%s' is longer than %d characters",
                    param, quote(t, d).text, TLY_REPORT_MAX_FILTER_VALUE);
    f->dim = dim;
    f->op = op;
    f->value = tly_xstrndup(value, value_len);
    return 0;
}

/* A ';'-separated list of filter terms (a literal ';' or '\\' escaped by '\\') into list[*n]. */
static int filter_list(parse_state *st, const char *param, const char *v, size_t len, tly_filter *list,
                       size_t *n, size_t max, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        /* Unescape one term up to the next unescaped ';'. */
        tly_buf_reset(&st->term);
        for (; i < len && v[i] != ';'; i++) {
            if (v[i] == '\\' && i + 1 < len && (v[i + 1] == ';' || v[i + 1] == '\\')) i++;
            tly_buf_append_char(&st->term, v[i]);
        }
        i++;   /* past the ';' (or the end) */
        if (st->term.len == 0) continue;
        if (*n == max) return fail(err, errlen, "%s: more than %zu %s", param, max, param);
        if (parse_filter_term(param, st->term.ptr, st->term.len, &list[*n], err, errlen) != 0) return -1;
        (*n)++;
    }
    return 0;
}

static int param_filters(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    return filter_list(st, "filters", v, len, st->q->filters, &st->q->n_filters, TLY_REPORT_MAX_FILTERS,
                       err, errlen);
}

static int param_steps(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    return filter_list(st, "steps", v, len, st->q->steps, &st->q->n_steps, TLY_REPORT_MAX_STEPS, err, errlen);
}

/* Calls item() for each element of a comma list; an empty element is an error naming `name`. */
typedef int (*item_fn)(parse_state *st, const char *s, size_t len, char *err, size_t errlen);

static int each_item(parse_state *st, const char *name, const char *v, size_t len, item_fn item,
                     char *err, size_t errlen)
{
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < len && v[i] != ',') i++;
        if (i == start) return fail(err, errlen, "%s: empty name in the comma-separated list", name);
        if (item(st, v + start, i - start, err, errlen) != 0) return -1;
        if (i == len) return 0;
        i++;
    }
}

static int metric_item(parse_state *st, const char *s, size_t len, char *err, size_t errlen)
{
    unsigned bit;
    if (tly_metric_parse(s, len, &bit) != 0)
        return fail(err, errlen, "metrics: unknown metric '%s'", quote(s, len).text);
    if (st->q->metrics & bit)
        return fail(err, errlen, "metrics: '%s' is listed twice", quote(s, len).text);
    st->q->metrics |= bit;
    return 0;
}

static int param_metrics(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    return len == 0 ? 0 : each_item(st, "metrics", v, len, metric_item, err, errlen);
}

static int group_by_item(parse_state *st, const char *s, size_t len, char *err, size_t errlen)
{
    tly_report_query *q = st->q;
    tly_dim dim;
    if (parse_dim("group_by", s, len, &dim, err, errlen) != 0) return -1;
    for (size_t i = 0; i < q->n_group_by; i++)
        if (dim_equal(&q->group_by[i], &dim))
            return fail(err, errlen, "group_by: '%s' is listed twice", quote(s, len).text);
    if (q->n_group_by == TLY_REPORT_MAX_GROUP_BY)
        return fail(err, errlen, "group_by: more than %d dimensions", TLY_REPORT_MAX_GROUP_BY);
    q->group_by[q->n_group_by++] = dim;
    return 0;
}

static int param_group_by(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    return len == 0 ? 0 : each_item(st, "group_by", v, len, group_by_item, err, errlen);
}

/* Digits only (no sign, no spaces) in [lo, hi]. */
static int parse_count(const char *name, const char *v, size_t len, long long lo, long long hi,
                       unsigned *out, char *err, size_t errlen)
{
    long long n;
    if (len == 0 || v[0] < '0' || v[0] > '9' || tly_strict_int(v, len, lo, hi, &n) != 0)
        return fail(err, errlen, "%s: must be an integer %lld-%lld", name, lo, hi);
    *out = (unsigned)n;
    return 0;
}

static int param_limit(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    return parse_count("limit", v, len, 1, TLY_REPORT_MAX_LIMIT, &st->q->limit, err, errlen);
}

static int param_offset(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    return parse_count("offset", v, len, 0, TLY_REPORT_MAX_OFFSET, &st->q->offset, err, errlen);
}

static int param_interval(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    static const char *const names[] = {"hour", "day", "week", "month"};
    static const tly_interval kinds[] = {TLY_INTERVAL_HOUR, TLY_INTERVAL_DAY, TLY_INTERVAL_WEEK,
                                         TLY_INTERVAL_MONTH};
    for (size_t i = 0; i < TLY_ARRAY_LEN(names); i++) {
        if (eq(v, len, names[i])) {
            st->q->interval = kinds[i];
            return 0;
        }
    }
    return fail(err, errlen, "interval: must be hour, day, week or month");
}

static int param_compare(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    if (!eq(v, len, "previous_period")) return fail(err, errlen, "compare: must be previous_period");
    st->q->compare = true;
    return 0;
}

static int param_format(parse_state *st, const char *v, size_t len, char *err, size_t errlen)
{
    if (eq(v, len, "csv"))
        st->q->csv = true;
    else if (!eq(v, len, "json"))
        return fail(err, errlen, "format: must be csv or json");
    st->has_format = true;
    return 0;
}

static const struct param {
    const char *name;
    param_fn fn;
} params[] = {
    {"from", param_from},         {"to", param_to},           {"period", param_period},
    {"filters", param_filters},   {"limit", param_limit},     {"offset", param_offset},
    {"interval", param_interval}, {"metrics", param_metrics}, {"group_by", param_group_by},
    {"compare", param_compare},   {"format", param_format},   {"steps", param_steps},
};

/* --- the date range ------------------------------------------------------------------------ */

/* The first day of the month (or of the year) that `day` is in. */
static int32_t first_day_of(int32_t day, bool year)
{
    int64_t y;
    unsigned m, d;
    tly_time_civil_from_days(day, &y, &m, &d);
    return (int32_t)tly_time_days_from_civil(y, year ? 1 : m, 1);
}

static int resolve_range(parse_state *st, int32_t today, char *err, size_t errlen)
{
    tly_report_query *q = st->q;
    if (st->period != PERIOD_NONE && (st->has_from || st->has_to))
        return fail(err, errlen, "period: cannot be combined with from/to");
    /* Every period ends today except yesterday; "7d" is today and the 6 days before it. */
    q->to_day = today;
    switch (st->period) {
    case PERIOD_NONE:
        if (st->has_to) q->to_day = st->to_day;
        q->from_day = st->has_from ? st->from_day : q->to_day - (TLY_REPORT_DEFAULT_DAYS - 1);
        break;
    case PERIOD_TODAY: q->from_day = today; break;
    case PERIOD_YESTERDAY: q->from_day = q->to_day = today - 1; break;
    case PERIOD_7D: q->from_day = today - 6; break;
    case PERIOD_30D: q->from_day = today - 29; break;
    case PERIOD_MONTH: q->from_day = first_day_of(today, false); break;
    case PERIOD_YEAR: q->from_day = first_day_of(today, true); break;
    case PERIOD_REALTIME:
        q->from_day = today;
        q->realtime = true;
        break;
    }
    char from[11], to[11];
    tly_time_format_date(q->from_day, from);
    tly_time_format_date(q->to_day, to);
    if (q->from_day > q->to_day)
        return fail(err, errlen, "from: %s is after to (%s%s)", from, to,
                    st->has_to ? "" : ", today");
    int64_t days = (int64_t)q->to_day - q->from_day + 1;
    if (days > TLY_REPORT_MAX_RANGE_DAYS)
        return fail(err, errlen, "from/to: %s..%s is %lld days; the limit is %d", from, to,
                    (long long)days, TLY_REPORT_MAX_RANGE_DAYS);
    return 0;
}

/* --- Accept -------------------------------------------------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static bool eq_nocase(const char *s, size_t len, const char *lit)
{
    if (strlen(lit) != len) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != lit[i]) return false;
    }
    return true;
}

/* An RFC 9110 qvalue ("0", "0.5", "1.000") in thousandths; -1 when malformed. */
static int qvalue(const char *s, size_t len)
{
    if (len == 0 || (s[0] != '0' && s[0] != '1') || len > 5) return -1;
    int q = (s[0] - '0') * 1000, scale = 100;
    if (len == 1) return q;
    if (s[1] != '.') return -1;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9') return -1;
        q += (s[i] - '0') * scale;
    }
    return q <= 1000 ? q : -1;
}

/* The q of one media range "type/subtype; p=v; q=0.5" (1000 without q, 0 when malformed). */
static int range_q(const char *s, size_t len, size_t type_end)
{
    int q = 1000;
    size_t i = type_end;
    while (i < len) {
        i++;   /* past ';' */
        size_t start = i;
        while (i < len && s[i] != ';') i++;
        size_t a = start, b = i;
        while (a < b && is_space(s[a])) a++;
        while (b > a && is_space(s[b - 1])) b--;
        if (b - a >= 2 && (s[a] == 'q' || s[a] == 'Q') && s[a + 1] == '=') {
            q = qvalue(s + a + 2, b - a - 2);
            if (q < 0) q = 0;
        }
    }
    return q;
}

/* True when Accept ranks text/csv above application/json. Wildcard ranges are ignored, so a
 * browser's catch-all keeps JSON, and so do equal ranks: JSON is the default. */
static bool accept_prefers_csv(const char *accept)
{
    int q_csv = 0, q_json = 0;
    const char *s = accept;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        size_t a = 0, type_end;
        while (a < len && is_space(s[a])) a++;
        type_end = a;
        while (type_end < len && s[type_end] != ';') type_end++;
        size_t b = type_end;
        while (b > a && is_space(s[b - 1])) b--;
        if (eq_nocase(s + a, b - a, "text/csv"))
            q_csv = range_q(s, len, type_end);
        else if (eq_nocase(s + a, b - a, "application/json"))
            q_json = range_q(s, len, type_end);
        s += len;
        if (*s == ',') s++;
    }
    return q_csv > q_json;
}

/* --- the query ----------------------------------------------------------------------------- */

static int parse_params(parse_state *st, const char *query, size_t query_len, char *err,
                        size_t errlen)
{
    tly_buf name = {0}, value = {0};
    unsigned seen = 0;
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < query_len) {
        size_t start = i;
        while (i < query_len && query[i] != '&') i++;
        const char *pair = query + start;
        size_t pair_len = i - start;
        i++;
        if (pair_len == 0) continue;
        const char *eq_sign = memchr(pair, '=', pair_len);
        size_t name_len = eq_sign ? (size_t)(eq_sign - pair) : pair_len;
        tly_buf_reset(&name);
        append_decoded(pair, name_len, &name);
        size_t p = 0;
        while (p < TLY_ARRAY_LEN(params) && !eq(tly_buf_cstr(&name), name.len, params[p].name))
            p++;
        if (p == TLY_ARRAY_LEN(params)) continue;   /* unknown, or the caller's share/key */
        const char *pname = params[p].name;
        if (seen & (1u << p)) {
            rc = fail(err, errlen, "%s: given more than once", pname);
            break;
        }
        seen |= 1u << p;
        tly_buf_reset(&value);
        if (eq_sign) append_decoded(eq_sign + 1, pair_len - name_len - 1, &value);
        const char *v = tly_buf_cstr(&value);
        if (memchr(v, '\0', value.len))
            rc = fail(err, errlen, "%s: contains a NUL byte (%%00)", pname);
        else if (!tly_utf8_valid(v, value.len))
            rc = fail(err, errlen, "%s: not valid UTF-8", pname);
        else
            rc = params[p].fn(st, v, value.len, err, errlen);
    }
    tly_buf_free(&name);
    tly_buf_free(&value);
    return rc;
}

int tly_report_query_parse(tly_report_query *q, const char *query, size_t query_len,
                           const char *accept, int32_t today, char *err, size_t errlen)
{
    memset(q, 0, sizeof *q);
    q->limit = TLY_REPORT_DEFAULT_LIMIT;
    if (errlen > 0) err[0] = '\0';
    parse_state st = {.q = q};
    int rc = query ? parse_params(&st, query, query_len, err, errlen) : 0;
    tly_buf_free(&st.term);
    if (rc == 0) rc = resolve_range(&st, today, err, errlen);
    if (rc != 0) {
        tly_report_query_free(q);
        return -1;
    }
    if (!st.has_format && accept) q->csv = accept_prefers_csv(accept);
    return 0;
}

void tly_report_query_free(tly_report_query *q)
{
    for (size_t i = 0; i < q->n_filters; i++) {
        free(q->filters[i].value);
        q->filters[i].value = NULL;
    }
    q->n_filters = 0;
    for (size_t i = 0; i < q->n_steps; i++) {
        free(q->steps[i].value);
        q->steps[i].value = NULL;
    }
    q->n_steps = 0;
}

void tly_report_query_previous(const tly_report_query *q, int32_t *from_day, int32_t *to_day)
{
    int32_t days = q->to_day - q->from_day + 1;
    *to_day = q->from_day - 1;
    *from_day = q->from_day - days;
}
