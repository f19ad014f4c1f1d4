"""The clickhouse events store (TALLY_EVENTS_STORE=clickhouse; skipped on the postgresql store):

- every report answers the same on both stores: a varied data set is ingested into ClickHouse,
  the same events are put into PostgreSQL's events table and sessionised there, and each report
  request is answered by report.fcgi over HTTP (clickhouse) and by report.fcgi run as CGI with
  events_store = postgresql; bodies must be equal, before and after PostgreSQL's rollups;
- sql/tally-events-to-clickhouse copies PostgreSQL's events, and copies them once however often
  it runs;
- track.fcgi --purge-events deletes events past a property's retention and those of deleted
  properties, on every shard;
- with a shard down, ingest spools and the replay stores every event once.
"""
import concurrent.futures
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.parse

from client import CHROME, FIREFOX, ev, expect_counts, new_client, new_ip, unique_ua, wait_for
from harness import Skip

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")


def clickhouse_only(h):
    if h.events_store != "clickhouse":
        raise Skip("tests of the clickhouse events store (TALLY_EVENTS_STORE=clickhouse)")


def day(offset):
    return (datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)).isoformat()


def at(offset, hour, minute=0):
    d = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return (d + datetime.timedelta(days=offset, hours=hour, minutes=minute)).timestamp()


def cgi_env(h, conf, uri, extra=None):
    path, _, query = uri.partition("?")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TALLY_CONF": conf, "REQUEST_METHOD": "GET",
           "REQUEST_URI": uri, "QUERY_STRING": query, "SCRIPT_NAME": "", "PATH_INFO": path,
           "REMOTE_ADDR": "127.0.0.1"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra or {})
    return env


def postgresql_conf(h):
    """tally.conf as the suite's, with events_store = postgresql."""
    path = h.path("tally-postgresql.conf")
    with open(h.path("tally.conf")) as f:
        lines = [line for line in f if not line.startswith(("events_store", "clickhouse_"))]
    with open(path, "w") as f:
        f.write("".join(lines) + "events_store = postgresql\n")
    return path


def answer_on_postgresql(h, conf, uri, key):
    out = subprocess.run([os.path.join(h.cgibin, "report.fcgi")], env=cgi_env(h, conf, uri, {
        "HTTP_AUTHORIZATION": "Bearer " + key}), capture_output=True, timeout=60)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n")[0].split()[1]) if head.startswith(b"Status:") else 0
    return status, body


