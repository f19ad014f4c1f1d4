"""Live figures (migration 017): the sessioniser keeps the site's and each page's figures of days
under way (live_days, with the day's sets of visitors), and the site and page reports read them,
plus the events stored after its mark, instead of the day's raw events and visits.

Each test checks two things after every step: the live rows equal the figures counted from raw
events and visits up to the sessioniser's mark (so wrong counters fail whatever the reports do),
and the reports answer exactly as they do with the live rows hidden (read raw, as before 017)."""
import contextlib
import datetime
import subprocess
import time

from client import ev, expect_counts, new_client
from harness import Skip
from test_report import day, get

SESSIONISER_LOCK = 7318002   # tally_ingest_lock() + 1: one sessioniser at a time


def live_only_on_postgresql(h):
    if h.events_store != "postgresql":
        raise Skip("live figures belong to the postgresql events store; clickhouse reads raw events")


def today_has_room():
    if time.time() - utc_midnight() < 1200:
        raise Skip("needs 20 minutes of today (UTC) behind; run again after 00:20 UTC")


def utc_midnight(days=0, hours=0.0):
    d = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return (d + datetime.timedelta(days=days, hours=hours)).timestamp()


@contextlib.contextmanager
def sessioniser_held(h):
    """Holds the sessioniser's lock from another connection, so that no run (track.fcgi runs one
    every few seconds) moves the mark or the live rows meanwhile."""
    env = dict(h.pg_env("tally"), PGAPPNAME="tally-e2e-hold")
    proc = subprocess.Popen(["psql", "-X", "-q", "-c", "SELECT pg_advisory_lock(%d), pg_sleep(300)" % SESSIONISER_LOCK],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    holder = ("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
              " AND l.classid = 0 AND l.objid = %d AND l.granted AND a.application_name = 'tally-e2e-hold'"
              % SESSIONISER_LOCK)
    try:
        deadline = time.time() + 60
        while h.sql_int(holder) == 0:
            assert time.time() < deadline and proc.poll() is None, "could not take the sessioniser's lock"
            time.sleep(0.05)
        yield
    finally:
        h.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tally-e2e-hold'")
        proc.wait(timeout=30)


def live_rows(h, p):
    return {(r["day"], r["dim"], r["value"]): (r["visitors"], r["pageviews"], r["events"], r["sessions"],
                                               r["bounces"], float(r["duration"]))
            for r in h.sql_dicts("SELECT day::text, dim, value, visitors, pageviews, events, sessions, bounces, "
                                 "duration FROM live_days WHERE property_pk = %s", p.pk)}


def counted_rows(h, p, days):
    """The live rows of `days` as counted from raw events (up to the sessioniser's mark) and visits."""
    if not days:
        return {}
    events = h.sql_dicts(
        "SELECT e.day::text, x.dim, x.value, CASE WHEN x.dim = 'path' THEN count(DISTINCT e.visitor) FILTER "
        "(WHERE e.name = 'pageview') ELSE count(DISTINCT e.visitor) END AS visitors, "
        "count(*) FILTER (WHERE e.name = 'pageview') AS pageviews, count(*) AS events "
        "FROM (SELECT e.*, (e.ts AT TIME ZONE p.timezone)::date AS day FROM events e JOIN properties p "
        "ON p.pk = e.property_pk WHERE e.property_pk = %s AND e.seq <= (SELECT done_seq FROM sessionize_state)) e "
        "CROSS JOIN LATERAL (VALUES ('total', ''), ('path', e.path)) AS x(dim, value) "
        "WHERE e.day::text = ANY (%s::text[]) GROUP BY 1, 2, 3", p.pk, "{%s}" % ",".join(days))
    visits = h.sql_dicts(
        "SELECT (s.started_at AT TIME ZONE p.timezone)::date::text AS day, count(*) AS sessions, "
        "count(*) FILTER (WHERE s.pageviews <= 1 AND s.interactive = 0) AS bounces, "
        "sum(extract(epoch FROM s.last_seen - s.started_at)) AS duration "
        "FROM sessions s JOIN properties p ON p.pk = s.property_pk WHERE s.property_pk = %s GROUP BY 1", p.pk)
    by_day = {v["day"]: (v["sessions"], v["bounces"], float(v["duration"])) for v in visits}
    out = {}
    for r in events:
        figures = by_day.get(r["day"], (0, 0, 0.0)) if r["dim"] == "total" else (0, 0, 0.0)
        out[(r["day"], r["dim"], r["value"])] = (r["visitors"], r["pageviews"], r["events"]) + figures
    return out


def check_live_rows(h, p):
    """The live rows are exactly the raw counts of their days; the visitor sets match them."""
    live = live_rows(h, p)
    days = sorted({d for d, dim, _ in live if dim == "total"})
    assert live == counted_rows(h, p, days), (live, counted_rows(h, p, days))
    sets = h.sql_dicts("SELECT day::text, count(*) AS n FROM live_visitors WHERE property_pk = %s GROUP BY 1", p.pk)
    assert {s["day"]: s["n"] for s in sets} == {d: live[(d, "total", "")][0] for d in days}, sets
    return days


def answers(h, p, ranges):
    asked = [("overview", {}), ("pages", {}), ("pages", {"limit": 2, "offset": 1}),
             ("metrics", {"interval": "day", "metrics": "pageviews,unique_visitors,sessions,bounce_rate,visit_duration"}),
             ("overview", {"filters": "path==/a"}), ("pages", {"filters": "source==Google"}), ("sources", {})]
    return [get(h, p, r, **dict(params, **{"from": a, "to": b})) for a, b in ranges for r, params in asked]


def check_against_raw(h, p, ranges):
    """The reports answer the same with the live rows as without them (days read raw). Under the
    sessioniser's lock, so that no run sees the days without their live rows."""
    with sessioniser_held(h):
        live = answers(h, p, ranges)
        h.sql("UPDATE live_days SET dim = 'hidden:' || dim WHERE property_pk = %s", p.pk)
        try:
            raw = answers(h, p, ranges)
        finally:
            h.sql("UPDATE live_days SET dim = substr(dim, 8) WHERE property_pk = %s AND dim LIKE 'hidden:%%'", p.pk)
    assert live == raw, (live, raw)
    return live


def test_live_figures_follow_the_day(h):
    """Today's visitors, pageviews, events, visits, bounces and durations as events arrive in
    several runs, including a late event that moves a visit's start earlier and one that turns a
    bounce into a visit of two pages."""
    live_only_on_postgresql(h)
    today_has_room()
    p = h.create_property()
    today = [(day(0), day(0)), (day(-6), day(0))]
    a, b, c = new_client(h), new_client(h), new_client(h)
    now = time.time()
    expect_counts(h.post_events(p, [ev("/a", ts=now - 600), ev("/b", ts=now - 500)], headers=a), 2)
    expect_counts(h.post_events(p, [ev("/a", ts=now - 400, referrer="https://www.google.com/")], headers=b), 1)
    h.sessionize()
    assert check_live_rows(h, p) == [day(0)]
    check_against_raw(h, p, today)

    # b's bounce gets a second page; a's visit gets an earlier first event and a custom event.
    expect_counts(h.post_events(p, [ev("/c", ts=now - 300)], headers=b), 1)
    expect_counts(h.post_events(p, [ev("/z", ts=now - 900), ev("/a", type="click", ts=now - 200)], headers=a), 2)
    expect_counts(h.post_events(p, [ev("/a", ts=now - 100)], headers=c), 1)
    h.sessionize()
    check_live_rows(h, p)
    o = check_against_raw(h, p, today)[0]
    assert (o["unique_visitors"], o["pageviews"], o["events"], o["sessions"], o["bounce_rate"]) == (3, 6, 7, 3, 33.3), o

    # The live rows are what the reports read: a changed counter shows.
    with sessioniser_held(h):
        h.sql("UPDATE live_days SET pageviews = pageviews + 1000 WHERE property_pk = %s AND dim = 'total'", p.pk)
        assert get(h, p, "overview", **{"from": day(0), "to": day(0)})["pageviews"] == 1006
        h.sql("UPDATE live_days SET pageviews = pageviews - 1000 WHERE property_pk = %s AND dim = 'total'", p.pk)


def test_events_after_the_mark(h):
    """Events the sessioniser has not taken yet count too: their pageviews and events, and their
    visitors unless the day's set already has them (per page: unless they viewed it already)."""
    live_only_on_postgresql(h)
    today_has_room()
    p = h.create_property()
    a, b = new_client(h), new_client(h)
    now = time.time()
    expect_counts(h.post_events(p, [ev("/a", ts=now - 600), ev("/b", ts=now - 500)], headers=a), 2)
    h.sessionize()
    with sessioniser_held(h):
        mark = h.sql_int("SELECT done_seq FROM sessionize_state")
        expect_counts(h.post_events(p, [ev("/a", ts=now - 60), ev("/new", ts=now - 50)], headers=a), 2)
        expect_counts(h.post_events(p, [ev("/a", ts=now - 40), ev("/a", type="signup", ts=now - 30)], headers=b), 2)
        assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND seq > %s", p.pk, mark) == 4
        check_live_rows(h, p)
        o = get(h, p, "overview", **{"from": day(0), "to": day(0)})
        assert (o["unique_visitors"], o["pageviews"], o["events"], o["sessions"]) == (2, 5, 6, 1), o
        pages = get(h, p, "pages", **{"from": day(0), "to": day(0)})["results"]
        assert pages == [{"path": "/a", "pageviews": 3, "unique_visitors": 2},
                         {"path": "/b", "pageviews": 1, "unique_visitors": 1},
                         {"path": "/new", "pageviews": 1, "unique_visitors": 1}], pages
        h.sql("UPDATE live_days SET dim = 'hidden:' || dim WHERE property_pk = %s", p.pk)
        try:
            raw = get(h, p, "overview", **{"from": day(0), "to": day(0)})
            raw_pages = get(h, p, "pages", **{"from": day(0), "to": day(0)})["results"]
        finally:
            h.sql("UPDATE live_days SET dim = substr(dim, 8) WHERE property_pk = %s AND dim LIKE 'hidden:%%'", p.pk)
        assert (raw, raw_pages) == (o, pages)
    h.sessionize()
    check_live_rows(h, p)
    assert check_against_raw(h, p, [(day(0), day(0))])[0]["sessions"] == 2


def test_visit_start_moves_to_the_day_before(h):
    """A late event that moves a visit's start to the previous local day moves the visit (and its
    bounce) there; closing both days into rollups drops their live rows and changes no answer.
    Kiritimati (UTC+14): local midnight is 10:00 UTC; two days ago, so both days are closed."""
    live_only_on_postgresql(h)
    p = h.create_property(timezone="Pacific/Kiritimati")
    edge = utc_midnight(-2, 10)                # local midnight between local days d0 and d1
    d0 = datetime.datetime.fromtimestamp(edge - 60, datetime.timezone(datetime.timedelta(hours=14))).date().isoformat()
    d1 = datetime.datetime.fromtimestamp(edge + 60, datetime.timezone(datetime.timedelta(hours=14))).date().isoformat()
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/after", ts=edge + 300)], headers=c), 1)
    expect_counts(h.post_events(p, [ev("/other", ts=edge - 7200)], headers=new_client(h)), 1)
    h.sessionize()
    assert check_live_rows(h, p) == [d0, d1]
    ranges = [(d0, d0), (d1, d1), (d0, d1)]
    check_against_raw(h, p, ranges)
    assert live_rows(h, p)[(d1, "total", "")][3:5] == (1, 1)     # one visit, a bounce, on d1

    expect_counts(h.post_events(p, [ev("/before", ts=edge - 300)], headers=c), 1)
    h.sessionize()
    check_live_rows(h, p)
    before = check_against_raw(h, p, ranges)
    live = live_rows(h, p)
    assert live[(d1, "total", "")][3:5] == (0, 0) and live[(d0, "total", "")][3:5] == (2, 1), live
    assert before[0]["sessions"] == 2 and before[0]["visit_duration"] == 300, before[0]

    # Closing the days: their live rows go, the answers stay.
    h.sessionize()
    while h.sql_int("SELECT tally_rollup(50)") > 0:
        pass
    assert h.sql_int("SELECT count(*) FROM rollup_state WHERE property_pk = %s", p.pk) == 2
    assert live_rows(h, p) == {}
    assert h.sql_int("SELECT count(*) FROM live_visitors WHERE property_pk = %s", p.pk) == 0
    assert h.sql_int("SELECT count(*) FROM live_page_visitors WHERE property_pk = %s", p.pk) == 0
    assert answers(h, p, ranges) == before
    # A late event of a closed day leaves it to rollups and raw events: it does not become live.
    expect_counts(h.post_events(p, [ev("/late", ts=edge - 3600)], headers=new_client(h)), 1)
    h.sessionize()
    assert live_rows(h, p) == {}
    assert get(h, p, "overview", **{"from": d0, "to": d0})["pageviews"] == 3


def test_visit_across_midnight(h):
    """A visit from 23:50 to 00:05 UTC counts on the day it started; its events on both days."""
    live_only_on_postgresql(h)
    if time.time() < utc_midnight(0, 0.2):
        raise Skip("needs today's 00:05 UTC in the past; run again after 00:12 UTC")
    p = h.create_property()
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/late", ts=utc_midnight(0, -10 / 60)), ev("/later", ts=utc_midnight(0, -5 / 60))],
                                headers=c), 2)
    h.sessionize()
    expect_counts(h.post_events(p, [ev("/after-midnight", ts=utc_midnight(0, 5 / 60))], headers=c), 1)
    h.sessionize()
    assert check_live_rows(h, p) == [day(-1), day(0)]
    live = live_rows(h, p)
    assert live[(day(-1), "total", "")][3:6] == (1, 0, 900.0) and live[(day(0), "total", "")][3] == 0, live
    check_against_raw(h, p, [(day(-1), day(0)), (day(0), day(0))])


