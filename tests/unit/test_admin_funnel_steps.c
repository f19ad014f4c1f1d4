/* Saved funnel steps: what the admin API accepts, and the report query it hands to the dashboard,
 * read back by report.fcgi's own parser (lib/report_query.c) to the same steps. */
#include "first.h"
#include "tap.h"
#include "admin_funnel_steps.h"
#include "limits.h"
#include "report_query.h"

#include <stdbool.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!v) {
        printf("# bad JSON in test: %s\n", text);
        exit(99);
    }
    return v;
}

/* Reads steps (JSON text); the error ("" when accepted) into err. */
static json_t *read_steps(const char *text, char err[256])
{
    json_t *given = parse(text);
    err[0] = '\0';
    json_t *steps = tly_admin_funnel_steps_read(given, err, 256);
    json_decref(given);
    return steps;
}

/* The steps are refused with a message that starts with `field` + ": ". */
static void refused(int line, const char *text, const char *field)
{
    char err[256];
    json_t *steps = read_steps(text, err);
    size_t n = strlen(field);
    int ok = !steps && strncmp(err, field, n) == 0 && err[n] == ':';
    char what[160];
    snprintf(what, sizeof what, "line %d: refused naming %s", line, field);
    tap_result(ok, __FILE__, line, what);
    if (!ok) printf("#   got: %s\n", steps ? "(accepted)" : err);
    json_decref(steps);
}
#define REFUSED(text, field) refused(__LINE__, text, field)

static void test_accepted_and_canonical(void)
{
    char err[256];
    json_t *steps = read_steps("[{\"value\": \"/\", \"op\": \"==\", \"dimension\": \"path\", \"extra\": 1},"
                               " {\"dimension\": \"event_type\", \"op\": \"==\", \"value\": \"signup\"},"
                               " {\"dimension\": \"goal\", \"op\": \"=~\", \"value\": \"Purch\"}]", err);
    CHECK(steps != NULL);
    CHECK_STR(err, "");
    char *text = json_dumps(steps, JSON_COMPACT);
    CHECK_STR(text, "[{\"dimension\":\"path\",\"op\":\"==\",\"value\":\"/\"},"
                    "{\"dimension\":\"event_type\",\"op\":\"==\",\"value\":\"signup\"},"
                    "{\"dimension\":\"goal\",\"op\":\"=~\",\"value\":\"Purch\"}]");
    free(text);
    tly_buf q = {0};
    tly_admin_funnel_query(steps, &q);
    CHECK_STR(tly_buf_cstr(&q), "steps=path==/;event_type==signup;goal=~Purch");
    tly_buf_free(&q);
    json_decref(steps);
}

/* A step as JSON text; v is JSON too ("\"/\"" for the string "/"). */
#define STEP(d, o, v) "{\"dimension\": \"" d "\", \"op\": \"" o "\", \"value\": " v "}"
#define HOME STEP("path", "==", "\"/\"")

static void test_refused(void)
{
    char text[600];
    REFUSED("null", "steps");
    REFUSED("{}", "steps");
    REFUSED("\"path==/;path==/x\"", "steps");
    REFUSED("[" HOME "]", "steps");                                        /* one step */
    snprintf(text, sizeof text, "[%s,%s,%s,%s,%s,%s,%s,%s,%s]", HOME, HOME, HOME, HOME, HOME, HOME, HOME, HOME, HOME);
    REFUSED(text, "steps");                                                /* nine */
    REFUSED("[" HOME ", 5]", "steps[1]");
    REFUSED("[{\"op\": \"==\", \"value\": \"/\"}, " HOME "]", "steps[0].dimension");
    REFUSED("[" STEP("country", "==", "\"DE\"") ", " HOME "]", "steps[0].dimension");
    REFUSED("[" STEP("path", "!=", "\"/\"") ", " HOME "]", "steps[0].op");
    REFUSED("[" HOME ", {\"dimension\": \"path\", \"op\": \"==\"}]", "steps[1].value");
    REFUSED("[" HOME ", " STEP("path", "==", "3") "]", "steps[1].value");
    REFUSED("[" HOME ", " STEP("path", "==", "null") "]", "steps[1].value");
    REFUSED("[" HOME ", " STEP("path", "==", "\"pricing\"") "]", "steps[1].value");
    REFUSED("[" STEP("path", "=~", "\"\"") ", " HOME "]", "steps[0].value");
    REFUSED("[" STEP("path", "==", "\"/a\\nb\"") ", " HOME "]", "steps[0].value");
    REFUSED("[" HOME ", " STEP("event_type", "==", "\"a;b\"") "]", "steps[1].value");
    REFUSED("[" HOME ", " STEP("goal", "==", "\"   \"") "]", "steps[1].value");
}

