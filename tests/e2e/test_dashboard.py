"""End-to-end tests of the dashboard (dashboard/, served as static files under /admin/) in a real
browser: headless Chromium driven by tests/browser/dashboard.js (Node + playwright-core) against
this server. Like a new site owner, the browser signs up (or, when an account exists already,
accepts an invitation to a property made here), creates a property in the settings, copies the
snippet into the pages of a site, visits them as two visitors, and then reads the dashboard:
overview cards, graph, tables, filters, compare, date ranges, realtime, CSV export, revenue; then
funnels, keys, the quota, the Stripe secret, token secret rotation, server keys, share links, the
team, the audit log, sign-out and sign-in.

dashboard.js runs once (the first test that needs it starts it) and reports what it saw; each test
below checks one part on that record and in the database. Screenshots of the main views go to
var/test-logs/screenshots/dashboard/ (or $TALLY_SCREENSHOTS); the last test checks them and
prints their paths.

Needs Debian's chromium and tests/browser/node_modules (scripts/install-deps installs them).
"""
import hashlib
import json
import os
import shutil
import struct
import time
import uuid
import zlib

from browser_story import run_story
from client import new_ip, unique_ua

BROWSER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browser")
CHROMIUM = os.environ.get("TALLY_CHROMIUM", "/usr/bin/chromium")
# The owner's and first visitor's browser: an ordinary desktop Chrome (headless Chromium's own user
# agent says HeadlessChrome and is filtered as a bot), with a unique token for the privacy audit.
LINUX_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36")

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
# The two visitors' addresses: documentation networks that the test GeoIP database places in
# Germany and France.
VISITOR_IPS = ["192.0.2.77", "198.51.100.177"]

_runs = {}


