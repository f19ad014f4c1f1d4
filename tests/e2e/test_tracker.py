"""End-to-end tests of the tracker (tracker/) in a real browser: headless Chromium driven by
tests/browser/run.js (Node + playwright-core) loads test pages from this server's document root
and the tracker from /t.js, and the events it sends reach track.fcgi, PostgreSQL and the reports.
Plausible's own published tracker (npm @plausible-analytics/tracker) is tested the same way
against POST /api/event.

run.js runs every browser scenario once (the first test that needs it starts it) and reports what
each page sent and did; each test below checks one feature on that record, in the database and in
the reports. The pages live on made-up hosts that Chromium resolves to 127.0.0.1: site.test (the
site) and stats.test (this server), so the tracker runs cross-origin, as on a real site.

Needs Debian's chromium and uglifyjs and tests/browser/node_modules (scripts/install-deps installs
them all).
"""
import json
import os
import shutil
import subprocess
import time

from browser_story import run_story
from client import unique_ua

BROWSER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browser")
CHROMIUM = os.environ.get("TALLY_CHROMIUM", "/usr/bin/chromium")
# The browser's user agent: an ordinary desktop Chrome (headless Chromium's own says HeadlessChrome
# and is filtered as a bot), with a unique token for the privacy audit.
LINUX_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36")
TRACKER_FILES = ["t.js", "t.hash.js", "t.outbound.js", "t.downloads.js", "t.engagement.js"]

# Scenarios of run.js and the property settings each one's property gets.
SCENARIOS = {
    "pageview": {}, "spa": {}, "hash": {}, "custom": {}, "queue": {}, "optout": {},
    "localhost": {"allowed_origins": ["*"]}, "fetch_fallback": {}, "outbound": {}, "downloads": {},
    "engagement": {}, "engagement_bounce": {},
    "plausible": {"domains": ["site.test"]}, "plausible_hash": {"domains": ["hash.site.test"]},
}

_runs = {}


class Browser:
    """The record of one run.js run: per scenario the requests the page sent and what it left in
    the browser, and the property each scenario sent to."""

    def __init__(self, h, record, props, ua, seconds):
        self.h, self.record, self.props, self.ua, self.seconds = h, record, props, ua, seconds

    def scenario(self, name):
        rec = self.record["scenarios"].get(name)
        assert rec is not None, "run.js did not run scenario %s" % name
        assert not rec.get("error"), "scenario %s failed in the browser: %s (console: %s)" % (
            name, rec["error"], rec.get("console"))
        return rec

    def events(self, name, cols="name, path, interactive, props", wait_for=0):
        """The scenario's stored events in order; waits (up to 10 s) until there are wait_for."""
        prop = self.props[name]
        deadline = time.time() + 10
        while True:
            rows = self.h.sql_dicts("SELECT " + cols + " FROM events WHERE property_pk = %s ORDER BY ts, seq",
                                    prop.pk)
            if len(rows) >= wait_for or time.time() > deadline:
                return rows
            time.sleep(0.2)

    def report(self, name, report):
        prop = self.props[name]
        r = self.h.http("GET", "/v1/properties/%s/%s" % (prop.id, report),
                        headers={"Authorization": "Bearer " + prop.read_key})
        assert r.status == 200, (report, r)
        return r.json()


