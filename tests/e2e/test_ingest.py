"""End-to-end tests of the ingest API (api.md section 1) against lighttpd + track.fcgi + PostgreSQL.

Every test creates its own property, so counts in the database are per test. Client addresses are
simulated with X-Forwarded-For (lighttpd connects from 127.0.0.1, a trusted proxy); every address
and user agent goes through h.client() so that the privacy audit (test_privacy.py) can look for it.
"""
import json
import os
import sys
import time

from harness import new_event_id
from client import (CHROME, FIREFOX, GOOGLEBOT, count, ev, expect, expect_counts, expect_json_error, iso,
                    new_client, new_ip, rows, unique_ua, visits)


# --- health --------------------------------------------------------------------------------------

def test_health_ok(h):
    r = expect(h.http("GET", "/v1/health"), 200)
    body = r.json()
    assert body.get("status") == "ok" and body.get("db") == "ok", body


# --- accepted requests and the three ways to authenticate ------------------------------------------

def test_single_pageview_bearer(h):
    p = h.create_property()
    r = h.post_events(p, [ev("/hello")], headers=new_client(h))
    expect_counts(r, 1)
    assert count(h, p) == 1
    row = rows(h, p, "name, path, hostname")[0]
    assert row == {"name": "pageview", "path": "/hello", "hostname": "example.com"}, row


def test_auth_x_write_key(h):
    p = h.create_property()
    expect_counts(h.post_events(p, [ev()], headers=new_client(h), auth="x-write-key"), 1)
    assert count(h, p) == 1


def test_auth_query_key(h):
    p = h.create_property()
    expect_counts(h.post_events(p, [ev()], headers=new_client(h), auth="query"), 1)
    assert count(h, p) == 1


def test_text_plain_body(h):
    """sendBeacon and no-preflight fetch send the JSON as text/plain."""
    p = h.create_property()
    r = h.post_events(p, [ev("/beacon")], headers=new_client(h), auth="query",
                      content_type="text/plain;charset=UTF-8")
    expect_counts(r, 1)
    assert count(h, p, "path = '/beacon'") == 1


def test_custom_event_with_data(h):
    p = h.create_property()
    e = ev("/checkout", type="purchase", data={"plan": "pro", "revenue": {"amount": "49.90", "currency": "EUR"}})
    expect_counts(h.post_events(p, [e], headers=new_client(h)), 1)
    row = rows(h, p, "name, revenue_amount::text AS amount, revenue_currency, props")[0]
    assert row["name"] == "purchase", row
    assert row["revenue_currency"] == "EUR" and float(row["amount"]) == 49.9, row
    assert (row["props"] or {}).get("plan") == "pro", row


def test_chunked_body_accepted(h):
    """lighttpd buffers a chunked body and hands the program a Content-Length."""
    p = h.create_property()
    c = new_client(h)
    body = json.dumps({"property_id": p.id, "events": [ev("/chunked")]}).encode()
    req = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
           b"Authorization: Bearer " + p.write_key.encode() + b"\r\n"
           b"X-Forwarded-For: " + c["X-Forwarded-For"].encode() + b"\r\n"
           b"User-Agent: " + c["User-Agent"].encode() + b"\r\n\r\n" +
           b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    expect_counts(h.http_raw(req), 1)
    assert count(h, p) == 1


def test_ipv6_client(h):
    p = h.create_property()
    expect_counts(h.post_events(p, [ev()], headers=new_client(h, family=6)), 1)
    assert count(h, p) == 1


# --- whole-request errors --------------------------------------------------------------------------

def test_400_not_json(h):
    p = h.create_property()
    for body in (b"", b"{", b"not json", b"\xff\xfe{}", b'{"a":1,"a":2}'):
        r = h.http("POST", "/v1/events", body=body,
                   headers={"Content-Type": "application/json", "Authorization": "Bearer " + p.write_key})
        expect_json_error(r, 400)
    assert count(h, p) == 0