def test_days_at_the_ends_of_the_zones(h):
    """Live days are the property's local days: events just inside and outside local midnight at
    UTC+14 and UTC-12 land on their own days."""
    live_only_on_postgresql(h)
    for zone, hours in (("Pacific/Kiritimati", 14), ("Etc/GMT+12", -12)):
        p = h.create_property(timezone=zone)
        edge = utc_midnight(-1, -hours)             # local midnight starting yesterday's UTC date
        c = new_client(h)
        expect_counts(h.post_events(p, [ev("/in", ts=edge + 1), ev("/out", ts=edge - 1)], headers=c), 2)
        expect_counts(h.post_events(p, [ev("/in", ts=edge + 30)], headers=new_client(h)), 1)
        h.sessionize()
        assert check_live_rows(h, p) == [day(-2), day(-1)], zone
        pages = check_against_raw(h, p, [(day(-1), day(-1)), (day(-2), day(-1))])[1]["results"]
        assert [(r["path"], r["unique_visitors"]) for r in pages] == [("/in", 2)], (zone, pages)


def test_seeded_days_match(h):
    """tally_live_seed (used when migration 017 is applied to days under way) counts a day from its
    raw events as of the mark; the sessioniser then carries it on."""
    live_only_on_postgresql(h)
    today_has_room()
    p = h.create_property()
    a = new_client(h)
    now = time.time()
    expect_counts(h.post_events(p, [ev("/a", ts=now - 600), ev("/b", ts=now - 500)], headers=a), 2)
    h.sessionize()
    with sessioniser_held(h):
        counted = live_rows(h, p)
        h.sql("SELECT tally_live_forget(%s, %s)", p.pk, day(0))
    assert live_rows(h, p) == {}
    expect_counts(h.post_events(p, [ev("/c", ts=now - 60)], headers=a), 1)
    h.sessionize()
    assert live_rows(h, p) == {}, "a day with earlier events is not made live by the sessioniser"
    assert h.sql_value("SELECT tally_live_seed(%s, %s)", p.pk, day(0)) == "t"
    assert live_rows(h, p) != counted
    check_live_rows(h, p)
    expect_counts(h.post_events(p, [ev("/a", ts=now - 30)], headers=new_client(h)), 1)
    h.sessionize()
    check_live_rows(h, p)
    check_against_raw(h, p, [(day(0), day(0))])