def _require_tools():
    missing = []
    if not shutil.which("node"):
        missing.append("node (Debian package nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("%s (Debian package chromium)" % CHROMIUM)
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        missing.append("tests/browser/node_modules (npm ci --prefix tests/browser)")
    assert not missing, "browser tests need %s: run scripts/install-deps" % ", ".join(missing)


def browser(h):
    """Runs every browser scenario once per harness and returns the Browser record."""
    if id(h) in _runs:
        return _runs[id(h)]
    _require_tools()
    site = "http://site.test:%d" % h.http_port
    props = {}
    for name, settings in SCENARIOS.items():
        settings = dict(settings)
        settings.setdefault("allowed_origins", [site])   # the browser's Origin must be allowed
        props[name] = h.create_property(**settings)
    h.sql("INSERT INTO goals (property_pk, name, event_name) VALUES (%s, 'Purchase', 'purchase')", props["custom"].pk)
    h.sql("INSERT INTO goals (property_pk, name, event_name) VALUES (%s, 'Signup', 'signup')", props["plausible"].pk)
    config = h.path("browser-config.json")
    with open(config, "w") as f:
        json.dump({"properties": {n: {"id": p.id, "key": p.write_key} for n, p in props.items()}}, f)
    ua = unique_ua(LINUX_CHROME)
    h.seen_uas.add(ua)   # the privacy audit proves it never reaches the disk
    started = time.time()
    record = run_story(h, ["node", os.path.join(BROWSER_DIR, "run.js"), "--base", "http://127.0.0.1:%d" % h.http_port,
                           "--www", h.path("www"), "--config", config, "--ua", ua])
    seconds = time.time() - started
    print("# browser: %s, %d scenarios in %.1fs (%s)" % (
        record["chromium"], len(record["scenarios"]), seconds,
        ", ".join("%s %.1fs" % (n, r.get("ms", 0) / 1000) for n, r in record["scenarios"].items())))
    _runs[id(h)] = Browser(h, record, props, ua, seconds)
    return _runs[id(h)]


def sent_events(rec, endpoint="/v1/events"):
    """The events of the requests a scenario's page sent to endpoint, in order."""
    out = []
    for r in rec["requests"]:
        if endpoint in r["url"]:
            out.extend(r["body"]["events"] if endpoint == "/v1/events" else [r["body"]])
    return out


def paths_of(rows, name="pageview"):
    return [r["path"] for r in rows if r["name"] == name]


def unordered(items):
    """Events sent at nearly the same moment may arrive in either order (the browser sends them on
    parallel connections): compare those as sorted lists."""
    return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))


# --- the build ---------------------------------------------------------------------------------------