def _require_tools():
    missing = []
    if not shutil.which("node"):
        missing.append("node (Debian package nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append("%s (Debian package chromium)" % CHROMIUM)
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        missing.append("tests/browser/node_modules (npm ci --prefix tests/browser)")
    assert not missing, "the dashboard's browser test needs %s: run scripts/install-deps" % ", ".join(missing)


class Run:
    def __init__(self, h, record, config, seconds, shots_dir):
        self.h, self.record, self.config, self.seconds, self.shots_dir = h, record, config, seconds, shots_dir

    def step(self, name):
        assert not self.record.get("error") or name in self.record["steps"], \
            "dashboard.js stopped before %s: %s (console: %s, page errors: %s)" % (
                name, self.record.get("error"), self.record.get("console"), self.record.get("pageErrors"))
        assert name in self.record["steps"], "dashboard.js did not record %s" % name
        return self.record["steps"][name]

    @property
    def prop_id(self):
        self.step("snippet")
        return self.record["property"]

    @property
    def pk(self):
        return self.h.sql_int("SELECT pk FROM properties WHERE id = %s", self.prop_id)


def screenshots_dir(h):
    d = os.environ.get("TALLY_SCREENSHOTS") or os.path.join(h.src, "var", "test-logs", "screenshots", "dashboard")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.endswith(".png"):
            os.unlink(os.path.join(d, f))
    return d


def _account(h):
    """How the browser gets its account: the first-run sign-up while no account exists, else an
    invitation (made here in SQL, as an owner would) to a property of its own."""
    email = "dash-%s@example.com" % uuid.uuid4().hex[:8]
    password = "dash password %s" % uuid.uuid4().hex[:8]
    if h.sql_int("SELECT count(*) FROM users") == 0:
        return {"mode": "signup", "email": email, "password": password}
    prop = h.create_property(domains=["invited.example"], name="Invited site")
    token = "inv_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
    h.sql("INSERT INTO invitations (property_pk, email, role, token_hash, expires_at) "
          "VALUES (%s, %s, 'owner', decode(%s, 'hex'), now() + interval '1 day')",
          prop.pk, email, hashlib.sha256(token.encode()).hexdigest())
    return {"mode": "invite", "email": email, "password": password, "invite_token": token}


def _server_state(h):
    """What the database was doing when the story stopped: its sessions that are not idle, and
    what each one waits for (a step that waits on the server shows here)."""
    try:
        busy = h.sql("SELECT pid, state, wait_event_type, wait_event, now() - xact_start, left(query, 100) "
                     "FROM pg_stat_activity WHERE datname = 'tally' AND state <> 'idle' AND pid <> pg_backend_pid()")
    except Exception as e:   # the database itself may be what failed
        return "database sessions: unknown (%s)" % e
    return "database sessions not idle: %r" % (busy,)


def run(h):
    """Runs dashboard.js once per harness and returns its Run."""
    if id(h) in _runs:
        return _runs[id(h)]
    _require_tools()
    config = _account(h)
    ua = unique_ua(LINUX_CHROME)
    mobile = unique_ua(IPHONE)
    owner_ip, server_ip = new_ip(), new_ip()
    for ip in VISITOR_IPS + [owner_ip, server_ip]:
        h.seen_ips.add(ip)
    h.seen_uas.update([ua, mobile])   # the privacy audit proves they never reach the disk
    config.update(
        sessionize=["psql", "-X", "-q", "-h", h.pg_sock, "-p", str(h.pg_port), "-U", "postgres", "-d", "tally",
                    "-c", "SELECT tally_sessionize(100000)"],
        mobile_ua=mobile, visitor_ips=VISITOR_IPS, owner_ip=owner_ip, server_ip=server_ip,
        viewer_email="viewer-%s@example.org" % uuid.uuid4().hex[:8], viewer_password="viewer password %s" % uuid.uuid4().hex[:6],
        stripe_secret="whsec_dash%s" % uuid.uuid4().hex)
    # The config holds client addresses and user agents: it is removed as soon as the browser has
    # read it, since the privacy audit looks for them in every file the harness keeps.
    path = h.path("dashboard-config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    shots = screenshots_dir(h)
    started = time.time()
    try:
        record = run_story(h, ["node", os.path.join(BROWSER_DIR, "dashboard.js"), "--base",
                               "http://127.0.0.1:%d" % h.http_port, "--www", h.path("www"), "--config", path,
                               "--ua", ua, "--out", shots], diagnose=lambda: "; " + _server_state(h))
    finally:
        os.unlink(path)
    seconds = time.time() - started
    if record.get("error"):
        record["error"] += "; " + _server_state(h)
    print("# dashboard browser: %s, %.1fs (%s)" % (record.get("chromium"), seconds, ", ".join(
        "%s %.1fs" % (k[:-3], v / 1000) for k, v in record["steps"].items() if k.endswith("_ms"))))
    _runs[id(h)] = Run(h, record, config, seconds, shots)
    return _runs[id(h)]


def rows(table):
    """Table rows [[label, figure, ...], ...] as {label: [figures]}."""
    return {r[0]: r[1:] for r in table}


def card_values(cards):
    return {k: v["value"] for k, v in cards.items()}


# --- the files ----------------------------------------------------------------------------------------

DASHBOARD_FILES = ["index.html", "style.css", "js/app.js", "js/api.js", "js/auth.js", "js/chart.js", "js/dom.js",
                   "js/filters.js", "js/forms.js", "js/funnels.js", "js/reports.js", "js/settings.js"]


def test_dashboard_files_served(h):
    """/admin/ serves the dashboard: the page with its Content-Security-Policy, ES modules as
    JavaScript, one stylesheet; no source builds HTML from strings."""
    r = h.http("GET", "/admin/")
    assert r.status == 200 and r.headers.get("Content-Type", "").startswith("text/html"), r
    assert b"Content-Security-Policy" in r.body and b"script-src 'self'" in r.body, r.body[:400]
    types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
    for name in DASHBOARD_FILES:
        r = h.http("GET", "/admin/" + name)
        assert r.status == 200, (name, r)
        assert r.headers.get("Content-Type", "").startswith(types[os.path.splitext(name)[1]]), (name, r.headers)
        with open(os.path.join(h.src, "dashboard", name), "rb") as f:
            source = f.read()
        assert r.body == source, name
        for sink in (b"innerHTML", b"outerHTML", b"insertAdjacentHTML", b"document.write", b"eval("):
            assert sink not in source, "%s uses %s" % (name, sink.decode())
    on_disk = sorted(os.path.relpath(os.path.join(d, f), os.path.join(h.src, "dashboard"))
                     for d, _, fs in os.walk(os.path.join(h.src, "dashboard")) for f in fs if not f.endswith(".md"))
    assert on_disk == sorted(DASHBOARD_FILES), on_disk


# --- signing up, a property, its settings ------------------------------------------------------------

def test_dashboard_first_account_and_property(h):
    """The first-run sign-up (or an invitation), then a property made in the settings, renamed,
    its allowed origins, excluded paths and addresses set, two goals; all of it in the database."""
    d = run(h)
    signed = d.step("signedIn")
    assert signed["account"] == d.config["email"], signed
    user = h.sql_dicts("SELECT email, instance_owner FROM users WHERE email = %s", d.config["email"])
    assert len(user) == 1 and user[0]["instance_owner"] == (d.config["mode"] == "signup"), (user, d.config["mode"])
    site = "http://site.test:%d" % h.http_port
    p = h.sql_dicts("SELECT name, domains, allowed_origins, excluded_paths, excluded_addresses FROM properties "
                    "WHERE id = %s", d.prop_id)
    assert p == [{"name": "Shop (example)", "domains": ["shop.example"], "allowed_origins": [site],
                  "excluded_paths": ["/shop/private/*"], "excluded_addresses": ["2001:db8:ff00::/40", "100.64.0.0/24"]}], p
    role = h.sql_value("SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id "
                       "WHERE u.email = %s AND m.property_pk = %s", d.config["email"], d.pk)
    assert role == "owner", role
    settings = d.step("settings")
    assert settings["status"] == "Saved." and settings["title"].startswith("Shop (example)"), settings
    goals = h.sql_dicts("SELECT name, event_name, path_pattern, revenue FROM goals WHERE property_pk = %s ORDER BY name",
                        d.pk)
    assert goals == [{"name": "Saw pricing", "event_name": None, "path_pattern": "/shop/pricing*", "revenue": False},
                     {"name": "Signup", "event_name": "signup", "path_pattern": None, "revenue": True}], goals


def test_dashboard_late_answer_of_a_left_view(h):
    """A view whose server answer comes after the user went on to another view draws nothing:
    the properties list, held back until the new-property form is on screen, leaves the form."""
    d = run(h)
    late = d.step("lateAnswer")
    assert late == {"held": True, "form": True, "heading": "New property"}, late


def test_dashboard_snippet_with_a_write_key(h):
    """Creating a property shows its snippet with a new write key (the tracker's address on this
    server); the key works, and only its hash is stored."""
    d = run(h)
    snip = d.step("snippet")
    key = d.record["steps"]["snippet"]["text"].split('data-key="')[1].split('"')[0]
    assert snip["text"] == '<script defer src="http://stats.test:%d/t.js" data-property="%s" data-key="%s"></script>' % (
        h.http_port, d.prop_id, key), snip
    assert key.startswith("wk_") and len(key) == 46, key
    assert snip["copied"] in ("Copied to the clipboard", "Select the text and copy it"), snip
    assert snip["url"].endswith("#/p/%s/settings/snippet" % d.prop_id), snip
    stored = h.sql_dicts("SELECT kind, name, prefix FROM api_keys WHERE property_pk = %s AND key_hash = "
                         "decode(%s, 'hex')", d.pk, hashlib.sha256(key.encode()).hexdigest())
    assert stored == [{"kind": "write", "name": "website", "prefix": key[:10]}], stored


def test_dashboard_traffic_from_the_snippet(h):
    """The pages with the copied snippet sent every pageview and the custom event (202); the
    excluded path was dropped; the server-side event of yesterday was stored."""
    d = run(h)
    visits = d.step("visits")
    assert [t["status"] for t in visits["tracked"]] == [202] * 5, visits["tracked"]
    assert visits["serverSide"]["status"] == 202 and visits["serverSide"]["body"]["accepted"] == 1, visits
    # (The purchase that the server key sent later is checked below.)
    stored = h.sql_dicts("SELECT name, path, source, country, device, browser FROM events WHERE property_pk = %s "
                         "AND name <> 'purchase' ORDER BY ts, seq", d.pk)
    today = [e for e in stored if e["path"].startswith("/shop/")]
    assert [(e["name"], e["path"]) for e in today] == [
        ("pageview", "/shop/"), ("pageview", "/shop/pricing.html"), ("signup", "/shop/pricing.html"),
        ("pageview", "/shop/docs.html")], stored
    # (The second page's referrer is the site itself: no source of its own; the visit keeps its first.)
    assert [(e["source"], e["country"], e["device"], e["browser"]) for e in today if e["name"] == "pageview"] == [
        ("newsletter", "DE", "desktop", "Chrome"), ("Direct / None", "DE", "desktop", "Chrome"),
        ("Hacker News", "FR", "mobile", "Mobile Safari")], today
    assert len(stored) == 5, stored


def test_dashboard_purchase_from_a_server_key(h):
    """The server key made in the settings sent a purchase for the second visitor (their address
    and user agent in context.client): it joined that visitor's visit, and the revenue panel
    shows it next to the signup's revenue, by the visit's source."""
    d = run(h)
    s = d.step("revenueSettings")
    assert s["server"]["purchase"]["status"] == 202 and s["server"]["purchase"]["body"]["accepted"] == 1, s["server"]
    visitors = h.sql("SELECT DISTINCT visitor FROM events WHERE property_pk = %s AND (name = 'purchase' OR path = '/shop/docs.html')",
                     d.pk)
    assert len(visitors) == 1, "the purchase must join the second visitor: %r" % visitors
    r = s["revenue"]
    assert r["totals"] == {"revenue": "68.90 EUR", "conversions": "2", "conversion_rate": "100%",
                           "revenue_per_visitor": "34.45 EUR"}, r["totals"]
    assert rows(r["sources"]) == {"newsletter": ["1", "1", "100%", "19.00 EUR"],
                                  "Hacker News": ["1", "1", "100%", "49.90 EUR"]}, r["sources"]
    # What the panel says is what report.fcgi says.
    rk = h.add_key(d.pk, "read")
    total = h.http("GET", "/v1/properties/%s/revenue?period=today" % d.prop_id,
                   headers={"Authorization": "Bearer " + rk}).json()["results"][0]
    assert total["revenue"] == {"EUR": "68.90"} and total["conversions"] == 2, total


# --- the reports --------------------------------------------------------------------------------------

def test_dashboard_overview_cards_and_graph(h):
    """Today's cards give the visits' numbers; the graph has a point per hour (24) and its
    tooltip names the hour; the default range (7 days) has 7 points and yesterday's visitor."""
    d = run(h)
    day = d.step("today")
    assert "period=today" in day["url"], day["url"]
    assert card_values(day["cards"]) == {"unique_visitors": 2, "sessions": 2, "pageviews": 3, "views_per_session": 1.5,
                                         "bounce_rate": 50, "visit_duration": day["cards"]["visit_duration"]["value"],
                                         "events": 4}, day["cards"]
    assert day["cards"]["bounce_rate"]["text"] == "50%" and day["cards"]["views_per_session"]["text"] == "1.5"
    assert day["graph"]["points"] == 24 and day["graph"]["dots"] == 24, day["graph"]
    assert "Visitors: " in day["tooltip"] and "Pageviews: " in day["tooltip"], day["tooltip"]
    week = d.step("week")
    assert week["graph"]["points"] == 7 and week["graph"]["dots"] == 7, week["graph"]
    assert card_values(week["cards"])["unique_visitors"] == 3 and card_values(week["cards"])["pageviews"] == 4, week
    assert week["range"].startswith("Last 7 days"), week["range"]
    # What the cards say is what report.fcgi says (but for the figures that the server key's later
    # purchase changed: one more event, and the second visit no longer bounces).
    rk = h.add_key(d.pk, "read")
    o = h.http("GET", "/v1/properties/%s/overview?period=today" % d.prop_id, headers={"Authorization": "Bearer " + rk}).json()
    later = ("events", "bounce_rate", "visit_duration")
    assert all(o[k] == v for k, v in card_values(day["cards"]).items() if k not in later), (o, day["cards"])
    assert o["events"] == 5 and o["bounce_rate"] == 0, o


def test_dashboard_breakdown_tables(h):
    """Every table shows the visits: pages, entry and exit pages, sources, campaigns, countries,
    devices, browsers, OS, custom events, goals with revenue."""
    d = run(h)
    day = d.step("today")
    assert rows(day["pages"]) == {"/shop/": ["1", "1"], "/shop/pricing.html": ["1", "1"], "/shop/docs.html": ["1", "1"]}, day["pages"]
    assert set(rows(day["entry-pages"])) == {"/shop/", "/shop/docs.html"}, day["entry-pages"]
    assert set(rows(day["exit-pages"])) == {"/shop/pricing.html", "/shop/docs.html"}, day["exit-pages"]
    sources = rows(day["sources"])
    assert set(sources) == {"newsletter", "Hacker News"}, sources
    assert sources["newsletter"][:3] == ["1", "1", "0%"] and sources["Hacker News"][:3] == ["1", "1", "100%"], sources
    assert set(rows(day["campaigns"])) == {"launch"}, day["campaigns"]
    assert set(rows(day["countries"])) == {"Germany", "France"}, day["countries"]
    assert set(rows(day["devices"])) == {"desktop", "mobile"}, day["devices"]
    assert set(rows(day["browsers"])) == {"Chrome", "Mobile Safari"}, day["browsers"]
    assert len(rows(day["os"])) == 2, day["os"]
    assert rows(day["events"]) == {"signup": ["1", "1"]}, day["events"]
    goals = rows(day["goals"])
    assert goals == {"Signup": ["1", "50%", "19.00 EUR"], "Saw pricing": ["1", "50%", "–"]}, goals


def test_dashboard_click_a_row_to_filter(h):
    """A click on a page filters every report by it (a chip, filters= in the URL); a second filter
    adds up; the chips' buttons remove them. A filter that leaves nothing empties the tables, and
    Countries says where countries come from."""
    d = run(h)
    f = d.step("filter")
    assert "filters=path%3D%3D%2Fshop%2Fpricing.html" in f["url"], f["url"]
    assert f["chips"] == ["Page is /shop/pricing.html×"], f["chips"]
    assert card_values(f["cards"])["unique_visitors"] == 1 and card_values(f["cards"])["pageviews"] == 1, f["cards"]
    assert rows(f["pages"]) == {"/shop/pricing.html": ["1", "1"]}, f["pages"]
    assert f["graph"]["points"] == 24, f["graph"]
    two = f["twoFilters"]
    assert two["chips"] == 2 and "source%3D%3Dnewsletter" in two["url"], two
    assert card_values(two["cards"])["unique_visitors"] == 1, two
    assert f["removed"]["chips"] == 0 and "filters" not in f["removed"]["url"], f["removed"]
    assert card_values(f["removed"]["cards"])["unique_visitors"] == 2, f["removed"]
    assert f["nothing"]["pages"] == "Nothing in this range.", f["nothing"]
    assert f["nothing"]["locations"].startswith("No visits with a known country in this range.") and \
        "geoip_database" in f["nothing"]["locations"], f["nothing"]


def test_dashboard_compare_and_date_ranges(h):
    """Compare shows the previous period dashed and as deltas (yesterday had one visitor and one
    pageview); a custom range of three days has three points."""
    d = run(h)
    c = d.step("compare")
    assert "compare=1" in c["url"], c["url"]
    assert c["cards"]["unique_visitors"]["delta"] == "+100%", c["cards"]
    assert c["cards"]["pageviews"]["delta"] == "+200%", c["cards"]
    assert c["graph"]["previousLines"] == 2, c["graph"]
    assert c["sourceDeltas"] == ["new", "new"], c["sourceDeltas"]
    custom = d.step("custom")
    assert "from=" in custom["url"] and "to=" in custom["url"] and "period" not in custom["url"], custom["url"]
    assert custom["graph"]["points"] == 3, custom["graph"]
    assert custom["range"].startswith("Custom"), custom["range"]
    assert card_values(custom["cards"])["unique_visitors"] == 3, custom["cards"]


def test_dashboard_realtime_panel(h):
    d = run(h)
    r = d.step("realtime")
    assert r["visitors"] == 2 and r["live"] == "2 current visitors", r
    assert r["sparkTotal"] == 3, r
    assert sorted(p[0] for p in r["pages"]) == ["/shop/", "/shop/docs.html", "/shop/pricing.html"], r


def test_dashboard_csv_export_link(h):
    d = run(h)
    csv = d.step("csv")
    assert csv["status"] == 200 and csv["type"].startswith("text/csv"), csv
    assert "format=csv" in csv["href"] and "/v1/properties/%s/pages" % d.prop_id in csv["href"], csv
    # The last view was three days with yesterday's server-side pageview; its markup path is one
    # quoted CSV cell.
    lines = csv["text"].strip().split("\r\n")
    evil = d.step("visits")["evil"]["path"]
    assert lines[0] == "path,pageviews,unique_visitors", lines
    assert sorted(lines[1:]) == sorted(['"%s",1,1' % evil.replace('"', '""'), "/shop/,1,1", "/shop/docs.html,1,1",
                                        "/shop/pricing.html,1,1"]), lines


def test_dashboard_shows_data_as_text(h):
    """A page path and a source that are markup (sent by anyone who has the write key) show as
    text: no element made from them, no script run."""
    d = run(h)
    week = d.step("week")
    evil = d.step("visits")["evil"]
    assert evil["path"] in [r[0] for r in week["pages"]], week["pages"]
    assert evil["source"] in [r[0] for r in week["sources"]], week["sources"]
    assert week["xss"] == {"flag": None, "images": 0, "scripts": 0}, week["xss"]
    assert not d.record["pageErrors"], d.record["pageErrors"]


def test_dashboard_revenue_panel(h):
    """The revenue panel: today's signup carried 19.00 EUR (the first visitor, from the
    newsletter, landing on /shop/); totals, the table by source and by landing page; a click on a
    row filters every report by it."""
    d = run(h)
    r = d.step("revenue")
    assert r["totals"] == {"revenue": "19.00 EUR", "conversions": "1", "conversion_rate": "50%",
                           "revenue_per_visitor": "9.50 EUR"}, r["totals"]
    assert rows(r["sources"]) == {"newsletter": ["1", "1", "100%", "19.00 EUR"], "Hacker News": ["1", "0", "0%", "–"]}, r
    assert rows(r["landing"]) == {"/shop/": ["1", "1", "100%", "19.00 EUR"], "/shop/docs.html": ["1", "0", "0%", "–"]}, r
    f = r["filtered"]
    assert "filters=entry_page%3D%3D%2Fshop%2F" in f["url"] and f["chips"] == ["Entry page is /shop/×"], f
    assert f["totals"]["conversion_rate"] == "100%" and f["totals"]["revenue"] == "19.00 EUR", f


def test_dashboard_funnel(h):
    """A funnel made in the UI (a /shop/ page, then pricing, then the signup event) shows as bars:
    2 visits, 1 (50%, one dropped), 1 (50%); renamed, a second one made and deleted; all of it
    in the database; a viewer reads it without the forms."""
    d = run(h)
    f = d.step("funnel")
    assert f["empty"] == 0 and "/funnels?period=today" in f["url"], f
    assert f["list"] == ["Signup"], f
    assert [(s["visits"], s["rate"], s["drop"]) for s in f["steps"]] == [(2, 100, 0), (1, 50, 1), (1, 50, 0)], f["steps"]
    assert [s["label"] for s in f["steps"]] == ["1 Page contains /shop/", "2 Page is /shop/pricing.html",
                                                "3 Event is signup"], f["steps"]
    assert [float(s["width"].rstrip("%")) for s in f["steps"]] == [100, 50, 50], f["steps"]
    assert "2 visits" in f["steps"][0]["text"] and "1 dropped" in f["steps"][1]["text"], f["steps"]
    assert f["renamed"]["list"] == ["Signup path"] and f["renamed"]["steps"] == f["steps"], f["renamed"]
    assert [s["visits"] for s in f["second"]] == [1, 0], f["second"]
    assert f["afterDelete"] == ["Signup path"], f["afterDelete"]
    assert f["badStep"].startswith("steps[0].value: "), f["badStep"]
    assert "filters=country%3D%3DFR" in f["filtered"]["url"] and f["filtered"]["chips"] == ["Country is FR"], f["filtered"]
    assert f["filtered"]["steps"] == [1, 0, 0], f["filtered"]
    saved = h.sql_dicts("SELECT name FROM funnels WHERE property_pk = %s", d.pk)
    assert saved == [{"name": "Signup path"}], saved
    viewer = d.step("team")["viewer"]["funnels"]
    assert [s["visits"] for s in viewer["steps"]] == [2, 1, 1], viewer
    assert viewer["forms"] == 0 and viewer["buttons"] == 0 and viewer["stripeForms"] == 0, viewer


def test_dashboard_quota_stripe_secret_token_rotation(h):
    """The daily quota saved; the Stripe secret written (shown nowhere, "configured", the webhook
    URL to paste into Stripe); the token secret rotated after a confirmation; a server key."""
    d = run(h)
    s = d.step("revenueSettings")
    url = "http://stats.test:%d/v1/webhooks/stripe/%s" % (h.http_port, d.prop_id)
    assert s["before"] == {"stripe": "not configured", "url": url}, s["before"]
    assert s["quota"] == {"status": "Saved.", "value": "100000"}, s["quota"]
    assert s["after"] == {"stripe": "configured", "url": url, "status": "Stripe secret saved.", "secretShown": False}, s["after"]
    assert s["armed"].startswith("Confirm") and s["rotated"].startswith("Rotated"), s
    assert s["server"]["secret"].startswith("sk_") and s["server"]["title"] == "New server key “backend events”", s["server"]
    assert ["backend events", "server"] in s["server"]["rows"], s["server"]["rows"]
    got = h.sql_dicts("SELECT event_quota_daily, require_token, stripe_webhook_secret FROM properties WHERE id = %s", d.prop_id)
    assert got == [{"event_quota_daily": 100000, "require_token": False, "stripe_webhook_secret": d.config["stripe_secret"]}], got
    key = h.sql_dicts("SELECT kind, name FROM api_keys WHERE key_hash = decode(%s, 'hex')",
                      hashlib.sha256(s["server"]["secret"].encode()).hexdigest())
    assert key == [{"kind": "server", "name": "backend events"}], key
    assert d.step("team")["viewer"]["stripe"] == "configured"
    actions = d.step("audit")
    for a in ("funnel.create", "funnel.update", "funnel.delete", "property.token_secret_rotate"):
        assert a in actions, (a, actions)


# --- settings ---------------------------------------------------------------------------------------

def test_dashboard_key_shown_once_and_revoked(h):
    d = run(h)
    k = d.step("keys")
    assert k["secret"].startswith("rk_") and len(k["secret"]) == 46, k
    assert any("backend" in r and "read" in r and k["secret"][:10] in r for r in k["rowsAfterCreate"]), k
    assert k["later"] == {"secretShown": False, "boxes": 0}, k["later"]
    assert len(k["revokedStatus"]) == 1 and k["revokedStatus"][0].startswith("revoked"), k
    row = h.sql_dicts("SELECT kind, name, revoked_at IS NOT NULL AS revoked FROM api_keys "
                      "WHERE key_hash = decode(%s, 'hex')", hashlib.sha256(k["secret"].encode()).hexdigest())
    assert row == [{"kind": "read", "name": "backend", "revoked": True}], row


def test_dashboard_key_rotation(h):
    """Rotating the snippet's write key revokes it and shows the new one once, in the snippet too."""
    d = run(h)
    k = d.step("keys")
    old = d.step("snippet")["text"].split('data-key="')[1].split('"')[0]
    assert k["rotated"].startswith("wk_") and k["rotated"] != old, k
    assert k["rotated"] in k["snippetAfterRotate"], k["snippetAfterRotate"]
    states = {prefix: status for _, prefix, status in k["statuses"]}
    assert states[old[:10] + "…"].startswith("revoked") and states[k["rotated"][:10] + "…"] == "active", k["statuses"]
    rows = h.sql_dicts("SELECT name, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE key_hash IN "
                       "(decode(%s, 'hex'), decode(%s, 'hex')) ORDER BY id", hashlib.sha256(old.encode()).hexdigest(),
                       hashlib.sha256(k["rotated"].encode()).hexdigest())
    assert rows == [{"name": "website", "revoked": True}, {"name": "website", "revoked": False}], rows


def test_dashboard_share_link(h):
    """A share link opens the property's reports read-only, without signing in or a cookie."""
    d = run(h)
    s = d.step("share")
    assert "#/share/%s/sh_" % d.prop_id in s["url"], s["url"]
    assert card_values(s["cards"])["unique_visitors"] == 3, s["cards"]
    assert "/shop/docs.html" in rows(s["pages"]), s["pages"]
    assert s["settingsLink"] == 0 and s["cookies"] == [], s
    assert s["title"].startswith(d.prop_id), s["title"]


def test_dashboard_team_invitation(h):
    """An owner invites a viewer; the link signs the viewer up; the viewer reads reports but may
    not manage keys."""
    d = run(h)
    t = d.step("team")
    assert "#/invite/inv_" in t["link"], t["link"]
    assert any(d.config["viewer_email"] in p and "viewer" in p for p in t["pending"]), t["pending"]
    assert t["viewer"]["account"] == d.config["viewer_email"] and "#/p/%s" % d.prop_id in t["viewer"]["url"], t["viewer"]
    assert t["viewer"]["canCreateKeys"] == 0 and t["viewer"]["revokeButtons"] == 0, t["viewer"]
    assert any(d.config["viewer_email"] in m for m in t["members"]), t["members"]
    role = h.sql_value("SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id "
                       "WHERE u.email = %s AND m.property_pk = %s", d.config["viewer_email"], d.pk)
    assert role == "viewer", role


def test_dashboard_audit_log(h):
    d = run(h)
    actions = d.step("audit")
    for a in ("property.create", "property.update", "key.create", "key.revoke", "key.rotate", "goal.create", "share.create",
              "member.invite", "member.join"):
        assert a in actions, (a, actions)


def test_dashboard_account_page(h):
    d = run(h)
    a = d.step("account")
    assert d.config["email"] in a["text"], a
    assert "account.sign_in" in a["actions"] or "account.sign_up" in a["actions"], a["actions"]
    assert "property.create" in a["actions"], a["actions"]


def test_dashboard_delete_property(h):
    """Deleting a property needs its id typed in; then it is gone with its keys."""
    d = run(h)
    x = d.step("delete")
    assert x["disabledBefore"] and x["disabledWrong"], x
    assert x["message"] == "Deleted Temporary.", x
    assert h.sql_int("SELECT count(*) FROM properties WHERE id = %s", x["id"]) == 0
    actions = h.sql("SELECT action FROM audit_log WHERE property_id = %s ORDER BY id", x["id"])
    assert [a[0] for a in actions][-1] == "property.delete", actions


def test_dashboard_sign_out_and_in(h):
    """Sign-out shows the sign-in form; a wrong password is refused with the API's message; the
    right one signs in. The session cookie is HttpOnly (the page cannot read it)."""
    d = run(h)
    s = d.step("signIn")
    assert s["wrong"]["message"] == "email or password is wrong", s
    assert s["visitors7d"] == 3, s
    cookies = d.record["ownerCookies"]
    assert cookies == [{"name": "tally_session", "httpOnly": True, "sameSite": "Lax"}], cookies


def test_dashboard_no_script_errors(h):
    """No uncaught error in any page; the only failed requests the console shows are the expected
    401s (no session yet; the wrong password) and the one 400 of the funnel with a bad step."""
    d = run(h)
    assert not d.record.get("error"), d.record["error"]
    assert not d.record["pageErrors"], d.record["pageErrors"]
    unexpected = [m for m in d.record["console"] if "401" not in m]
    bad_step = "owner error: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert unexpected.count(bad_step) == 1, unexpected
    unexpected.remove(bad_step)
    assert not unexpected, unexpected


# --- screenshots --------------------------------------------------------------------------------------

def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def png_pixels(data):
    """Decodes an 8-bit RGB or RGBA PNG (what Chromium writes): (width, height, rows of bytes, bytes per pixel)."""
    width, height = png_size(data)
    depth, color = data[24], data[25]
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 3 if color == 2 else 4
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    out, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line))
        prev = line
    return width, height, out, bpp


