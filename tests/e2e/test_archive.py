"""The archive of closed days (migration 018): a property's events of a UTC day, once it is a few
days old, move from the events table into compressed archive rows (events_archive), and every
reader of past days (reports, rollups, the export, payments, retention, time zone changes) reads
them through tally_events.

The tests archive a site and compare it with itself before archiving (the same answers, to the
byte), or with a twin site holding the same events that stays unarchived."""
import json
import urllib.parse

from client import ev, expect_counts, new_client
from harness import Skip
from test_admin import OWNER_EMAIL, owner, parse_csv
from test_report import REPORTS, build_site, check_figures, day, get, noon, rng, rollup
from test_report_live import sessioniser_held
from test_revenue import SECRET, checkout, webhook


def archive_only_on_postgresql(h):
    if h.events_store != "postgresql":
        raise Skip("the archive belongs to the postgresql events store")


def archive(h, p, *days):
    """Archives the property's given days (offsets from today, UTC); returns archive rows written."""
    h.sessionize()
    return sum(h.sql_int("SELECT tally_archive_day(%s, %s)", p.pk, day(d)) for d in days)


def stored(h, p):
    """(events in the events table, events in the archive) of the property."""
    return (h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", p.pk),
            h.sql_int("SELECT coalesce(sum(events), 0) FROM events_archive WHERE property_pk = %s", p.pk))


def answers(h, p):
    """Every report over the test range, raw (unfiltered), filtered, by custom property, by hour."""
    out = {r: get(h, p, r, **rng()) for r in REPORTS}
    out["filtered-pages"] = get(h, p, "pages", filters="source==Google", **rng())
    out["filtered-overview"] = get(h, p, "overview", filters="path==/pricing", **rng())
    out["visit-filter"] = get(h, p, "sources", filters="path=~pric", **rng())
    out["props"] = get(h, p, "metrics", group_by="prop:plan", metrics="events,unique_visitors", **rng())
    out["hourly"] = get(h, p, "metrics", interval="hour", **rng())
    return out


def every_event(h, p):
    """The property's events as tally_events returns them, each as JSON text, in a stable order."""
    return [r for (r,) in h.sql("SELECT row_to_json(e)::text FROM tally_events(%s, '-infinity', 'infinity') e "
                                "ORDER BY e.seq", p.pk)]


def test_archived_days_answer_the_same(h):
    archive_only_on_postgresql(h)
    p = build_site(h)
    before_rows = every_event(h, p)
    before = answers(h, p)
    assert archive(h, p, -3, -2) == 2
    assert stored(h, p) == (1, 6), "today's event stays, the others are archived"
    assert every_event(h, p) == before_rows, "tally_events gives back every column of every event"
    assert answers(h, p) == before, "raw days read from the archive"
    check_figures(h, p)
    assert rollup(h) >= 2, "closed days roll up from the archive"
    check_figures(h, p)
    assert answers(h, p) == before


def test_archive_rows_are_compressed_columns(h):
    archive_only_on_postgresql(h)
    p = h.create_property()
    c = new_client(h)
    for batch in range(4):
        expect_counts(h.post_events(p, [ev("/docs/page-%d" % (i % 20), ts=noon(-4) + batch * 900 + i)
                                        for i in range(250)], headers=c), 250)
    assert archive(h, p, -4) == 1
    row = h.sql_dicts("SELECT events, ts_lo, ts_hi, pg_column_size(a.*) AS bytes, "
                      "array_length(path, 1) AS paths, array_length(visit_token, 1) AS tokens "
                      "FROM events_archive a WHERE property_pk = %s", p.pk)
    assert len(row) == 1 and row[0]["events"] == 1000 and row[0]["paths"] == row[0]["tokens"] == 1000, row
    # 1,000 rows of events take about 300 kB; their arrays, compressed, a fraction of that.
    assert row[0]["bytes"] < 100 * 1000, row
    assert h.sql("SELECT DISTINCT attcompression FROM pg_attribute WHERE attrelid = 'events_archive'::regclass "
                 "AND attndims > 0") == [("p",)], "every column array is compressed with pglz"


