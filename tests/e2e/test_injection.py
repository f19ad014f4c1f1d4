"""SQL injection (targets.md, "Reliability and security"): SQL-looking text in every ingest field that
can hold it is stored verbatim and read back verbatim, through the database and through the report
API, and never executed: the tables, the other properties and their rows are intact afterwards.

Report filters with SQL-looking values are covered by test_report_errors.py; here the remaining
place a report query names client text, the key of a custom property (prop:<key> in filters and
group_by), is checked to be refused rather than pasted anywhere.
"""
import json
import urllib.parse

from client import ev, expect_counts, expect_json_error, new_client

INJECTIONS = [
    "'; DROP TABLE events; --",
    "' OR '1'='1",
    "\"; DROP TABLE sessions; --",
    "1); DELETE FROM event_ids; --",
    "$$; DROP TABLE properties; $$",
    "\\'; UPDATE properties SET name = 'pwned'; --",
    "' UNION SELECT key_hash FROM api_keys --",
    "%27%20OR%201%3D1",
    "';SELECT pg_sleep(5);--",
    "E'\\x27' || chr(39)",
    "/**/OR/**/1=1",
    "\u2019 OR 1=1 \u00e9",
]

# Event names may hold letters, digits, '_', '-', '.', ':', '/' and space: SQL keywords and the
# comment marker fit in that.
NAMES = ["DROP TABLE events --", "1 OR 1 --", "select:pg_sleep/10"]


def tables_intact(h):
    """Every table ingest and reports touch still exists, and no property was renamed."""
    for table in ("events", "event_ids", "sessions", "properties", "api_keys", "salts", "rollup_days"):
        assert h.sql_value("SELECT to_regclass(%s)::text", "public." + table) == table, table
    assert h.sql_int("SELECT count(*) FROM properties WHERE name = 'pwned'") == 0


def snapshot_others(h, prop):
    """Row counts of everything outside the property under test."""
    return h.sql("SELECT (SELECT count(*) FROM events WHERE property_pk <> %s), "
                 "(SELECT count(*) FROM event_ids WHERE property_pk <> %s), "
                 "(SELECT count(*) FROM properties), (SELECT count(*) FROM api_keys)", prop.pk, prop.pk)[0]


def injected_event(i, text):
    """A pageview with `text` in every field that stores client text as given."""
    e = ev("/inj/%d/%s" % (i, text), referrer="https://ref.example/%s" % text)
    page = e["context"]["page"]
    page["url"] = "https://example.com/inj?x=%s" % text
    page["title"] = text
    e["context"]["campaign"] = {"campaign_id": text, "utm": {"source": text, "medium": text, "campaign": text,
                                                             "term": text, "content": text}}
    e["data"] = {text: text, "plain": text}
    return e


