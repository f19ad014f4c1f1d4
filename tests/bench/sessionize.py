#!/usr/bin/env python3
"""What the live figures (migration 017) cost the sessioniser: run time of tally_sessionize over
the same kind of new events with three functions taking turns, on a durable PostgreSQL with a day
under way already loaded: 015's (visits only), 015's with 017's two fixes (no JIT; yesterday's
hash of a person found in a hashed set), and 017's (the same, plus the live figures).

    python3 tests/bench/sessionize.py [--build DIR] [--preload 100000] [--events 2000] [--rounds 30]

Each round stores --events new pageviews (5% custom events) of a moving pool of visitors over
5,000 paths, as about five seconds of a busy site, then times one tally_sessionize call by psql's
\\timing. Prints the median run time and time per event of each function, and the difference.
Prints figures; never fails on speed.
"""
import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import gen_events  # noqa: E402
from harness import Harness  # noqa: E402

def events_sql(path_prefix, attributes):
    """An INSERT of n events of visitors lo .. lo + spread at up to `ago` seconds before now (5%
    custom events), paths Zipf-like over 5,000 under path_prefix, each with the same `attributes`
    (column: text)."""
    return ("INSERT INTO events (property_pk, ts, name, visitor, path, " + ", ".join(attributes) + ") "
            "SELECT %(pk)d, now() - random() * interval '%(ago)d seconds', "
            "CASE WHEN random() < 0.05 THEN 'click' ELSE 'pageview' END, %(lo)d + (random() * %(spread)d)::bigint, "
            "'" + path_prefix + "' || floor(5000 * random() * random() * random())::int, "
            + ", ".join("'%s'" % v for v in attributes.values()) + " FROM generate_series(1, %(n)d)")


EVENTS = events_sql("/p/", {"hostname": "example.com", "source": "Direct / None", "country": "DE",
                            "device": "desktop", "browser": "Chrome", "os": "Linux"})


def function_text(h, path):
    """The CREATE OR REPLACE FUNCTION tally_sessionize ... statement of a migration file."""
    with open(os.path.join(h.src, "sql", "migrations", path)) as f:
        text = f.read()
    start = text.index("CREATE OR REPLACE FUNCTION tally_sessionize")
    end = text.index("END $$;", start) + len("END $$;")
    return text[start:end]


def with_fixes(old, new):
    """015's function with 017's changes that are not the live figures: JIT off, and its persons CTE."""
    def persons(text):
        start = text.index("    persons AS (")
        return text[start:text.index("    keyed AS (", start)]
    return old.replace(persons(old), persons(new)).replace(
        "SET enable_seqscan = off AS", "SET enable_seqscan = off SET jit = off AS")


def install(h, sql):
    h._run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], "install tally_sessionize", env=h.pg_env("tally"))


def preload(h, pk, events, ago, spread, n):
    """The day so far: n events (an `events` INSERT) of up to `ago` seconds back, put in visits by the
    function installed, then VACUUM ANALYZE."""
    h.sql(events % dict(pk=pk, ago=ago, lo=0, spread=spread, n=n))
    h.sql("SELECT tally_summarize_new_events()")
    h.sessionize()
    h.sql("VACUUM ANALYZE")


def take_turns(h, functions, rounds, store_events, measure):
    """`rounds` passes, the functions ({name: CREATE FUNCTION text}) taking turns: each round installs
    the next one, stores new events (store_events(round)) and measures its pass (measure()).
    Returns {name: [measures]}."""
    names = list(functions)
    measures = {name: [] for name in names}
    for r in range(rounds):
        name = names[r % len(names)]
        install(h, functions[name])
        store_events(r)
        h.sql("SELECT tally_summarize_new_events()")
        measures[name].append(measure())
    return measures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=None)
    ap.add_argument("--preload", type=int, default=100000, help="events of today stored and sessionised first")
    ap.add_argument("--events", type=int, default=2000, help="new events per round")
    ap.add_argument("--rounds", type=int, default=30, help="rounds (the functions take turns)")
    args = ap.parse_args()

    h = Harness(args.build, durable=True, conf="sessionize_interval = 0\n")
    h.start()
    try:
        h.stop_lighttpd()
        pk = h.create_property().pk
        old, new = function_text(h, "015_sessions_across_midnight.sql"), function_text(h, "017_live_figures.sql")
        versions = {"015 (visits)": old, "015 + fixes": with_fixes(old, new), "017 (visits + live)": new}
        install(h, versions["017 (visits + live)"])
        preload(h, pk, EVENTS, ago=3600 * 10, spread=40000, n=args.preload)
        times = take_turns(
            h, versions, args.rounds,
            lambda r: h.sql(EVENTS % dict(pk=pk, ago=5, lo=30000 + 300 * r, spread=1500, n=args.events)),
            lambda: gen_events.timed_sql(h, "SELECT tally_sessionize(100000)") * 1000)
        names = list(versions)
        install(h, versions["017 (visits + live)"])
        print("Sessioniser run time, %d new events a run after %d of the day (medians of %d runs each; %d cores)"
              % (args.events, args.preload, args.rounds // len(names), os.cpu_count()))
        med = {}
        for name in names:
            med[name] = statistics.median(times[name])
            print("  %-20s %8.1f ms a run  %6.1f us/event  (runs: %s)" % (
                name, med[name], med[name] * 1000 / args.events, ", ".join("%.0f" % t for t in times[name])))
        extra = med[names[2]] - med[names[1]]
        print("  live figures cost   %8.1f ms a run  %6.1f us/event  (017 less 015 + fixes)" % (
            extra, extra * 1000 / args.events))
        print("  live rows: %d days, %d visitors, %d page visitors" % tuple(int(x) for x in h.sql(
            "SELECT (SELECT count(*) FROM live_days WHERE dim = 'total'), (SELECT count(*) FROM live_visitors), "
            "(SELECT count(*) FROM live_page_visitors)")[0]))
    finally:
        h.stop()


if __name__ == "__main__":
    main()