def test_late_event_merges_into_the_archived_day(h):
    archive_only_on_postgresql(h)
    p = build_site(h)
    archive(h, p, -3, -2)
    rollup(h)
    expect_counts(h.post_events(p, [ev("/late", ts=noon(-3) + 600)], headers=new_client(h)), 1)
    h.sessionize()
    assert stored(h, p) == (2, 6)
    assert get(h, p, "overview", **rng())["pageviews"] == 7, "the changed day is read raw, archive and table"
    assert archive(h, p, -3) == 1
    assert stored(h, p) == (1, 7), "the late event joins the day's archive row"
    assert get(h, p, "overview", **rng())["pageviews"] == 7
    assert rollup(h) == 1
    assert ("/late", {"pageviews": 1, "unique_visitors": 1}) in [
        (r["path"], {k: v for k, v in r.items() if k != "path"}) for r in get(h, p, "pages", **rng())["results"]]


def test_events_waiting_for_the_sessioniser_stay(h):
    """Only events the sessioniser has seen are archived: it reads new events from the events table."""
    archive_only_on_postgresql(h)
    p = build_site(h)
    expect_counts(h.post_events(p, [ev("/last", ts=noon(-2) + 300)], headers=new_client(h)), 1)
    h.sessionize()
    last = h.sql_int("SELECT seq FROM events WHERE property_pk = %s AND path = '/last'", p.pk)
    with sessioniser_held(h):
        mark = h.sql_int("SELECT done_seq FROM sessionize_state")
        h.sql("UPDATE sessionize_state SET done_seq = %s", last - 1)
        try:
            h.sql("SELECT tally_archive_day(%s, %s)", p.pk, day(-2))
        finally:
            h.sql("UPDATE sessionize_state SET done_seq = %s", mark)
    paths = h.sql("SELECT path FROM events WHERE property_pk = %s ORDER BY seq", p.pk)
    assert paths == [("/blog",), ("/pricing",), ("/docs",), ("/last",)], paths
    assert stored(h, p) == (4, 4)
    assert archive(h, p, -2) == 1 and stored(h, p) == (3, 5), "archived once the sessioniser has it"


def test_time_zone_change_rebuilds_archived_days(h):
    archive_only_on_postgresql(h)
    kept, archived = build_site(h), build_site(h)
    archive(h, archived, -3, -2)
    rollup(h)
    for p in (kept, archived):
        h.sql("UPDATE properties SET timezone = 'Pacific/Kiritimati' WHERE pk = %s", p.pk)
    dirty = [h.sql("SELECT day::text FROM rollup_dirty WHERE property_pk = %s ORDER BY 1", p.pk) for p in (kept, archived)]
    assert dirty[0] == dirty[1] and len(dirty[0]) >= 3, dirty
    rollup(h)
    for r in REPORTS + ["metrics"]:
        a, k = get(h, archived, r, **rng()), get(h, kept, r, **rng())
        a.pop("property_id", None), k.pop("property_id", None)
        assert a == k, r


def test_retention_reaches_the_archive(h):
    archive_only_on_postgresql(h)
    p = build_site(h)
    archive(h, p, -3, -2)
    # keep_from cuts within a day: V1's first pageview of D-2 goes, its next two events stay.
    t2 = noon(-2)
    h.sql("SELECT tally_archive_day(%s, %s, to_timestamp(%s))", p.pk, day(-2), t2 + 45)
    paths = h.sql("SELECT e.path, e.name FROM tally_events(%s, '-infinity', 'infinity') e "
                  "WHERE e.ts < now() - interval '1 day' ORDER BY e.ts", p.pk)
    assert paths == [("/blog", "pageview"), ("/pricing", "pageview"), ("/pricing", "pageview"),
                     ("/pricing", "signup")], paths
    h.sql("UPDATE properties SET retention_days = 1 WHERE pk = %s", p.pk)
    deleted = h.sql_dicts("SELECT * FROM tally_purge_retention()")[0]
    assert deleted["events_deleted"] >= 4, deleted
    assert stored(h, p) == (1, 0), "only today's event is left"
    assert h.sql_int("SELECT count(*) FROM events_archive WHERE property_pk = %s", p.pk) == 0


