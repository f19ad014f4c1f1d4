#include "first.h"
#include "stripe_webhook.h"
#include "events_store.h"
#include "envelope.h"
#include "log.h"
#include "property.h"
#include "spool.h"
#include "stripe.h"
#include "timeparse.h"
#include "visitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const tly_db_stmt stmt_secret = {
    "stripe_secret", "SELECT stripe_webhook_secret FROM properties WHERE pk = $1", 1};

static const char *const visit_columns[] = {
    "visitor", "prev_visitor", "hostname", "path", "referrer", "source", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "campaign_id", "country", "region", "city", "device",
    "browser", "browser_version", "os", "os_version"};

static void db_failed(tly_resp *resp, const tly_db_error *err)
{
    tly_log_error("stripe webhook: %s", err->message);
    tly_resp_header(resp, "Retry-After", "30");
    tly_resp_error(resp, 503, "database unavailable; Stripe will retry");
}

/* Copies the attributes of the visit a token was last seen on, close before the payment, into
 * row. 1 attributed, 0 token unknown, -1 database error. */
static int attribute(tly_db *db, int property_pk, const tly_stripe_payment *pay, json_t *row, tly_db_error *err)
{
    if (!pay->visit_token) return 0;
    tly_rows res;
    if (tly_events_store()->visit_of_token(db, property_pk, pay->visit_token, (long long)pay->created, &res, err) != 0)
        return -1;
    int found = res.n_rows == 1;
    for (size_t c = 0; found && c < TLY_ARRAY_LEN(visit_columns); c++) {
        const char *v = tly_rows_get(&res, 0, c);
        if (c < 2 && !*v) continue;   /* no prev_visitor */
        json_object_set_new(row, visit_columns[c], c < 2 ? json_integer(atoll(v)) : json_string(v));
    }
    tly_rows_free(&res);
    return found;
}

static json_t *payment_row(const tly_property *prop, const tly_stripe_payment *pay)
{
    char event_id[160];
    /* A purchase is one per PaymentIntent (checkout and payment_intent events name the same one);
     * each refund event is its own. */
    snprintf(event_id, sizeof event_id, "stripe:%.140s",
             pay->kind == TLY_STRIPE_PURCHASE ? pay->payment_id : pay->event_id);
    json_t *row = json_pack("{s:s, s:I, s:s, s:b, s:s, s:s, s:{s:s}}", "event_id", event_id,
                            "ts_ms", (json_int_t)pay->created * 1000,
                            "name", pay->kind == TLY_STRIPE_PURCHASE ? "purchase" : "refund",
                            "interactive", 1, "revenue_amount", pay->amount, "revenue_currency", pay->currency,
                            "props", "stripe_payment", pay->payment_id);
    /* Without a visit, the payment stands for a visitor of its own. */
    json_object_set_new(row, "visitor", json_integer(tly_visitor_hash_client_id(
        prop->visitor_key, "stripe", prop->id, pay->payment_id, strlen(pay->payment_id))));
    if (pay->visit_token) json_object_set_new(row, "visit_token", json_string(pay->visit_token));
    return row;
}

/* The endpoint secret, or NULL when the property has none (caller frees). */
static char *webhook_secret(tly_db *db, int property_pk, tly_db_error *err, int *failed)
{
    char pk[16];
    snprintf(pk, sizeof pk, "%d", property_pk);
    const char *params[] = {pk};
    PGresult *res = tly_db_exec(db, &stmt_secret, params, PGRES_TUPLES_OK, err);
    *failed = !res;
    if (!res) return NULL;
    char *secret = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return secret;
}

/* Checks the signature and reads the event; 0, or -1 answered. */
static int read_event(tly_req *req, tly_resp *resp, const char *secret, json_t **event, tly_stripe_payment *pay)
{
    char why[256];
    if (tly_stripe_verify(tly_req_param(req, "HTTP_STRIPE_SIGNATURE"), tly_buf_cstr(&req->body), req->body.len,
                          secret, tly_time_now_ms() / 1000, why, sizeof why) != 0) {
        tly_resp_error(resp, 400, "%s", why);
        return -1;
    }
    if (tly_json_body_check(tly_buf_cstr(&req->body), req->body.len, why, sizeof why) != 0) {
        tly_resp_error(resp, 400, "body: %s", why);
        return -1;
    }
    json_error_t jerr;
    *event = json_loadb(tly_buf_cstr(&req->body), req->body.len, 0, &jerr);
    if (!*event || tly_stripe_read(*event, pay, why, sizeof why) != 0) {
        tly_resp_error(resp, 400, "%s", *event ? why : "body is not JSON");
        json_decref(*event);
        *event = NULL;
        return -1;
    }
    return 0;
}

void tly_stripe_webhook(tly_ingest *ing, tly_req *req, tly_resp *resp, const char *property_id)
{
    tly_body_error berr;
    if (tly_req_read_body(req, ing->conf->max_body_bytes, &berr) != 0) {
        tly_resp_error(resp, berr.status, "%s", berr.message);
        return;
    }
    tly_property prop;
    tly_db_error err;
    json_t *event = NULL, *row = NULL;
    char *secret = NULL;
    int failed = 0, attributed = 0;
    tly_stripe_payment pay;
    int found = tly_property_by_id(ing->db, property_id, &prop, &err);
    if (found < 0) {
        db_failed(resp, &err);
        goto end;
    }
    if (found == 0) {
        tly_resp_error(resp, 404, "no such property: %.80s", property_id);
        goto end;
    }
    secret = webhook_secret(ing->db, prop.pk, &err, &failed);
    if (failed) db_failed(resp, &err);
    else if (!secret) tly_resp_error(resp, 404, "property %s has no Stripe webhook secret configured", prop.id);
    if (!secret || read_event(req, resp, secret, &event, &pay) != 0) goto clear;
    if (pay.kind == TLY_STRIPE_IGNORED) {
        tly_resp_json(resp, 200, json_pack("{s:b, s:s}", "received", 1, "recorded", "nothing"));
        goto clear;
    }
    row = payment_row(&prop, &pay);
    if ((attributed = attribute(ing->db, prop.pk, &pay, row, &err)) < 0) {
        db_failed(resp, &err);
        goto clear;
    }
    json_t *rows = json_pack("[O]", row);
    tly_store_job job = {prop.pk, rows, 0, 0};
    if (tly_ingest_store(ing, &job, &err) != 0) {
        db_failed(resp, &err);
    } else {
        tly_resp_json(resp, 200, json_pack("{s:b, s:s, s:b, s:b}", "received", 1,
                                           "recorded", pay.kind == TLY_STRIPE_PURCHASE ? "purchase" : "refund",
                                           "attributed", attributed == 1, "duplicate", job.stored == 0));
    }
    json_decref(rows);
clear:
    tly_property_clear(&prop);
end:
    json_decref(row);
    json_decref(event);
    free(secret);
}
