#include "first.h"
#include "tap.h"
#include "stripe.h"

#include <string.h>

/* Signed by Python's hmac module: HMAC-SHA256(key "whsec_test_secret_123", "1800000000." + BODY). */
#define SECRET "whsec_test_secret_123"
#define BODY "{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}"
#define GOOD "a27aa7bb9786db7a50ea7a4fc849cae2ca8fbae9418352ca737c5e68a8e63afd"
#define WRONG "007aa7bb9786db7a50ea7a4fc849cae2ca8fbae9418352ca737c5e68a8e63afd"

static int verify(const char *header, const char *body, const char *secret, int64_t now, char *err)
{
    return tly_stripe_verify(header, body, strlen(body), secret, now, err, 256);
}

static void test_signature(void)
{
    char err[256];
    CHECK_INT(verify("t=1800000000,v1=" GOOD, BODY, SECRET, 1800000000, err), 0);
    CHECK_INT(verify("t=1800000000,v0=abc,v1=" GOOD, BODY, SECRET, 1800000100, err), 0);
    /* Stripe sends several v1 while a secret is being rolled: one match is enough. */
    CHECK_INT(verify("t=1800000000,v1=" WRONG ",v1=" GOOD, BODY, SECRET, 1800000000, err), 0);
    CHECK_INT(verify("t=1800000000,v1=" WRONG, BODY, SECRET, 1800000000, err), -1);
    CHECK_INT(verify("t=1800000000,v1=" GOOD, BODY, "whsec_other", 1800000000, err), -1);
    CHECK(strstr(err, "no v1 signature matches") != NULL);
    CHECK_INT(verify("t=1800000000,v1=" GOOD, BODY " ", SECRET, 1800000000, err), -1);
    CHECK_INT(verify("t=1800000001,v1=" GOOD, BODY, SECRET, 1800000000, err), -1);
    /* Tolerance: 300 s either way. */
    CHECK_INT(verify("t=1800000000,v1=" GOOD, BODY, SECRET, 1800000300, err), 0);
    CHECK_INT(verify("t=1800000000,v1=" GOOD, BODY, SECRET, 1800000301, err), -1);
    CHECK(strstr(err, "tolerance") != NULL);
    CHECK_INT(verify("t=1800000000,v1=" GOOD, BODY, SECRET, 1799999699, err), -1);
    /* Shapes. */
    CHECK_INT(tly_stripe_verify(NULL, BODY, strlen(BODY), SECRET, 0, err, sizeof err), -1);
    CHECK(strstr(err, "missing") != NULL);
    CHECK_INT(verify("v1=" GOOD, BODY, SECRET, 1800000000, err), -1);
    CHECK(strstr(err, "t=") != NULL);
    CHECK_INT(verify("t=1800000000", BODY, SECRET, 1800000000, err), -1);
    CHECK_INT(verify("t=soon,v1=" GOOD, BODY, SECRET, 1800000000, err), -1);
    CHECK_INT(verify("t=1800000000,v1=zz", BODY, SECRET, 1800000000, err), -1);
    CHECK_INT(verify("t=1800000000,v1=" GOOD "00", BODY, SECRET, 1800000000, err), -1);
}

static int read_event(const char *text, tly_stripe_payment *pay, char *err)
{
    json_t *ev = json_loads(text, 0, NULL);
    if (!ev) return -2;
    int rc = tly_stripe_read(ev, pay, err, 256);
    /* The strings point into the event: copy what the checks need before it goes. */
    static char payment[64], token[64];
    snprintf(payment, sizeof payment, "%s", pay->payment_id ? pay->payment_id : "");
    snprintf(token, sizeof token, "%s", pay->visit_token ? pay->visit_token : "");
    pay->payment_id = payment;
    pay->visit_token = token;
    pay->event_id = "";
    json_decref(ev);
    return rc;
}