def test_400_envelope_fields_named(h):
    p = h.create_property()
    hdr = {"Content-Type": "application/json", "Authorization": "Bearer " + p.write_key}
    cases = [
        ([1, 2], "body"),
        ({"events": [ev()]}, "property_id"),
        ({"property_id": 42, "events": [ev()]}, "property_id"),
        ({"property_id": p.id}, "events"),
        ({"property_id": p.id, "events": {"0": ev()}}, "events"),
        ({"property_id": p.id, "schema_version": "one", "events": [ev()]}, "schema_version"),
        ({"property_id": p.id, "sent_at": "yesterday", "events": [ev()]}, "sent_at"),
    ]
    for body, field in cases:
        r = h.http("POST", "/v1/events", body=json.dumps(body), headers=hdr)
        try:
            expect_json_error(r, 400, field)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (json.dumps(body)[:80], e))
    assert count(h, p) == 0


def test_higher_schema_version_and_unknown_fields_accepted(h):
    p = h.create_property()
    e = ev("/future")
    e["something_new"] = {"x": 1}
    r = h.post_events(p, [e], headers=new_client(h), envelope={"schema_version": 7, "extra": True})
    expect_counts(r, 1)


def test_401_missing_key(h):
    p = h.create_property()
    r = h.post_events(p, [ev()], headers=new_client(h), auth=None)
    expect_json_error(r, 401)
    r = h.post_events(p, [ev()], headers=dict(new_client(h), Authorization="Bearer "), auth=None)
    expect_json_error(r, 401)
    assert count(h, p) == 0


def test_401_unknown_key(h):
    p = h.create_property()
    hdr = dict(new_client(h), Authorization="Bearer wk_" + "A" * 43)
    expect_json_error(h.post_events(p, [ev()], headers=hdr, auth=None), 401)
    # A read key is not a write key.
    hdr = dict(new_client(h), Authorization="Bearer " + p.read_key)
    expect_json_error(h.post_events(p, [ev()], headers=hdr, auth=None), 401)
    assert count(h, p) == 0


def test_401_revoked_key(h):
    p = h.create_property()
    expect_counts(h.post_events(p, [ev()], headers=new_client(h)), 1)
    h.revoke_key(p.write_key)
    time.sleep(1.2)   # the harness sets key_cache_seconds = 1: revocation takes effect within it
    for auth in ("bearer", "x-write-key", "query"):
        expect_json_error(h.post_events(p, [ev()], headers=new_client(h), auth=auth), 401)
    assert count(h, p) == 1


def test_403_key_of_other_property(h):
    p, q = h.create_property(), h.create_property()
    hdr = dict(new_client(h), Authorization="Bearer " + q.write_key)
    r = h.post_events(p, [ev()], headers=hdr, auth=None)
    expect_json_error(r, 403, "property_id")
    assert count(h, p) == 0 and count(h, q) == 0


def test_403_origin_not_allowed(h):
    p = h.create_property(allowed_origins=["https://example.com"])
    hdr = dict(new_client(h), Origin="https://evil.example.net")
    expect_json_error(h.post_events(p, [ev()], headers=hdr), 403)
    assert count(h, p) == 0
    hdr = dict(new_client(h), Origin="https://example.com")
    r = expect_counts(h.post_events(p, [ev()], headers=hdr), 1)
    assert r is not None and count(h, p) == 1


def test_405_wrong_method(h):
    p = h.create_property()
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        body = None if method in ("GET", "DELETE") else b"{}"
        r = h.http(method, "/v1/events", body=body,
                   headers={"Authorization": "Bearer " + p.write_key, "Content-Type": "application/json"})
        expect_json_error(r, 405)
        allow = r.headers.get("Allow", "")
        assert "POST" in allow, "405 should carry Allow: POST (got %r)" % allow
    expect_json_error(h.http("POST", "/v1/health", body=b"", headers={"Content-Type": "application/json"}), 405)