def normal(status, body):
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def build_data_set(h, timezone="UTC"):
    """Visitors over four days and today: sources, campaigns, countries, devices, custom events with
    properties, revenue, goals, an explicit session, a visit crossing midnight, a late event."""
    p = h.create_property(timezone=timezone, session_timeout=1800)
    h.sql("INSERT INTO goals (property_pk, name, event_name) VALUES (%s, 'Signup', 'signup')", p.pk)
    h.sql("INSERT INTO goals (property_pk, name, path_pattern) VALUES (%s, 'Pricing', '/pric*')", p.pk)
    h.sql("INSERT INTO goals (property_pk, name, event_name) VALUES (%s, 'Purchase', 'purchase')", p.pk)
    de = h.client("192.0.2.%d" % (40 + p.pk % 50), unique_ua(CHROME))
    fr = h.client("198.51.100.%d" % (40 + p.pk % 50), unique_ua(FIREFOX))
    jp = h.client("203.0.113.%d" % (40 + p.pk % 50), unique_ua(IPHONE))
    nl = h.client("2001:db8::%x" % (0x400 + p.pk), unique_ua(CHROME))
    post = lambda client, events: expect_counts(h.post_events(p, events, headers=client), len(events))
    # Four days ago: a newsletter campaign visit, two pages, then a bounce from Google.
    post(de, [ev("/blog", query="?utm_source=newsletter&utm_campaign=spring&utm_medium=email", ts=at(-4, 9)),
              ev("/pricing", ts=at(-4, 9, 2))])
    post(fr, [ev("/", referrer="https://www.google.com/search?q=x", ts=at(-4, 10))])
    # Three days ago: a signup with properties and revenue; a non-interactive event; a second visit
    # of the same visitor after the timeout.
    post(fr, [ev("/", referrer="https://news.ycombinator.com/", ts=at(-3, 8)),
              ev("/pricing", ts=at(-3, 8, 1)),
              ev("/pricing", type="signup", ts=at(-3, 8, 2),
                 data={"plan": "pro", "seats": 3, "trial": False, "revenue": {"amount": "49.90", "currency": "EUR"}})])
    quiet = ev("/docs", type="scroll", ts=at(-3, 8, 40))
    quiet["interactive"] = False
    post(fr, [ev("/docs", ts=at(-3, 8, 40)), quiet])
    post(jp, [ev("/", query="?utm_source=twitter&utm_campaign=launch", ts=at(-3, 13)),
              ev("/features", ts=at(-3, 13, 5)), ev("/pricing", ts=at(-3, 13, 9)),
              ev("/checkout", type="purchase", ts=at(-3, 13, 12),
                 data={"plan": "team", "revenue": {"amount": "120", "currency": "USD"}})])
    # Two days ago: an explicit session over two addresses; a visit that arrives out of order.
    post(nl, [ev("/app", ts=at(-2, 11), identity={"session_id": "checkout-%d" % p.pk})])
    post(de, [ev("/app/settings", ts=at(-2, 11, 50), identity={"session_id": "checkout-%d" % p.pk})])
    post(jp, [ev("/blog/b", ts=at(-2, 15, 10)), ev("/blog/c", ts=at(-2, 15, 20))])
    h.sessionize()
    post(jp, [ev("/blog/a", referrer="https://www.bing.com/", ts=at(-2, 15))])
    post(nl, [ev("/refund", type="refund", ts=at(-2, 16),
                 data={"revenue": {"amount": "-20.00", "currency": "EUR"}})])
    # Yesterday: a visit that goes on past midnight.
    night = new_client(h)
    post(night, [ev("/late-night", ts=at(-1, 23, 50)), ev("/late-night/2", ts=at(-1, 23, 55))])
    if time.time() > at(0, 0, 10):
        post(night, [ev("/after-midnight", ts=at(0, 0, 5))])
    # Today: realtime figures a few minutes old, and custom events by name.
    now = time.time()
    post(de, [ev("/now", ts=now - 150), ev("/now", ts=now - 140), ev("/now/2", ts=now - 20)])
    post(fr, [ev("/now", ts=now - 90), ev("/download", type="download", ts=now - 80, data={"file": "a.pdf"})])
    h.sessionize()
    return p


def copy_to_postgresql(h, props):
    """Puts ClickHouse's events of these properties into PostgreSQL's events, numbered in arrival
    order, and sessionises them there."""
    h.sql_value("SELECT count(*) FROM events")   # refreshes the mirror of ClickHouse's events
    h.sql("INSERT INTO public.events (property_pk, ts, event_id, name, visitor, prev_visitor, session, hostname, "
          "path, query, title, referrer, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, "
          "campaign_id, country, region, city, device, browser, browser_version, os, os_version, screen_width, "
          "user_id_hash, interactive, revenue_amount, revenue_currency, props, visit_token) "
          "SELECT property_pk, ts, event_id, name, visitor, prev_visitor, session, hostname, path, query, title, "
          "referrer, source, utm_source, utm_medium, utm_campaign, utm_term, utm_content, campaign_id, country, "
          "region, city, device, browser, browser_version, os, os_version, screen_width, user_id_hash, "
          "interactive, revenue_amount, revenue_currency, props, visit_token FROM tally_ch_mirror.events "
          "WHERE property_pk = ANY (%s::int[]) ORDER BY seq", "{%s}" % ",".join(str(p.pk) for p in props))
    h.sessionize()


