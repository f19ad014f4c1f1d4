"""End-to-end tests of report.fcgi's access rules and errors (api.md section 2) over HTTP: read keys
and share links, routing, every rejected query parameter, SQL-looking filter values, CSV output and
paging. Against lighttpd + report.fcgi + PostgreSQL, like the ingest tests.

Every test creates its own property (time zone UTC, so "today" is the UTC date) and sends its own
events through POST /v1/events. Table-driven tests check every case and report all the cases that
went wrong together, so one wrong answer does not hide the others.
"""
import base64
import json
import os
import subprocess
import time
import urllib.parse

from client import ev, expect, expect_counts, expect_json_error, new_client, wait_for
from harness import Skip


# --- helpers -------------------------------------------------------------------------------------

def report_path(prop_id, report, query=""):
    return "/v1/properties/%s/%s%s" % (prop_id, report, "?" + query if query else "")


def get(h, prop_id, report, query="", key=None, headers=None):
    """GET a report of property `prop_id`, with `key` as the Bearer credential when given."""
    hdr = {"Authorization": "Bearer " + key} if key else {}
    hdr.update(headers or {})
    return h.http("GET", report_path(prop_id, report, query), headers=hdr)


def read(h, prop, report, query="", headers=None):
    """GET a report of prop with its own read key."""
    return get(h, prop.id, report, query, key=prop.read_key, headers=headers)


def ok_json(resp):
    expect(resp, 200)
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        "expected JSON: %r %r" % (resp.headers.get("Content-Type"), resp)
    return resp.json()


def results(resp):
    body = ok_json(resp)
    assert isinstance(body.get("results"), list), "no results list: %r" % body
    return body["results"]


def expect_401(resp):
    expect_json_error(resp, 401)
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.startswith("Bearer"), "401 needs a WWW-Authenticate: Bearer header, got %r" % www
    assert "results" not in resp.json(), resp
    return resp.json()["error"]


def page(path, **extra):
    """A pageview with only context.page.path (no URL), so that any path text is stored as sent."""
    e = ev(path, **extra)
    del e["context"]["page"]["url"]
    return e


def store(h, prop, events, client=None):
    expect_counts(h.post_events(prop, events, headers=client or new_client(h)), len(events))


def new_token():
    return "sh_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def add_share_link(h, prop, revoked=False):
    """A share link row for prop, as the admin API would store it (SHA-256 of the token, its
    prefix); returns the token."""
    token = new_token()
    h.sql("INSERT INTO share_links (property_pk, token_hash, prefix, revoked_at) "
          "VALUES (%s, sha256(convert_to(%s, 'UTF8')), left(%s, 10), " +
          ("now()" if revoked else "NULL") + ")", prop.pk, token, token)
    return token


def filter_value(text):
    """Escapes a filter value for `filters=` (';' and '\\' are the list's own syntax), then
    percent-encodes it for the query string."""
    return urllib.parse.quote(text.replace("\\", "\\\\").replace(";", "\\;"), safe="")


def check_400(h, prop, report, query, param):
    """The request is refused with 400 and a JSON error that starts with the parameter's name.
    Returns None when right, else a description of what came back."""
    r = read(h, prop, report, query)
    where = "/%s?%s" % (report, query)
    if r.status != 400:
        return "%s: expected 400 naming %r, got %r" % (where, param, r)
    if not r.headers.get("Content-Type", "").startswith("application/json"):
        return "%s: 400 is not JSON: %r" % (where, r)
    msg = r.json().get("error")
    if not isinstance(msg, str) or not (msg.startswith(param + ":") or msg.startswith(param + "/")):
        return "%s: the error should start with %r: %r" % (where, param, msg)
    return None


def all_400(h, prop, cases):
    """cases: (report, query, parameter named by the error). Asserts them all, reporting every miss."""
    misses = [m for m in (check_400(h, prop, *c) for c in cases) if m]
    assert not misses, "%d of %d cases wrong: %s" % (len(misses), len(cases), " | ".join(misses))