def test_411_missing_length(h):
    """A POST without Content-Length (and not chunked) is refused before any processing: lighttpd
    answers 411 itself (or 400 for HTTP/1.0 clients), so the program never sees it."""
    p = h.create_property()
    req = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           b"Content-Type: application/json\r\nAuthorization: Bearer " + p.write_key.encode() + b"\r\n\r\n")
    r = h.http_raw(req)
    assert r.status in (400, 411), r
    assert count(h, p) == 0


def test_413_body_too_large(h):
    p = h.create_property()
    # Over 1 MiB with fewer events than the 1000-event limit, so the size is what is refused.
    big = [ev("/x", data={"p%d" % i: "y" * 490 for i in range(8)}) for _ in range(300)]
    body = json.dumps({"property_id": p.id, "events": big})
    assert len(body) > 1048576, len(body)
    r = h.http("POST", "/v1/events", body=body,
               headers=dict(new_client(h), Authorization="Bearer " + p.write_key, **{"Content-Type": "application/json"}))
    expect_json_error(r, 413)
    assert count(h, p) == 0


def test_413_too_many_events(h):
    p = h.create_property()
    events = [{"event_id": new_event_id(), "type": "pageview",
               "context": {"page": {"url": "https://example.com/"}}} for _ in range(1001)]
    r = h.post_events(p, events, headers=new_client(h))
    expect_json_error(r, 413, "events")
    assert count(h, p) == 0
    # Exactly at the limit is fine.
    r = h.post_events(p, events[:1000], headers=new_client(h))
    expect_counts(r, 1000)
    assert count(h, p) == 1000


def test_415_content_type(h):
    p = h.create_property()
    for ct in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", None):
        r = h.post_events(p, [ev()], headers=new_client(h), content_type=ct)
        expect_json_error(r, 415)
    assert count(h, p) == 0
    # Parameters and case do not matter.
    expect_counts(h.post_events(p, [ev()], headers=new_client(h), content_type="Application/JSON; charset=utf-8"), 1)


# --- per-event validation: partial success ----------------------------------------------------------

def test_partial_success(h):
    p = h.create_property()
    good1, good2 = ev("/a"), ev("/b")
    bad_ts = ev("/c")
    bad_ts["ts"] = "last tuesday"
    bad_type = ev("/d", type="no<html>allowed")
    not_object = "just a string"
    r = h.post_events(p, [good1, bad_ts, good2, bad_type, not_object], headers=new_client(h))
    body = expect_counts(r, 2, rejected=3)
    errs = {e["index"]: e for e in body["errors"]}
    assert set(errs) == {1, 3, 4}, body["errors"]
    assert errs[1].get("event_id") == bad_ts["event_id"], errs[1]
    assert "ts" in errs[1]["error"], errs[1]
    assert errs[3].get("event_id") == bad_type["event_id"] and "type" in errs[3]["error"], errs[3]
    assert count(h, p) == 2
    assert count(h, p, "path IN ('/a', '/b')") == 2


def test_event_without_id_gets_one(h):
    p = h.create_property()
    e = ev("/noid")
    del e["event_id"]
    c = new_client(h)
    expect_counts(h.post_events(p, [e], headers=c), 1)
    expect_counts(h.post_events(p, [e], headers=c), 1)
    assert count(h, p) == 2, "without event_id there is no dedupe"


# --- dedupe -----------------------------------------------------------------------------------------

def test_dedupe_retried_batch(h):
    p = h.create_property()
    batch = [ev("/r%d" % i) for i in range(5)]
    c = new_client(h)
    expect_counts(h.post_events(p, batch, headers=c), 5)
    for _ in range(9):
        expect_counts(h.post_events(p, batch, headers=c), 5, duplicates=5)
    assert count(h, p) == 5
    # A batch with old and new ids stores only the new ones.
    expect_counts(h.post_events(p, batch + [ev("/new")], headers=c), 6, duplicates=5)
    assert count(h, p) == 6


def test_same_event_id_other_property_is_not_duplicate(h):
    p, q = h.create_property(), h.create_property()
    e = ev("/shared")
    expect_counts(h.post_events(p, [e], headers=new_client(h)), 1)
    expect_counts(h.post_events(q, [e], headers=new_client(h)), 1)
    assert count(h, p) == 1 and count(h, q) == 1


