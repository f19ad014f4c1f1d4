"""Revenue: Stripe's webhook (signed fixture payloads) recorded as purchases and refunds, credited
to the visit whose tracker token the checkout carried; revenue reports by visit dimension; server
keys that pass the end user's address and user agent."""
import hashlib
import hmac
import json
import time

from client import CHROME, count, ev, expect_counts, expect_json_error, new_client, new_ip, unique_ua

SECRET = "whsec_e2e_%s" % hashlib.sha1(b"tally").hexdigest()[:16]


def signed(body, t=None, secret=SECRET):
    t = int(time.time()) if t is None else t
    raw = json.dumps(body).encode()
    sig = hmac.new(secret.encode(), b"%d." % t + raw, hashlib.sha256).hexdigest()
    return raw, {"Stripe-Signature": "t=%d,v1=%s" % (t, sig), "Content-Type": "application/json"}


def webhook(h, prop_id, body, **kw):
    raw, hdr = signed(body, **kw)
    return h.http("POST", "/v1/webhooks/stripe/" + prop_id, body=raw, headers=hdr)


def checkout(evt, pi, amount, currency, token=None, created=None, status="paid"):
    meta = {"tally_visit": token} if token else {}
    return {"id": evt, "type": "checkout.session.completed", "created": created or int(time.time()),
            "data": {"object": {"id": "cs_" + evt, "object": "checkout.session", "payment_intent": pi,
                                "amount_total": amount, "currency": currency, "payment_status": status,
                                "metadata": meta}}}


def intent(evt, pi, amount, currency, token=None):
    return {"id": evt, "type": "payment_intent.succeeded", "created": int(time.time()),
            "data": {"object": {"id": pi, "object": "payment_intent", "amount_received": amount,
                                "currency": currency, "metadata": {"tally_visit": token} if token else {}}}}


def refund(evt, pi, refunded, before, currency, token=None):
    return {"id": evt, "type": "charge.refunded", "created": int(time.time()),
            "data": {"object": {"id": "ch_" + evt, "payment_intent": pi, "amount_refunded": refunded,
                                "currency": currency, "metadata": {"tally_visit": token} if token else {}},
                     "previous_attributes": {"amount_refunded": before}}}


def report(h, p, name, **params):
    qs = "&".join("%s=%s" % kv for kv in params.items())
    r = h.http("GET", "/v1/properties/%s/%s?%s" % (p.id, name, qs), headers={"Authorization": "Bearer " + p.read_key})
    assert r.status == 200, r
    return r.json()


def shop(h):
    p = h.create_property()
    h.sql("UPDATE properties SET stripe_webhook_secret = %s WHERE pk = %s", SECRET, p.pk)
    h.sql("INSERT INTO goals (property_pk, name, event_name, revenue) VALUES (%s, 'Purchase', 'purchase', true)", p.pk)
    now = time.time()
    a, b = new_client(h), new_client(h)
    expect_counts(h.post_events(p, [ev("/product", referrer="https://www.google.com/", ts=now - 300,
                                       identity={"visit_token": "vt_A1234567"})], headers=a), 1)
    expect_counts(h.post_events(p, [ev("/", ts=now - 300, identity={"visit_token": "vt_B1234567"})], headers=b), 1)
    return p