def all_200(h, prop, cases):
    """cases: (report, query) that must be answered 200 (the neighbours of the refused values)."""
    misses = []
    for report, query in cases:
        r = read(h, prop, report, query)
        if r.status != 200:
            misses.append("/%s?%s: expected 200, got %r" % (report, query, r))
    assert not misses, " | ".join(misses)


def utc_prop(h, **settings):
    return h.create_property(timezone="UTC", **settings)


# --- authentication and access -------------------------------------------------------------------

def test_no_credential_401(h):
    p = utc_prop(h)
    msg = expect_401(get(h, p.id, "pages"))
    assert "Authorization" in msg and "share" in msg, "the error should say how to authenticate: %r" % msg
    expect_401(get(h, p.id, "overview"))


def test_malformed_authorization_401(h):
    p = utc_prop(h)
    for value in ("Basic dXNlcjpwYXNzd29yZA==", "Token " + p.read_key, p.read_key, "Bearer",
                  "Bearer" + p.read_key):
        r = get(h, p.id, "pages", headers={"Authorization": value})
        try:
            msg = expect_401(r)
        except AssertionError as e:
            raise AssertionError("Authorization: %r: %s" % (value[:20], e))
        assert "Authorization" in msg or "read key" in msg, "Authorization %r: %r" % (value[:20], msg)
    # The scheme name is case-insensitive (RFC 9110 section 11.1).
    ok_json(get(h, p.id, "pages", headers={"Authorization": "bearer " + p.read_key}))


def test_unknown_read_key_401(h):
    p = utc_prop(h)
    msg = expect_401(get(h, p.id, "pages", key="rk_" + "A" * 43))
    assert "read key" in msg, msg


def test_revoked_read_key_401(h):
    p = utc_prop(h)
    ok_json(read(h, p, "pages"))
    h.revoke_key(p.read_key)
    time.sleep(1.2)   # the harness sets key_cache_seconds = 1
    msg = expect_401(read(h, p, "pages"))
    assert "revoked" in msg, msg
    # Another read key of the same property still works.
    other = h.add_key(p.pk, "read")
    ok_json(get(h, p.id, "pages", key=other))


def test_write_key_cannot_read_401(h):
    p = utc_prop(h)
    expect_401(get(h, p.id, "pages", key=p.write_key))
    expect_401(get(h, p.id, "overview", key=p.write_key))


def test_read_key_of_other_property_403(h):
    a, b = utc_prop(h), utc_prop(h)
    store(h, b, [page("/secret-of-b")])
    r = get(h, b.id, "pages", key=a.read_key)
    expect_json_error(r, 403)
    assert "results" not in r.json() and b"secret-of-b" not in r.body, r
    expect_json_error(get(h, b.id, "overview", key=a.read_key), 403)


def test_unknown_property_404(h):
    p = utc_prop(h)
    r = get(h, "prop_does_not_exist_" + os.urandom(4).hex(), "pages", key=p.read_key)
    expect_json_error(r, 404)
    assert "property" in r.json()["error"], r


def test_share_link_valid_200(h):
    p = utc_prop(h)
    store(h, p, [page("/shared")])
    token = add_share_link(h, p)
    body = ok_json(get(h, p.id, "pages", "share=" + token))
    assert body["property_id"] == p.id, body
    assert body["results"] == [{"path": "/shared", "pageviews": 1, "unique_visitors": 1}], body
    # The share parameter sits among the others and is not a query parameter of the report.
    body = ok_json(get(h, p.id, "pages", "limit=1&share=%s&offset=0" % token))
    assert [row["path"] for row in body["results"]] == ["/shared"], body
    ok_json(get(h, p.id, "overview", "share=" + token))


def test_share_link_revoked_401(h):
    p = utc_prop(h)
    token = add_share_link(h, p, revoked=True)
    msg = expect_401(get(h, p.id, "pages", "share=" + token))
    assert "share" in msg and "revoked" in msg, msg
    # Revoking a link that worked closes it at once (share links are not cached).
    live = add_share_link(h, p)
    ok_json(get(h, p.id, "pages", "share=" + live))
    h.sql("UPDATE share_links SET revoked_at = now() WHERE token_hash = sha256(convert_to(%s, 'UTF8'))", live)
    expect_401(get(h, p.id, "pages", "share=" + live))