def report_uris(p):
    rng = "from=%s&to=%s" % (day(-4), day(0))
    uris = []
    for r in ("overview", "pages", "entry-pages", "exit-pages", "sources", "campaigns", "countries", "devices",
              "browsers", "os", "events", "goals"):
        uris += ["%s?%s" % (r, rng), "%s?period=7d" % r, "%s?from=%s&to=%s" % (r, day(-3), day(-3))]
        if r != "goals":
            uris.append("%s?%s&compare=previous_period" % (r, rng))
    uris += ["pages?%s&format=csv" % rng, "sources?%s&limit=2&offset=1" % rng, "realtime?limit=5"]
    metrics = "pageviews,unique_visitors,sessions,bounce_rate,visit_duration,views_per_session,events"
    for iv in ("day", "week", "month", "hour"):
        uris.append("metrics?%s&interval=%s&metrics=%s" % (rng, iv, metrics))
    uris.append("metrics?%s&interval=day&metrics=pageviews,unique_visitors&compare=previous_period" % rng)
    for group in ("source,country", "entry_page,exit_page,source", "device,browser,os", "campaign,utm_medium",
                  "country,region,city", "referrer", "browser_version,os_version", "utm_source,utm_content"):
        uris.append("metrics?%s&group_by=%s&metrics=%s" % (rng, group, metrics))
        uris.append("metrics?%s&group_by=%s&interval=day&metrics=sessions,pageviews" % (rng, group))
    for group in ("path", "hostname", "event_type", "prop:plan", "goal", "path,source", "event_type,device"):
        uris.append("metrics?%s&group_by=%s&metrics=pageviews,unique_visitors,events" % (rng, group))
    filters = ["path==/pricing", "path!=/", "path=~PRIC", "source==Google", "source!=Direct / None",
               "country==France", "device==mobile", "prop:plan==pro", "prop:seats==3", "goal==Signup",
               "goal!=Pricing", "goal=~pur", "event_type==signup", "entry_page==/", "exit_page==/pricing",
               "campaign==spring", "utm_source==twitter;path==/pricing", "country==Japan;goal==Purchase",
               "browser=~fire", "city==Amsterdam", "region==", "prop:plan!="]
    for f in filters:
        q = urllib.parse.quote(f, safe="=!~;:")
        for r in ("overview", "pages", "sources", "entry-pages", "events", "goals"):
            uris.append("%s?%s&filters=%s" % (r, rng, q))
        uris.append("metrics?%s&interval=day&filters=%s&metrics=%s" % (rng, q, metrics))
    for group in ("", "&group_by=source", "&group_by=entry_page", "&group_by=country", "&group_by=campaign"):
        uris.append("revenue?%s%s" % (rng, group))
        uris.append("revenue?%s%s&filters=device==mobile" % (rng, group))
    for steps in ("path==/;path==/pricing", "path==/;path==/pricing;event_type==signup",
                  "path=~blog;path==/pricing;goal==Purchase", "goal==Pricing;event_type==purchase",
                  "path==/blog/a;path==/blog/b;path==/blog/c"):
        uris.append("funnel?%s&steps=%s" % (rng, urllib.parse.quote(steps, safe="=~;:")))
        uris.append("funnel?%s&steps=%s&filters=source!=Google" % (rng, urllib.parse.quote(steps, safe="=~;:")))
    return ["/v1/properties/%s/%s" % (p.id, u) for u in uris]


# TALLY_E2E_COMPARE_EVERY=n asks each property only every n-th question (scripts/test: 6), each
# property and round (before and after the rollups) another n-th, so that the rounds over three
# properties still ask every question once.
COMPARE_EVERY = max(1, int(os.environ.get("TALLY_E2E_COMPARE_EVERY", "1")))


def compare(h, props, conf, round_no=0):
    def ask(p, uri):
        r = h.http("GET", uri, headers={"Authorization": "Bearer " + p.read_key}, timeout=120)
        return uri, normal(r.status, r.body), normal(*answer_on_postgresql(h, conf, uri, p.read_key))

    questions = [(p, uri) for i, p in enumerate(props)
                 for j, uri in enumerate(report_uris(p)) if j % COMPARE_EVERY == (i + round_no * len(props)) % COMPARE_EVERY]
    differ = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        for uri, ch, pg in pool.map(lambda q: ask(*q), questions):
            if ch != pg:
                differ.append("%s: clickhouse %r != postgresql %r" % (uri, ch, pg))
            assert ch[0] == 200, (uri, ch)
    return len(questions), differ


def test_reports_identical_on_both_stores(h):
    clickhouse_only(h)
    props = [build_data_set(h), build_data_set(h, timezone="America/New_York"),
             build_data_set(h, timezone="Asia/Kolkata")]
    copy_to_postgresql(h, props)
    conf = postgresql_conf(h)
    for p in props:   # not a comparison of empty answers
        o = h.http("GET", "/v1/properties/%s/overview?from=%s&to=%s" % (p.id, day(-4), day(0)),
                   headers={"Authorization": "Bearer " + p.read_key}).json()
        # (today's events may fall on tomorrow in Asia/Kolkata: at least the 16 pageviews before them)
        assert o["pageviews"] >= 16 and o["sessions"] >= 8 and 0 < o["bounce_rate"] < 100, o
    n, differ = compare(h, props, conf)
    if differ:
        print("\n".join(differ), file=sys.stderr)
    assert not differ, "%d of %d answers differ: %s" % (len(differ), n, " | ".join(differ[:5]))
    # PostgreSQL's rollups of the closed days give the same answers too.
    while h.sql_int("SELECT tally_rollup(50)"):
        pass
    n2, differ = compare(h, props, conf, round_no=1)
    assert not differ, "after the rollups %d of %d answers differ: %s" % (len(differ), n2, " | ".join(differ[:5]))
    print("# clickhouse: %d report answers identical on both stores (%d before and %d after rollups)"
          % (n + n2, n, n2), file=sys.stderr)


