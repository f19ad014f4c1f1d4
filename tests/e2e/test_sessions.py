"""Visits: the sessioniser (tally_sessionize, run by track.fcgi in the background and by cron)
groups stored events into sessions, whatever order and batches they arrived in. On the clickhouse
events store visits are built as reports read events; the same visits must come out, as the
reports show them (client.visits). The sessions table itself is checked on the postgresql store."""
import datetime
import time

from client import ev, expect_counts, new_client, visits
from harness import Skip

DIRECT = "Direct / None"


def midnight(minutes):
    """Today's UTC midnight plus `minutes` (negative: yesterday evening), as seconds since 1970."""
    d = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return (d + datetime.timedelta(minutes=minutes)).timestamp()


def night_visit(h, timeout=1800):
    """A property and a visit from 23:50 to 00:05 (UTC): two pageviews under yesterday's visitor
    hash, one under today's."""
    if time.time() < midnight(10):
        raise Skip("needs today's 00:05 UTC in the past; run again after 00:10 UTC")
    p = h.create_property(session_timeout=timeout)
    return p, [ev("/late", ts=midnight(-10)), ev("/later", ts=midnight(-5)), ev("/after-midnight", ts=midnight(5))]


def sessions(h, prop):
    if h.events_store != "postgresql":
        return None
    return h.sql_dicts("SELECT entry_path, exit_path, pageviews, events, interactive, source "
                       "FROM sessions WHERE property_pk = %s ORDER BY started_at", prop.pk)


def test_background_sessioniser(h):
    """track.fcgi builds visits by itself, a few seconds after the events are stored."""
    p = h.create_property()
    expect_counts(h.post_events(p, [ev("/bg")], headers=new_client(h)), 1)
    deadline = time.time() + 60   # a few seconds when idle; a loaded machine may take longer
    while time.time() < deadline and not visits(h, p):
        time.sleep(0.2)
    assert sessions(h, p) in (None, [{"entry_path": "/bg", "exit_path": "/bg", "pageviews": 1, "events": 1,
                                      "interactive": 0, "source": "Direct / None"}]), sessions(h, p)
    assert visits(h, p) == [("/bg", "/bg", DIRECT, 1, 1, 1, 100.0, 0)], visits(h, p)


def test_sessioniser_summarizes_new_events(h):
    """Before a run the sessioniser summarizes the new block ranges of the seq index it finds new
    events through (else each run reads every event since the last vacuum), which it may because
    partitions belong to the owner of events whoever created them."""
    if h.events_store != "postgresql":
        raise Skip("the sessions table and its index are the postgresql store's")
    foreign = h.sql_int("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'events'::regclass "
                        "AND c.relowner <> (SELECT relowner FROM pg_class WHERE oid = 'events'::regclass)")
    assert foreign == 0, "%d partitions of events belong to another role than events" % foreign
    p = h.create_property()
    # A block range is 128 pages (1 MB): 8,000 small events (about 40 a page) reach into a second
    # range; the first is summarized from the start.
    c = new_client(h)
    for batch in range(8):
        expect_counts(h.post_events(p, [ev("/summarized/%d/%d" % (batch, i)) for i in range(1000)], headers=c), 1000)
    deadline = time.time() + 60
    pageviews = "SELECT coalesce(sum(pageviews), 0) FROM sessions WHERE property_pk = %s"
    while time.time() < deadline and h.sql_int(pageviews, p.pk) < 8000:
        time.sleep(0.2)
    assert h.sql_int(pageviews, p.pk) == 8000, "the background sessioniser took %d of 8000 events" % h.sql_int(
        pageviews, p.pk)
    left = h.sql_int("SELECT sum(brin_summarize_new_values(inhrelid::regclass)) FROM pg_inherits "
                     "WHERE inhparent = 'events_seq_brin'::regclass")
    assert left == 0, "%d block ranges of events were left unsummarized by the sessioniser" % left


def test_visit_built_across_runs(h):
    """Events of one visit processed one run at a time still make one visit."""
    p = h.create_property()
    c = new_client(h)
    t0 = time.time() - 900
    h.sessionize()
    for i in range(5):
        expect_counts(h.post_events(p, [ev("/step%d" % i, ts=t0 + 60 * i)], headers=c), 1)
    while h.sql_int("SELECT tally_sessionize(1)") > 0:
        pass
    assert sessions(h, p) in (None, [{"entry_path": "/step0", "exit_path": "/step4", "pageviews": 5, "events": 5,
                                      "interactive": 0, "source": "Direct / None"}]), sessions(h, p)
    assert visits(h, p) == [("/step0", "/step4", DIRECT, 1, 5, 5, 0.0, 240)], visits(h, p)