def test_share_link_unknown_401(h):
    p = utc_prop(h)
    add_share_link(h, p)
    for token in (new_token(), "", "x"):
        try:
            msg = expect_401(get(h, p.id, "pages", "share=" + token))
        except AssertionError as e:
            raise AssertionError("share=%r: %s" % (token, e))
        assert "share" in msg, msg


def test_share_link_of_other_property_403(h):
    a, b = utc_prop(h), utc_prop(h)
    token = add_share_link(h, a)
    ok_json(get(h, a.id, "pages", "share=" + token))
    r = get(h, b.id, "pages", "share=" + token)
    expect_json_error(r, 403)
    assert "results" not in r.json(), r


# --- routing -----------------------------------------------------------------------------------------

def test_unknown_report_404(h):
    p = utc_prop(h)
    for report in ("nosuchreport", "Pages", "page", "overview.json", ""):
        r = read(h, p, report)
        try:
            expect_json_error(r, 404)
        except AssertionError as e:
            raise AssertionError("/%s: %s" % (report, e))


def test_extra_path_segments_404(h):
    p = utc_prop(h)
    hdr = {"Authorization": "Bearer " + p.read_key}
    for path in ("/v1/properties/%s/pages/extra" % p.id, "/v1/properties/%s/pages/" % p.id,
                 "/v1/properties/%s/overview/x/y" % p.id, "/v1/properties/%s" % p.id,
                 "/v1/properties/%s/" % p.id, "/v1/properties//pages", "/v1/properties/"):
        r = h.http("GET", path, headers=hdr)
        try:
            expect_json_error(r, 404)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (path, e))


def test_wrong_method_405(h):
    p = utc_prop(h)
    hdr = {"Authorization": "Bearer " + p.read_key}
    for method in ("POST", "DELETE", "PUT", "PATCH"):
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        r = h.http(method, report_path(p.id, "pages"), body=body,
                   headers=dict(hdr, **{"Content-Type": "application/json"}))
        try:
            expect_json_error(r, 405)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (method, e))
        assert r.headers.get("Allow") == "GET, HEAD", "%s: 405 needs Allow: GET, HEAD, got %r" % (
            method, r.headers.get("Allow"))
        assert method in r.json()["error"], r
    # HEAD answers like GET, without the body.
    r = h.http("HEAD", report_path(p.id, "pages"), headers=hdr)
    assert r.status == 200 and r.body == b"" and r.headers.get("Content-Type", "").startswith("application/json"), r


# --- bad parameters: 400 naming the parameter --------------------------------------------------------

def test_bad_dates_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "from=2026-13-01", "from"),
        ("pages", "from=2026-1-5", "from"),
        ("pages", "from=26-01-05", "from"),
        ("pages", "from=yesterday", "from"),
        ("pages", "from=2026-01-05T00:00:00Z", "from"),
        ("pages", "from=", "from"),
        ("pages", "from=2026-02-30", "from"),
        ("pages", "to=2026-02-29", "to"),           # 2026 is not a leap year
        ("pages", "to=2026-04-31", "to"),
        ("pages", "to=2026-00-10", "to"),
        ("overview", "from=1999-12-31&to=2000-01-02", "from"),
        ("overview", "from=2026-03-10&to=2026-03-01", "from"),    # from > to
        ("overview", "from=2100-01-01", "from"),                   # after today, to defaults to today
        ("overview", "from=2000-01-01&to=2026-01-01", "from"),     # more than 3660 days
    ])
    r = read(h, p, "overview", "from=2026-03-10&to=2026-03-01")
    msg = r.json()["error"]
    assert "2026-03-10" in msg and "2026-03-01" in msg, "from > to should quote both dates: %r" % msg
    all_200(h, p, [("overview", "from=2024-02-29&to=2024-03-01"), ("overview", "from=2026-03-01&to=2026-03-01")])
    body = ok_json(read(h, p, "overview", "from=2024-02-29&to=2024-03-01"))
    assert (body["from"], body["to"]) == ("2024-02-29", "2024-03-01"), body