def export_on_postgresql(h, conf, path, cookie):
    """admin.fcgi's answer to GET path (below /admin/api/) with the postgresql events store."""
    uri = "/admin/api/" + path
    out = subprocess.run([os.path.join(h.cgibin, "admin.fcgi")], env=cgi_env(h, conf, uri, {
        "HTTP_COOKIE": cookie, "HTTP_USER_AGENT": "TallyE2E export"}), capture_output=True, timeout=60)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200"), out.stdout[:500]
    return body


def test_export_identical_on_both_stores(h):
    """The admin raw-events export gives the same CSV, byte for byte, from either store: custom
    properties of every type (as jsonb writes them), revenue, refunds, explicit sessions."""
    clickhouse_only(h)
    import test_admin
    o = test_admin.owner(h)
    p = build_data_set(h)
    odd = {"plan": "pro", "b": True, "n": 1.5, "big": 1e20, "neg": -3, "q": 'say "hi"\\ \t\u00e9\u2603',
           "ctl": "a\u0001b", "zz": False, "seats": 12}
    expect_counts(h.post_events(p, [ev("/odd", type="odd", ts=at(-1, 12), data=odd)], headers=new_client(h)), 1)
    copy_to_postgresql(h, [p])
    user = h.sql_value("SELECT id FROM users WHERE lower(email) = lower(%s)", test_admin.OWNER_EMAIL)
    h.sql("INSERT INTO memberships (user_id, property_pk, role) VALUES (%s, %s, 'owner')", user, p.pk)
    conf = postgresql_conf(h)
    cookie = "%s=%s" % (test_admin.COOKIE, o.cookie)
    for q in ("", "?from=%s&to=%s" % (day(-3), day(-2)), "?from=%s" % day(-1)):
        path = "properties/%s/export/events%s" % (p.id, q)
        r = o.get(path)
        assert r.status == 200, r
        pg = export_on_postgresql(h, conf, path, cookie)
        assert pg.count(b"\r\n") > 2, pg
        assert r.body == pg, "clickhouse:\n%s\npostgresql:\n%s" % (r.body.decode(), pg.decode())
    assert b'"{""b"": true, ""n"": 1.5, ""q"": ""say \\""hi\\""' in r.body, r.body


def clickhouse_count(h, pk, where="1"):
    return int(h.clickhouse.query("SELECT count() FROM %s.events WHERE property_pk = %d AND (%s)"
                                  % (h.clickhouse.database, pk, where))[0][0])


