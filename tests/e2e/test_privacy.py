"""Privacy audit, run after every other e2e test: no raw client address and no raw user agent used
anywhere in the suite may be found on disk — not in the database (pg_dump of tally), not in the
PostgreSQL log (which logs every statement with its parameters, so this also proves they were
never sent to the database), not in the lighttpd error log (where the programs' stderr goes),
and not in any file under the run's temporary directory (including PostgreSQL's data files and
WAL, lighttpd's upload buffers and any spool).
"""
import os
import re

from harness import Skip

RUN_LAST = True

CHUNK = 8 << 20


def _needles(h):
    needles = set()
    for ip in h.seen_ips:
        needles.add(ip)
    for ua in h.seen_uas:
        needles.add(ua)
        # The unique token alone catches a user agent stored truncated or re-encoded.
        for tok in re.findall(r"TallyE2E/[0-9a-f]+", ua):
            needles.add(tok)
    return sorted((n.encode() for n in needles if n), key=len, reverse=True)


def _scan(blob, needles, where, found):
    for n in needles:
        i = blob.find(n)
        if i >= 0:
            found.append("%r in %s (offset %d)" % (n.decode(), where, i))


def _scan_file(path, needles, where, found):
    longest = max(len(n) for n in needles)
    try:
        with open(path, "rb") as f:
            offset, tail = 0, b""
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                blob = tail + chunk
                for n in needles:
                    i = blob.find(n)
                    if i >= 0:
                        found.append("%r in %s (offset %d)" % (n.decode(), where, offset - len(tail) + i))
                tail = blob[-(longest - 1):] if longest > 1 else b""
                offset += len(chunk)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        pass


def test_no_raw_ip_or_user_agent_on_disk(h):
    needles = _needles(h)
    if not h.seen_ips or not h.seen_uas:
        raise Skip("no client address or user agent was used by the selected tests")
    found = []

    dump = h.pg_dump()
    # Positive control: the dump does hold the data the suite created.
    assert b"prop_e2e" in dump or not h._props, "pg_dump holds no test property: the audit would be vacuous"
    _scan(dump, needles, "pg_dump --data-only tally", found)
    if h.clickhouse:
        # The clickhouse events store: its data files are compressed, so its events are searched as text.
        _scan(h.clickhouse.dump(), needles, "ClickHouse events (SELECT *)", found)

    for name in ("pg/postgresql.log", "lighttpd-error.log", "lighttpd.out"):
        _scan_file(h.path(name), needles, name, found)

    files = 0
    for root, dirs, names in os.walk(h.tmp):
        for name in names:
            p = os.path.join(root, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            files += 1
            _scan_file(p, needles, os.path.relpath(p, h.tmp), found)
    assert files > 10, "only %d files under %s: the audit would be vacuous" % (files, h.tmp)

    if found:
        # De-duplicate and keep the message readable.
        uniq = sorted(set(found))
        raise AssertionError("raw client data on disk (%d hits): %s" % (len(uniq), "; ".join(uniq[:10])))