static void test_events(void)
{
    tly_stripe_payment pay;
    char err[256];
    CHECK_INT(read_event("{\"id\":\"evt_1\",\"type\":\"checkout.session.completed\",\"created\":1800000000,"
                         "\"data\":{\"object\":{\"id\":\"cs_1\",\"payment_intent\":\"pi_1\",\"amount_total\":4990,"
                         "\"currency\":\"eur\",\"payment_status\":\"paid\",\"metadata\":{\"tally_visit\":\"vt_abc12345\"}}}}",
                         &pay, err), 0);
    CHECK_INT(pay.kind, TLY_STRIPE_PURCHASE);
    CHECK_STR(pay.amount, "49.90");
    CHECK_STR(pay.currency, "EUR");
    CHECK_STR(pay.payment_id, "pi_1");
    CHECK_STR(pay.visit_token, "vt_abc12345");
    CHECK_INT(pay.created, 1800000000);
    /* Not paid yet (e.g. a bank transfer): the payment_intent.succeeded will count it. */
    CHECK_INT(read_event("{\"id\":\"evt_2\",\"type\":\"checkout.session.completed\",\"created\":1,"
                         "\"data\":{\"object\":{\"id\":\"cs_2\",\"amount_total\":100,\"currency\":\"usd\","
                         "\"payment_status\":\"unpaid\"}}}", &pay, err), 0);
    CHECK_INT(pay.kind, TLY_STRIPE_IGNORED);
    CHECK_INT(read_event("{\"id\":\"evt_3\",\"type\":\"payment_intent.succeeded\",\"created\":2,"
                         "\"data\":{\"object\":{\"id\":\"pi_3\",\"amount_received\":500,\"currency\":\"jpy\"}}}",
                         &pay, err), 0);
    CHECK_INT(pay.kind, TLY_STRIPE_PURCHASE);
    CHECK_STR(pay.amount, "500");
    CHECK_STR(pay.currency, "JPY");
    CHECK_STR(pay.visit_token, "");
    /* A partial refund: what the refunded total grew by, negative. */
    CHECK_INT(read_event("{\"id\":\"evt_4\",\"type\":\"charge.refunded\",\"created\":3,\"data\":{\"object\":"
                         "{\"id\":\"ch_4\",\"payment_intent\":\"pi_1\",\"amount_refunded\":3000,\"currency\":\"eur\"},"
                         "\"previous_attributes\":{\"amount_refunded\":1000}}}", &pay, err), 0);
    CHECK_INT(pay.kind, TLY_STRIPE_REFUND);
    CHECK_STR(pay.amount, "-20.00");
    CHECK_STR(pay.payment_id, "pi_1");
    CHECK_INT(read_event("{\"id\":\"evt_5\",\"type\":\"customer.created\",\"created\":3,\"data\":{\"object\":{}}}",
                         &pay, err), 0);
    CHECK_INT(pay.kind, TLY_STRIPE_IGNORED);
    /* Broken revenue events name the field. */
    CHECK_INT(read_event("{\"id\":\"evt_6\",\"type\":\"payment_intent.succeeded\",\"created\":3,"
                         "\"data\":{\"object\":{\"id\":\"pi_6\",\"amount_received\":5,\"currency\":\"euro\"}}}", &pay, err), -1);
    CHECK(strstr(err, "currency") != NULL);
    CHECK_INT(read_event("{\"id\":\"evt_7\",\"type\":\"checkout.session.completed\",\"created\":3,"
                         "\"data\":{\"object\":{\"id\":\"cs_7\",\"amount_total\":\"5\",\"currency\":\"eur\"}}}", &pay, err), -1);
    CHECK(strstr(err, "amount_total") != NULL);
    CHECK_INT(read_event("{\"type\":\"x\"}", &pay, err), -1);
    CHECK_INT(read_event("{\"id\":\"evt_8\",\"type\":\"charge.refunded\",\"data\":{\"object\":{}}}", &pay, err), -1);
    CHECK(strstr(err, "created") != NULL);
}

static void test_amounts(void)
{
    char out[32];
    tly_stripe_amount(4990, "EUR", out, sizeof out);
    CHECK_STR(out, "49.90");
    tly_stripe_amount(5, "USD", out, sizeof out);
    CHECK_STR(out, "0.05");
    tly_stripe_amount(-1999, "GBP", out, sizeof out);
    CHECK_STR(out, "-19.99");
    tly_stripe_amount(-500, "KRW", out, sizeof out);
    CHECK_STR(out, "-500");
    tly_stripe_amount(0, "EUR", out, sizeof out);
    CHECK_STR(out, "0.00");
}

static void run_tests(void)
{
    test_signature();
    test_events();
    test_amounts();
}