def test_stripe_purchases_and_refunds(h):
    p = shop(h)
    r = webhook(h, p.id, checkout("evt_a1", "pi_A", 4990, "eur", token="vt_A1234567"))
    assert r.status == 200 and r.json() == {"received": True, "recorded": "purchase", "attributed": True,
                                            "duplicate": False}, r
    # Stripe retries, and the same payment reported as a PaymentIntent: stored once.
    assert webhook(h, p.id, checkout("evt_a1", "pi_A", 4990, "eur", token="vt_A1234567")).json()["duplicate"] is True
    assert webhook(h, p.id, intent("evt_a2", "pi_A", 4990, "eur", token="vt_A1234567")).json()["duplicate"] is True
    r = webhook(h, p.id, refund("evt_a3", "pi_A", 1000, 0, "eur", token="vt_A1234567"))
    assert r.json()["recorded"] == "refund" and r.json()["attributed"] is True, r
    r = webhook(h, p.id, intent("evt_x1", "pi_X", 1500, "usd"))
    assert r.json() == {"received": True, "recorded": "purchase", "attributed": False, "duplicate": False}, r
    assert webhook(h, p.id, checkout("evt_u1", "pi_U", 100, "eur", status="unpaid")).json()["recorded"] == "nothing"
    rows = h.sql_dicts("SELECT name, revenue_amount::text AS amount, revenue_currency AS cur, source, path "
                       "FROM events WHERE property_pk = %s AND revenue_amount IS NOT NULL ORDER BY ts, name", p.pk)
    got = sorted((x["name"], x["amount"], x["cur"], x["source"]) for x in rows)
    assert got == [("purchase", "15.0000", "USD", ""), ("purchase", "49.9000", "EUR", "Google"),
                   ("refund", "-10.0000", "EUR", "Google")], rows
    h.sessionize()
    by_source = report(h, p, "revenue", group_by="source")["results"]
    assert by_source[0] == {"source": "Google", "unique_visitors": 1, "sessions": 1, "conversions": 1,
                            "conversion_rate": 100.0, "revenue": {"EUR": "39.90"},
                            "revenue_per_visitor": {"EUR": "39.90"}}, by_source
    assert [x["source"] for x in by_source] == ["Google", "Direct / None"], by_source
    total = report(h, p, "revenue")["results"]
    assert total == [{"unique_visitors": 3, "sessions": 3, "conversions": 2, "conversion_rate": 66.7,
                      "revenue": {"EUR": "39.90", "USD": "15.00"},
                      "revenue_per_visitor": {"EUR": "13.30", "USD": "5.00"}}], total
    landing = report(h, p, "revenue", group_by="entry_page")["results"]
    assert landing[0]["entry_page"] == "/product" and landing[0]["revenue"] == {"EUR": "39.90"}, landing
    goals = report(h, p, "goals")["results"]
    assert goals[0]["goal"] == "Purchase" and goals[0]["conversions"] == 2, goals
    assert goals[0]["revenue"] == {"EUR": "49.90", "USD": "15.00"}, goals


def test_stripe_refusals(h):
    p = shop(h)
    body = checkout("evt_r1", "pi_R", 100, "eur")
    raw, hdr = signed(body)
    hdr["Stripe-Signature"] = hdr["Stripe-Signature"][:-2] + ("00" if not hdr["Stripe-Signature"].endswith("00") else "11")
    expect_json_error(h.http("POST", "/v1/webhooks/stripe/" + p.id, body=raw, headers=hdr), 400, "Stripe-Signature")
    expect_json_error(webhook(h, p.id, body, t=int(time.time()) - 301), 400, "tolerance")
    expect_json_error(webhook(h, p.id, body, secret="whsec_wrong"), 400, "Stripe-Signature")
    raw, hdr = signed(body)
    del hdr["Stripe-Signature"]
    expect_json_error(h.http("POST", "/v1/webhooks/stripe/" + p.id, body=raw, headers=hdr), 400, "missing")
    expect_json_error(webhook(h, "prop_nobody", body), 404, "property")
    q = h.create_property()
    expect_json_error(webhook(h, q.id, body), 404, "Stripe webhook secret")
    r = h.http("GET", "/v1/webhooks/stripe/" + p.id)
    expect_json_error(r, 405)
    expect_json_error(webhook(h, p.id, {"id": "evt_bad", "type": "payment_intent.succeeded", "created": 1,
                                        "data": {"object": {"id": "pi_b", "amount_received": 5, "currency": "euro"}}}),
                      400, "currency")
    assert count(h, p, "revenue_amount IS NOT NULL") == 0


def test_revenue_report_refuses_event_dimensions(h):
    p = h.create_property()
    r = h.http("GET", "/v1/properties/%s/revenue?group_by=path" % p.id, headers={"Authorization": "Bearer " + p.read_key})
    expect_json_error(r, 400, "group_by")