# --- filtering ----------------------------------------------------------------------------------------

def test_bot_filtered(h):
    p = h.create_property()
    c = h.client(new_ip(), GOOGLEBOT)
    expect_counts(h.post_events(p, [ev("/b1"), ev("/b2")], headers=c), 2, filtered=2)
    c = h.client(new_ip(), "curl/8.5.0 TallyE2E/" + os.urandom(4).hex())
    r = h.post_events(p, [ev("/b3")], headers=c)
    expect(r, 202)
    assert count(h, p, "path LIKE '/b%%'") == r.json()["accepted"] - r.json()["filtered"]
    assert count(h, p, "path IN ('/b1', '/b2')") == 0


def test_gpc_dropped_when_property_asks(h):
    p = h.create_property(drop_gpc=True)
    expect_counts(h.post_events(p, [ev()], headers=dict(new_client(h), **{"Sec-GPC": "1"})), 1, filtered=1)
    assert count(h, p) == 0
    q = h.create_property()
    expect_counts(h.post_events(q, [ev()], headers=dict(new_client(h), **{"Sec-GPC": "1"})), 1)
    assert count(h, q) == 1


# --- CORS -------------------------------------------------------------------------------------------

def test_preflight(h):
    r = h.http("OPTIONS", "/v1/events", headers={
        "Origin": "https://example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-write-key"})
    assert r.status == 204, r
    hd = r.headers
    assert hd.get("Access-Control-Allow-Origin") in ("https://example.com", "*"), dict(hd)
    assert "POST" in hd.get("Access-Control-Allow-Methods", ""), dict(hd)
    allowed = [x.strip().lower() for x in hd.get("Access-Control-Allow-Headers", "").split(",")]
    for name in ("authorization", "content-type", "x-write-key"):
        assert name in allowed, "preflight must allow %s: %r" % (name, dict(hd))
    assert hd.get("Access-Control-Max-Age") == "86400", dict(hd)


def test_cors_allow_origin_on_post(h):
    p = h.create_property(allowed_origins=["https://example.com", "https://www.example.com"])
    r = h.post_events(p, [ev()], headers=dict(new_client(h), Origin="https://www.example.com"))
    expect_counts(r, 1)
    assert r.headers.get("Access-Control-Allow-Origin") in ("https://www.example.com", "*"), dict(r.headers)
    q = h.create_property(allowed_origins=["*"])
    r = h.post_events(q, [ev()], headers=dict(new_client(h), Origin="https://anything.example.org"))
    expect_counts(r, 1)
    assert r.headers.get("Access-Control-Allow-Origin") in ("https://anything.example.org", "*"), dict(r.headers)


# --- enrichment -------------------------------------------------------------------------------------

def test_utm_from_url(h):
    p = h.create_property()
    e = ev("/landing", query="?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=shoes&utm_content=hero&x=1")
    del e["context"]["page"]["path"]
    expect_counts(h.post_events(p, [e], headers=new_client(h)), 1)
    row = rows(h, p, "path, query, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content")[0]
    assert row["path"] == "/landing", row
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"], row["utm_term"], row["utm_content"]) == \
        ("newsletter", "email", "spring", "shoes", "hero"), row
    assert row["source"] == "newsletter", "utm_source is the source: %r" % row
    assert "x=1" in row["query"], row


def test_utm_from_campaign_object(h):
    p = h.create_property()
    e = ev("/c")
    e["context"]["campaign"] = {"campaign_id": "cmp_789", "utm": {"source": "google", "medium": "cpc",
                                                                  "campaign": "winter-sale"}}
    expect_counts(h.post_events(p, [e], headers=new_client(h)), 1)
    row = rows(h, p, "campaign_id, utm_source, utm_medium, utm_campaign")[0]
    assert row == {"campaign_id": "cmp_789", "utm_source": "google", "utm_medium": "cpc",
                   "utm_campaign": "winter-sale"}, row