/* The longest value is 500 characters; the whole query at most TLY_ADMIN_MAX_FUNNEL_QUERY bytes. */
static void test_limits(void)
{
    char value[600], text[8000], err[256];
    memset(value, 'v', sizeof value);
    value[0] = '/';
    value[500] = '\0';
    size_t n = (size_t)snprintf(text, sizeof text, "[");
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s" STEP("path", "==", "\"%s\""), i ? "," : "", value);
    snprintf(text + n, sizeof text - n, "]");
    json_t *steps = read_steps(text, err);
    CHECK(steps != NULL);                   /* 8 x 500 plain characters fit */
    tly_buf q = {0};
    if (steps) tly_admin_funnel_query(steps, &q);
    CHECK(q.len > 4000 && q.len <= TLY_ADMIN_MAX_FUNNEL_QUERY);
    tly_buf_free(&q);
    json_decref(steps);

    value[500] = 'v';
    value[501] = '\0';
    snprintf(text, sizeof text, "[" STEP("path", "==", "\"%s\"") ", " HOME "]", value);
    REFUSED(text, "steps[0].value");

    /* 500 characters that each take 6 bytes encoded (%C3%A9): two steps are too long for a URL. */
    char wide[1100];
    n = (size_t)snprintf(wide, sizeof wide, "/");
    for (int i = 0; i < 499; i++) n += (size_t)snprintf(wide + n, sizeof wide - n, "\xc3\xa9");
    snprintf(text, sizeof text, "[" STEP("path", "==", "\"%s\"") ", " STEP("path", "=~", "\"%s\"") "]", wide,
             wide + 1);
    steps = read_steps(text, err);
    CHECK(steps == NULL && strncmp(err, "steps: the report query would be ", 33) == 0);
    json_decref(steps);
}

/* Values with every character the query syntax or a URL gives a meaning to come back unchanged
 * from report.fcgi's parser. */
static void test_round_trip(void)
{
    static const char *const values[] = {
        "/a;b", "/semi;;colons;", "/back\\slash", "/ends\\", "/both\\;x", "/\\\\;\\", "/a&b=c",
        "/p?q=1#frag", "/plus+space here", "/100%", "/%3B", "/ünï/çødé", "/a==b!=c=~d", "/~user/:@x",
    };
    json_t *given = json_array();
    for (size_t i = 0; i < TLY_ARRAY_LEN(values); i += 2) {
        json_t *pair = json_array();
        json_array_append_new(pair, json_pack("{s:s, s:s, s:s}", "dimension", "path", "op", "==",
                                              "value", values[i]));
        if (i + 1 < TLY_ARRAY_LEN(values))
            json_array_append_new(pair, json_pack("{s:s, s:s, s:s}", "dimension", "path", "op", "=~",
                                                  "value", values[i + 1]));
        else
            json_array_append_new(pair, json_pack("{s:s, s:s, s:s}", "dimension", "goal", "op", "==",
                                                  "value", "Sign-up; \\ & more"));
        json_array_append_new(given, pair);
    }
    size_t i;
    json_t *pair;
    json_array_foreach(given, i, pair) {
        char err[256];
        json_t *steps = tly_admin_funnel_steps_read(pair, err, sizeof err);
        CHECK(steps != NULL);
        if (!steps) {
            printf("#   %s\n", err);
            continue;
        }
        tly_buf q = {0};
        tly_admin_funnel_query(steps, &q);
        for (size_t k = 0; k < q.len; k++)
            if (strchr("&#+ ", q.ptr[k]) || (unsigned char)q.ptr[k] >= 0x80) {
                printf("#   not URL-safe: %s\n", tly_buf_cstr(&q));
                CHECK(0);
                break;
            }
        tly_report_query rq;
        char perr[TLY_REPORT_ERR_SIZE];
        int rc = tly_report_query_parse(&rq, q.ptr, q.len, NULL, 20000, perr, sizeof perr);
        CHECK_INT(rc, 0);
        if (rc == 0) {
            CHECK_INT(rq.n_steps, 2);
            for (size_t k = 0; k < rq.n_steps && k < 2; k++) {
                const json_t *want = json_array_get(steps, k);
                CHECK_STR(rq.steps[k].value, json_string_value(json_object_get(want, "value")));
                CHECK_INT(rq.steps[k].op, strcmp(json_string_value(json_object_get(want, "op")), "=~") == 0
                                              ? TLY_FILTER_CONTAINS : TLY_FILTER_EQ);
                bool goal = strcmp(json_string_value(json_object_get(want, "dimension")), "goal") == 0;
                CHECK_INT(rq.steps[k].dim.kind, goal ? TLY_DIM_GOAL : TLY_DIM_PATH);
            }
            tly_report_query_free(&rq);
        } else {
            printf("#   %s: %s\n", tly_buf_cstr(&q), perr);
        }
        tly_buf_free(&q);
        json_decref(steps);
    }
    json_decref(given);
}

static void run_tests(void)
{
    test_accepted_and_canonical();
    test_refused();
    test_limits();
    test_round_trip();
}
