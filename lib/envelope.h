/* The ingest envelope of POST /v1/events (api.md section 1): whole-request checks, then each
 * event validated on its own so that one bad event does not cost the others. */
#ifndef TLY_ENVELOPE_H
#define TLY_ENVELOPE_H
#include "first.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tly_envelope {
    json_t *root;              /* owned; the parsed body */
    const char *property_id;   /* borrowed from root */
    json_t *events;            /* borrowed array */
    bool has_sent_at;
    int64_t sent_at_ms;
} tly_envelope;

typedef struct tly_envelope_error {
    int status;                /* 400 or 413 */
    char message[256];
} tly_envelope_error;

/* True when JSON text nests arrays and objects at most max_depth levels deep (brackets inside
 * strings do not count); malformed text is left for the parser to refuse. */
bool tly_json_depth_within(const char *text, size_t len, int max_depth);
/* What a request body must pass before it is parsed: no NUL byte (Jansson skips some silently,
 * e.g. one right after a number, and would accept text that is not JSON) and nesting within
 * TLY_MAX_JSON_DEPTH (refused with a message naming the limit instead of costing the recursive
 * parser its stack). 0 ok; -1 with a message. Shared with the Plausible-compatible endpoint. */
int tly_json_body_check(const char *text, size_t len, char *err, size_t errlen);

/* Parses and checks the envelope. 0 ok (release with tly_envelope_clear), -1 with err. */
int tly_envelope_parse(const char *body, size_t len, int max_events, tly_envelope *env,
                       tly_envelope_error *err) TLY_NONNULL(1, 4, 5) TLY_MUST_CHECK;
void tly_envelope_clear(tly_envelope *env) TLY_NONNULL(1);

/* One event, validated and normalised. Strings are owned and never NULL unless noted. */
typedef struct tly_event {
    char *event_id;            /* NULL: none given, no dedupe possible */
    char *name;                /* "pageview" or a custom name */
    int64_t ts_ms;             /* skew-corrected; receive time when missing or too far ahead */
    char *hostname;            /* lowercased, without "www." */
    char *path, *query, *title;
    char *referrer;            /* scheme://host/path of the referrer, "" when none */
    char *utm_source, *utm_medium, *utm_campaign, *utm_term, *utm_content, *campaign_id;
    int screen_width;          /* -1 when not sent */
    char *visitor_id, *session_id, *user_id_hash;   /* NULL when not sent */
    char *visit_token;         /* the tracker's per-page-load token (revenue attribution); NULL when not sent */
    char *client_ip;           /* context.client.ip, for server keys only; never stored; NULL when not sent */
    char *client_ua;           /* context.client.user_agent, likewise */
    bool interactive;
    json_t *props;             /* owned; NULL when no custom properties */
    char *revenue_amount;      /* decimal text, NULL when none */
    char *revenue_currency;    /* ISO 4217, NULL when none */
} tly_event;

/* Validates events[index] of env. 0 ok (release with tly_event_clear); -1 with a message that
 * names the offending field, e.g. "context.page.url: not an absolute http(s) URL". */
int tly_event_parse(const tly_envelope *env, size_t index, int64_t received_ms, tly_event *ev,
                    char *err, size_t errlen) TLY_NONNULL(1, 4, 5) TLY_MUST_CHECK;
void tly_event_clear(tly_event *ev) TLY_NONNULL(1);

/* Shared with the Plausible-compatible endpoint: fills the page fields of ev from an absolute
 * URL (hostname, path, query, and UTM when fill_utm). 0 ok, -1 not an absolute http(s) URL. */
int tly_event_set_url(tly_event *ev, const char *url, size_t len, bool fill_utm) TLY_NONNULL(1, 2);
/* Sets ev->referrer (cleaned) from a referrer URL; an unusable referrer leaves it empty. */
void tly_event_set_referrer(tly_event *ev, const char *ref, size_t len) TLY_NONNULL(1, 2);
/* Validates `data`/`props` into ev->props and revenue. 0 ok, -1 with err naming the key. */
int tly_event_set_data(tly_event *ev, json_t *data, const char *field, char *err, size_t errlen)
    TLY_NONNULL(1, 3, 4);
/* Validates a revenue object {"amount": "49.90" | 49.9, "currency": "EUR"}. */
int tly_event_set_revenue(tly_event *ev, json_t *revenue, const char *field, char *err,
                          size_t errlen) TLY_NONNULL(1, 3, 4);
/* True for a valid event name: 1-64 characters of letters, digits, _ - . : / and space. */
bool tly_event_name_valid(const char *name, size_t len);
/* Whether an event of this name is interactive unless it says otherwise: all but "engagement"
 * (time on page and scroll depth, sent by the trackers when a page is hidden or left), which
 * must not turn a bounce into a visit. */
bool tly_event_name_interactive(const char *name) TLY_NONNULL(1);
/* Starts an empty event with every string "" (and the NULL ones NULL). */
void tly_event_init(tly_event *ev) TLY_NONNULL(1);
/* Replaces one of ev's texts (e.g. &ev->path) with a copy of the first len bytes of s. The texts
 * belong to the event: set them only through this. */
void tly_event_set_text(char **slot, const char *s, size_t len) TLY_NONNULL(1, 2);

#endif