def test_url_fragment_dropped(h):
    p = h.create_property()
    e = ev("/frag", query="?a=1#section-2")
    del e["context"]["page"]["path"]
    expect_counts(h.post_events(p, [e], headers=new_client(h)), 1)
    row = rows(h, p, "path, query")[0]
    assert row["path"] == "/frag" and "section-2" not in json.dumps(row), row


def test_referrer_source(h):
    p = h.create_property()
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/g", referrer="https://www.google.com/")], headers=c), 1)
    expect_counts(h.post_events(p, [ev("/none")], headers=new_client(h)), 1)
    got = dict(h.sql("SELECT path, source FROM events WHERE property_pk = %s", p.pk))
    assert got["/g"] == "Google", got
    assert got["/none"] == "Direct / None", got


def test_self_referral_not_a_source(h):
    p = h.create_property()
    e = ev("/second", referrer="https://example.com/first")
    expect_counts(h.post_events(p, [e], headers=new_client(h)), 1)
    src = h.sql_value("SELECT source FROM events WHERE property_pk = %s", p.pk)
    assert src in ("Direct / None", ""), "self-referral must not be a source: %r" % src
    assert "example.com" not in src


def test_user_agent_parsed(h):
    p = h.create_property()
    expect_counts(h.post_events(p, [ev()], headers=new_client(h, base=CHROME)), 1)
    row = rows(h, p, "browser, browser_version, os, os_version, device")[0]
    assert row["browser"] == "Chrome", row
    assert row["browser_version"].split(".")[0] == "120", row
    assert "Windows" in row["os"], row
    assert row["device"] == "desktop", row
    q = h.create_property()
    mobile = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.2 Mobile/15E148 Safari/604.1")
    expect_counts(h.post_events(q, [ev()], headers=new_client(h, base=mobile)), 1)
    row = rows(h, q, "browser, os, device")[0]
    assert row["device"] == "mobile", row
    assert "Safari" in row["browser"] and "iOS" in row["os"], row


def test_visitor_hash(h):
    p = h.create_property()
    ip, ua = new_ip(), unique_ua()
    same = h.client(ip, ua)
    expect_counts(h.post_events(p, [ev("/v1")], headers=same), 1)
    expect_counts(h.post_events(p, [ev("/v2")], headers=same), 1)
    expect_counts(h.post_events(p, [ev("/v3")], headers=h.client(new_ip(), ua)), 1)
    expect_counts(h.post_events(p, [ev("/v4")], headers=h.client(ip, unique_ua(FIREFOX))), 1)
    v = dict(h.sql("SELECT path, visitor FROM events WHERE property_pk = %s", p.pk))
    assert v["/v1"] == v["/v2"], "same address and user agent: same visitor %r" % v
    assert v["/v3"] != v["/v1"], "other address: other visitor %r" % v
    assert v["/v4"] != v["/v1"], "other user agent: other visitor %r" % v
    # The same person on another property is another visitor (no cross-site tracking).
    q = h.create_property()
    expect_counts(h.post_events(q, [ev("/v1")], headers=same), 1)
    vq = h.sql_value("SELECT visitor FROM events WHERE property_pk = %s", q.pk)
    assert vq != v["/v1"], "visitor hash must differ across properties"


def test_trusted_proxy_forwarded_for(h):
    """lighttpd (127.0.0.1) is trusted: the client is the right-most untrusted X-Forwarded-For entry."""
    p = h.create_property()
    ip, ua = new_ip(), unique_ua()
    other = new_ip()
    h.seen_ips.add(other)
    expect_counts(h.post_events(p, [ev("/x1")], headers=h.client(ip, ua)), 1)
    hdr = {"User-Agent": ua, "X-Forwarded-For": "%s, %s" % (other, ip)}
    expect_counts(h.post_events(p, [ev("/x2")], headers=hdr), 1)
    hdr = {"User-Agent": ua, "X-Forwarded-For": "%s, %s, 127.0.0.1" % (other, ip)}
    expect_counts(h.post_events(p, [ev("/x3")], headers=hdr), 1)
    v = dict(h.sql("SELECT path, visitor FROM events WHERE property_pk = %s", p.pk))
    assert v["/x1"] == v["/x2"] == v["/x3"], "right-most untrusted address is the client: %r" % v