def server_key(h, p):
    secret = "sk_" + hashlib.sha256(p.id.encode()).hexdigest()[:32]
    h.sql("INSERT INTO api_keys (property_pk, kind, key_hash, prefix) VALUES (%s, 'server', sha256(convert_to(%s, 'UTF8')), 'sk_')",
          p.pk, secret)
    return secret


def test_server_key_joins_the_browser_visitor(h):
    p = h.create_property()
    ip, ua = new_ip(), unique_ua(CHROME)
    expect_counts(h.post_events(p, [ev("/cart")], headers=h.client(ip, ua)), 1)
    key = server_key(h, p)
    order = ev(type="order_placed", data={"revenue": {"amount": "20.00", "currency": "EUR"}},
               context={"page": {"url": "https://example.com/cart"}, "client": {"ip": ip, "user_agent": ua}})
    backend = h.client(new_ip(), "TallyBackend/1.0 (server)")    # the server's own address and agent
    body = {"property_id": p.id, "events": [order]}
    r = h.http("POST", "/v1/events", body=body, headers=dict(backend, Authorization="Bearer " + key))
    expect_counts(r, 1)
    visitors = h.sql("SELECT DISTINCT visitor FROM events WHERE property_pk = %s", p.pk)
    assert len(visitors) == 1, "the server event must join the browser's visitor: %r" % visitors
    browser = h.sql_value("SELECT browser FROM events WHERE property_pk = %s AND name = 'order_placed'", p.pk)
    assert browser == "Chrome", browser
    # A browser (write) key may not name someone else.
    r = h.post_events(p, [dict(order, event_id="x-" + order["event_id"])], headers=new_client(h))
    expect_counts(r, 0, rejected=1)
    assert "server keys" in r.json()["errors"][0]["error"], r.json()


def test_funnel(h):
    p = h.create_property()
    t = time.time() - 900
    journeys = {"a": [("/", "pageview"), ("/pricing", "pageview"), ("/pricing", "signup")],
                "b": [("/", "pageview"), ("/pricing", "pageview")],
                "c": [("/pricing", "pageview"), ("/", "pageview")],     # the steps in the wrong order
                "d": [("/", "pageview")]}
    for steps in journeys.values():
        c = new_client(h)
        expect_counts(h.post_events(p, [ev(path, type=kind, ts=t + 30 * i) for i, (path, kind) in enumerate(steps)],
                                    headers=c), len(steps))
    h.sessionize()
    body = report(h, p, "funnel", steps="path==/;path==/pricing;event_type==signup")
    assert body["visits"] == 4, body
    assert body["steps"] == [
        {"step": "path==/", "visits": 4, "visitors": 4, "conversion_rate": 100.0, "drop_off": 0},
        {"step": "path==/pricing", "visits": 2, "visitors": 2, "conversion_rate": 50.0, "drop_off": 2},
        {"step": "event_type==signup", "visits": 1, "visitors": 1, "conversion_rate": 25.0, "drop_off": 1}], body
    # Contains-steps and filters on visits.
    body = report(h, p, "funnel", steps="path=~pric;path==/")
    assert [s["visits"] for s in body["steps"]] == [3, 1], body
    # Bad steps name the parameter.
    for qs, word in (("steps=path==/", "2 to 8"), ("steps=path==/;country==DE", "step 2"),
                     ("steps=path==/;path!=/x", "not !="), ("", "2 to 8")):
        r = h.http("GET", "/v1/properties/%s/funnel?%s" % (p.id, qs), headers={"Authorization": "Bearer " + p.read_key})
        expect_json_error(r, 400, "steps")
        assert word in r.json()["error"], (qs, r.json())
    r = h.http("GET", "/v1/properties/%s/pages?steps=path==/;path==/x" % p.id,
               headers={"Authorization": "Bearer " + p.read_key})
    expect_json_error(r, 400, "steps")
