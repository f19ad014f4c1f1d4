"""End-to-end tests of the reports (api.md section 2): exact figures for a small, hand-counted data
set, and the same answers whether a day is read from raw events and visits or from its rollups.

The data set (UTC property; D = today):
  V3 on D-3  /blog?utm_source=newsletter&utm_campaign=spring, then /pricing 120 s later
  V1 on D-2  / from Google, /pricing 60 s later, a "signup" event (props plan=pro, 49.90 EUR) at 90 s
  V2 on D-2  / directly, nothing else (a bounce)
  V1 on D    /docs directly (a bounce)
Goals: "Signup" (event signup) and "Pricing" (path /pric*).
"""
import datetime
import json
import time
import urllib.parse

from client import ev, expect_counts, new_client
from harness import Skip

REPORTS = ["overview", "pages", "sources", "campaigns", "countries", "devices", "browsers", "os",
           "entry-pages", "exit-pages", "events", "goals"]


def get(h, prop, report, **params):
    qs = urllib.parse.urlencode(params)
    r = h.http("GET", "/v1/properties/%s/%s%s" % (prop.id, report, "?" + qs if qs else ""),
               headers={"Authorization": "Bearer " + prop.read_key})
    assert r.status == 200, (report, params, r)
    return r.json()


def day(offset):
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)
    return d.isoformat()