def test_session_continuation(h):
    p = h.create_property()
    c = new_client(h)
    t0 = time.time() - 120
    expect_counts(h.post_events(p, [ev("/entry", ts=t0)], headers=c), 1)
    expect_counts(h.post_events(p, [ev("/exit", ts=t0 + 60)], headers=c), 1)
    h.sessionize()
    if h.events_store == "postgresql":
        s = h.sql_dicts("SELECT entry_path, exit_path, pageviews, events FROM sessions WHERE property_pk = %s", p.pk)
        assert len(s) == 1, "two pageviews a minute apart are one session: %r" % s
        assert s[0] == {"entry_path": "/entry", "exit_path": "/exit", "pageviews": 2, "events": 2}, s
    v = visits(h, p)
    assert v == [("/entry", "/exit", "Direct / None", 1, 2, 2, 0.0, 60)], "two pageviews a minute apart are one visit: %r" % v
    # Another visitor is another session.
    expect_counts(h.post_events(p, [ev("/other", ts=t0 + 30)], headers=new_client(h)), 1)
    h.sessionize()
    if h.events_store == "postgresql":
        assert h.sql_int("SELECT count(*) FROM sessions WHERE property_pk = %s", p.pk) == 2
    assert sum(v[3] for v in visits(h, p)) == 2, visits(h, p)


def test_session_timeout_splits(h):
    p = h.create_property(session_timeout=600)
    c = new_client(h)
    t0 = time.time() - 3600
    expect_counts(h.post_events(p, [ev("/a", ts=t0), ev("/b", ts=t0 + 60), ev("/c", ts=t0 + 60 + 1200)], headers=c), 3)
    h.sessionize()
    if h.events_store == "postgresql":
        assert h.sql_int("SELECT count(*) FROM sessions WHERE property_pk = %s", p.pk) == 2
    assert visits(h, p) == [("/a", "/b", "Direct / None", 1, 2, 2, 0.0, 60),
                            ("/c", "/c", "Direct / None", 1, 1, 1, 100.0, 0)], visits(h, p)


def test_ts_clock_skew_corrected(h):
    p = h.create_property()
    now = time.time()
    skew = 3600  # the client's clock is one hour behind
    client_now = now - skew
    e = ev("/skew", ts=client_now - 30)   # happened 30 s before sending, by the client's clock
    expect_counts(h.post_events(p, [e], headers=new_client(h), envelope={"sent_at": iso(client_now)}), 1)
    ts = float(h.sql_value("SELECT extract(epoch FROM ts) FROM events WHERE property_pk = %s", p.pk))
    assert abs(ts - (now - 30)) < 10, "skew not corrected: stored %.0f, expected about %.0f" % (ts, now - 30)


def test_ts_future_replaced(h):
    p = h.create_property()
    now = time.time()
    expect_counts(h.post_events(p, [ev("/future", ts=now + 86400)], headers=new_client(h)), 1)
    ts = float(h.sql_value("SELECT extract(epoch FROM ts) FROM events WHERE property_pk = %s", p.pk))
    assert abs(ts - now) < 10, "future ts must become the receive time: %.0f vs %.0f" % (ts, now)


def test_ts_epoch_ms_and_missing(h):
    p = h.create_property()
    now = time.time()
    e1 = ev("/ms")
    e1["ts"] = int((now - 300) * 1000)
    e2 = ev("/nots")
    del e2["ts"]
    expect_counts(h.post_events(p, [e1, e2], headers=new_client(h)), 2)
    got = {k: float(v) for k, v in h.sql("SELECT path, extract(epoch FROM ts) FROM events WHERE property_pk = %s", p.pk)}
    assert abs(got["/ms"] - (now - 300)) < 5, got
    assert abs(got["/nots"] - now) < 10, got