def test_tracker_build_is_current_and_within_budget(h):
    """tracker/*.js are what tracker/src/*.js minify to, each within its gzip budget (core 700 B,
    extensions 300 B); prints the sizes."""
    p = subprocess.run(["sh", os.path.join(h.src, "tracker", "build.sh"), "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors="replace")
    for line in out.splitlines():
        print("# " + line)
    assert p.returncode == 0, out
    assert sorted(l.split()[0] for l in out.splitlines() if l.startswith("tracker/")) == \
        sorted("tracker/" + f for f in TRACKER_FILES), out


def test_tracker_files_served(h):
    for name in TRACKER_FILES:
        r = h.http("GET", "/" + name)
        assert r.status == 200, (name, r)
        assert r.headers.get("Content-Type", "").startswith("text/javascript"), (name, r.headers.get("Content-Type"))
        with open(os.path.join(h.src, "tracker", name), "rb") as f:
            assert r.body == f.read(), name


# --- the core script ---------------------------------------------------------------------------------

def test_pageview_on_load(h):
    b = browser(h)
    rec = b.scenario("pageview")
    prop = b.props["pageview"]
    req = rec["requests"][0]
    # sendBeacon (a "ping"), text/plain (no CORS preflight), the write key in the query string.
    assert req["method"] == "POST" and req["resourceType"] == "ping", req
    assert req["contentType"] == "text/plain;charset=UTF-8", req
    assert req["url"].split("?")[0].endswith("/v1/events") and "?key=" + prop.write_key in req["url"], req["url"]
    assert req["status"] == 202, req
    body = req["body"]
    assert body["property_id"] == prop.id and len(body["events"]) == 1, body
    e = body["events"][0]
    assert e["type"] == "pageview" and len(e["event_id"]) >= 16, e
    page = e["context"]["page"]
    assert page["url"].endswith("/pageview/?utm_source=newsletter&utm_campaign=launch"), page
    assert page["referrer"] == "https://www.google.com/search?q=tally", page
    assert e["context"]["screen"] == {"width": rec["screenWidth"]}, e
    # Only the page, referrer, screen width, name and properties, and the page load's random visit
    # token (for crediting a checkout to this visit): nothing that identifies anyone.
    assert set(e) <= {"event_id", "type", "context", "data", "interactive", "identity"}, e
    assert set(e.get("identity", {})) <= {"visit_token"}, e
    assert len(e["identity"]["visit_token"]) >= 3, e
    assert set(e["context"]) == {"page", "screen"} and set(page) <= {"url", "referrer", "path"}, e

    rows = b.events("pageview", "name, path, hostname, utm_source, utm_campaign, referrer, browser, device",
                    wait_for=1)
    pv = [r for r in rows if r["name"] == "pageview"]
    assert pv == [{"name": "pageview", "path": "/pageview/", "hostname": "site.test", "utm_source": "newsletter",
                   "utm_campaign": "launch", "referrer": "https://www.google.com/search", "browser": "Chrome",
                   "device": "desktop"}], rows
    h.sessionize()
    pages = b.report("pageview", "pages")["results"]
    assert pages == [{"path": "/pageview/", "pageviews": 1, "unique_visitors": 1}], pages
    sources = b.report("pageview", "sources")["results"]
    assert [s["source"] for s in sources] == ["newsletter"], sources   # utm_source wins over the referrer


def test_no_cookies_no_storage_writes_no_layout_reads_on_load(h):
    """In every scenario: no cookie, nothing written to localStorage or sessionStorage, no
    synchronous XHR; and no layout read while loading (the pageview scenario loads the core and all
    four extensions)."""
    b = browser(h)
    for name, rec in b.record["scenarios"].items():
        assert rec.get("cookies") == [], (name, rec.get("cookies"))
        for label in ("loaded", "before", "final"):
            snap = rec.get(label)
            if not snap:
                continue
            where = "%s (%s)" % (name, label)
            assert snap["documentCookie"] == "", where
            own = {"tally_ignore": "true"} if name == "optout" else {}
            assert snap["localStorage"] == own and snap["sessionStorage"] == {}, (where, snap)
            audit = snap["audit"]
            assert audit["storageWrites"] == [] and audit["cookieWrites"] == 0, (where, audit)
            assert audit["syncXhr"] == 0, (where, audit)
            if label == "loaded":
                assert audit["layoutReads"] == [], (where, audit)
    assert "loaded" in b.scenario("pageview") and "loaded" in b.scenario("engagement")


def test_event_ids_make_retries_harmless(h):
    """Each event has its own event_id; a request sent again is answered 202 and counted once."""
    b = browser(h)
    ids = [e["event_id"] for rec in b.record["scenarios"].values() for e in sent_events(rec)]
    assert len(ids) > 20 and len(set(ids)) == len(ids), ids
    rec = b.scenario("pageview")
    prop = b.props["pageview"]
    before = len(b.events("pageview"))
    r = h.http("POST", "/v1/events?key=" + prop.write_key, body=json.dumps(rec["requests"][0]["body"]),
               headers={"Content-Type": "text/plain;charset=UTF-8", "User-Agent": b.ua})
    assert r.status == 202 and r.json()["duplicates"] == 1, r
    assert len(b.events("pageview")) == before


def test_spa_pushstate_and_popstate(h):
    """pushState to a new path counts; to the same path (query), a #fragment and replaceState do
    not; back to the first path (popstate) counts."""
    b = browser(h)
    b.scenario("spa")
    rows = b.events("spa", wait_for=3)
    assert paths_of(rows) == ["/spa/", "/spa/two", "/spa/"], rows
    assert len(rows) == 3, rows


def test_custom_events_with_props_and_revenue(h):
    b = browser(h)
    b.scenario("custom")
    rows = b.events("custom", "name, path, interactive, props, revenue_amount::text AS amount, revenue_currency",
                    wait_for=4)
    assert [e["type"] for e in sent_events(b.scenario("custom"))] == ["pageview", "signup", "purchase",
                                                                       "video autoplay"]
    by_name = {r["name"]: r for r in rows}
    assert len(rows) == 4 and len(by_name) == 4, rows
    signup, purchase, autoplay = by_name["signup"], by_name["purchase"], by_name["video autoplay"]
    assert signup["props"] == {"plan": "pro", "seats": 3, "trial": True} and signup["interactive"], signup
    assert purchase["props"] == {"sku": "A1"}, purchase
    assert (float(purchase["amount"]), purchase["revenue_currency"]) == (49.9, "EUR"), purchase
    assert autoplay["interactive"] is False and autoplay["props"] is None, autoplay
    h.sessionize()
    events = {e["event_type"]: e["events"] for e in b.report("custom", "events")["results"]}
    assert events == {"signup": 1, "purchase": 1, "video autoplay": 1}, events
    goals = b.report("custom", "goals")["results"]
    assert [(g["goal"], g["conversions"], g["revenue"]) for g in goals] == [("Purchase", 1, {"EUR": "49.90"})], goals


def test_calls_queued_before_load(h):
    """tally() calls made before t.js (loaded async, with data-api) ran are sent after the
    pageview, in order."""
    b = browser(h)
    rec = b.scenario("queue")
    assert all(r["url"].startswith("http://stats.test:%d/v1/events?key=" % h.http_port) for r in rec["requests"])
    sent = sent_events(rec)
    assert [(e["type"], e["data"]) for e in sent] == [("pageview", {}), ("early", {"step": 1}),
                                                      ("early", {"step": 2})], sent
    rows = b.events("queue", wait_for=3)
    assert unordered([(r["name"], r["props"]) for r in rows]) == unordered(
        [("pageview", None), ("early", {"step": 1}), ("early", {"step": 2})]), rows


def test_opt_out_flag(h):
    """localStorage.tally_ignore = "true" (set by the site owner): nothing is sent."""
    b = browser(h)
    rec = b.scenario("optout")
    assert rec["requests"] == [], rec["requests"]
    assert b.events("optout") == []
    assert rec["final"]["localStorage"] == {"tally_ignore": "true"}, rec["final"]


def test_localhost_excluded_unless_allowed(h):
    """Pages on 127.0.0.1 and localhost send nothing; data-allow-localhost sends (to the default
    endpoint next to a same-origin script)."""
    b = browser(h)
    rec = b.scenario("localhost")
    assert rec["sentWhenIgnored"] == 0, rec["requests"]
    assert len(rec["requests"]) == 1 and rec["requests"][0]["url"].startswith("http://127.0.0.1:"), rec["requests"]
    rows = b.events("localhost", "name, path, hostname", wait_for=1)
    assert rows == [{"name": "pageview", "path": "/local/allowed.html", "hostname": "127.0.0.1"}], rows


def test_fetch_keepalive_fallback(h):
    """When sendBeacon refuses, fetch with keepalive sends the same text/plain request."""
    b = browser(h)
    rec = b.scenario("fetch_fallback")
    assert rec["beaconCalls"] == 2, rec
    fetches = rec["final"]["audit"]["fetches"]
    assert len(fetches) == 2 and all(f["keepalive"] and f["method"] == "POST" for f in fetches), fetches
    for req in rec["requests"]:
        assert req["resourceType"] == "fetch" and req["contentType"] == "text/plain;charset=UTF-8", req
        assert req["status"] == 202, req
    assert sorted(r["name"] for r in b.events("fetch_fallback", wait_for=2)) == ["pageview", "signup"]


# --- the extensions ---------------------------------------------------------------------------------

def test_hash_routing_extension(h):
    """The route in the fragment is the path; each route change (link, back) is one pageview."""
    b = browser(h)
    b.scenario("hash")
    rows = b.events("hash", wait_for=4)
    assert paths_of(rows) == ["/app/home", "/app/settings", "/app/users/7", "/app/settings"], rows
    assert len(rows) == 4, rows


def test_outbound_link_extension(h):
    """A click and a middle click on a link to another host send "Outbound Link: Click"; the
    click's beacon survives the navigation; internal and mailto links send nothing."""
    b = browser(h)
    rec = b.scenario("outbound")
    assert len(rec["requests"]) >= 2, rec["requests"]
    rows = b.events("outbound", wait_for=3)
    url = "http://other.test:%d/landing.html?ref=tally" % h.http_port
    assert unordered([(r["name"], r["props"]) for r in rows]) == unordered([
        ("pageview", None), ("Outbound Link: Click", {"url": url}), ("Outbound Link: Click", {"url": url})]), rows


def test_file_download_extension(h):
    """Links to files by extension (query dropped) or with the download attribute, on any host,
    send "File Download"; an ordinary page link does not."""
    b = browser(h)
    b.scenario("downloads")
    rows = b.events("downloads", wait_for=5)
    site, other = "http://site.test:%d" % h.http_port, "http://other.test:%d" % h.http_port
    assert unordered([(r["name"], r["props"]) for r in rows]) == unordered([("pageview", None)] + [
        ("File Download", {"url": u}) for u in (site + "/files/report.pdf", site + "/files/data.csv",
                                                 site + "/files/export", other + "/files/archive.ZIP")]), rows


def test_engagement_extension(h):
    """Engagement for each page of a single-page app (sent before the next pageview) and when the
    page is left: time visible and scroll depth, not interactive."""
    b = browser(h)
    sent = sent_events(b.scenario("engagement"))
    # The first page's engagement goes out before the next pageview (the last one, sent while the
    # page unloads, is not always seen by the browser's request events).
    assert [(e["type"], e["context"]["page"]["url"].split("/", 3)[3]) for e in sent[:3]] == [
        ("pageview", "eng/"), ("engagement", "eng/"), ("pageview", "eng/two")], sent
    rows = b.events("engagement", wait_for=4)
    assert unordered([(r["name"], r["path"]) for r in rows]) == unordered([
        ("pageview", "/eng/"), ("engagement", "/eng/"), ("pageview", "/eng/two"), ("engagement", "/eng/two")]), rows
    first, second = [r for r in rows if r["name"] == "engagement"]
    if first["path"] != "/eng/":
        first, second = second, first
    assert first["props"]["scroll_depth"] == 100 and second["props"]["scroll_depth"] == 100, rows
    # The first page was visible about 800 ms (more on a slow machine), the second about 400 ms.
    assert 700 <= first["props"]["engaged_ms"] < 60000, first
    assert 300 <= second["props"]["engaged_ms"] < 60000, second
    assert not first["interactive"] and not second["interactive"], rows


def test_engagement_does_not_end_a_bounce(h):
    b = browser(h)
    b.scenario("engagement_bounce")
    rows = b.events("engagement_bounce", wait_for=2)
    assert sorted(r["name"] for r in rows) == ["engagement", "pageview"], rows
    eng = [r for r in rows if r["name"] == "engagement"][0]
    assert eng["props"]["scroll_depth"] == 100 and eng["props"]["engaged_ms"] >= 400, rows
    h.sessionize()
    o = b.report("engagement_bounce", "overview")
    assert (o["sessions"], o["pageviews"], o["bounce_rate"]) == (1, 1, 100.0), o


# --- Plausible's tracker ---------------------------------------------------------------------------

def test_plausible_tracker_reaches_reports(h):
    """Plausible's published tracker, pointed at /api/event: pageviews (on load and pushState), a
    custom event with props and revenue, and its engagement events, in the database and reports."""
    b = browser(h)
    rec = b.scenario("plausible")
    sent = sent_events(rec, "/api/event")
    assert [e["n"] for e in sent][:2] == ["pageview", "signup"], sent
    assert all(r["status"] == 202 and r["contentType"] == "text/plain" for r in rec["requests"]), rec["requests"]
    rows = b.events("plausible", "name, path, interactive, props, utm_source, referrer, "
                                 "revenue_amount::text AS amount, revenue_currency", wait_for=5)
    assert paths_of(rows) == ["/plausible/", "/plausible/two"], rows
    signup = [r for r in rows if r["name"] == "signup"]
    assert len(signup) == 1 and signup[0]["props"] == {"plan": "pro"}, rows
    assert (float(signup[0]["amount"]), signup[0]["revenue_currency"]) == (15.99, "USD"), signup
    assert rows[0]["utm_source"] == "plausible-test" and rows[0]["referrer"] == "https://news.ycombinator.com/item"
    engagement = [r for r in rows if r["name"] == "engagement"]
    assert sorted(r["path"] for r in engagement) == ["/plausible/", "/plausible/two"], rows
    for r in engagement:
        assert not r["interactive"] and set(r["props"]) >= {"scroll_depth", "engaged_ms"}, r
    h.sessionize()
    pages = {p["path"]: p["pageviews"] for p in b.report("plausible", "pages")["results"]}
    assert pages == {"/plausible/": 1, "/plausible/two": 1}, pages
    events = {e["event_type"]: e["events"] for e in b.report("plausible", "events")["results"]}
    assert events.get("signup") == 1, events
    goals = b.report("plausible", "goals")["results"]
    assert [(g["goal"], g["conversions"], g["revenue"]) for g in goals] == [("Signup", 1, {"USD": "15.99"})], goals
    o = b.report("plausible", "overview")
    assert (o["sessions"], o["pageviews"], o["bounce_rate"]) == (1, 2, 0.0), o


def test_plausible_tracker_hash_routing(h):
    """Plausible's tracker with hashBasedRouting (h: 1): the route is the path, as with t.hash.js."""
    b = browser(h)
    b.scenario("plausible_hash")
    rows = b.events("plausible_hash", wait_for=2)
    assert paths_of(rows) == ["/plausible-hash/home", "/plausible-hash/reports"], rows