def test_time_zone_change_drops_live_rows(h):
    live_only_on_postgresql(h)
    p = h.create_property()
    expect_counts(h.post_events(p, [ev("/a", ts=time.time() - 60)], headers=new_client(h)), 1)
    h.sessionize()
    assert live_rows(h, p)
    before = get(h, p, "overview", **{"from": day(-1), "to": day(1)})
    h.sql("UPDATE properties SET timezone = 'Asia/Tokyo' WHERE pk = %s", p.pk)
    assert live_rows(h, p) == {}
    after = get(h, p, "overview", **{"from": day(-1), "to": day(1)})
    assert (after["pageviews"], after["unique_visitors"]) == (before["pageviews"], before["unique_visitors"])


def test_rollup_weeks(h):
    """Whole weeks of rolled-up days are read as their sums (rollup_weeks) when no interval is
    asked: the answers stay those of the days, a dirty day drops its week until it is rolled up
    again, and the week is then summed anew."""
    live_only_on_postgresql(h)
    p = h.create_property()
    noon = utc_midnight(0, 12)
    for back in range(1, 22):
        c = new_client(h)
        events = [ev("/day%d" % (back % 3), ts=noon - back * 86400), ev("/all", ts=noon - back * 86400 + 60)]
        expect_counts(h.post_events(p, events, headers=c), 2)
    h.sessionize()
    ranges = [(day(-21), day(-1)), (day(-15), day(-2)), (day(-7), day(0)), (day(-10), day(-10))]
    before = check_against_raw(h, p, ranges)
    while h.sql_int("SELECT tally_rollup(50)") > 0:   # every property's closed days
        pass
    assert h.sql_int("SELECT count(*) FROM rollup_state WHERE property_pk = %s", p.pk) == 21
    weeks = h.sql("SELECT week::text FROM rollup_week_state WHERE property_pk = %s ORDER BY 1", p.pk)
    assert len(weeks) >= 2 and all(datetime.date.fromisoformat(w).weekday() == 0 for (w,) in weeks), weeks
    assert answers(h, p, ranges) == before
    assert get(h, p, "overview", **{"from": day(-21), "to": day(-1)})["pageviews"] == 42

    # The weeks are what the reports read.
    first = weeks[0][0]
    h.sql("UPDATE rollup_weeks SET pageviews = pageviews + 1000 WHERE property_pk = %s AND week = %s "
          "AND dim = 'total'", p.pk, first)
    assert get(h, p, "overview", **{"from": day(-21), "to": day(-1)})["pageviews"] == 1042
    # A dirty day of the week: the week is not read (its days are, the dirty one raw).
    h.sql("INSERT INTO rollup_dirty (property_pk, day) VALUES (%s, %s::date + 2)", p.pk, first)
    assert get(h, p, "overview", **{"from": day(-21), "to": day(-1)})["pageviews"] == 42
    h.sessionize()
    while h.sql_int("SELECT tally_rollup(50)") > 0:
        pass
    assert h.sql_int("SELECT count(*) FROM rollup_week_state WHERE property_pk = %s AND week = %s", p.pk, first) == 1
    assert answers(h, p, ranges) == before
