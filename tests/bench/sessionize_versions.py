#!/usr/bin/env python3
"""The sessioniser of two or more migrations side by side: whether they build the same visits and
live figures, and the CPU a pass takes each.

    python3 tests/bench/sessionize_versions.py [--build DIR] [--attributes filled|sparse]
        [--preload 200000] [--events 25000] [--rounds 16] [MIGRATION ...]

MIGRATION names files of sql/migrations that define tally_sessionize (default: 017's and 021's).

First, the same: each function builds the visits of the same six batches of 3,000 events (late
arrivals, explicit visit ids, yesterday's hashes among them) from empty tables, and the md5 of
`sessions` and of each live table must agree; the script exits with 1 if not.

Then the cost: --preload events of the last three hours (20,000 visitors, 5,000 paths, Zipf-like)
are stored and sessionised, and each round stores --events more of the last five seconds and runs
one pass with the next function in turn. A pass's cost is the CPU time of its PostgreSQL backend
(utime + stime in /proc), which moves less than its wall time with the machine. --attributes
filled gives every event what the tracker sends (a referrer, three UTM fields, place, browser and
OS versions); sparse only the few columns of tests/bench/sessionize.py. Prints medians; never
fails on speed.
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
from harness import Harness  # noqa: E402
from sessionize import EVENTS as SPARSE, events_sql, function_text, install, preload, take_turns  # noqa: E402

FILLED = events_sql("/blog/2026/a-post-about-things-", {
    "hostname": "example.com", "referrer": "https://news.ycombinator.com/item?id=4242", "source": "Hacker News",
    "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "winter-sale-2026", "country": "DE",
    "region": "Berlin", "city": "Berlin", "device": "desktop", "browser": "Chrome", "browser_version": "120.0",
    "os": "Linux", "os_version": "6.1"})

# Batches for the sameness check: fixed times, so that both functions see the same events.
MIXED = ("SELECT setseed(0.42); "
         "INSERT INTO events (property_pk, ts, name, visitor, prev_visitor, session, hostname, path, referrer, "
         "source, utm_source, country, device, browser, os, interactive) "
         "SELECT %(pk)d, timestamptz '2026-12-02 12:00+00' - interval '%(hours)d hours' - random() * interval '2 hours', "
         "CASE WHEN random() < 0.1 THEN 'click' ELSE 'pageview' END, v, CASE WHEN random() < 0.3 THEN v + 1 END, "
         "CASE WHEN random() < 0.05 THEN (random() * 50)::bigint END, 'example.com', '/p/' || floor(50 * random())::int, "
         "'https://r' || (random() * 5)::int || '.example/', 'S' || (random() * 3)::int, "
         "CASE WHEN random() < 0.5 THEN 'u' || (random() * 3)::int ELSE '' END, 'DE', 'desktop', "
         "'B' || (random() * 3)::int, 'Linux', random() < 0.5 "
         "FROM (SELECT (random() * 300)::bigint AS v FROM generate_series(1, 3000)) g")

LIVE_TABLES = ("sessions", "live_days", "live_visitors", "live_page_visitors")
# The visits and live figures as one row: an md5 of each table's rows, and the number of visits.
FINGERPRINT = "SELECT " + ", ".join(
    "(SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM %s t)" % table for table in LIVE_TABLES
) + ", (SELECT count(*) FROM sessions)"


def empty_tables(h):
    """No events, visits, live figures or rollup marks, and the sessioniser back at the start."""
    h.sql("TRUNCATE events, event_ids, rollup_dirty, " + ", ".join(LIVE_TABLES))
    h.sql("UPDATE sessionize_state SET done_seq = 0")


def fingerprint_after_batches(h, pk, function):
    """The visits and live figures that `function` builds from the MIXED batches, from empty tables."""
    empty_tables(h)
    install(h, function)
    for hours in range(6, 0, -1):
        h.sql(MIXED % dict(pk=pk, hours=hours))
        h.sql("SELECT tally_summarize_new_events()")
        h.sql("SELECT tally_sessionize(100000)")
    return h.sql(FINGERPRINT)[0]


def pass_cpu_ms(h):
    """CPU milliseconds of the backend that runs one tally_sessionize pass."""
    cpu_line = "\\! awk '{print \"cpu\", $14 + $15}' /proc/$TALLY_BACKEND/stat\n"
    script = ("SELECT pg_backend_pid() AS pid \\gset\n\\setenv TALLY_BACKEND :pid\n"
              + cpu_line + "SELECT tally_sessionize(100000);\n" + cpu_line)
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=script, env=h.pg_env("tally"),
                         capture_output=True, text=True, check=True).stdout
    ticks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("cpu ")]
    return (ticks[1] - ticks[0]) * 1000.0 / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=None)
    ap.add_argument("--attributes", choices=("filled", "sparse"), default="filled")
    ap.add_argument("--preload", type=int, default=200000, help="events of the last three hours, sessionised first")
    ap.add_argument("--events", type=int, default=25000, help="new events per pass")
    ap.add_argument("--rounds", type=int, default=16, help="passes in all (the functions take turns)")
    ap.add_argument("migrations", nargs="*", default=["017_live_figures.sql", "021_sessionize_narrow_rows.sql"])
    args = ap.parse_args()
    events = FILLED if args.attributes == "filled" else SPARSE

    h = Harness(args.build, durable=True, conf="sessionize_interval = 0\n")
    h.start()
    try:
        h.stop_lighttpd()
        pk = h.create_property().pk
        functions = {m: function_text(h, m) for m in args.migrations}
        prints = {m: fingerprint_after_batches(h, pk, f) for m, f in functions.items()}
        same = len(set(prints.values())) == 1
        print("Same visits and live figures from 18,000 mixed events: %s (%s visits)"
              % ("yes" if same else "NO", ", ".join("%s %s" % (m[:3], p[-1]) for m, p in prints.items())))

        empty_tables(h)
        install(h, functions[args.migrations[-1]])
        preload(h, pk, events, ago=3600 * 3, spread=20000, n=args.preload)
        cpu = take_turns(h, functions, args.rounds,
                         lambda r: h.sql(events % dict(pk=pk, ago=5, lo=0, spread=20000, n=args.events)),
                         lambda: pass_cpu_ms(h))
        print("Backend CPU of a pass of %d new events after %d (%s attributes; medians of %d passes each; %d cores)"
              % (args.events, args.preload, args.attributes, args.rounds // len(functions), os.cpu_count()))
        for m in args.migrations:
            print("  %-36s %7.0f ms  %5.1f us/event  (passes: %s)" % (
                m, statistics.median(cpu[m]), statistics.median(cpu[m]) * 1000 / args.events,
                ", ".join("%.0f" % t for t in cpu[m])))
        sys.exit(0 if same else 1)
    finally:
        h.stop()


if __name__ == "__main__":
    main()
