#!/usr/bin/env python3
"""The events stores side by side: the reporting data set of gen_events.py loaded into PostgreSQL
(events, visits, rollups), copied into a two-shard ClickHouse cluster with
sql/tally-events-to-clickhouse, then the same report requests answered by report.fcgi on each
store, checked equal and timed.

    python3 tests/bench/clickhouse.py [--build DIR] [--scale 0.1] [--runs 3]

Prints the copy rate, disk per event on each store and, per report, the median time of report.fcgi
run as CGI with events_store = postgresql and = clickhouse (process start included on both
sides; the "startup" line is that cost alone). Never fails on speed: prints figures.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
os.environ["TALLY_EVENTS_STORE"] = "clickhouse"
from harness import Harness  # noqa: E402
import gen_events  # noqa: E402


def conf_for(h, store):
    path = h.path("tally-%s.conf" % store)
    with open(h.path("tally.conf")) as f:
        lines = [line for line in f if not line.startswith(("events_store", "log_level"))]
    with open(path, "w") as f:
        f.write("".join(lines) + "events_store = %s\nlog_level = warn\n" % store)
    return path


def cgi(h, conf, uri, key):
    path, _, query = uri.partition("?")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TALLY_CONF": conf, "REQUEST_METHOD": "GET",
           "REQUEST_URI": uri, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
           "HTTP_AUTHORIZATION": "Bearer " + key}
    t = time.time()
    out = subprocess.run([os.path.join(h.cgibin, "report.fcgi")], env=env, capture_output=True, timeout=600)
    elapsed = time.time() - t
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    return elapsed, head.split(b"\r\n")[0], body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=None)
    ap.add_argument("--scale", type=float, default=0.1, help="gen_events scale: 0.1 = 1.1M events")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    def log(msg):
        print("# " + msg, file=sys.stderr, flush=True)

    h = Harness(args.build, durable=True).start()
    try:
        main_prop, others = gen_events.create_properties(h)
        # gen_events loads PostgreSQL's events table: the harness's mirror of ClickHouse's events
        # must stay out of the way while it does.
        cluster, h.clickhouse, h.events_store = h.clickhouse, None, "postgresql"
        fig = gen_events.load(h, main_prop, others, scale=args.scale, log=log)
        h.clickhouse, h.events_store = cluster, "clickhouse"
        log("copying %d events into ClickHouse (sql/tally-events-to-clickhouse)..." % fig["rows"])
        urls = ["http://127.0.0.1:%d/" % p for p in cluster.http_ports]
        t = time.time()
        out = subprocess.run([os.path.join(h.src, "sql", "tally-events-to-clickhouse")] + urls, env=h.pg_env("tally"),
                             capture_output=True, text=True)
        copy_seconds = time.time() - t
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        ch_rows = int(cluster.query("SELECT count() FROM tally.events")[0][0])
        ch_bytes = sum(int(cluster.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'tally' "
                                         "AND table = 'events_local' AND active", shard=i)[0][0] or 0)
                       for i in range(len(urls)))
        print("events: %d in PostgreSQL, %d in ClickHouse" % (fig["rows"], ch_rows))
        print("copy into ClickHouse: %.1f s (%d events/s, with OPTIMIZE FINAL per month)" % (
            copy_seconds, fig["rows"] / copy_seconds))
        print("disk per event: PostgreSQL events %.0f B (table and indexes), ClickHouse %.0f B (compressed, both shards)"
              % (fig["events_bytes"] / fig["rows"], ch_bytes / ch_rows))

        day = lambda n: time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400 * n))
        full = "from=%s&to=%s" % (fig["first_day"], day(0))
        reports = ["overview?period=30d", "overview?%s" % full, "pages?period=30d", "sources?period=30d",
                   "countries?period=7d", "metrics?interval=day&%s&metrics=pageviews,unique_visitors,sessions,bounce_rate" % full,
                   "pages?period=30d&filters=source==Google", "metrics?group_by=source,country&period=30d",
                   "goals?period=30d", "entry-pages?period=7d", "funnel?period=7d&steps=path==/;path==/pricing",
                   "realtime"]
        confs = {s: conf_for(h, s) for s in ("postgresql", "clickhouse")}
        base = "/v1/properties/%s/" % main_prop.id
        startup = statistics.median(cgi(h, confs["postgresql"], base + "nonsense", main_prop.read_key)[0]
                                    for _ in range(5))
        print("startup (report.fcgi as CGI answering a 404): %.0f ms" % (startup * 1000))
        print("%-70s %12s %12s  same" % ("report (main property, %d events)" % fig["main_events"], "postgresql",
                                         "clickhouse"))
        for r in reports:
            times, answers = {}, {}
            for store in ("postgresql", "clickhouse"):
                runs = [cgi(h, confs[store], base + r, main_prop.read_key) for _ in range(args.runs)]
                times[store] = statistics.median(x[0] for x in runs)
                status, body = runs[-1][1], runs[-1][2]
                try:
                    answers[store] = (status, json.loads(body))
                except ValueError:
                    answers[store] = (status, body)
            same = "yes" if answers["postgresql"] == answers["clickhouse"] else "NO"
            if r == "realtime":
                same = "n/a"   # minutes go by between the runs
            print("%-70s %9.0f ms %9.0f ms  %s" % (r, times["postgresql"] * 1000, times["clickhouse"] * 1000, same))
    finally:
        h.stop()


if __name__ == "__main__":
    main()
