"""End-to-end tests of how ingest stores events: ids claimed in the dedupe ledger
(tally_claim_event_keys, sql/migrations/019_claim_event_keys.sql; before it tally_claim_events, 014),
then the events COPYed into events, many requests of several properties in one transaction (group
commit)."""
import json
import os
import subprocess
import tempfile
import threading
import time

from harness import new_event_id
from client import count, ev, expect, expect_counts, new_client, rows

NO_SUCH_PROPERTY = 2147483000


def claim(h, pks, ids):
    """Positions (from 1) that tally_claim_events gives back for these properties and ids."""
    lit = "{%s}" % ",".join("NULL" if i is None else json.dumps(i) for i in ids)
    got = h.sql("SELECT tally_claim_events(%s::integer[], %s::text[])", "{%s}" % ",".join(map(str, pks)), lit)
    return [int(r[0]) for r in got]


def test_claim_rules(h):
    p, q = h.create_property(), h.create_property()
    x, y, z = new_event_id(), new_event_id(), new_event_id()
    pks = [p.pk, p.pk, p.pk, q.pk, p.pk, p.pk, NO_SUCH_PROPERTY]
    ids = [x, y, x, x, None, None, z]
    # The first of each (property, id); the same id of another property is another event; events
    # without an id are always stored; a property that no longer exists stores nothing.
    assert claim(h, pks, ids) == [1, 2, 4, 5, 6]
    # Claimed ids stay claimed: sent again, only the events without an id are stored.
    assert claim(h, pks, ids) == [5, 6]
    assert h.sql_int("SELECT count(*) FROM event_ids WHERE property_pk = %s", p.pk) == 2
    assert h.sql_int("SELECT count(*) FROM event_ids WHERE property_pk = %s", NO_SUCH_PROPERTY) == 0


def claim_keys(h, pks, ids):
    """What tally_claim_event_keys gives back for these properties and ids, sorted."""
    lit = "{%s}" % ",".join("NULL" if i is None else json.dumps(i) for i in ids)
    got = h.sql("SELECT property_pk, event_id FROM tally_claim_event_keys(%s::integer[], %s::text[])",
                "{%s}" % ",".join(map(str, pks)), lit)
    return sorted((int(pk), i or "") for pk, i in got)


def test_claim_keys_rules(h):
    p, q = h.create_property(), h.create_property()
    x, y, z = new_event_id(), new_event_id(), new_event_id()
    pks = [p.pk, p.pk, p.pk, q.pk, q.pk, NO_SUCH_PROPERTY, NO_SUCH_PROPERTY]
    ids = [x, y, x, x, None, z, None]
    # Each property that exists, once; each new (property, id), once; the same id of another
    # property is another event; a property that no longer exists claims nothing.
    assert claim_keys(h, pks, ids) == sorted([(p.pk, ""), (q.pk, ""), (p.pk, x), (p.pk, y), (q.pk, x)])
    # Claimed ids stay claimed: sent again, only the properties come back.
    assert claim_keys(h, pks, ids) == sorted([(p.pk, ""), (q.pk, "")])
    assert h.sql_int("SELECT count(*) FROM event_ids WHERE property_pk = %s", p.pk) == 2
    assert h.sql_int("SELECT count(*) FROM event_ids WHERE property_pk = %s", NO_SUCH_PROPERTY) == 0


