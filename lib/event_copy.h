/* Enriched event rows (the JSON objects ingest builds and the spool keeps) as lines of
 * `COPY events (TLY_EVENT_COPY_COLUMNS) FROM STDIN` in PostgreSQL's text format: one line per
 * event, columns separated by tabs, \N for NULL, backslash, tab, newline and carriage return
 * escaped. A missing text field is the empty string, a missing `interactive` is true, as the
 * columns' defaults say. */
#ifndef TLY_EVENT_COPY_H
#define TLY_EVENT_COPY_H
#include "first.h"
#include "buf.h"
#include <jansson.h>

#define TLY_EVENT_COPY_COLUMNS "property_pk, ts, event_id, name, visitor, prev_visitor, session, hostname, " \
    "path, query, title, referrer, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, " \
    "campaign_id, country, region, city, device, browser, browser_version, os, os_version, screen_width, " \
    "user_id_hash, interactive, revenue_amount, revenue_currency, props, visit_token"

/* Appends the line of one row (ending in a newline) to out. */
void tly_event_copy_row(tly_buf *out, int property_pk, const json_t *row) TLY_NONNULL(1, 3);

#endif