def test_payments_find_archived_visits(h):
    """A Stripe webhook arriving days after the visit is attributed from the archive."""
    archive_only_on_postgresql(h)
    p = h.create_property()
    h.sql("UPDATE properties SET stripe_webhook_secret = %s WHERE pk = %s", SECRET, p.pk)
    h.sql("INSERT INTO goals (property_pk, name, event_name, revenue) VALUES (%s, 'Purchase', 'purchase', true)", p.pk)
    expect_counts(h.post_events(p, [ev("/product", referrer="https://www.google.com/", ts=noon(-3),
                                       identity={"visit_token": "vt_Archived1"})], headers=new_client(h)), 1)
    archive(h, p, -3)
    assert stored(h, p) == (0, 1)
    r = webhook(h, p.id, checkout("evt_arch1", "pi_Arch", 1990, "eur", token="vt_Archived1", created=int(noon(-3) + 600)))
    assert r.status == 200 and r.json()["attributed"] is True, r
    h.sessionize()
    by_source = get(h, p, "revenue", group_by="source", **rng())["results"]
    assert [(x["source"], x["revenue"]) for x in by_source] == [("Google", {"EUR": "19.90"})], by_source


def test_export_reads_the_archive(h):
    archive_only_on_postgresql(h)
    p = build_site(h)
    o = owner(h)
    uid = h.sql_int("SELECT id FROM users WHERE lower(email) = lower(%s)", OWNER_EMAIL)
    h.sql("INSERT INTO memberships (user_id, property_pk, role) VALUES (%s, %s, 'owner')", uid, p.pk)

    def export(**q):
        r = o.get("properties/%s/export/events%s" % (p.id, "?" + urllib.parse.urlencode(q) if q else ""))
        assert r.status == 200, r
        return r.body

    before = (export(), export(**{"from": day(-2), "to": day(-2)}))
    assert len(parse_csv(before[0])) == 1 + 7 and len(parse_csv(before[1])) == 1 + 4
    archive(h, p, -3, -2)
    assert (export(), export(**{"from": day(-2), "to": day(-2)})) == before


def test_day_partitions(h):
    """Days get their own partitions; archiving drops the emptied partitions of archived days and
    splits a longer partition reaching past the cutoff into days."""
    archive_only_on_postgresql(h)
    made = h.sql_int("SELECT tally_ensure_day_partitions(current_date + 400, 3)")
    assert made == 3 and h.sql_int("SELECT tally_ensure_day_partitions(current_date + 400, 3)") == 0
    p = build_site(h)
    h.sessionize()
    while h.sql_int("SELECT tally_archive_days(2, 50)") > 0:
        pass
    assert h.sql_int("SELECT count(*) FROM events WHERE ts < (current_date - 2)::timestamp AT TIME ZONE 'UTC' "
                     "AND seq <= (SELECT done_seq FROM sessionize_state)") == 0
    h.sql("SELECT tally_archive_partitions(2)")
    spans = h.sql_dicts("SELECT b.lo, b.hi, (b.hi - b.lo) > interval '1 day' AS long FROM pg_inherits i, "
                        "tally_partition_bounds(i.inhrelid) b WHERE i.inhparent = 'events'::regclass AND b.lo IS NOT NULL")
    assert spans and not [s for s in spans if s["long"]], "no partition is longer than a day: %s" % spans
    today = h.sql_value("SELECT count(*) FROM pg_inherits i, tally_partition_bounds(i.inhrelid) b "
                        "WHERE i.inhparent = 'events'::regclass AND b.lo = current_date::timestamp AT TIME ZONE 'UTC'")
    assert today == "1"
    check_figures(h, p)
    # Ingest goes on into the day partitions.
    expect_counts(h.post_events(p, [ev("/after")], headers=new_client(h)), 1)
    h.sessionize()
    assert get(h, p, "overview", **rng())["pageviews"] == 7
    assert stored(h, p) == (6, 2), "D-3 archived; D-2, today and the new event in events"


def test_deleting_a_property_deletes_its_archive(h):
    archive_only_on_postgresql(h)
    p = build_site(h)
    archive(h, p, -3, -2)
    deleted = json.loads(h.sql_value("SELECT tally_delete_property(%s)", p.pk))
    assert deleted["events"] == 7, deleted
    assert h.sql_int("SELECT count(*) FROM events_archive WHERE property_pk = %s", p.pk) == 0