def test_injection_in_every_ingest_field_stored_verbatim(h):
    p = h.create_property(timezone="UTC")
    canary = h.create_property(timezone="UTC")
    expect_counts(h.post_events(canary, [ev("/canary")], headers=new_client(h)), 1)
    others = snapshot_others(h, p)

    events = [injected_event(i, t) for i, t in enumerate(INJECTIONS)]
    for n, name in enumerate(NAMES):
        e = ev("/named", type=name)
        e["event_id"] = "evt--%d.drop:table" % n    # what an event id can carry: the comment marker
        e["identity"] = {"user_id_hash": "sha--%d:%s" % (n, "ab" * 32)}
        events.append(e)
    # One client each, so that each injected event is a visit of its own (sources and entry pages
    # are figures of visits).
    for e in events[:len(INJECTIONS)]:
        expect_counts(h.post_events(p, [e], headers=new_client(h)), 1)
    expect_counts(h.post_events(p, events[len(INJECTIONS):], headers=new_client(h)), len(NAMES))
    # Sent again: stored once, so the event ids were compared as values.
    expect_counts(h.post_events(p, events, headers=new_client(h)), len(events), duplicates=len(events))
    tables_intact(h)

    # Read back through the database, field by field.
    rows = h.sql_dicts("SELECT path, query, title, referrer, source, utm_source, utm_medium, utm_campaign, utm_term, "
                       "utm_content, campaign_id, props FROM events WHERE property_pk = %s AND name = 'pageview' "
                       "ORDER BY path", p.pk)
    want = []
    for i, t in sorted(enumerate(INJECTIONS), key=lambda x: "/inj/%d/%s" % x):
        want.append({"path": "/inj/%d/%s" % (i, t), "query": "x=" + t, "title": t,
                     "referrer": "https://ref.example/" + t, "source": t, "utm_source": t, "utm_medium": t,
                     "utm_campaign": t, "utm_term": t, "utm_content": t, "campaign_id": t,
                     "props": {t: t, "plain": t}})
    misses = ["%r: stored %r" % (w["title"], r) for w, r in zip(want, rows) if w != r]
    assert len(rows) == len(INJECTIONS) and not misses, " | ".join(misses) or rows
    named = h.sql("SELECT name, event_id, user_id_hash FROM events WHERE property_pk = %s AND name <> 'pageview' "
                  "ORDER BY event_id", p.pk)
    assert named == [(name, "evt--%d.drop:table" % n, "sha--%d:%s" % (n, "ab" * 32)) for n, name in enumerate(NAMES)], named
    ids = sorted(r[0] for r in h.sql("SELECT event_id FROM event_ids WHERE property_pk = %s AND event_id LIKE 'evt--%%'", p.pk))
    assert ids == ["evt--%d.drop:table" % n for n in range(len(NAMES))], ids

    # Read back through the report API.
    h.sessionize()
    hdr = {"Authorization": "Bearer " + p.read_key}

    def report(name, query=""):
        r = h.http("GET", "/v1/properties/%s/%s?limit=1000%s" % (p.id, name, "&" + query if query else ""), headers=hdr)
        assert r.status == 200, (name, query, r)
        return r.json()["results"]

    misses = []
    got = sorted(row["path"] for row in report("pages") if row["path"].startswith("/inj/"))
    if got != sorted(w["path"] for w in want):
        misses.append("pages: %r" % got)
    for name, key in (("campaigns", "campaign"), ("sources", "source")):
        got = sorted(row[key] for row in report(name) if row[key] and row[key] != "Direct / None")
        if got != sorted(INJECTIONS):
            misses.append("%s: %r" % (name, got))
    for dim in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "campaign_id", "referrer",
                "entry_page"):
        got = sorted(row[dim] for row in report("metrics", "metrics=pageviews&group_by=" + dim) if row[dim])
        expected = {"referrer": ["https://ref.example/" + t for t in INJECTIONS],
                    "entry_page": [w["path"] for w in want]}.get(dim, INJECTIONS)
        if dim == "entry_page":
            got = [x for x in got if x.startswith("/inj/")]
        if got != sorted(expected):
            misses.append("group_by=%s: %r" % (dim, got))
    got = sorted(row["event_type"] for row in report("events") if row["event_type"] != "pageview")
    if got != sorted(NAMES):
        misses.append("events: %r" % got)
    # A prop value with SQL in it as a filter value (keys are checked below).
    for t in INJECTIONS[:4]:
        rows_ = report("pages", "filters=prop:plain==" + urllib.parse.quote(t.replace("\\", "\\\\").replace(";", "\\;"), safe=""))
        if [row["path"] for row in rows_] != ["/inj/%d/%s" % (INJECTIONS.index(t), t)]:
            misses.append("prop:plain==%r: %r" % (t, rows_))
    assert not misses, " | ".join(misses)

    tables_intact(h)
    assert snapshot_others(h, p) == others, "other properties changed"
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", canary.pk) == 1