def test_late_event_becomes_entry(h):
    """An event that arrives after its visit was built, but happened before it, becomes its entry."""
    p = h.create_property()
    c = new_client(h)
    t0 = time.time() - 600
    expect_counts(h.post_events(p, [ev("/second", ts=t0 + 120), ev("/third", ts=t0 + 180)], headers=c), 2)
    h.sessionize()
    expect_counts(h.post_events(p, [ev("/first", ts=t0)], headers=c), 1)
    h.sessionize()
    if h.events_store == "postgresql":
        got = h.sql_dicts("SELECT entry_path, exit_path, pageviews, extract(epoch FROM last_seen - started_at)::int AS d "
                          "FROM sessions WHERE property_pk = %s", p.pk)
        assert got == [{"entry_path": "/first", "exit_path": "/third", "pageviews": 3, "d": 180}], got
    assert visits(h, p) == [("/first", "/third", DIRECT, 1, 3, 3, 0.0, 180)], visits(h, p)


def test_custom_event_is_interactive(h):
    """A custom event makes a visit interactive (not a bounce) unless sent as non-interactive."""
    p = h.create_property()
    c = new_client(h)
    t0 = time.time() - 300
    expect_counts(h.post_events(p, [ev("/a", ts=t0), ev(type="signup", ts=t0 + 5)], headers=c), 2)
    c2 = new_client(h)
    quiet = ev(type="scroll", ts=t0 + 5)
    quiet["interactive"] = False
    expect_counts(h.post_events(p, [ev("/b", ts=t0), quiet], headers=c2), 2)
    h.sessionize()
    if h.events_store == "postgresql":
        got = [(s["entry_path"], s["events"], s["interactive"]) for s in sessions(h, p)]
        assert sorted(got) == [("/a", 2, 1), ("/b", 2, 0)], got
    # One pageview and an interactive event is no bounce; with a non-interactive one it is.
    assert visits(h, p) == [("/a", "/a", DIRECT, 1, 1, 2, 0.0, 5), ("/b", "/b", DIRECT, 1, 1, 2, 100.0, 5)], visits(h, p)


def test_visit_described_by_its_first_event(h):
    """A visit's visitor, acquisition and place come from its first event by time, not from the
    first to arrive, nor from any later one."""
    p = h.create_property()
    c = new_client(h)
    t0 = time.time() - 600
    arrived = [ev("/second", ts=t0 + 60, referrer="https://news.ycombinator.com/item?id=1",
                  query="?utm_source=hn&utm_campaign=later"),
               ev("/first", ts=t0, referrer="https://www.google.com/search?q=tally",
                  query="?utm_source=search&utm_campaign=spring"),
               ev("/third", ts=t0 + 120)]
    expect_counts(h.post_events(p, arrived, headers=c), 3)
    h.sessionize()
    cols = "visitor, referrer, source, utm_source, utm_campaign, browser, os, device"
    first, second = (h.sql_dicts("SELECT " + cols + " FROM events WHERE property_pk = %s AND path = %s", p.pk, path)[0]
                     for path in ("/first", "/second"))
    assert first["source"] != second["source"] and first["utm_campaign"] == "spring", (first, second)
    if h.events_store == "postgresql":
        got = h.sql_dicts("SELECT " + cols + ", entry_path, exit_path FROM sessions WHERE property_pk = %s", p.pk)
        assert got == [dict(first, entry_path="/first", exit_path="/third")], (got, first)
    assert visits(h, p) == [("/first", "/third", first["source"], 1, 3, 3, 0.0, 120)], visits(h, p)


def test_explicit_session_id(h):
    """identity.session_id names the visit, whatever the visitor hash or the gaps."""
    p = h.create_property(session_timeout=600)
    t0 = time.time() - 7200
    events = [ev("/s1", ts=t0, identity={"session_id": "checkout-42"}),
              ev("/s2", ts=t0 + 3600, identity={"session_id": "checkout-42"})]
    expect_counts(h.post_events(p, events[:1], headers=new_client(h)), 1)
    expect_counts(h.post_events(p, events[1:], headers=new_client(h)), 1)
    h.sessionize()
    if h.events_store == "postgresql":
        got = sessions(h, p)
        assert [(s["entry_path"], s["exit_path"], s["pageviews"]) for s in got] == [("/s1", "/s2", 2)], got
    assert visits(h, p) == [("/s1", "/s2", DIRECT, 1, 2, 2, 0.0, 3600)], visits(h, p)


