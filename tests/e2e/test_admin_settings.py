"""End-to-end tests of the admin API's settings for ingest limits, signed browser tokens, Stripe
revenue, server keys and saved funnels (docs/admin-api.md): each setting read and changed through
admin.fcgi, refused with a message naming the field, recorded in the audit log without secrets,
and applied by track.fcgi and report.fcgi. Against lighttpd + the three programs + PostgreSQL.

Runs after test_admin.py, whose helpers (signed-in browsers, the first-run owner, invitations) it
uses; every key secret handed out here is checked against the database and logs at the end.
"""
import hashlib
import hmac
import json
import re
import time
import urllib.parse

from client import CHROME, ev, expect, expect_counts, expect_json_error, new_client, new_ip, unique_ua
import test_admin
from test_admin import (Dash, as_property, err, member, new_key, new_property, ok, owner, pageview, pk_of,
                        secrets, sha, unique, wait_for_key_cache)

WEBHOOK_SECRET = "whsec_settings_" + hashlib.sha256(b"tally admin settings").hexdigest()[:24]


def audit(d, pid):
    return ok(d.get("properties/%s/audit?limit=200" % pid))["results"]


def stripe_delivery(h, prop_id, secret, evt="evt_settings_1", pi="pi_settings_1"):
    """A signed payment_intent.succeeded, as Stripe sends it to the webhook endpoint."""
    body = {"id": evt, "type": "payment_intent.succeeded", "created": int(time.time()),
            "data": {"object": {"id": pi, "object": "payment_intent", "amount_received": 1200,
                                "currency": "eur", "metadata": {}}}}
    raw = json.dumps(body).encode()
    t = int(time.time())
    sig = hmac.new(secret.encode(), b"%d." % t + raw, hashlib.sha256).hexdigest()
    return h.http("POST", "/v1/webhooks/stripe/" + prop_id, body=raw,
                  headers={"Stripe-Signature": "t=%d,v1=%s" % (t, sig), "Content-Type": "application/json"})


def mint(h, read_key):
    r = h.http("POST", "/v1/tokens", body={"ttl": 600}, headers={"Authorization": "Bearer " + read_key})
    expect(r, 201)
    return r.json()["token"]


def send_with(h, prop_id, credential, events, headers=None):
    hd = dict(headers or new_client(h), Authorization="Bearer " + credential)
    return h.http("POST", "/v1/events", body={"property_id": prop_id, "events": events}, headers=hd)


# --- ingest limits and browser tokens ------------------------------------------------------------