def noon(offset):
    d = datetime.datetime.now(datetime.timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    return (d + datetime.timedelta(days=offset)).timestamp()


def rollups_only_on_postgresql(h):
    """Rollups are the postgresql events store's: clickhouse reads raw events for every day."""
    if h.events_store != "postgresql":
        raise Skip("rollups belong to the postgresql events store; clickhouse reads raw events")


def rollup(h):
    h.sessionize()
    days = 0
    while True:
        n = h.sql_int("SELECT tally_rollup(50)")
        if n == 0:
            return days
        days += n


def build_site(h, **settings):
    p = h.create_property(**settings)
    h.sql("INSERT INTO goals (property_pk, name, event_name) VALUES (%s, 'Signup', 'signup')", p.pk)
    h.sql("INSERT INTO goals (property_pk, name, path_pattern) VALUES (%s, 'Pricing', '/pric*')", p.pk)
    v1, v2, v3 = new_client(h), new_client(h), new_client(h)
    t3, t2 = noon(-3), noon(-2)
    expect_counts(h.post_events(p, [ev("/blog", query="?utm_source=newsletter&utm_campaign=spring", ts=t3),
                                    ev("/pricing", ts=t3 + 120)], headers=v3), 2)
    signup = ev("/pricing", type="signup", ts=t2 + 90,
                data={"plan": "pro", "revenue": {"amount": "49.90", "currency": "EUR"}})
    expect_counts(h.post_events(p, [ev("/", referrer="https://www.google.com/", ts=t2),
                                    ev("/pricing", ts=t2 + 60), signup], headers=v1), 3)
    expect_counts(h.post_events(p, [ev("/", ts=t2 + 30)], headers=v2), 1)
    expect_counts(h.post_events(p, [ev("/docs", ts=time.time() - 30)], headers=v1), 1)
    h.sessionize()
    return p


def rng():
    return {"from": day(-3), "to": day(0)}


def results(body, key):
    return [(r[key], {k: v for k, v in r.items() if k != key}) for r in body["results"]]


def check_figures(h, p):
    """The hand-counted answers; the same whether days are raw or rolled up."""
    o = get(h, p, "overview", **rng())
    want = {"pageviews": 6, "unique_visitors": 4, "sessions": 4, "bounce_rate": 50.0, "visit_duration": 53,
            "views_per_session": 1.5, "events": 7}
    assert {k: o[k] for k in want} == want, o
    assert (o["from"], o["to"], o["property_id"]) == (day(-3), day(0), p.id), o

    assert results(get(h, p, "pages", **rng()), "path") == [
        ("/", {"pageviews": 2, "unique_visitors": 2}), ("/pricing", {"pageviews": 2, "unique_visitors": 2}),
        ("/blog", {"pageviews": 1, "unique_visitors": 1}), ("/docs", {"pageviews": 1, "unique_visitors": 1})]

    src = results(get(h, p, "sources", **rng()), "source")
    assert [(s, f["unique_visitors"], f["sessions"], f["pageviews"], f["bounce_rate"]) for s, f in src] == [
        ("Direct / None", 2, 2, 2, 100.0), ("Google", 1, 1, 2, 0.0), ("newsletter", 1, 1, 2, 0.0)], src

    camp = results(get(h, p, "campaigns", **rng()), "campaign")
    assert [(c, f["unique_visitors"], f["pageviews"]) for c, f in camp] == [("spring", 1, 2)], camp

    entry = results(get(h, p, "entry-pages", **rng()), "entry_page")
    assert [(e, f["sessions"]) for e, f in entry] == [("/", 2), ("/blog", 1), ("/docs", 1)], entry
    exits = results(get(h, p, "exit-pages", **rng()), "exit_page")
    assert [(e, f["sessions"]) for e, f in exits] == [("/pricing", 2), ("/", 1), ("/docs", 1)], exits

    events = results(get(h, p, "events", **rng()), "event_type")
    assert events == [("signup", {"events": 1, "unique_visitors": 1})], events

    goals = get(h, p, "goals", **rng())
    assert goals["unique_visitors"] == 4, goals
    assert goals["results"] == [
        {"goal": "Pricing", "conversions": 2, "events": 2, "conversion_rate": 50.0, "revenue": {}},
        {"goal": "Signup", "conversions": 1, "events": 1, "conversion_rate": 25.0, "revenue": {"EUR": "49.90"}}], goals

    series = get(h, p, "metrics", interval="day", **rng())["results"]
    assert series == [{"date": day(-3), "pageviews": 2, "unique_visitors": 1},
                      {"date": day(-2), "pageviews": 3, "unique_visitors": 2},
                      {"date": day(-1), "pageviews": 0, "unique_visitors": 0},
                      {"date": day(0), "pageviews": 1, "unique_visitors": 1}], series

    devices = results(get(h, p, "devices", **rng()), "device")
    assert [(d, f["unique_visitors"]) for d, f in devices] == [("desktop", 4)], devices
    browsers = results(get(h, p, "browsers", **rng()), "browser")
    assert [(b, f["sessions"]) for b, f in browsers] == [("Chrome", 4)], browsers


def test_figures_from_raw_events(h):
    p = build_site(h)
    assert h.sql_int("SELECT count(*) FROM rollup_state WHERE property_pk = %s", p.pk) == 0
    check_figures(h, p)


def test_rollups_answer_the_same(h):
    rollups_only_on_postgresql(h)
    p = build_site(h)
    raw = {r: get(h, p, r, **rng()) for r in REPORTS}
    raw["metrics"] = get(h, p, "metrics", interval="week", metrics="pageviews,unique_visitors,sessions,bounce_rate",
                         **rng())
    raw["props"] = get(h, p, "metrics", group_by="prop:plan", metrics="events,unique_visitors", **rng())
    assert rollup(h) >= 2
    rolled = h.sql("SELECT day::text FROM rollup_state WHERE property_pk = %s ORDER BY day", p.pk)
    assert [d for (d,) in rolled] == [day(-3), day(-2)], rolled
    assert h.sql_int("SELECT count(*) FROM rollup_dirty WHERE property_pk = %s AND day < current_date", p.pk) == 0
    check_figures(h, p)
    for r in REPORTS:
        assert get(h, p, r, **rng()) == raw[r], r
    assert get(h, p, "metrics", interval="week", metrics="pageviews,unique_visitors,sessions,bounce_rate",
               **rng()) == raw["metrics"]
    props = get(h, p, "metrics", group_by="prop:plan", metrics="events,unique_visitors", **rng())
    assert props == raw["props"] and props["results"] == [{"prop:plan": "pro", "events": 1, "unique_visitors": 1}], props


def test_rollups_are_used(h):
    """After the rollup, closed days are answered from rollup_days: altering a rolled-up figure
    shows in the report (and a rebuild puts it back)."""
    rollups_only_on_postgresql(h)
    p = build_site(h)
    rollup(h)
    h.sql("UPDATE rollup_days SET pageviews = pageviews + 1000 WHERE property_pk = %s AND dim = 'total' AND day = %s",
          p.pk, day(-2))
    assert get(h, p, "overview", **rng())["pageviews"] == 1006
    h.sql("INSERT INTO rollup_dirty (property_pk, day) VALUES (%s, %s)", p.pk, day(-2))
    assert get(h, p, "overview", **rng())["pageviews"] == 6, "a dirty day is read raw"
    rollup(h)
    assert get(h, p, "overview", **rng())["pageviews"] == 6


def test_late_event_rerolls_its_day(h):
    rollups_only_on_postgresql(h)
    p = build_site(h)
    rollup(h)
    expect_counts(h.post_events(p, [ev("/late", ts=noon(-3) + 600)], headers=new_client(h)), 1)
    h.sessionize()
    assert get(h, p, "overview", **rng())["pageviews"] == 7, "the changed day is read raw until rebuilt"
    assert rollup(h) == 1
    assert get(h, p, "overview", **rng())["pageviews"] == 7
    assert ("/late", {"pageviews": 1, "unique_visitors": 1}) in results(get(h, p, "pages", **rng()), "path")


def test_new_goal_counts_past_days(h):
    p = build_site(h)
    rollup(h)
    h.sql("INSERT INTO goals (property_pk, name, path_pattern) VALUES (%s, 'Blog', '/blog')", p.pk)
    names = [g["goal"] for g in get(h, p, "goals", **rng())["results"]]
    assert names == ["Pricing", "Blog", "Signup"], names
    rollup(h)
    blog = [g for g in get(h, p, "goals", **rng())["results"] if g["goal"] == "Blog"]
    assert blog == [{"goal": "Blog", "conversions": 1, "events": 1, "conversion_rate": 25.0, "revenue": {}}], blog


def test_filters(h):
    p = build_site(h)
    for rolled in (False, True):
        if rolled:
            rollup(h)
        pages = results(get(h, p, "pages", filters="source==Google", **rng()), "path")
        assert pages == [("/", {"pageviews": 1, "unique_visitors": 1}),
                         ("/pricing", {"pageviews": 1, "unique_visitors": 1})], pages
        o = get(h, p, "overview", filters="path==/pricing", **rng())
        assert (o["pageviews"], o["unique_visitors"], o["sessions"], o["bounce_rate"]) == (2, 2, 2, 0.0), o
        src = results(get(h, p, "sources", filters="path!=/pricing;entry_page=~/", **rng()), "source")
        assert [(s, f["sessions"]) for s, f in src] == [("Direct / None", 2), ("Google", 1), ("newsletter", 1)], src
        o = get(h, p, "overview", filters="goal==Signup", **rng())
        assert (o["events"], o["unique_visitors"], o["sessions"]) == (1, 1, 1), o
        o = get(h, p, "overview", filters="prop:plan==pro", **rng())
        assert (o["events"], o["sessions"]) == (1, 1), o
        none = get(h, p, "overview", filters="country==ZZ", **rng())
        assert (none["pageviews"], none["sessions"], none["bounce_rate"]) == (0, 0, 0.0), none


def test_group_by_and_paging(h):
    p = build_site(h)
    rows = get(h, p, "metrics", group_by="entry_page,source", metrics="sessions,unique_visitors", **rng())["results"]
    assert rows == [{"entry_page": "/", "source": "Direct / None", "sessions": 1, "unique_visitors": 1},
                    {"entry_page": "/", "source": "Google", "sessions": 1, "unique_visitors": 1},
                    {"entry_page": "/blog", "source": "newsletter", "sessions": 1, "unique_visitors": 1},
                    {"entry_page": "/docs", "source": "Direct / None", "sessions": 1, "unique_visitors": 1}], rows
    page = get(h, p, "pages", limit=2, offset=1, **rng())["results"]
    assert [r["path"] for r in page] == ["/pricing", "/blog"], page
    mixed = get(h, p, "metrics", group_by="path,source", metrics="pageviews", **rng())["results"]
    assert {"path": "/pricing", "source": "Google", "pageviews": 1} in mixed, mixed


def test_compare_previous_period(h):
    p = build_site(h)
    o = get(h, p, "overview", **{"from": day(-1), "to": day(0), "compare": "previous_period"})
    assert o["pageviews"] == 1 and o["previous"]["pageviews"] == 5, o
    assert (o["previous"]["from"], o["previous"]["to"]) == (day(-3), day(-2)), o
    pages = get(h, p, "pages", **{"from": day(-1), "to": day(0), "compare": "previous_period"})["results"]
    assert pages == [{"path": "/docs", "pageviews": 1, "unique_visitors": 1,
                      "previous": {"pageviews": 0, "unique_visitors": 0}}], pages


def test_hourly_and_monthly_intervals(h):
    p = build_site(h)
    hours = get(h, p, "metrics", interval="hour", **{"from": day(-2), "to": day(-2)})["results"]
    assert len(hours) == 24 and hours[0]["date"] == day(-2) + "T00:00:00", hours[:2]
    assert [r["pageviews"] for r in hours if r["pageviews"]] == [3] and hours[12]["pageviews"] == 3, hours
    months = get(h, p, "metrics", interval="month", **rng())["results"]
    assert sum(m["pageviews"] for m in months) == 6, months
    assert all(m["date"].endswith("-01") for m in months), months


def test_hourly_rollups(h):
    """A series by hour reads the rolled days' hours (rollup_hours, 020), with the same answers as
    from raw events, visit figures included; days under way stay raw."""
    rollups_only_on_postgresql(h)
    p = build_site(h)
    metrics = "pageviews,unique_visitors,sessions,bounce_rate,visit_duration,views_per_session,events"
    raw = get(h, p, "metrics", interval="hour", metrics=metrics, **rng())
    rollup(h)
    hours = h.sql("SELECT hour::text, visitors, pageviews, events, sessions, bounces, duration FROM rollup_hours "
                  "WHERE property_pk = %s ORDER BY hour", p.pk)
    assert hours == [(day(-3) + " 12:00:00", "1", "2", "2", "1", "0", "120"),
                     (day(-2) + " 12:00:00", "2", "3", "4", "2", "1", "90")], hours
    assert get(h, p, "metrics", interval="hour", metrics=metrics, **rng()) == raw
    h.sql("UPDATE rollup_hours SET pageviews = pageviews + 100 WHERE property_pk = %s AND hour = %s",
          p.pk, day(-2) + " 12:00")
    series = get(h, p, "metrics", interval="hour", **rng())["results"]
    assert [r["pageviews"] for r in series if r["date"] == day(-2) + "T12:00:00"] == [103], "the hours are read"
    # A filtered series reads raw events, as do rolled days without hours (rolled before 020).
    assert get(h, p, "metrics", interval="hour", filters="path==/", **rng())["results"][12 + 24]["pageviews"] == 2
    h.sql("UPDATE rollup_state SET hours = false WHERE property_pk = %s", p.pk)
    assert get(h, p, "metrics", interval="hour", metrics=metrics, **rng()) == raw


def test_property_time_zone(h):
    """Days are the property's local days: 03:00 UTC is the evening before in New York."""
    p = h.create_property(timezone="America/New_York")
    t = noon(-3) - 9 * 3600    # 03:00 UTC on D-3
    expect_counts(h.post_events(p, [ev("/late-night", ts=t)], headers=new_client(h)), 1)
    h.sessionize()
    series = get(h, p, "metrics", interval="day", **{"from": day(-5), "to": day(-2)})["results"]
    assert [r["date"] for r in series if r["pageviews"]] == [day(-4)], series
    rollup(h)
    assert get(h, p, "metrics", interval="day", **{"from": day(-5), "to": day(-2)})["results"] == series


def test_rollups_answer_the_same_over_part_of_the_range(h):
    """Rollup rows are read within the asked days only: ranges that start or end on rolled-up days
    answer as they did from raw events."""
    rollups_only_on_postgresql(h)
    p = build_site(h)
    ranges = [(-3, -3), (-2, -2), (-3, -2), (-2, 0), (-4, -3)]
    asked = [("overview", {}), ("pages", {}), ("sources", {}), ("exit-pages", {}), ("goals", {}),
             ("metrics", {"interval": "day"}), ("metrics", {"metrics": "sessions,bounce_rate,unique_visitors"})]

    def answers():
        return [get(h, p, r, **dict(params, **{"from": day(a), "to": day(b)})) for a, b in ranges for r, params in asked]

    raw = answers()
    assert rollup(h) >= 2
    assert answers() == raw
    assert get(h, p, "overview", **{"from": day(-2), "to": day(-2)})["pageviews"] == 3


def test_site_figures_without_visit_metrics(h):
    """Asking only for event figures (as metrics does by default) gives the same numbers as asking
    for them along with the visit figures, on raw and on rolled-up days."""
    p = build_site(h)
    for rolled in (False, True):
        if rolled and h.events_store == "postgresql":
            rollup(h)
        series = get(h, p, "metrics", interval="day", **rng())["results"]
        full = get(h, p, "metrics", interval="day", metrics="pageviews,unique_visitors,sessions,bounce_rate",
                   **rng())["results"]
        assert series == [{k: r[k] for k in ("date", "pageviews", "unique_visitors")} for r in full], (series, full)
        assert [r["sessions"] for r in full] == [1, 2, 0, 1], full
        o = get(h, p, "overview", metrics="pageviews,unique_visitors,events", **rng())
        assert (o["pageviews"], o["unique_visitors"], o["events"]) == (6, 4, 7) and "sessions" not in o, o


def test_days_at_the_ends_of_the_zones(h):
    """Raw events are read between instants that hold the range in any zone: an event at 00:30 on
    the first local day at UTC+14 and one at 23:30 on the last local day at UTC-12 both count, and
    the events just outside do not."""
    east = h.create_property(timezone="Pacific/Kiritimati")    # UTC+14
    west = h.create_property(timezone="Etc/GMT+12")            # UTC-12
    midnight = noon(-3) - 12 * 3600                            # D-3 00:00 UTC
    inside_east, inside_west = midnight - 14 * 3600 + 1800, midnight + 12 * 3600 + 86400 - 1800
    expect_counts(h.post_events(east, [ev("/first", ts=inside_east), ev("/before", ts=inside_east - 3600)],
                                headers=new_client(h)), 2)
    expect_counts(h.post_events(west, [ev("/last", ts=inside_west), ev("/after", ts=inside_west + 3600)],
                                headers=new_client(h)), 2)
    h.sessionize()
    for rolled in (False, True):
        if rolled and h.events_store == "postgresql":
            rollup(h)
        for p, path in ((east, "/first"), (west, "/last")):
            one_day = {"from": day(-3), "to": day(-3)}
            assert [r["path"] for r in get(h, p, "pages", **one_day)["results"]] == [path], (p, rolled)
            assert get(h, p, "overview", **one_day)["pageviews"] == 1, (p, rolled)
            assert get(h, p, "metrics", interval="day", **one_day)["results"] == [
                {"date": day(-3), "pageviews": 1, "unique_visitors": 1}], (p, rolled)


def test_realtime(h):
    p = h.create_property()
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/now", ts=time.time() - 5), ev("/now", ts=time.time() - 130)], headers=c), 2)
    expect_counts(h.post_events(p, [ev("/old", ts=time.time() - 600)], headers=new_client(h)), 1)
    r = get(h, p, "realtime")
    assert r["visitors"] == 1, r
    assert len(r["pageviews_30m"]) == 30 and sum(r["pageviews_30m"]) == 3, r
    assert r["pageviews_30m"][-1] == 1 and r["pageviews_30m"][-3] == 1, r
    assert r["top_pages"][0] == {"path": "/now", "unique_visitors": 1, "pageviews": 2}, r


def test_csv_matches_json(h):
    p = build_site(h)
    r = h.http("GET", "/v1/properties/%s/sources?format=csv&from=%s&to=%s" % (p.id, day(-3), day(0)),
               headers={"Authorization": "Bearer " + p.read_key})
    assert r.status == 200 and r.headers.get("Content-Type", "").startswith("text/csv"), r
    lines = r.body.decode().split("\r\n")
    assert lines[0] == "source,pageviews,unique_visitors,sessions,bounce_rate,visit_duration", lines
    assert lines[1] == "Direct / None,2,2,2,100.0,0", lines
    body = json.loads(h.http("GET", "/v1/properties/%s/sources?from=%s&to=%s" % (p.id, day(-3), day(0)),
                             headers={"Authorization": "Bearer " + p.read_key}).body)
    assert len(lines) == len(body["results"]) + 2 and lines[-1] == "", lines


def test_retention_keeps_rollups(h):
    if h.events_store != "postgresql":
        raise Skip("rollups belong to the postgresql events store (retention on clickhouse: "
                   "test_clickhouse.test_purge_events)")
    p = build_site(h, retention_days=1)
    before = get(h, p, "overview", **rng())
    out = h.sql("SELECT events_deleted, sessions_deleted FROM tally_purge_retention()")[0]
    assert int(out[0]) >= 6, out
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND ts < now() - interval '1 day'", p.pk) == 0
    after = get(h, p, "overview", **rng())
    assert after == before, (before, after)


def test_cron_jobs(h):
    """cron/tally-cron runs every maintenance job against the database named by the PG* variables."""
    import os
    import subprocess
    p = build_site(h)
    script = os.path.join(h.src, "cron", "tally-cron")

    def cron(job):
        out = subprocess.run(["sh", script, job], env=h.pg_env("tally"), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (job, out.stderr)
        return out.stdout.strip()

    assert cron("rollup").splitlines()[-1].startswith("days rolled up "), cron("rollup")
    # With the clickhouse store PostgreSQL has no events to roll up.
    assert h.sql_int("SELECT count(*) FROM rollup_state WHERE property_pk = %s", p.pk) == (
        2 if h.events_store == "postgresql" else 0)
    assert cron("rollup").splitlines() == ["events added to visits 0", "days rolled up 0"]
    assert cron("sessions") == "events added to visits 0"
    assert cron("salts").startswith("salts created ")
    assert cron("partitions").startswith("partitions created ")
    assert cron("dedupe").startswith("event ids forgotten ")
    assert cron("retention").startswith("events deleted ")
    archived = cron("archive").splitlines()
    assert archived[0].startswith("days archived ") and archived[1].startswith("partitions dropped or split "), archived
    bad = subprocess.run(["sh", script, "nonsense"], env=h.pg_env("tally"), capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr, bad