def test_events_of_a_deleted_property_are_not_stored(h):
    """A spool replayed late may hold events of a property deleted meanwhile: none is stored, with
    or without an id, and the other properties' events of the same commit are."""
    p = h.create_property()
    spool = tempfile.mkdtemp(prefix="tally-spool-deleted-")
    with open(h.path("tally.conf")) as f:
        conf = "".join(line for line in f if not line.startswith("spool_dir")) + "spool_dir = %s\n" % spool
    now = int(time.time() * 1000)

    def row(event_id, path):
        r = {"ts_ms": now, "name": "pageview", "visitor": 42, "path": path, "interactive": True}
        if event_id:
            r["event_id"] = event_id
        return r

    kept = [row(new_event_id(), "/kept"), row(None, "/kept-no-id")]
    gone = [row(new_event_id(), "/gone"), row(None, "/gone-no-id")]
    jobs = [{"property_pk": NO_SUCH_PROPERTY, "rows": gone}, {"property_pk": p.pk, "rows": kept},
            {"property_pk": NO_SUCH_PROPERTY, "rows": [row(None, "/gone-again")]}]
    with open(os.path.join(spool, "0000000000001-1-0.spool"), "w") as f:
        json.dump({"format": 1, "jobs": jobs}, f)
    env = dict(os.environ, TALLY_CONF=h.path("deleted.conf"))
    with open(env["TALLY_CONF"], "w") as f:
        f.write(conf)
    out = subprocess.run([os.path.join(h.cgibin, "track.fcgi"), "--replay-spool"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert sorted(r["path"] for r in rows(h, p, "path")) == ["/kept", "/kept-no-id"]
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", NO_SUCH_PROPERTY) == 0
    assert h.sql_int("SELECT count(*) FROM event_ids WHERE property_pk = %s", NO_SUCH_PROPERTY) == 0


def test_duplicate_id_within_one_request(h):
    p = h.create_property()
    a, b = ev("/a"), ev("/b")
    twin = dict(a, context={"page": {"url": "https://example.com/twin", "path": "/twin"}})
    expect_counts(h.post_events(p, [a, b, twin], headers=new_client(h)), 3, duplicates=1)
    stored = rows(h, p, "event_id, path")
    assert sorted((r["event_id"], r["path"]) for r in stored) == sorted([(a["event_id"], "/a"), (b["event_id"], "/b")])


def test_concurrent_requests_of_several_properties_store_each_event_once(h):
    """Threads send the same ids to three properties at once, so that requests with the same ids
    share transactions: each property stores each id once, and the 202s count it stored once."""
    props = [h.create_property() for _ in range(3)]
    ids = [new_event_id() for _ in range(40)]
    stored = {p.pk: 0 for p in props}
    failures = []
    lock = threading.Lock()

    def sender(n):
        c = new_client(h)
        for round_ in range(4):
            for p in props:
                chunk = ids[(n + round_) % 4::4] + ids[:2]   # overlapping slices, and two ids every time
                resp = h.post_events(p, [dict(ev("/c%d" % n), event_id=i) for i in chunk], headers=c)
                if resp.status != 202:
                    failures.append(resp)
                    continue
                body = resp.json()
                with lock:
                    stored[p.pk] += body["accepted"] - body["duplicates"]

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    for p in props:
        assert count(h, p) == len(ids)
        assert stored[p.pk] == len(ids), "the answers counted %d stored, not %d" % (stored[p.pk], len(ids))


def test_text_with_copy_escapes_stored_verbatim(h):
    """Backslashes, tabs, newlines and carriage returns are COPY's own syntax: stored as sent."""
    p = h.create_property()
    title = "tab\there\nnew line\\N back\\slash\rcr \\. end"
    e = ev("/esc", data={"note": "a\tb\\c\nd", "n": 2})
    e["context"]["page"]["title"] = title
    expect(h.post_events(p, [e], headers=new_client(h)), 202)
    got = rows(h, p, "title, props")
    assert len(got) == 1
    assert got[0]["title"] == title
    assert got[0]["props"] == {"note": "a\tb\\c\nd", "n": 2}


def test_large_batch_sent_in_pieces_stored_whole(h):
    """A batch far larger than one piece of COPY data (32 KB) arrives whole and in order, and only
    its new events are stored when old ones are mixed in."""
    p = h.create_property()
    events = []
    for i in range(800):
        e = ev("/big/%d" % i)
        e["context"]["page"]["title"] = ("%03d " % i) + "t\\i\tt\nl" * 60   # about 500 characters
        events.append(e)
    expect_counts(h.post_events(p, events, headers=new_client(h)), 800)
    got = {r["event_id"]: r["title"] for r in rows(h, p, "event_id, title")}
    assert len(got) == 800
    assert all(got[e["event_id"]] == e["context"]["page"]["title"] for e in events)
    expect_counts(h.post_events(p, events, headers=new_client(h)), 800, duplicates=800)
    assert count(h, p) == 800
    # Old and new events mixed all along the batch: only the new ones are stored.
    mixed = [e if i % 2 else dict(e, event_id=new_event_id()) for i, e in enumerate(events)]
    expect_counts(h.post_events(p, mixed, headers=new_client(h)), 800, duplicates=400)
    got = {r["event_id"]: r["title"] for r in rows(h, p, "event_id, title")}
    assert len(got) == 1200
    assert all(got[e["event_id"]] == e["context"]["page"]["title"] for e in mixed)
