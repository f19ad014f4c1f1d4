/* The steps of a saved funnel, as the admin API takes them and as report.fcgi's funnel report
 * (GET /v1/properties/{id}/funnel?steps=...) asks for them. A step is
 *   {"dimension": "path" | "event_type" | "goal", "op": "==" | "=~", "value": "..."}
 * and a funnel has 2-8 of them. `==` is an exact path (starting with '/'), event name or goal name;
 * `=~` a part of one, without regard to case. Pure: no database, no request. */
#ifndef TLY_ADMIN_FUNNEL_STEPS_H
#define TLY_ADMIN_FUNNEL_STEPS_H
#include "first.h"
#include "buf.h"
#include <jansson.h>
#include <stddef.h>

/* Checks the body's "steps" and returns them in canonical form (a new array of objects with
 * exactly dimension, op and value); NULL with a message naming the member at fault in err
 * ("steps[2].value: must start with '/' ...", "steps: ..."). The report query they make must fit
 * TLY_ADMIN_MAX_FUNNEL_QUERY bytes. */
json_t *tly_admin_funnel_steps_read(const json_t *steps, char *err, size_t errlen) TLY_NONNULL(2) TLY_MUST_CHECK;

/* Appends the query string of the funnel report for steps (as read above):
 * "steps=path==/;event_type==signup". Values are escaped as lib/report_query.h reads them: '\' before
 * a ';' or '\' in a value, then percent-encoding of every byte but letters, digits and -._~/:@
 * (so "/a;b c" becomes "/a%5C%3Bb%20c"). */
void tly_admin_funnel_query(const json_t *steps, tly_buf *out) TLY_NONNULL(1, 2);

#endif