def test_injection_through_plausible_endpoint(h):
    p = h.create_property(domains=["inj.example"], timezone="UTC")
    others = snapshot_others(h, p)
    for i, t in enumerate(INJECTIONS):
        body = {"n": NAMES[i % len(NAMES)], "u": "https://inj.example/p/%d/%s?q=%s" % (i, t, t), "d": "inj.example",
                "r": "https://ref.example/" + t, "p": json.dumps({t: t})}
        r = h.http("POST", "/api/event", body=json.dumps(body), headers=dict(new_client(h), **{"Content-Type": "text/plain"}))
        assert r.status == 202, (t, r)
    rows = h.sql_dicts("SELECT path, query, referrer, props FROM events WHERE property_pk = %s ORDER BY path", p.pk)
    want = [{"path": "/p/%d/%s" % (i, t), "query": "q=" + t, "referrer": "https://ref.example/" + t, "props": {t: t}}
            for i, t in sorted(enumerate(INJECTIONS), key=lambda x: "/p/%d/%s" % x)]
    assert rows == want, rows
    # SQL in the domain names no property: answered like any unknown domain, nothing stored.
    for t in INJECTIONS:
        body = {"n": "pageview", "u": "https://inj.example/d", "d": "inj.example" + t}
        r = h.http("POST", "/api/event", body=json.dumps(body), headers=dict(new_client(h), **{"Content-Type": "text/plain"}))
        assert r.status == 202, (t, r)
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", p.pk) == len(INJECTIONS)
    tables_intact(h)
    assert snapshot_others(h, p) == others


def test_injection_in_keys_and_ids_refused(h):
    """SQL in a write key, a read key, a property id or a share token is just an unknown credential
    or property: 401 or 404, tables intact."""
    p = h.create_property(timezone="UTC")
    others = snapshot_others(h, p)
    misses = []
    for t in INJECTIONS:
        bearer = ("Bearer " + t).encode()   # UTF-8 on the wire, as a browser would send it
        r = h.post_events(p, [ev()], headers=dict(new_client(h), Authorization=bearer), auth=None)
        if r.status != 401:
            misses.append("write key %r: %r" % (t, r))
        r = h.http("GET", "/v1/properties/%s/pages" % p.id, headers={"Authorization": bearer})
        if r.status != 401:
            misses.append("read key %r: %r" % (t, r))
        r = h.http("GET", "/v1/properties/%s/pages?share=%s" % (p.id, urllib.parse.quote(t, safe="")))
        if r.status != 401:
            misses.append("share %r: %r" % (t, r))
        r = h.http("GET", "/v1/properties/%s/pages" % urllib.parse.quote(t, safe=""),
                   headers={"Authorization": "Bearer " + p.read_key})
        # 404 from report.fcgi; lighttpd itself refuses some escapes in a path (its own 400).
        if r.status not in (400, 404) or (r.status == 404 and "no such property" not in r.json().get("error", "")):
            misses.append("property id %r: %r" % (t, r))
    assert not misses, " | ".join(misses)
    tables_intact(h)
    assert snapshot_others(h, p) == others
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", p.pk) == 0


def test_injection_in_prop_keys_of_report_queries_refused(h):
    """prop:<key> takes 1-64 of A-Z a-z 0-9 _ . : - only, so SQL in a key is refused with a 400
    naming the parameter, in filters and in group_by alike."""
    p = h.create_property(timezone="UTC")
    hdr = {"Authorization": "Bearer " + p.read_key}
    misses = []
    for t in INJECTIONS:
        key = urllib.parse.quote(t.replace("\\", "\\\\").replace(";", "\\;"), safe="")
        for report, query, param in (("pages", "filters=prop:%s==x" % key, "filters"),
                                     ("pages", "filters=prop:%s!=x" % key, "filters"),
                                     ("pages", "filters=prop:%s=~x" % key, "filters"),
                                     ("metrics", "group_by=prop:%s" % key, "group_by"),
                                     ("metrics", "group_by=path,prop:%s" % key, "group_by")):
            r = h.http("GET", "/v1/properties/%s/%s?%s" % (p.id, report, query), headers=hdr)
            try:
                expect_json_error(r, 400, param + ":")
            except AssertionError as e:
                misses.append("%s?%s: %s" % (report, query, e))
    assert not misses, " | ".join(misses)
    tables_intact(h)