def test_days_marked_for_rollup(h):
    """Stored events mark their local day (in the property's time zone) for the rollup job."""
    if h.events_store != "postgresql":
        raise Skip("rollups belong to the postgresql events store; clickhouse reads raw events")
    p = h.create_property(timezone="Pacific/Auckland")
    c = new_client(h)
    t = time.time() - 120
    expect_counts(h.post_events(p, [ev("/tz", ts=t)], headers=c), 1)
    h.sessionize()
    want = h.sql_value("SELECT (to_timestamp(%s) AT TIME ZONE 'Pacific/Auckland')::date::text", t)
    got = [r[0] for r in h.sql("SELECT day::text FROM rollup_dirty WHERE property_pk = %s", p.pk)]
    assert got == [want], (got, want)


def test_visit_across_midnight_in_one_run(h):
    """A visit whose events before and after midnight are stored together (one batch, one
    sessioniser run, as in a bulk load) is one visit, as when they arrive on either side."""
    p, events = night_visit(h)
    h.sessionize()
    # One batch is one transaction: whichever run takes it (this one or track.fcgi's background
    # sessioniser) takes its three events together.
    expect_counts(h.post_events(p, events, headers=new_client(h)), 3)
    h.sessionize()
    if h.events_store == "postgresql":
        got = h.sql_dicts("SELECT entry_path, exit_path, pageviews, extract(epoch FROM last_seen - started_at)::int AS d "
                          "FROM sessions WHERE property_pk = %s", p.pk)
        assert got == [{"entry_path": "/late", "exit_path": "/after-midnight", "pageviews": 3, "d": 900}], got
    assert visits(h, p) == [("/late", "/after-midnight", DIRECT, 1, 3, 3, 0.0, 900)], visits(h, p)


def test_visit_across_midnight_in_two_runs(h):
    """The same visit with midnight between two sessioniser runs is one visit too."""
    p, events = night_visit(h)
    c = new_client(h)
    h.sessionize()
    expect_counts(h.post_events(p, events[:2], headers=c), 2)
    h.sessionize()
    expect_counts(h.post_events(p, events[2:], headers=c), 1)
    h.sessionize()
    if h.events_store == "postgresql":
        got = h.sql_dicts("SELECT entry_path, exit_path, pageviews FROM sessions WHERE property_pk = %s", p.pk)
        assert got == [{"entry_path": "/late", "exit_path": "/after-midnight", "pageviews": 3}], got
    assert visits(h, p) == [("/late", "/after-midnight", DIRECT, 1, 3, 3, 0.0, 900)], visits(h, p)


def test_gap_at_midnight_still_ends_visit(h):
    """Across midnight in one run, a gap over the timeout still starts a new visit (23:50, 23:55
    and 00:05 with a 4-minute timeout are three visits), and another visitor's stays apart."""
    p, events = night_visit(h, timeout=240)
    other = new_client(h)
    h.sessionize()
    expect_counts(h.post_events(p, events, headers=new_client(h)), 3)
    expect_counts(h.post_events(p, [ev("/other", ts=midnight(-5)), ev("/other/2", ts=midnight(-4))], headers=other), 2)
    h.sessionize()
    if h.events_store == "postgresql":
        got = h.sql_dicts("SELECT entry_path, exit_path, pageviews FROM sessions WHERE property_pk = %s "
                          "ORDER BY started_at, entry_path", p.pk)
        assert got == [{"entry_path": "/late", "exit_path": "/late", "pageviews": 1},
                       {"entry_path": "/later", "exit_path": "/later", "pageviews": 1},
                       {"entry_path": "/other", "exit_path": "/other/2", "pageviews": 2},
                       {"entry_path": "/after-midnight", "exit_path": "/after-midnight", "pageviews": 1}], got
    assert visits(h, p) == [("/after-midnight", "/after-midnight", DIRECT, 1, 1, 1, 100.0, 0),
                            ("/late", "/late", DIRECT, 1, 1, 1, 100.0, 0),
                            ("/later", "/later", DIRECT, 1, 1, 1, 100.0, 0),
                            ("/other", "/other/2", DIRECT, 1, 2, 2, 0.0, 60)], visits(h, p)