def test_bad_period_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "period=week", "period"),
        ("pages", "period=7D", "period"),
        ("pages", "period=", "period"),
        ("pages", "period=7d&from=2026-01-01", "period"),
        ("pages", "from=2026-01-01&period=30d", "period"),
        ("overview", "period=today&to=2026-01-01", "period"),
    ])
    all_200(h, p, [("pages", "period=%s" % v) for v in ("today", "yesterday", "7d", "30d", "month", "year",
                                                          "realtime")])


def test_bad_limit_offset_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "limit=0", "limit"),
        ("pages", "limit=1001", "limit"),
        ("pages", "limit=abc", "limit"),
        ("pages", "limit=-1", "limit"),
        ("pages", "limit=+5", "limit"),
        ("pages", "limit=2.5", "limit"),
        ("pages", "limit=", "limit"),
        ("pages", "limit=99999999999999999999", "limit"),
        ("pages", "offset=-1", "offset"),
        ("pages", "offset=abc", "offset"),
        ("pages", "offset=1000001", "offset"),
        ("sources", "limit=0", "limit"),
        ("metrics", "group_by=path&limit=1001", "limit"),
    ])
    r = read(h, p, "pages", "limit=1001")
    assert "1000" in r.json()["error"], "the limit's error should state the limit: %r" % r
    all_200(h, p, [("pages", "limit=1"), ("pages", "limit=1000"), ("pages", "offset=0"),
                   ("pages", "offset=1000000")])


def test_bad_interval_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("metrics", "interval=minute", "interval"),
        ("metrics", "interval=Day", "interval"),
        ("metrics", "interval=", "interval"),
        # Hourly figures cover at most 31 days: 2026-10-01..2026-11-01 is 32.
        ("metrics", "interval=hour&from=2026-10-01&to=2026-11-01", "interval"),
        ("metrics", "interval=hour&period=year", "interval"),
        # Breakdowns have no intervals.
        ("pages", "interval=day", "interval"),
        ("sources", "interval=hour", "interval"),
    ])
    # Exactly 31 days by the hour is fine, with every hour present.
    rows = results(read(h, p, "metrics", "interval=hour&from=2026-10-01&to=2026-10-31"))
    assert len(rows) == 31 * 24, len(rows)


def test_bad_metrics_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "metrics=visitors", "metrics"),
        ("pages", "metrics=pageviews,pageviews", "metrics"),
        ("pages", "metrics=pageviews,", "metrics"),
        ("pages", "metrics=Pageviews", "metrics"),
        # Figures of visits cannot be split by an event dimension.
        ("pages", "metrics=bounce_rate", "metrics"),
        ("pages", "metrics=pageviews,sessions", "metrics"),
        ("pages", "metrics=visit_duration", "metrics"),
        ("pages", "metrics=views_per_session", "metrics"),
        ("metrics", "group_by=path&metrics=bounce_rate", "metrics"),
        ("metrics", "group_by=prop:plan&metrics=sessions", "metrics"),
        # Goal figures come from /goals only.
        ("overview", "metrics=conversions", "metrics"),
        ("overview", "metrics=pageviews,revenue", "metrics"),
        ("pages", "metrics=conversion_rate", "metrics"),
        ("metrics", "metrics=conversions", "metrics"),
    ])
    all_200(h, p, [("pages", "metrics=pageviews"), ("pages", "metrics=events,unique_visitors"),
                   ("sources", "metrics=bounce_rate"), ("metrics", "metrics=bounce_rate,sessions"),
                   ("overview", "metrics=pageviews")])


def test_bad_group_by_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("metrics", "group_by=colour", "group_by"),
        ("metrics", "group_by=path,country,device,browser", "group_by"),
        ("metrics", "group_by=path,path", "group_by"),
        ("metrics", "group_by=path,", "group_by"),
        ("metrics", "group_by=prop:", "group_by"),
        ("metrics", "group_by=prop:a%20b", "group_by"),
        ("metrics", "group_by=prop:" + "k" * 65, "group_by"),
        ("metrics", "group_by=PATH", "group_by"),
        ("pages", "group_by=path", "group_by"),
    ])
    all_200(h, p, [("metrics", "group_by=path,country,device"), ("metrics", "group_by=prop:" + "k" * 64),
                   ("metrics", "group_by=prop:a.b:c-d_e")])


