/* An enriched event row (the JSON object ingest builds for tally_ingest(), see ingest.c) as one
 * line of ClickHouse's JSONEachRow for the events table of sql/clickhouse/events.sql. Pure: no
 * I/O, so that the encoding is tested on its own.
 *
 * Where the ClickHouse table differs from PostgreSQL's events:
 * - ts is the second (DateTime) and ts_ms the millisecond of the event; seq orders events that
 *   share a millisecond by arrival, as PostgreSQL's events_seq does.
 * - revenue_amount_e4 is the amount in ten-thousandths (numeric(18,4) without a decimal type).
 * - props is three arrays: props.key, props.value with each value as PostgreSQL's `props ->> key`
 *   writes it (strings as they are, true/false, numbers in plain decimal), and props.kind, the
 *   value's JSON type, so that the properties can be given back as the JSON they were. */
#ifndef TLY_CLICKHOUSE_EVENT_H
#define TLY_CLICKHOUSE_EVENT_H
#include "first.h"
#include "buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* props.kind: the JSON type of a custom property's value. */
enum { TLY_CH_PROP_STRING = 0, TLY_CH_PROP_NUMBER = 1, TLY_CH_PROP_BOOLEAN = 2 };

/* Appends the row's line (with its newline) to out. 0 ok; -1 when the row lacks what every row
 * has (ts_ms, name, visitor) or holds a value the table cannot (err says which field). */
int tly_ch_event_line(tly_buf *out, int property_pk, uint64_t seq, const json_t *row, char *err, size_t errlen)
    TLY_NONNULL(1, 4, 5) TLY_MUST_CHECK;

/* A decimal amount ("-49.9", "12.3456") in ten-thousandths. false when it is not one. */
bool tly_ch_amount_e4(const char *text, int64_t *out) TLY_NONNULL(1, 2) TLY_MUST_CHECK;

/* A custom property's value as text, as PostgreSQL's ->> gives it for the JSON Tally stores:
 * strings unchanged, "true"/"false", integers in decimal, reals as Jansson writes them with any
 * exponent expanded into plain decimal ("1e+20" -> "100000000000000000000", "1.5e-05" ->
 * "0.000015"). Appends to out. */
void tly_ch_prop_text(tly_buf *out, const json_t *value) TLY_NONNULL(1);

/* The way back, for the raw-events export, as PostgreSQL writes its columns as text:
 * an amount in ten-thousandths with four decimals ("-20.0000"), */
void tly_ch_amount_text(tly_buf *out, int64_t e4) TLY_NONNULL(1);
/* a time in milliseconds as 2026-01-31T23:59:59.123Z (UTC), */
void tly_ch_time_text(tly_buf *out, int64_t ts_ms) TLY_NONNULL(1);
/* and the properties (props.key, props.value, props.kind as JSON arrays) as jsonb's text: keys
 * ordered by length, then bytes; ": " and ", " between; strings escaped as PostgreSQL does.
 * Appends nothing and returns false when there are none (PostgreSQL's NULL) or the arrays do not
 * match. */
bool tly_ch_props_text(tly_buf *out, const json_t *keys, const json_t *values, const json_t *kinds)
    TLY_NONNULL(1);

#endif