def test_quota_and_require_token_settings(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    assert (p["event_quota_daily"], p["require_token"]) == (0, False), p
    assert "token_secret" not in p and "stripe_webhook_secret" not in p, p
    path = "properties/" + pid
    got = ok(o.patch(path, {"event_quota_daily": 2, "require_token": True}))
    assert (got["event_quota_daily"], got["require_token"]) == (2, True), got
    assert ok(o.get(path)) == got
    assert h.sql_dicts("SELECT event_quota_daily, require_token FROM properties WHERE id = %s", pid) == \
        [{"event_quota_daily": 2, "require_token": True}]
    # The largest quota; bad values name the field and change nothing.
    assert ok(o.patch(path, {"event_quota_daily": 10 ** 12}))["event_quota_daily"] == 10 ** 12
    quota = "event_quota_daily"
    for body, field in [({quota: -1}, quota), ({quota: 1.5}, quota), ({quota: "100"}, quota),
                        ({quota: 10 ** 12 + 1}, quota), ({quota: True}, quota),
                        ({"require_token": "yes"}, "require_token"), ({"require_token": 1}, "require_token"),
                        ({"token_secret": "00" * 32}, "nothing to change")]:
        e = err(o.patch(path, body), 400, field)
        assert e.startswith(field) or field == "nothing to change", e
    assert "require_token" in err(o.patch(path, {}), 400, "nothing to change")
    assert h.sql_int("SELECT event_quota_daily FROM properties WHERE id = %s", pid) == 10 ** 12
    # Both are set at creation too, and viewers may read but not change them.
    q = new_property(o, event_quota_daily=7, require_token=True)
    assert (q["event_quota_daily"], q["require_token"]) == (7, True), q
    v = member(h, o, pid, "viewer")
    assert ok(v.get(path))["event_quota_daily"] == 10 ** 12
    err(v.patch(path, {"event_quota_daily": 0}), 403, "admin")
    details = [e["details"] for e in audit(o, pid) if e["action"] == "property.update"]
    assert {"event_quota_daily": 2, "require_token": True} in details, details


def test_quota_and_require_token_reach_ingest(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    wk = new_key(o, pid, "write")["secret"]
    rk = new_key(o, pid, "read")["secret"]
    prop = as_property(h, pid, wk, rk)
    c = h.client(new_ip(), unique_ua())
    browser = dict(c, Origin="https://example.com")
    ok(o.patch("properties/" + pid, {"event_quota_daily": 3, "require_token": True}))
    wait_for_key_cache()
    expect_counts(h.post_events(prop, [pageview("/q1"), pageview("/q2")], headers=c), 2)
    # Browsers need a signed token; with one they are counted against the same quota.
    expect_json_error(h.post_events(prop, [pageview("/plain")], headers=browser), 401, "token")
    expect_counts(send_with(h, pid, mint(h, rk), [pageview("/tok")], headers=browser), 1)
    for _ in range(3):       # whichever track.fcgi process answers
        r = h.post_events(prop, [pageview("/over")], headers=c)
        expect_json_error(r, 429, "quota")
        assert 1 <= int(r.headers["Retry-After"]) <= 86400, dict(r.headers)
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", prop.pk) == 3
    # Lifted again: no quota, plain keys from browsers.
    ok(o.patch("properties/" + pid, {"event_quota_daily": 0, "require_token": False}))
    wait_for_key_cache()
    expect_counts(h.post_events(prop, [pageview("/more")], headers=browser), 1)


def test_token_secret_rotation(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    rk = new_key(o, pid, "read")["secret"]
    wk = new_key(o, pid, "write")["secret"]
    old_token = mint(h, rk)
    expect_counts(send_with(h, pid, old_token, [pageview("/before")]), 1)
    before = h.sql_value("SELECT encode(token_secret, 'hex') FROM properties WHERE id = %s", pid)
    route = "properties/%s/token-secret/rotate" % pid
    admin = member(h, o, pid, "admin")
    viewer = member(h, o, pid, "viewer")
    err(viewer.post(route), 403, "admin")
    err(admin.post(route, csrf=False), 403, "X-CSRF-Token")
    err(Dash(h).post(route), 401)
    stranger = owner(h)
    other = new_property(stranger)
    err(member(h, stranger, other["id"], "admin").post(route), 404, "property")
    assert h.sql_value("SELECT encode(token_secret, 'hex') FROM properties WHERE id = %s", pid) == before
    r = admin.post(route)
    body = ok(r)
    assert set(body) == {"property_id", "rotated_at"} and body["property_id"] == pid, body
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", body["rotated_at"]), body
    after = h.sql_value("SELECT encode(token_secret, 'hex') FROM properties WHERE id = %s", pid)
    assert after != before and len(after) == 64, (before, after)
    assert before.encode() not in r.body and after.encode() not in r.body
    err(admin.request("GET", route), 405)
    # Within key_cache_seconds the tokens signed with the old secret stop working; new ones work.
    wait_for_key_cache()
    expect_json_error(send_with(h, pid, old_token, [pageview("/after-old")]), 401, "signature")
    expect_counts(send_with(h, pid, mint(h, rk), [pageview("/after-new")]), 1)
    expect_counts(send_with(h, pid, wk, [pageview("/key")]), 1)        # keys are not affected
    entry = audit(o, pid)[0]
    assert entry["action"] == "property.token_secret_rotate" and entry["actor"]["email"] == admin.email, entry
    assert entry["details"] == {} and entry["target"] == pid, entry
    text = json.dumps(h.sql_dicts("SELECT * FROM audit_log WHERE property_id = %s", pid))
    assert before not in text and after not in text


# --- Stripe webhook secret -----------------------------------------------------------------------

def test_stripe_webhook_secret_is_write_only(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    path = "properties/" + pid
    host = "127.0.0.1:%d" % h.http_port
    assert p["stripe_webhook"] == {"configured": False, "url": "http://%s/v1/webhooks/stripe/%s" % (host, pid)}, p
    # The endpoint to give Stripe is built from the host the request came to.
    shown = ok(o.get(path, headers={"Host": "stats.example.com"}))["stripe_webhook"]
    assert shown["url"] == "http://stats.example.com/v1/webhooks/stripe/%s" % pid, shown
    expect_json_error(stripe_delivery(h, pid, WEBHOOK_SECRET), 404, "Stripe webhook secret")

    r = o.patch(path, {"stripe_webhook_secret": WEBHOOK_SECRET})
    got = ok(r)
    assert got["stripe_webhook"]["configured"] is True and WEBHOOK_SECRET.encode() not in r.body, got
    for answer in (o.get(path), o.get("properties")):
        assert answer.status == 200 and WEBHOOK_SECRET.encode() not in answer.body, answer
    assert ok(o.get(path))["stripe_webhook"] == {"configured": True, "url": p["stripe_webhook"]["url"]}
    assert h.sql_value("SELECT stripe_webhook_secret FROM properties WHERE id = %s", pid) == WEBHOOK_SECRET
    # What Stripe signs with that secret is recorded; anything else is refused.
    r = stripe_delivery(h, pid, WEBHOOK_SECRET)
    assert r.status == 200 and r.json()["recorded"] == "purchase", r
    expect_json_error(stripe_delivery(h, pid, "whsec_someone_elses_secret", evt="evt_x", pi="pi_x"), 400,
                      "Stripe-Signature")

    # Bad secrets name the field and change nothing.
    for bad in ["sk_live_0123456789", "whsec_abc", "whsec_" + "a" * 195, "whsec_with space", "whsec_line\nbreak",
                "WHSEC_0123456789", "", 12345, ["whsec_0123456789"], True]:
        e = err(o.patch(path, {"stripe_webhook_secret": bad}), 400, "stripe_webhook_secret")
        assert e.startswith("stripe_webhook_secret: "), e
    assert ok(o.patch(path, {"stripe_webhook_secret": "whsec_" + "b" * 194}))["stripe_webhook"]["configured"]
    ok(o.patch(path, {"stripe_webhook_secret": WEBHOOK_SECRET}))
    # Admins set it, viewers see only whether there is one.
    v = member(h, o, pid, "viewer")
    viewed = v.get(path)
    assert ok(viewed)["stripe_webhook"]["configured"] is True and WEBHOOK_SECRET.encode() not in viewed.body
    err(v.patch(path, {"stripe_webhook_secret": None}), 403, "admin")

    # null removes it (an exception to "null counts as absent"); then deliveries are refused.
    got = ok(o.patch(path, {"stripe_webhook_secret": None}))
    assert got["stripe_webhook"]["configured"] is False, got
    assert h.sql_value("SELECT stripe_webhook_secret FROM properties WHERE id = %s", pid) is None
    expect_json_error(stripe_delivery(h, pid, WEBHOOK_SECRET, evt="evt_2", pi="pi_2"), 404, "Stripe webhook secret")
    # Set when the property is created, too.
    q = new_property(o, stripe_webhook_secret=WEBHOOK_SECRET)
    assert q["stripe_webhook"]["configured"] is True, q

    # The audit log says that it changed, never what it is; nor do the programs' logs.
    changes = [e["details"] for e in audit(o, pid) if e["action"] == "property.update"]
    assert changes[0] == {"stripe_webhook": {"configured": False}}, changes
    assert {"stripe_webhook": {"configured": True}} in changes, changes
    everything = json.dumps(h.sql_dicts("SELECT * FROM audit_log")) + \
        open(h.path("lighttpd-error.log"), encoding="utf-8", errors="replace").read()
    assert WEBHOOK_SECRET not in everything and "whsec_bbbb" not in everything


# --- server keys ---------------------------------------------------------------------------------

def test_server_keys(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    admin = member(h, o, pid, "admin")
    viewer = member(h, o, pid, "viewer")
    err(viewer.post("properties/%s/keys" % pid, {"kind": "server"}), 403, "admin")
    e = err(o.post("properties/%s/keys" % pid, {"kind": "backend"}), 400, "kind")
    assert "server" in e, e
    sk = new_key(admin, pid, "server", "checkout backend")
    assert re.match(r"^sk_[A-Za-z0-9_-]{43}$", sk["secret"]), sk
    key = sk["key"]
    assert (key["kind"], key["name"], key["prefix"]) == ("server", "checkout backend", sk["secret"][:10]), key
    listed = ok(viewer.get("properties/%s/keys" % pid))["results"]
    assert [k["kind"] for k in listed] == ["server"] and sk["secret"] not in json.dumps(listed), listed
    assert h.sql_int("SELECT count(*) FROM api_keys WHERE kind = 'server' AND key_hash = decode(%s, 'hex')",
                     sha(sk["secret"])) == 1
    entry = audit(o, pid)[0]
    assert entry["action"] == "key.create" and entry["details"]["kind"] == "server", entry

    # It sends events that name the end user, who joins the browser's visitor; a write key may not.
    wk = new_key(o, pid, "write")["secret"]
    ip, ua = new_ip(), unique_ua(CHROME)
    expect_counts(send_with(h, pid, wk, [pageview("/cart")], headers=h.client(ip, ua)), 1)
    order = ev(type="order_placed", context={"page": {"url": "https://example.com/cart"},
                                             "client": {"ip": ip, "user_agent": ua}})
    backend = h.client(new_ip(), "TallyBackend/1.0 (server)")
    expect_counts(send_with(h, pid, sk["secret"], [order], headers=backend), 1)
    assert h.sql_int("SELECT count(DISTINCT visitor) FROM events WHERE property_pk = %s", pk_of(h, pid)) == 1
    r = send_with(h, pid, wk, [dict(order, event_id=order["event_id"] + "-w")], headers=backend)
    expect_counts(r, 0, rejected=1)
    assert ok(o.get("properties/%s/keys" % pid))["results"][0]["last_used_at"], "the server key's use is shown"

    # Rotated: a new server key under the same name, the old one refused within key_cache_seconds.
    rot = ok(admin.post("properties/%s/keys/%d/rotate" % (pid, key["id"])), 201)
    secrets(h).add(rot["secret"])
    assert rot["secret"].startswith("sk_") and rot["key"]["kind"] == "server", rot
    assert rot["key"]["name"] == "checkout backend", rot
    assert rot["revoked"]["id"] == key["id"] and rot["revoked"]["revoked_at"], rot
    wait_for_key_cache()
    expect_json_error(send_with(h, pid, sk["secret"], [ev("/old")], headers=backend), 401, "revoked")
    expect_counts(send_with(h, pid, rot["secret"], [ev("/new")], headers=backend), 1)
    ok(o.post("properties/%s/keys/%d/revoke" % (pid, rot["key"]["id"])))
    err(o.post("properties/%s/keys/%d/revoke" % (pid, rot["key"]["id"])), 409, "revoked")
    err(viewer.post("properties/%s/keys/%d/rotate" % (pid, rot["key"]["id"])), 403, "admin")
    wait_for_key_cache()
    expect_json_error(send_with(h, pid, rot["secret"], [ev("/gone")], headers=backend), 401, "revoked")


# --- saved funnels -------------------------------------------------------------------------------

def step(dimension, op, value):
    return {"dimension": dimension, "op": op, "value": value}


SIGNUP_STEPS = [step("path", "==", "/"), step("path", "==", "/pricing"), step("event_type", "==", "signup")]


def funnel_report(d, pid, report_query):
    return ok(d.report(pid, "funnel", report_query))


def test_funnels(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    base = "properties/%s/funnels" % pid
    assert ok(o.get(base)) == {"results": []}
    f = ok(o.post(base, {"name": "Signup", "steps": SIGNUP_STEPS}), 201)
    assert f["name"] == "Signup" and f["steps"] == SIGNUP_STEPS and isinstance(f["id"], int), f
    assert f["report_query"] == "steps=path==/;path==/pricing;event_type==signup", f
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", f["created_at"]), f
    # Unknown members of a step are dropped; the steps come back as stored.
    g = ok(o.post(base, {"name": "Any pricing page", "steps": [dict(step("path", "=~", "pric"), colour="red"),
                                                               step("goal", "==", "Purchase")]}), 201)
    assert g["steps"] == [step("path", "=~", "pric"), step("goal", "==", "Purchase")], g
    assert g["report_query"] == "steps=path=~pric;goal==Purchase", g
    assert ok(o.get(base))["results"] == [g, f], "by name"

    # The dashboard calls report.fcgi with the report_query as it is.
    wk = new_key(o, pid, "write")["secret"]
    t = time.time() - 900
    journeys = [[("/", "pageview"), ("/pricing", "pageview"), ("/pricing", "signup")],
                [("/", "pageview"), ("/pricing", "pageview")],
                [("/pricing", "pageview"), ("/", "pageview")],
                [("/", "pageview")]]
    for journey in journeys:
        events = [ev(path, type=kind, ts=t + 30 * i) for i, (path, kind) in enumerate(journey)]
        expect_counts(send_with(h, pid, wk, events), len(events))
    h.sessionize()
    v = member(h, o, pid, "viewer")
    body = funnel_report(v, pid, f["report_query"])
    assert [(s_["step"], s_["visits"]) for s_ in body["steps"]] == \
        [("path==/", 4), ("path==/pricing", 2), ("event_type==signup", 1)], body

    # Changes: the name, the steps, or both; a name taken is 409; nothing to change is 400.
    renamed = ok(o.patch("%s/%d" % (base, f["id"]), {"name": "Sign-up"}))
    assert renamed["name"] == "Sign-up" and renamed["steps"] == SIGNUP_STEPS and renamed["id"] == f["id"], renamed
    shorter = ok(o.patch("%s/%d" % (base, f["id"]), {"steps": SIGNUP_STEPS[1:]}))
    assert shorter["report_query"] == "steps=path==/pricing;event_type==signup" and shorter["name"] == "Sign-up"
    assert [s_["visits"] for s_ in funnel_report(o, pid, shorter["report_query"])["steps"]] == [3, 1]
    err(o.patch("%s/%d" % (base, f["id"]), {"name": "Any pricing page"}), 409, "name")
    err(o.post(base, {"name": "Sign-up", "steps": SIGNUP_STEPS}), 409, "name")
    err(o.patch("%s/%d" % (base, f["id"]), {}), 400, "nothing to change")
    err(o.patch("%s/%d" % (base, f["id"]), {"name": None, "steps": None}), 400, "nothing to change")
    err(o.patch("%s/999999999" % base, {"name": "x"}), 404, "funnel")
    err(o.patch("%s/abc" % base, {"name": "x"}), 404, "funnel")
    # Another property's funnel is not reachable through this one.
    other = new_property(o)
    theirs = ok(o.post("properties/%s/funnels" % other["id"], {"name": "Theirs", "steps": SIGNUP_STEPS}), 201)
    err(o.patch("%s/%d" % (base, theirs["id"]), {"name": "Mine"}), 404, "funnel")
    err(o.delete("%s/%d" % (base, theirs["id"])), 404, "funnel")
    assert ok(o.get("properties/%s/funnels" % other["id"]))["results"] == [theirs]

    # Deleted: 204, then 404.
    ok(o.delete("%s/%d" % (base, g["id"])), 204)
    err(o.delete("%s/%d" % (base, g["id"])), 404, "funnel")
    assert [x["id"] for x in ok(o.get(base))["results"]] == [f["id"]]
    actions = [(e["action"], e["target"]) for e in audit(o, pid) if e["action"].startswith("funnel.")]
    assert actions == [("funnel.delete", "Any pricing page"), ("funnel.update", "Sign-up"),
                       ("funnel.update", "Sign-up"), ("funnel.create", "Any pricing page"),
                       ("funnel.create", "Signup")], actions
    created = [e for e in audit(o, pid) if e["action"] == "funnel.create"][-1]
    assert created["details"] == {"id": f["id"], "name": "Signup", "steps": SIGNUP_STEPS}, created


def test_funnel_bad_input(h):
    o = owner(h)
    p = new_property(o)
    base = "properties/%s/funnels" % p["id"]
    good = step("path", "==", "/")
    cases = [
        ({"steps": SIGNUP_STEPS}, "name"), ({"name": "", "steps": SIGNUP_STEPS}, "name"),
        ({"name": "x" * 121, "steps": SIGNUP_STEPS}, "name"), ({"name": 5, "steps": SIGNUP_STEPS}, "name"),
        ({"name": "F"}, "steps"), ({"name": "F", "steps": "path==/;path==/x"}, "steps"),
        ({"name": "F", "steps": [good]}, "steps"), ({"name": "F", "steps": [good] * 9}, "steps"),
        ({"name": "F", "steps": [good, "path==/x"]}, "steps[1]"),
        ({"name": "F", "steps": [good, {"op": "==", "value": "/"}]}, "steps[1].dimension"),
        ({"name": "F", "steps": [step("country", "==", "DE"), good]}, "steps[0].dimension"),
        ({"name": "F", "steps": [step("prop:plan", "==", "pro"), good]}, "steps[0].dimension"),
        ({"name": "F", "steps": [good, step("path", "!=", "/x")]}, "steps[1].op"),
        ({"name": "F", "steps": [good, step("path", "~", "/x")]}, "steps[1].op"),
        ({"name": "F", "steps": [good, {"dimension": "path", "op": "=="}]}, "steps[1].value"),
        ({"name": "F", "steps": [good, step("path", "==", 7)]}, "steps[1].value"),
        ({"name": "F", "steps": [good, good, step("path", "==", "pricing")]}, "steps[2].value"),
        ({"name": "F", "steps": [good, step("path", "=~", "")]}, "steps[1].value"),
        ({"name": "F", "steps": [good, step("path", "==", "/" + "x" * 500)]}, "steps[1].value"),
        ({"name": "F", "steps": [good, step("path", "==", "/tab\there")]}, "steps[1].value"),
        ({"name": "F", "steps": [good, step("event_type", "==", "sign;up")]}, "steps[1].value"),
        ({"name": "F", "steps": [good, step("goal", "==", "   ")]}, "steps[1].value"),
        # Values that are each allowed but together make a report URL over 4096 bytes.
        ({"name": "F", "steps": [step("path", "==", "/" + "é" * 499), step("path", "=~", "é" * 500)]}, "steps"),
    ]
    wrong = []
    for body, field in cases:
        r = o.post(base, body)
        e = r.json().get("error", "") if r.status == 400 else ""
        if not e.startswith(field + ":"):
            wrong.append((json.dumps(body)[:80], field, r))
    assert not wrong, wrong
    assert ok(o.get(base)) == {"results": []}, "nothing was saved"
    # The limits exactly: 8 steps of 500 characters make a report URL that report.fcgi answers.
    longest = [step("path", "==", "/%d" % i + "v" * 498) for i in range(8)]
    f = ok(o.post(base, {"name": "Longest", "steps": longest}), 201)
    assert 4000 < len(f["report_query"]) <= 4096, len(f["report_query"])
    assert [s_["visits"] for s_ in funnel_report(o, p["id"], f["report_query"])["steps"]] == [0] * 8
    err(o.patch("%s/%d" % (base, f["id"]), {"steps": longest + [longest[0]]}), 400, "steps")
    assert ok(o.get(base))["results"][0]["steps"] == longest, "a refused change changes nothing"


def test_funnel_report_query_escapes_values(h):
    """Values with ';', '\\', '&', '+', '%', spaces and non-ASCII come back from report.fcgi
    exactly as saved, and count the events whose paths they name."""
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    odd = ["/a;b", "/back\\slash;", "/q&a=1+2", "/100%/ünï code"]
    steps = [step("path", "==", v) for v in odd] + [step("goal", "=~", "semi;\\")]
    f = ok(o.post("properties/%s/funnels" % pid, {"name": "Odd", "steps": steps}), 201)
    query = f["report_query"]
    assert query.startswith("steps=path==/a%5C%3Bb;path==/back%5C%5Cslash%5C%3B;"), query
    assert not re.search(r"[ &+#\x80-\uffff]", query), query
    wk = new_key(o, pid, "write")["secret"]
    t = time.time() - 600
    events = [ev(path, ts=t + 30 * i) for i, path in enumerate(odd)]
    for e in events:
        e["context"]["page"]["url"] = "https://example.com" + urllib.parse.quote(e["context"]["page"]["path"])
    expect_counts(send_with(h, pid, wk, events), len(events))
    h.sessionize()
    stored = [r_["path"] for r_ in h.sql_dicts("SELECT path FROM events WHERE property_pk = %s ORDER BY ts",
                                               pk_of(h, pid))]
    body = funnel_report(o, pid, query)
    assert [s_["step"] for s_ in body["steps"]] == ["path==" + v for v in odd] + ["goal=~semi;\\"], body
    assert stored == odd, stored
    assert [s_["visits"] for s_ in body["steps"]] == [1, 1, 1, 1, 0], body


# --- roles, sessions and CSRF on the new routes; deletion ----------------------------------------

def test_new_routes_roles_and_csrf(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    base = "properties/" + pid
    people = {role: member(h, o, pid, role) for role in ("viewer", "admin")}
    people["owner"] = o
    outsider = member(h, o, new_property(o)["id"], "owner")      # of another property only

    def fresh_funnel():
        return ok(o.post(base + "/funnels", {"name": unique("f"), "steps": SIGNUP_STEPS}), 201)["id"]

    steps = [
        ("viewer", 200, lambda d: d.get(base + "/funnels")),
        ("viewer", 200, lambda d: d.get(base)),
        ("admin", 201, lambda d: d.post(base + "/funnels", {"name": unique("f"), "steps": SIGNUP_STEPS})),
        ("admin", 200, lambda d: d.patch(base + "/funnels/%d" % fresh_funnel(), {"name": unique("f")})),
        ("admin", 204, lambda d: d.delete(base + "/funnels/%d" % fresh_funnel())),
        ("admin", 200, lambda d: d.post(base + "/token-secret/rotate")),
        ("admin", 200, lambda d: d.patch(base, {"event_quota_daily": 100, "require_token": False,
                                                "stripe_webhook_secret": None})),
        ("admin", 201, lambda d: d.post(base + "/keys", {"kind": "server"})),
    ]
    rank = {"viewer": 1, "admin": 2, "owner": 3}
    wrong = []
    for role in ("viewer", "admin", "owner", "outsider"):
        d = outsider if role == "outsider" else people[role]
        for i, (need, status, call) in enumerate(steps):
            want = 404 if role == "outsider" else status if rank[role] >= rank[need] else 403
            r = call(d)
            if r.status == 201 and "secret" in r.json():
                secrets(h).add(r.json()["secret"])
            if r.status != want or (want >= 400 and "error" not in r.json()):
                wrong.append((role, i, want, r))
    assert not wrong, wrong
    # No session: 401; a change without the session's CSRF token: 403, and nothing happens.
    anon = Dash(h)
    for method, path in [("GET", base + "/funnels"), ("POST", base + "/funnels"), ("PATCH", base + "/funnels/1"),
                         ("DELETE", base + "/funnels/1"), ("POST", base + "/token-secret/rotate")]:
        err(anon.request(method, path, {} if method != "GET" else None), 401)
    fid = fresh_funnel()
    before = h.sql_value("SELECT encode(token_secret, 'hex') FROM properties WHERE id = %s", pid)
    n_keys = h.sql_int("SELECT count(*) FROM api_keys WHERE property_pk = %s", pk_of(h, pid))
    for method, path, body in [("POST", base + "/funnels", {"name": "csrf", "steps": SIGNUP_STEPS}),
                               ("PATCH", base + "/funnels/%d" % fid, {"name": "csrf"}),
                               ("DELETE", base + "/funnels/%d" % fid, None),
                               ("POST", base + "/token-secret/rotate", {}),
                               ("PATCH", base, {"stripe_webhook_secret": WEBHOOK_SECRET}),
                               ("POST", base + "/keys", {"kind": "server"})]:
        err(o.request(method, path, body, csrf=False), 403, "X-CSRF-Token")
        err(o.request(method, path, body, csrf=False, headers={"X-CSRF-Token": outsider.csrf}), 403, "X-CSRF-Token")
    assert h.sql_value("SELECT encode(token_secret, 'hex') FROM properties WHERE id = %s", pid) == before
    assert h.sql_int("SELECT count(*) FROM api_keys WHERE property_pk = %s", pk_of(h, pid)) == n_keys
    assert h.sql_value("SELECT stripe_webhook_secret FROM properties WHERE id = %s", pid) is None
    assert [x["name"] for x in ok(o.get(base + "/funnels"))["results"]].count("csrf") == 0
    r = o.request("PUT", base + "/funnels/%d" % fid, {"name": "x"})
    err(r, 405, "PUT")
    assert r.headers.get("Allow") == "PATCH, DELETE", r.headers.get("Allow")
    assert o.request("PUT", base + "/funnels", {}).headers.get("Allow") == "GET, POST"


def test_property_delete_removes_funnels(h):
    o = owner(h)
    p = new_property(o, stripe_webhook_secret=WEBHOOK_SECRET, event_quota_daily=10)
    keep = new_property(o)
    pid = p["id"]
    pk = pk_of(h, pid)
    for name in ("One", "Two"):
        ok(o.post("properties/%s/funnels" % pid, {"name": name, "steps": SIGNUP_STEPS}), 201)
    kept = ok(o.post("properties/%s/funnels" % keep["id"], {"name": "Kept", "steps": SIGNUP_STEPS}), 201)
    new_key(o, pid, "server")
    assert h.sql_int("SELECT count(*) FROM funnels WHERE property_pk = %s", pk) == 2
    ok(o.delete("properties/" + pid, {"confirm": pid}))
    assert h.sql_int("SELECT count(*) FROM funnels WHERE property_pk = %s", pk) == 0
    assert h.sql_int("SELECT count(*) FROM api_keys WHERE property_pk = %s", pk) == 0
    assert ok(o.get("properties/%s/funnels" % keep["id"]))["results"] == [kept], "other properties keep theirs"
    err(o.get("properties/%s/funnels" % pid), 404, "property")
    expect_json_error(stripe_delivery(h, pid, WEBHOOK_SECRET, evt="evt_gone", pi="pi_gone"), 404, "property")


def test_no_key_secret_stored_or_logged(h):
    """The server keys made here, like every secret of test_admin, are nowhere on disk (the Stripe
    secret is stored as given, by design: the webhook needs it to check signatures)."""
    test_admin.test_no_secret_stored_or_logged(h)
    assert any(s_.startswith("sk_") for s_ in secrets(h)), "no server key was checked"