# --- Plausible-compatible endpoint ---------------------------------------------------------------------

def test_plausible_api_event(h):
    p = h.create_property(domains=["plausible-site.example"])
    body = {"name": "pageview", "url": "https://plausible-site.example/pricing?utm_source=hn",
            "domain": "plausible-site.example", "referrer": "https://news.ycombinator.com/"}
    r = h.http("POST", "/api/event", body=json.dumps(body),
               headers=dict(new_client(h), **{"Content-Type": "text/plain"}))
    assert r.status == 202, r
    assert count(h, p, "path = '/pricing'") == 1
    # Unknown domain: 202 and nothing stored, as Plausible does.
    body["domain"] = "unknown.example"
    r = h.http("POST", "/api/event", body=json.dumps(body),
               headers=dict(new_client(h), **{"Content-Type": "text/plain"}))
    assert r.status == 202, r
    assert count(h, p) == 1
    r = h.http("POST", "/api/event", body=b"{not json", headers=dict(new_client(h), **{"Content-Type": "text/plain"}))
    assert r.status == 400, r


def test_geoip_country_region_city(h):
    p = h.create_property()
    cases = (("192.0.2.55", ("DE", "BE", "Berlin")), ("2001:db8::77", ("NL", "", "Amsterdam")),
             ("233.252.0.9", None))
    for n, (ip, want) in enumerate(cases):
        # The path names the case by number: the address itself must never reach the database.
        r = h.post_events(p, [ev(path="/geo-%d" % n)], headers=h.client(ip, unique_ua()))
        expect_counts(r, 1)
        got = h.sql("SELECT country, region, city FROM events WHERE property_pk = %s AND path = %s",
                    p.pk, "/geo-%d" % n)[0]
        if want is None:
            assert got[0] == "IT", got          # a third network of the test database
        else:
            assert got == want, (ip, got)


def test_geoip_database_replaced_while_running(h):
    """An updated GeoIP database, renamed into place as updaters do, is used within seconds,
    without a restart; the suite's own database is put back the same way afterwards."""
    p = h.create_property()
    tool = os.path.join(h.src, "tests", "tools", "make-test-mmdb")

    def install(*options):
        h._run([sys.executable, tool, *options, h.geoip_path + ".next"], "make-test-mmdb")
        os.rename(h.geoip_path + ".next", h.geoip_path)

    def country_within(seconds, want):
        """Sends an event from 192.0.2.x every 0.2 s until one is stored with country want."""
        deadline, got = time.monotonic() + seconds, None
        n = 0
        while time.monotonic() < deadline:
            n += 1
            path = "/geo-update-%s-%d" % (want, n)
            expect_counts(h.post_events(p, [ev(path=path)], headers=h.client("192.0.2.%d" % (n % 200 + 1), unique_ua())), 1)
            got = h.sql_value("SELECT country FROM events WHERE property_pk = %s AND path = %s", p.pk, path)
            if got == want:
                return got
            time.sleep(0.2)
        return got

    assert country_within(1, "DE") == "DE"
    try:
        install("--country", "192.0.2.0/24=AT")
        assert country_within(10, "AT") == "AT"
    finally:
        install()
    assert country_within(10, "DE") == "DE"


def test_plain_cgi(h):
    """track.fcgi also runs as a plain CGI program (Apache ScriptAlias without FastCGI)."""
    p = h.create_property()
    body = json.dumps({"property_id": p.id, "events": [ev(path="/cgi")]}).encode()
    ua = unique_ua()
    h.seen_ips.add("198.51.100.77")
    h.seen_uas.add(ua)
    out, _ = h.run_cgi("track.fcgi", h.path("tally.conf"), "POST", "/v1/events", body, {
        "HTTP_AUTHORIZATION": "Bearer " + p.write_key, "REMOTE_ADDR": "198.51.100.77", "HTTP_USER_AGENT": ua})
    head, _, payload = out.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 202 Accepted"), out[:300]
    assert json.loads(payload)["accepted"] == 1, payload
    assert count(h, p, "path = '/cgi'") == 1
