/* Stripe webhooks, the pure part: the Stripe-Signature check and reading a payment or refund out
 * of an event. No database, no HTTP.
 *
 * Signature: the header is "t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=...]"; each v1 is
 * HMAC-SHA256 keyed with the whole endpoint secret ("whsec_...") over "<t>.<raw body>". One v1
 * must match (compared in constant time) and t must lie within the tolerance of now. */
#ifndef TLY_STRIPE_H
#define TLY_STRIPE_H
#include "first.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLY_STRIPE_TOLERANCE 300            /* seconds between the signature's t and now */
#define TLY_STRIPE_VISIT_KEY "tally_visit"  /* the metadata key carrying the tracker's visit token */

/* 0 when the signature is good; -1 with a message (the reason, never the secret). */
int tly_stripe_verify(const char *header, const char *body, size_t len, const char *secret, int64_t now,
                      char *err, size_t errlen) TLY_NONNULL(2, 4, 6);

typedef enum {
    TLY_STRIPE_IGNORED,     /* an event type that carries no revenue */
    TLY_STRIPE_PURCHASE,
    TLY_STRIPE_REFUND
} tly_stripe_kind;

/* What a Stripe event means for revenue. Strings point into the parsed event (valid while it is). */
typedef struct tly_stripe_payment {
    tly_stripe_kind kind;
    const char *event_id;      /* evt_... */
    const char *payment_id;    /* the PaymentIntent (or Checkout Session / Charge) it is about */
    int64_t created;           /* Unix seconds */
    char amount[32];           /* decimal text in the currency's major unit; negative for refunds */
    char currency[4];          /* ISO 4217, upper case */
    const char *visit_token;   /* metadata.tally_visit, or NULL */
} tly_stripe_payment;

/* Reads a parsed Stripe event. 0 ok (kind may be IGNORED); -1 with a message naming the field when
 * a revenue event lacks what it needs. */
int tly_stripe_read(const json_t *event, tly_stripe_payment *out, char *err, size_t errlen)
    TLY_NONNULL(1, 2, 3);

/* Minor units to decimal text in the major unit: 4990 EUR -> "49.90", 500 JPY -> "500". */
void tly_stripe_amount(long long minor, const char *currency, char *out, size_t outlen) TLY_NONNULL(2, 3);

#endif