def test_bad_filters_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "filters=colour==red", "filters"),
        ("pages", "filters=Path==/x", "filters"),
        ("pages", "filters=path<>/x", "filters"),
        ("pages", "filters=path=/x", "filters"),
        ("pages", "filters=path~=/x", "filters"),
        ("pages", "filters=path", "filters"),
        ("pages", "filters===/x", "filters"),
        ("pages", "filters=path=~", "filters"),
        ("pages", "filters=path==/a;country", "filters"),
        ("pages", "filters=prop:==x", "filters"),
        ("pages", "filters=" + urllib.parse.quote("prop:plan'--==x"), "filters"),
        ("pages", "filters=path==" + "x" * 501, "filters"),
        ("pages", "filters=" + ";".join(["path!=/%d" % i for i in range(17)]), "filters"),
    ])
    r = read(h, p, "pages", "filters=colour==red")
    assert "colour" in r.json()["error"], "the error should quote the unknown dimension: %r" % r
    all_200(h, p, [("pages", "filters=path==/x;country!=DE;source=~goo"),
                   ("pages", "filters=path==" + "x" * 500),
                   ("pages", "filters=" + ";".join(["path!=/%d" % i for i in range(16)])),
                   ("pages", "filters=path==;;")])


def test_bad_compare_and_format_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("overview", "compare=yes", "compare"),
        ("overview", "compare=true", "compare"),
        ("overview", "compare=", "compare"),
        ("pages", "compare=previous", "compare"),
        ("pages", "format=xml", "format"),
        ("pages", "format=CSV", "format"),
        ("pages", "format=", "format"),
        ("overview", "format=html", "format"),
    ])
    all_200(h, p, [("overview", "compare=previous_period"), ("pages", "compare=previous_period"),
                   ("pages", "format=json"), ("pages", "format=csv")])


def test_parameter_twice_400(h):
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "limit=5&limit=6", "limit"),
        ("pages", "limit=5&limit=5", "limit"),
        ("pages", "from=2026-01-01&to=2026-01-02&from=2026-01-01", "from"),
        ("pages", "filters=path==/a&filters=path==/b", "filters"),
        ("metrics", "metrics=pageviews&metrics=events", "metrics"),
        ("pages", "format=csv&format=json", "format"),
        ("pages", "lim%69t=5&limit=6", "limit"),    # the name is percent-decoded too
    ])


def test_invalid_utf8_400(h):
    """Text that is not UTF-8 after percent-decoding is refused, naming its parameter."""
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "filters=path==/caf%c3", "filters"),        # truncated sequence
        ("pages", "filters=path==%80", "filters"),             # lone continuation byte
        ("pages", "filters=path==%c3%28", "filters"),          # bad continuation
        ("pages", "filters=path==%e0%80%af", "filters"),       # overlong '/'
        ("pages", "filters=path==%ed%a0%80", "filters"),       # UTF-16 surrogate
        ("pages", "filters=prop:plan==%e0%80%af", "filters"),
        ("pages", "from=%c3", "from"),
        ("pages", "period=%80", "period"),
    ])
    # Valid UTF-8 is a plain value.
    all_200(h, p, [("pages", "filters=path==/caf%c3%a9")])


