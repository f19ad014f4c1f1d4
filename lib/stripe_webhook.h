/* POST /v1/webhooks/stripe/{property id}: Stripe's webhook, recorded as revenue events.
 *
 * A purchase (checkout.session.completed when paid, payment_intent.succeeded) becomes a "purchase"
 * event with its amount and currency; a refund (charge.refunded) a "refund" event with a negative
 * amount. When the payment's metadata carries the tracker's visit token (tally_visit), the event
 * joins the visitor and visit that token was last seen on, with their source, campaign, landing
 * page and country; otherwise it stands alone. A purchase is stored once per PaymentIntent, a
 * refund once per Stripe event, however often Stripe retries. */
#ifndef TLY_STRIPE_WEBHOOK_H
#define TLY_STRIPE_WEBHOOK_H
#include "first.h"
#include "ingest.h"

void tly_stripe_webhook(tly_ingest *ing, tly_req *req, tly_resp *resp, const char *property_id)
    TLY_NONNULL(1, 2, 3, 4);

#endif