def test_migration_copies_events_once(h):
    """Events stored in PostgreSQL before the switch: copied by tally-events-to-clickhouse, once
    however often it runs, and then counted by the reports."""
    clickhouse_only(h)
    p = h.create_property()
    rows = [{"event_id": "pg-%d-%d" % (p.pk, i), "ts_ms": int(at(-2, 10, i) * 1000), "name": "pageview",
             "visitor": 1000 + i % 3, "path": "/old/%d" % i, "source": "Direct / None", "interactive": True,
             "props": {"n": i, "odd": bool(i % 2)} if i % 4 == 0 else None} for i in range(40)]
    rows.append({"event_id": "pg-%d-buy" % p.pk, "ts_ms": int(at(-2, 10, 41) * 1000), "name": "purchase",
                 "visitor": 1000, "path": "/old/buy", "interactive": True, "revenue_amount": "12.3400",
                 "revenue_currency": "EUR"})
    stored = h.sql_value("SELECT sum(stored) FROM tally_ingest(%s, %s::jsonb)", p.pk, json.dumps(rows))
    assert int(stored) == len(rows), stored
    # The day is archived (sql/migrations/018): the copy reads the archive as well.
    h.sessionize()
    h.sql("SELECT tally_archive_day(%s, %s)", p.pk, day(-2))
    assert h.sql_int("SELECT coalesce(sum(events), 0) FROM events_archive WHERE property_pk = %s", p.pk) == len(rows)
    env = h.pg_env("tally")
    script = os.path.join(h.src, "sql", "tally-events-to-clickhouse")
    urls = ["http://127.0.0.1:%d/" % port for port in h.clickhouse.http_ports]
    month = day(-2)[:7]
    for attempt in range(2):
        out = subprocess.run([script, "-d", h.clickhouse.database, "-f", month, "-t", month] + urls, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert clickhouse_count(h, p.pk) == len(rows), (attempt, out.stdout)
    assert clickhouse_count(h, p.pk, "revenue_amount_e4 = 123400 AND revenue_currency = 'EUR'") == 1
    assert clickhouse_count(h, p.pk, "props.value[indexOf(props.key, 'odd')] = 'false'") == 10
    r = h.http("GET", "/v1/properties/%s/overview?from=%s&to=%s" % (p.id, day(-2), day(-2)),
               headers={"Authorization": "Bearer " + p.read_key})
    o = r.json()
    assert (o["pageviews"], o["events"], o["unique_visitors"], o["sessions"]) == (40, 41, 3, 3), o


def test_purge_events(h):
    """track.fcgi --purge-events: events past their property's retention, and all events of a
    deleted property, leave every shard."""
    clickhouse_only(h)
    kept = h.create_property(retention_days=2)
    gone = h.create_property()
    for prop in (kept, gone):
        events = [ev("/old-%d" % i, ts=time.time() - 5 * 86400 + i) for i in range(10)] + \
                 [ev("/new-%d" % i, ts=time.time() - 60 + i) for i in range(10)]
        expect_counts(h.post_events(prop, events, headers=h.client(new_ip(), unique_ua())), 20)
    h.sql("DELETE FROM properties WHERE pk = %s", gone.pk)
    conf = h.path("tally-purge.conf")
    with open(h.path("tally.conf")) as f:
        text = "".join(line for line in f if not line.startswith("clickhouse_shards"))
    with open(conf, "w") as f:
        f.write(text + "clickhouse_shards = %s\n" % " ".join(
            "http://127.0.0.1:%d/" % port for port in h.clickhouse.http_ports))
    env = dict(os.environ, TALLY_CONF=conf)
    out = subprocess.run([os.path.join(h.cgibin, "track.fcgi"), "--purge-events"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "events purged 30", out.stdout
    deadline = time.time() + 30   # ALTER ... DELETE runs in the background
    while time.time() < deadline and (clickhouse_count(h, kept.pk) != 10 or clickhouse_count(h, gone.pk) != 0):
        time.sleep(0.3)
    assert clickhouse_count(h, kept.pk, "path LIKE '/new-%'") == 10
    assert clickhouse_count(h, kept.pk) == 10 and clickhouse_count(h, gone.pk) == 0
    # A shard list that does not cover the cluster is refused: events would stay on the others.
    with open(conf, "w") as f:
        f.write(text + "clickhouse_shards = http://127.0.0.1:%d/\n" % h.clickhouse.http_ports[0])
    out = subprocess.run([os.path.join(h.cgibin, "track.fcgi"), "--purge-events"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1 and "clickhouse_shards names 1 node(s)" in out.stderr, out


def test_shard_down_events_spool(h):
    """With a shard down, an insert fails as a whole: ingest spools (202), and once the shard is
    back the replay stores every event once."""
    clickhouse_only(h)
    p = h.create_property()
    c = new_client(h)
    h.clickhouse.stop_shard(1)
    try:
        events = [ev("/while-down-%d" % i) for i in range(20)]
        expect_counts(h.post_events(p, events, headers=c), 20)
        assert h.spool_files(), "the events wait in the spool"
    finally:
        h.clickhouse.start_shard(1)
    deadline = time.time() + 60
    while time.time() < deadline and h.spool_files():
        time.sleep(0.5)
    assert not h.spool_files(), h.spool_files()
    assert clickhouse_count(h, p.pk) == 20
    # The same batch again is 20 duplicates.
    r = h.post_events(p, events, headers=c)
    assert r.status == 202 and r.json()["duplicates"] == 20, r
    assert clickhouse_count(h, p.pk) == 20


def test_shard_not_answering_events_spool(h):
    """A shard that stops answering (SIGSTOP: a server that hangs) holds an insert for no longer
    than database_timeout and a little more: ClickHouse gives up on the other shard, track.fcgi on
    the one it talks to. Ingest spools (202), and once the shard goes on, the replay stores the
    events. The node track.fcgi gave up on may still apply the insert it had been sent when it goes
    on: that copy is the same rows, which the shards fold together when their parts merge."""
    clickhouse_only(h)
    c = new_client(h)
    with h.settings("database_timeout = 1\n"):
        for shard in (1, 0):
            p = h.create_property()
            events = [ev("/hung-%d-%d" % (shard, i)) for i in range(5)]
            with h.clickhouse.shard_stopped(shard):
                started = time.time()
                expect_counts(h.post_events(p, events, headers=c), 5)
                waited = time.time() - started
                assert h.spool_files(), "shard %d stopped: the events wait in the spool" % (shard + 1)
            assert waited < 15, "shard %d stopped: answered after %.1f s" % (shard + 1, waited)
            assert wait_for(lambda: not h.spool_files(), 60), h.spool_files()
            stored = clickhouse_count(h, p.pk)
            assert stored in (5, 10), (shard, stored)
            for i in range(h.clickhouse.n):
                h.clickhouse.query("OPTIMIZE TABLE %s.events_local FINAL" % h.clickhouse.database, shard=i)
            assert clickhouse_count(h, p.pk) == 5, (shard, stored, clickhouse_count(h, p.pk))
            r = h.post_events(p, events, headers=c)
            assert r.status == 202 and r.json()["duplicates"] == 5, r


def test_shard_not_answering_report_503(h):
    """A report over a shard that stops answering waits report_timeout and a little more, then is
    answered 503; it is answered again once the shard goes on."""
    clickhouse_only(h)
    p = h.create_property()
    expect_counts(h.post_events(p, [ev("/r")], headers=new_client(h)), 1)
    path = "/v1/properties/%s/pages?period=7d" % p.id
    auth = {"Authorization": "Bearer " + p.read_key}
    with h.settings("report_timeout = 1\n"):
        assert h.http("GET", path, headers=auth).status == 200
        with h.clickhouse.shard_stopped(1):
            started = time.time()
            r = h.http("GET", path, headers=auth)
            waited = time.time() - started
        assert r.status == 503 and r.headers.get("Retry-After") and "retry later" in r.json()["error"], r
        assert waited < 15, "answered after %.1f s" % waited
        assert wait_for(lambda: h.http("GET", path, headers=auth).status == 200, 30)
        assert h.http("GET", path, headers=auth).json()["results"][0]["path"] == "/r"


def test_shard_down_health_and_property_delete(h):
    """With a shard down, /v1/health (track.fcgi and admin.fcgi) answers 503 naming ClickHouse, and
    deleting a property is refused (503) and leaves it in place; once the shard is back both work."""
    clickhouse_only(h)
    import test_admin
    o = test_admin.owner(h)
    p = test_admin.new_property(o)
    pk = test_admin.pk_of(h, p["id"])
    wk = test_admin.new_key(o, p["id"], "write")["secret"]
    expect_counts(h.post_events(test_admin.as_property(h, p["id"], wk), [ev("/x"), ev("/y")],
                                headers=new_client(h)), 2)
    assert h.http("GET", "/v1/health").json() == {"status": "ok", "db": "ok", "clickhouse": "ok"}
    h.clickhouse.stop_shard(1)
    try:
        for path in ("/v1/health", "/admin/api/health"):
            r = h.http("GET", path)
            body = r.json()
            assert r.status == 503 and body["status"] == "degraded" and body["db"] == "ok", (path, r)
            assert body["clickhouse"] == "unreachable" and "clickhouse" in body["error"], (path, body)
        r = o.delete("properties/" + p["id"], {"confirm": p["id"]})
        assert r.status == 503 and "clickhouse" in r.json()["error"], r
        assert h.sql_int("SELECT count(*) FROM properties WHERE pk = %s", pk) == 1
    finally:
        h.clickhouse.start_shard(1)
    deadline = time.time() + 30
    while time.time() < deadline and h.http("GET", "/v1/health").status != 200:
        time.sleep(0.3)
    assert h.http("GET", "/v1/health").status == 200
    got = test_admin.ok(o.delete("properties/" + p["id"], {"confirm": p["id"]}))
    assert got["events"] == 2, got