def colour_count(pixels, rgb, tolerance=40):
    _, _, lines, bpp = pixels
    n = 0
    for line in lines:
        for i in range(0, len(line), bpp):
            if abs(line[i] - rgb[0]) + abs(line[i + 1] - rgb[1]) + abs(line[i + 2] - rgb[2]) <= tolerance:
                n += 1
    return n


def test_dashboard_screenshots(h):
    """Screenshots of the main views were written: PNGs of a real size; the graph's has both
    lines' colours in it (it is not blank). Prints their paths."""
    d = run(h)
    shots = {s["name"]: s["file"] for s in d.record["screenshots"]}
    first = "01-first-run-sign-up" if d.config["mode"] == "signup" else "01-accept-invitation"
    expected = [first, "02-snippet", "03-settings-general", "04-dashboard-7d", "05-graph-tooltip", "06-dashboard-today",
                "07-filtered", "08-compare", "09-realtime", "10-key-created", "11-keys", "12-share-link", "13-team",
                "14-audit-log", "15-sign-in", "16-revenue", "17-funnel", "18-settings-revenue"]
    assert sorted(shots) == sorted(expected), sorted(shots)
    for name in expected:
        path = shots[name]
        with open(path, "rb") as f:
            data = f.read()
        width, height = png_size(data)
        print("# screenshot %s (%dx%d, %d bytes)" % (path, width, height, len(data)))
        assert len(data) > 5000, (name, len(data))
        if name.startswith(("05", "09", "16")):
            assert width >= 300 and height >= 150, (name, width, height)
        else:
            assert width == 1280 and height >= 800, (name, width, height)
    with open(shots["05-graph-tooltip"], "rb") as f:
        pixels = png_pixels(f.read())
    visitors, pageviews = colour_count(pixels, (79, 70, 229)), colour_count(pixels, (14, 165, 164))
    assert visitors > 200 and pageviews > 100, (visitors, pageviews)
    with open(shots["06-dashboard-today"], "rb") as f:
        assert png_size(f.read())[1] > 1000, "the full dashboard is taller than one screen"
