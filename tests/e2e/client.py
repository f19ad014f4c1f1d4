"""Helpers shared by the end-to-end tests: simulated clients, events, and response checks.

Client addresses are simulated with X-Forwarded-For (lighttpd connects from 127.0.0.1, a trusted
proxy); every address and user agent goes through h.client() so that the privacy audit
(test_privacy.py) can look for it.
"""
import datetime
import itertools
import os
import time

from harness import new_event_id

_n = itertools.count(1)

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def new_ip(family=4):
    n = next(_n)
    if family == 6:
        return "2001:db8::%x" % (0x100 + n)
    return "203.0.113.%d" % (n % 250 + 1) if n <= 250 else "198.51.100.%d" % (n % 250 + 1)


def unique_ua(base=CHROME):
    """A real-looking user agent with a token found nowhere else (the privacy audit looks for it)."""
    return "%s TallyE2E/%s" % (base, os.urandom(6).hex())


def new_client(h, family=4, base=CHROME):
    return h.client(new_ip(family), unique_ua(base))


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ev(path="/", type="pageview", host="example.com", query="", referrer=None, ts=None, **extra):
    e = {"event_id": new_event_id(), "type": type, "ts": iso(ts if ts is not None else time.time()),
         "context": {"page": {"url": "https://%s%s%s" % (host, path, query), "path": path, "title": "T"}}}
    if referrer is not None:
        e["context"]["page"]["referrer"] = referrer
    e.update(extra)
    return e


def count(h, prop, where="true", *args):
    return h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND (" + where + ")", prop.pk, *args)


def rows(h, prop, cols="*"):
    return h.sql_dicts("SELECT " + cols + " FROM events WHERE property_pk = %s ORDER BY ts", prop.pk)


def visits(h, prop, days=1):
    """The property's visits as the reports count them, on either events store: sorted tuples of
    (entry_page, exit_page, source, sessions, pageviews, events, bounce_rate, visit_duration) per
    entry, exit and source, over the last `days` days and today (UTC days: the test properties'
    zone). A test whose visits differ in entry, exit or source sees one row per visit."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    r = h.http("GET", "/v1/properties/%s/metrics?group_by=entry_page,exit_page,source&metrics=sessions,pageviews,"
               "events,bounce_rate,visit_duration&from=%s&to=%s" % (prop.id, today - datetime.timedelta(days=days), today),
               headers={"Authorization": "Bearer " + prop.read_key})
    assert r.status == 200, r
    return sorted((v["entry_page"], v["exit_page"], v["source"], v["sessions"], v["pageviews"], v["events"],
                   v["bounce_rate"], v["visit_duration"]) for v in r.json()["results"])


def wait_for(predicate, seconds=30, step=0.2):
    """Whether predicate() came true within `seconds`, asked every `step`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def expect(resp, status, field=None):
    assert resp.status == status, "expected %d, got %r" % (status, resp)
    if status >= 400 and resp.headers.get("Content-Type", "").startswith("application/json"):
        err = resp.json().get("error")
        assert isinstance(err, str) and err, "error body has no message: %r" % resp
    if field is not None:
        body = resp.json()
        assert field in body.get("error", ""), "error should name %r: %r" % (field, body)
    return resp


def expect_json_error(resp, status, field=None):
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        "error response is not JSON: %r %r" % (resp.headers.get("Content-Type"), resp)
    return expect(resp, status, field)


def expect_counts(resp, accepted, rejected=0, duplicates=0, filtered=0):
    expect(resp, 202)
    body = resp.json()
    got = {k: body.get(k) for k in ("accepted", "rejected", "duplicates", "filtered")}
    want = dict(accepted=accepted, rejected=rejected, duplicates=duplicates, filtered=filtered)
    assert got == want, "counts %r, expected %r (body %r)" % (got, want, body)
    assert isinstance(body.get("errors"), list), "errors must be a list: %r" % body
    assert len(body["errors"]) == rejected, "one error per rejected event: %r" % body
    return body