def run_report_cgi(h, query, prop):
    """Runs report.fcgi as a plain CGI program (as under Apache's ScriptAlias) for GET /pages?query;
    returns (status line, JSON body)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TALLY_CONF": h.path("tally.conf"),
           "REQUEST_METHOD": "GET", "REQUEST_URI": report_path(prop.id, "pages", query),
           "QUERY_STRING": query, "HTTP_AUTHORIZATION": "Bearer " + prop.read_key}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    out = subprocess.run([os.path.join(h.cgibin, "report.fcgi")], stdin=subprocess.DEVNULL, env=env,
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr[-500:]
    head, _, payload = out.stdout.partition(b"\r\n\r\n")
    assert b"application/json" in head, out.stdout[:300]
    return head.split(b"\r\n")[0], json.loads(payload)


def test_invalid_utf8_ff_and_nul_in_report_fcgi(h):
    """%ff (a byte never found in UTF-8) and %00 in a filter: report.fcgi itself answers 400 naming
    filters. Run as plain CGI, because lighttpd refuses these URLs before the program sees them (see
    the next test)."""
    p = utc_prop(h)
    for query, words in (("filters=path==%ff", "UTF-8"), ("filters=path==/a%00b", "NUL"),
                         ("filters=path==%ff%fe", "UTF-8"), ("from=%ff", "UTF-8")):
        status, body = run_report_cgi(h, query, p)
        param = query.split("=")[0]
        assert status.startswith(b"Status: 400"), (query, status, body)
        assert body["error"].startswith(param + ":") and words in body["error"], (query, body)


def test_bytes_lighttpd_refuses_are_400(h):
    """Through lighttpd, the same URLs never reach report.fcgi: lighttpd's strict URL parsing
    (server.http-parseopts, a server-wide setting Tally leaves as the site owner has it) answers
    400 itself, with its own page. Still a 400, and the program is not involved."""
    p = utc_prop(h)
    for query in ("filters=path==%ff", "filters=path==/a%00b", "filters=path==%c0%af", "filters=path==/a%1fb",
                  "from=%ff"):
        r = read(h, p, "pages", query)
        assert r.status == 400, (query, r)


def test_parameters_of_other_reports_400(h):
    """interval and group_by belong to /metrics; filters and CSV are not for /realtime."""
    p = utc_prop(h)
    all_400(h, p, [
        ("pages", "interval=day", "interval"),
        ("pages", "group_by=country", "group_by"),
        ("countries", "group_by=path", "group_by"),
        ("realtime", "filters=path==/", "filters"),
        ("realtime", "format=csv", "format"),
    ])
    body = ok_json(read(h, p, "realtime"))
    assert body["visitors"] == 0 and body["top_pages"] == [] and len(body["pageviews_30m"]) == 30, body


def test_unused_parameters_refused_like_on_breakdowns(h):
    """The reports that have no intervals or groups refuse interval and group_by, as the breakdowns
    do ("interval: interval and group_by belong to /metrics"), rather than answer totals to a client
    that asked for a series or a split (api.md's rule: bad input gets a clear error)."""
    p = utc_prop(h)
    all_400(h, p, [
        ("overview", "interval=day", "interval"),
        ("overview", "group_by=path", "group_by"),
        ("goals", "interval=day", "interval"),
        ("goals", "group_by=path", "group_by"),
        ("realtime", "interval=hour", "interval"),
        ("realtime", "group_by=path", "group_by"),
    ])


# --- SQL-looking values are plain values ---------------------------------------------------------------

INJECTIONS = ["'; DROP TABLE events; --", "\" OR 1=1 --", "\\'", "%27", "' OR '1'='1", "$1) OR (1=1"]


def test_sql_injection_in_path_filter(h):
    p = utc_prop(h)
    paths = ["/inj/" + s for s in INJECTIONS]
    store(h, p, [page(x) for x in paths] + [page("/plain")])
    stored = sorted(r[0] for r in h.sql("SELECT path FROM events WHERE property_pk = %s", p.pk))
    assert stored == sorted(paths + ["/plain"]), "ingest changed the paths: %r" % stored
    h.sessionize()
    misses = []
    for path, text in zip(paths, INJECTIONS):
        for op, value, want in (("==", path, [path]), ("=~", text, [path]), ("==", text, [])):
            query = "filters=path" + urllib.parse.quote(op) + filter_value(value)
            r = read(h, p, "pages", query)
            want_rows = [{"path": x, "pageviews": 1, "unique_visitors": 1} for x in want]
            if r.status != 200 or r.json().get("results") != want_rows:
                misses.append("path%s%r: expected %r, got %r" % (op, value, want_rows, r))
        r = read(h, p, "pages", "filters=path!=" + filter_value(path))
        got = sorted(row["path"] for row in r.json().get("results", [])) if r.status == 200 else r
        if got != sorted(set(paths + ["/plain"]) - {path}):
            misses.append("path!=%r: got %r" % (path, got))
    assert not misses, " | ".join(misses)
    assert h.sql_value("SELECT to_regclass('public.events')::text") == "events"
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", p.pk) == len(paths) + 1


def test_sql_injection_in_prop_filter(h):
    p = utc_prop(h)
    c = new_client(h)
    store(h, p, [ev(type="signup", data={"plan": s}) for s in INJECTIONS], client=c)
    store(h, p, [ev(type="other", data={"plan": "pro"})], client=c)
    h.sessionize()
    misses = []
    for text in INJECTIONS:
        r = read(h, p, "events", "filters=prop:plan==" + filter_value(text))
        want = [{"event_type": "signup", "events": 1, "unique_visitors": 1}]
        if r.status != 200 or r.json().get("results") != want:
            misses.append("prop:plan==%r: expected %r, got %r" % (text, want, r))
        r = read(h, p, "events", "filters=prop:plan==" + filter_value(text + " x"))
        if r.status != 200 or r.json().get("results") != []:
            misses.append("prop:plan==%r: expected no rows, got %r" % (text + " x", r))
    # Grouped by the property, each value is one row of its own, returned as stored.
    r = read(h, p, "metrics", "group_by=prop:plan&metrics=events&filters=event_type==signup")
    got = sorted(row["prop:plan"] for row in results(r))
    if got != sorted(INJECTIONS):
        misses.append("group_by=prop:plan: %r" % got)
    assert not misses, " | ".join(misses)
    assert h.sql_value("SELECT to_regclass('public.events')::text") == "events"
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", p.pk) == len(INJECTIONS) + 1


# --- CSV ---------------------------------------------------------------------------------------------

def test_csv_pages_format_and_accept(h):
    p = utc_prop(h)
    c = new_client(h)
    store(h, p, [page("/a"), page("/a"), page("/b")], client=c)
    h.sessionize()
    want = b"path,pageviews,unique_visitors\r\n/a,2,1\r\n/b,1,1\r\n"
    for query, headers in (("format=csv", None), ("", {"Accept": "text/csv"}),
                           ("", {"Accept": "text/csv, application/json;q=0.5"}),
                           ("format=csv", {"Accept": "application/json"})):
        r = read(h, p, "pages", query, headers=headers)
        expect(r, 200)
        assert r.headers.get("Content-Type", "").startswith("text/csv"), (query, headers, dict(r.headers))
        assert r.body == want, "%s %r: %r" % (query, headers, r.body)
    # JSON stays the default: for a browser's catch-all, for a tie, and when format=json says so.
    for query, headers in (("", {"Accept": "*/*"}), ("", {"Accept": "text/csv, application/json"}),
                           ("format=json", {"Accept": "text/csv"})):
        rows = results(read(h, p, "pages", query, headers=headers))
        assert rows == [{"path": "/a", "pageviews": 2, "unique_visitors": 1},
                        {"path": "/b", "pageviews": 1, "unique_visitors": 1}], (headers, rows)


def test_csv_quoting(h):
    p = utc_prop(h)
    store(h, p, [page('/a,b"c'), page("/plain")], client=new_client(h))
    h.sessionize()
    r = read(h, p, "pages", "format=csv")
    expect(r, 200)
    lines = r.body.split(b"\r\n")
    assert lines[0] == b"path,pageviews,unique_visitors" and lines[-1] == b"", r.body
    assert sorted(lines[1:-1]) == sorted([b'"/a,b""c",1,1', b"/plain,1,1"]), r.body


def test_csv_formula_cells_defused(h):
    """Paths always start with '/' (ingest refuses others), so the formula characters are sent in
    text a visitor also controls: a custom property's value."""
    p = utc_prop(h)
    values = ['=HYPERLINK("https://evil.example/","x")', "+1+2", "-3", "@SUM(A1)", "=1"]
    c = new_client(h)
    store(h, p, [page("/f%d" % i, data={"note": v}) for i, v in enumerate(values)], client=c)
    h.sessionize()
    r = read(h, p, "metrics", "group_by=prop:note&metrics=pageviews&format=csv")
    expect(r, 200)
    assert r.headers.get("Content-Type", "").startswith("text/csv"), dict(r.headers)
    lines = r.body.split(b"\r\n")
    assert lines[0] == b"prop:note,pageviews" and lines[-1] == b"", r.body
    want = [b'"\'=HYPERLINK(""https://evil.example/"",""x"")",1', b"'+1+2,1", b"'-3,1", b"'@SUM(A1),1",
            b"'=1,1"]
    assert sorted(lines[1:-1]) == sorted(want), r.body
    # The JSON answer carries the values unchanged.
    got = sorted(row["prop:note"] for row in results(read(h, p, "metrics", "group_by=prop:note&metrics=pageviews")))
    assert got == sorted(values), got


# --- paging ------------------------------------------------------------------------------------------

def test_pages_limit_offset(h):
    p = utc_prop(h)
    counts = {"/top": 4, "/mid": 3, "/tie-b": 2, "/tie-a": 2, "/low": 1}
    c = new_client(h)
    store(h, p, [page(path) for path, n in counts.items() for _ in range(n)], client=c)
    h.sessionize()
    order = ["/top", "/mid", "/tie-a", "/tie-b", "/low"]

    def rows(paths):
        return [{"path": x, "pageviews": counts[x], "unique_visitors": 1} for x in paths]

    assert results(read(h, p, "pages")) == rows(order)
    assert results(read(h, p, "pages", "limit=2&offset=2")) == rows(order[2:4])
    assert results(read(h, p, "pages", "limit=2")) == rows(order[:2])
    assert results(read(h, p, "pages", "limit=2&offset=4")) == rows(order[4:])
    assert results(read(h, p, "pages", "offset=5")) == []
    assert results(read(h, p, "pages", "limit=3&offset=1&format=json")) == rows(order[1:4])
    r = read(h, p, "pages", "limit=2&offset=2&format=csv")
    assert r.body == b"path,pageviews,unique_visitors\r\n/tie-a,2,1\r\n/tie-b,2,1\r\n", r.body


# --- a database that is slow or does not answer ------------------------------------------------------

def expect_503(resp, words):
    expect_json_error(resp, 503)
    msg = resp.json()["error"]
    assert resp.headers.get("Retry-After"), "a 503 needs Retry-After: %r" % resp
    assert words in msg, "expected %r in the message %r" % (words, msg)
    return msg


def test_report_longer_than_report_timeout_is_stopped(h):
    """A report query still running after report_timeout (here: waiting for a table that a
    migration holds locked) is stopped by the server and answered 503, not left to hang; the
    connection stays, and the next report is answered as soon as the table is free."""
    if h.events_store != "postgresql":
        raise Skip("report_timeout bounds PostgreSQL's statements here")
    p = utc_prop(h)
    store(h, p, [page("/slow")])
    with h.settings("report_timeout = 1\n"):
        assert results(read(h, p, "pages")) == [{"path": "/slow", "pageviews": 1, "unique_visitors": 1}]
        lock = h.table_lock("events")
        try:
            started = time.time()
            r = read(h, p, "pages")
            waited = time.time() - started
        finally:
            lock.release()
        msg = expect_503(r, "took longer than allowed")
        assert "shorter period" in msg, msg
        assert waited < 10, "answered after %.1f s, not within about report_timeout" % waited
        assert results(read(h, p, "pages")) == [{"path": "/slow", "pageviews": 1, "unique_visitors": 1}]


def test_report_when_database_does_not_answer(h):
    """A server that does not answer at all (every process stopped) costs a report
    report_timeout and a little more, then a 503; reports are answered again once it goes on."""
    if h.events_store != "postgresql":
        raise Skip("report_timeout bounds PostgreSQL's statements here")
    p = utc_prop(h)
    store(h, p, [page("/silent")])
    with h.settings("report_timeout = 1\n"):
        assert results(read(h, p, "pages"))
        with h.postgresql_stopped():
            started = time.time()
            r = read(h, p, "pages")
            waited = time.time() - started
        expect_503(r, "did not answer in time")
        assert waited < 15, "answered after %.1f s, not within about report_timeout" % waited
        assert wait_for(lambda: read(h, p, "pages").status == 200, 60), "reports did not come back"
        assert results(read(h, p, "pages")) == [{"path": "/silent", "pageviews": 1, "unique_visitors": 1}]
