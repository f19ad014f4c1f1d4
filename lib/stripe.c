#include "first.h"
#include "stripe.h"
#include "strict.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_HEX_LEN (2 * crypto_auth_hmacsha256_BYTES)

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Compares one v1 value (hex) with the expected MAC, in constant time. */
static bool signature_matches(const char *hex, size_t len, const unsigned char *mac)
{
    unsigned char given[crypto_auth_hmacsha256_BYTES];
    size_t given_len;
    if (len != SIG_HEX_LEN || sodium_hex2bin(given, sizeof given, hex, len, NULL, &given_len, NULL) != 0 ||
        given_len != sizeof given)
        return false;
    return sodium_memcmp(given, mac, sizeof given) == 0;
}

int tly_stripe_verify(const char *header, const char *body, size_t len, const char *secret, int64_t now,
                      char *err, size_t errlen)
{
    if (!header || !*header) return fail(err, errlen, "Stripe-Signature: missing");
    long long t = -1;
    const char *v1[8];
    size_t v1_len[8], n_v1 = 0;
    for (const char *p = header; *p;) {
        size_t item = strcspn(p, ",");
        const char *eq = memchr(p, '=', item);
        if (eq) {
            size_t klen = (size_t)(eq - p), vlen = item - klen - 1;
            if (klen == 1 && p[0] == 't' && tly_strict_int(eq + 1, vlen, 0, INT64_MAX, &t) != 0)
                return fail(err, errlen, "Stripe-Signature: t is not a Unix time");
            if (klen == 2 && p[0] == 'v' && p[1] == '1' && n_v1 < 8) {
                v1[n_v1] = eq + 1;
                v1_len[n_v1++] = vlen;
            }
        }
        p += item;
        if (*p == ',') p++;
    }
    if (t < 0) return fail(err, errlen, "Stripe-Signature: no timestamp (t=)");
    if (n_v1 == 0) return fail(err, errlen, "Stripe-Signature: no v1 signature");
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "%lld.", t);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (size_t)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    bool ok = false;
    for (size_t i = 0; i < n_v1; i++) ok |= signature_matches(v1[i], v1_len[i], mac);
    if (!ok) return fail(err, errlen, "Stripe-Signature: no v1 signature matches this body and secret");
    if (t < now - TLY_STRIPE_TOLERANCE || t > now + TLY_STRIPE_TOLERANCE)
        return fail(err, errlen, "Stripe-Signature: timestamp outside the 300 s tolerance (replayed or clock skew)");
    return 0;
}

/* Stripe's zero-decimal currencies: amounts are in the major unit already. */
static bool zero_decimal(const char *currency)
{
    static const char *const list[] = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
                                       "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"};
    for (size_t i = 0; i < TLY_ARRAY_LEN(list); i++)
        if (strcmp(currency, list[i]) == 0) return true;
    return false;
}

void tly_stripe_amount(long long minor, const char *currency, char *out, size_t outlen)
{
    if (zero_decimal(currency)) {
        snprintf(out, outlen, "%lld", minor);
        return;
    }
    long long abs_minor = minor < 0 ? -minor : minor;
    snprintf(out, outlen, "%s%lld.%02lld", minor < 0 ? "-" : "", abs_minor / 100, abs_minor % 100);
}

static const char *string_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool integer_at(const json_t *obj, const char *key, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) return false;
    *out = json_integer_value(v);
    return true;
}

static int read_currency(const json_t *obj, tly_stripe_payment *out, char *err, size_t errlen)
{
    const char *c = string_at(obj, "currency");
    if (!c || strlen(c) != 3 || !isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) ||
        !isalpha((unsigned char)c[2]))
        return fail(err, errlen, "data.object.currency: expected a three-letter ISO 4217 code");
    for (int i = 0; i < 3; i++) out->currency[i] = (char)toupper((unsigned char)c[i]);
    out->currency[3] = '\0';
    return 0;
}

int tly_stripe_read(const json_t *event, tly_stripe_payment *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *type = string_at(event, "type");
    out->event_id = string_at(event, "id");
    const json_t *data = json_object_get(event, "data");
    const json_t *obj = json_object_get(data, "object");
    if (!type || !out->event_id || !json_is_object(obj)) return fail(err, errlen, "not a Stripe event (id, type, data.object)");
    long long created;
    if (!integer_at(event, "created", &created)) return fail(err, errlen, "created: expected a Unix time");
    out->created = created;
    out->visit_token = string_at(json_object_get(obj, "metadata"), TLY_STRIPE_VISIT_KEY);
    long long minor;
    const char *pi = string_at(obj, "payment_intent");
    if (strcmp(type, "checkout.session.completed") == 0) {
        const char *status = string_at(obj, "payment_status");
        if (status && strcmp(status, "paid") != 0) return 0;   /* paid later: payment_intent.succeeded */
        if (!integer_at(obj, "amount_total", &minor)) return fail(err, errlen, "data.object.amount_total: expected an integer");
        out->kind = TLY_STRIPE_PURCHASE;
        out->payment_id = pi ? pi : string_at(obj, "id");
    } else if (strcmp(type, "payment_intent.succeeded") == 0) {
        if (!integer_at(obj, "amount_received", &minor) && !integer_at(obj, "amount", &minor))
            return fail(err, errlen, "data.object.amount_received: expected an integer");
        out->kind = TLY_STRIPE_PURCHASE;
        out->payment_id = string_at(obj, "id");
    } else if (strcmp(type, "charge.refunded") == 0) {
        if (!integer_at(obj, "amount_refunded", &minor)) return fail(err, errlen, "data.object.amount_refunded: expected an integer");
        /* Partial refunds: this event's part is what the refunded total grew by. */
        long long before;
        if (integer_at(json_object_get(data, "previous_attributes"), "amount_refunded", &before)) minor -= before;
        minor = -minor;
        out->kind = TLY_STRIPE_REFUND;
        out->payment_id = pi ? pi : string_at(obj, "id");
    } else {
        return 0;
    }
    if (!out->payment_id) return fail(err, errlen, "data.object.id: missing");
    if (read_currency(obj, out, err, errlen) != 0) return -1;
    tly_stripe_amount(minor, out->currency, out->amount, sizeof out->amount);
    return 0;
}
