#include "first.h"
#include "admin_funnel_steps.h"
#include "admin_validate.h"
#include "envelope.h"
#include "limits.h"
#include "report_query.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const dimensions[] = {"path", "event_type", "goal"};
static const char *const ops[] = {"==", "=~"};

static bool one_of(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

static void say(char *err, size_t errlen, const char *fmt, ...) TLY_PRINTF(3, 4);

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* What is wrong with the value of a step, or NULL. */
static const char *check_value(const char *dimension, const char *op, const char *s, size_t len)
{
    size_t chars = tly_utf8_length(s, len);
    if (chars < 1 || chars > TLY_REPORT_MAX_FILTER_VALUE) return "must be 1-500 characters";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return "contains control characters";
    if (strcmp(op, "=~") == 0) return NULL;   /* a part of a value: anything */
    if (strcmp(dimension, "path") == 0 && s[0] != '/')
        return "must start with '/' (a page's path; \"op\": \"=~\" matches a part of one)";
    if (strcmp(dimension, "event_type") == 0 && !tly_event_name_valid(s, len))
        return "not an event name (1-64 characters of letters, digits, _ - . : / and space)";
    if (strcmp(dimension, "goal") == 0) return tly_admin_check_name(s, len);
    return NULL;
}

/* A member of step i that must be one of list. Its value, or NULL after writing err. */
static const char *read_choice(const json_t *step, size_t i, const char *name, const char *const *list,
                               size_t n, const char *expected, char *err, size_t errlen)
{
    const json_t *v = json_object_get(step, name);
    if (!v || json_is_null(v)) {
        say(err, errlen, "steps[%zu].%s: required (%s)", i, name, expected);
        return NULL;
    }
    if (!json_is_string(v) || !one_of(json_string_value(v), list, n)) {
        say(err, errlen, "steps[%zu].%s: must be %s", i, name, expected);
        return NULL;
    }
    return json_string_value(v);
}

/* Step i in canonical form, or NULL after writing err. */
static json_t *read_step(const json_t *step, size_t i, char *err, size_t errlen)
{
    if (!json_is_object(step)) {
        say(err, errlen, "steps[%zu]: must be an object {\"dimension\", \"op\", \"value\"}", i);
        return NULL;
    }
    const char *dimension = read_choice(step, i, "dimension", dimensions, TLY_ARRAY_LEN(dimensions),
                                        "\"path\", \"event_type\" or \"goal\"", err, errlen);
    const char *op = dimension ? read_choice(step, i, "op", ops, TLY_ARRAY_LEN(ops), "\"==\" or \"=~\"", err, errlen)
                               : NULL;
    if (!op) return NULL;
    const json_t *value = json_object_get(step, "value");
    const char *problem = !value || json_is_null(value) ? "required"
                          : !json_is_string(value)      ? "must be a string"
                                                        : check_value(dimension, op, json_string_value(value),
                                                                      json_string_length(value));
    if (problem) {
        say(err, errlen, "steps[%zu].value: %s", i, problem);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:O}", "dimension", dimension, "op", op, "value", value);
}

json_t *tly_admin_funnel_steps_read(const json_t *steps, char *err, size_t errlen)
{
    if (!json_is_array(steps) || json_array_size(steps) < TLY_ADMIN_MIN_FUNNEL_STEPS ||
        json_array_size(steps) > TLY_REPORT_MAX_STEPS) {
        say(err, errlen, "steps: must be an array of %d to %d steps", TLY_ADMIN_MIN_FUNNEL_STEPS,
            TLY_REPORT_MAX_STEPS);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    const json_t *step;
    json_array_foreach(steps, i, step) {
        json_t *canonical = read_step(step, i, err, errlen);
        if (!canonical) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, canonical);
    }
    tly_buf query = {0};
    tly_admin_funnel_query(out, &query);
    if (query.len > TLY_ADMIN_MAX_FUNNEL_QUERY) {
        say(err, errlen, "steps: the report query would be %zu bytes, over the %d that fit a report URL "
                         "(shorten the values)", query.len, TLY_ADMIN_MAX_FUNNEL_QUERY);
        json_decref(out);
        out = NULL;
    }
    tly_buf_free(&query);
    return out;
}

static bool left_as_is(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~/:@", c));
}

static void append_encoded(tly_buf *out, unsigned char c)
{
    if (left_as_is(c)) tly_buf_append_char(out, (char)c);
    else tly_buf_printf(out, "%%%02X", c);
}

/* A string member of a step ("" when it is not one: steps written to the table by hand). */
static const char *member_text(const json_t *step, const char *name)
{
    const char *s = json_string_value(json_object_get(step, name));
    return s ? s : "";
}

void tly_admin_funnel_query(const json_t *steps, tly_buf *out)
{
    tly_buf_append_str(out, "steps=");
    size_t i;
    const json_t *step;
    json_array_foreach(steps, i, step) {
        if (i) tly_buf_append_char(out, ';');
        tly_buf_printf(out, "%s%s", member_text(step, "dimension"), member_text(step, "op"));
        const unsigned char *s = (const unsigned char *)member_text(step, "value");
        for (size_t k = 0; s[k]; k++) {
            /* Splitting at ';' happens after percent-decoding: a ';' or '\' of the value is
             * escaped with '\' first. */
            if (s[k] == ';' || s[k] == '\\') append_encoded(out, '\\');
            append_encoded(out, s[k]);
        }
    }
}
