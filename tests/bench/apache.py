#!/usr/bin/env python3
"""Single events under Apache against lighttpd, in the same run: which deployment carries a busy
site, and at what cost.

    python3 tests/bench/apache.py [--build DIR] [--runs 3] [--seconds 10]

Three ways of serving the same installed track.fcgi (make install into the run's directory), with
PostgreSQL durable (fsync and synchronous commit on) and the ingest settings of the shipped
conf/tally.conf:
  lighttpd          conf/lighttpd.conf: one track.fcgi process of ingest_threads threads
  apache fcgid      conf/apache.conf as shipped: mod_fcgid, one request per process at a time
  apache service    conf/apache.conf with TALLY_TRACK_SOCKET: mod_proxy_fcgi to track.fcgi run
                    as the installed tally-track.socket and .service run it
For each: one pageview per POST on 64 keep-alive connections (as tests/bench/ingest.py), and the
same server's static file (the tracker script), as its HTTP ceiling. The servers take turns in
each round; medians of --runs rounds. Timeouts are requests wrk gave up on after 2 s. Needs wrk
and Apache with mod_fcgid (scripts/install-deps installs them). Prints figures; never fails on
speed.
"""
import argparse
import os
import statistics
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "e2e"))
sys.path.insert(0, here)
from harness import Harness  # noqa: E402
import ingest  # noqa: E402
import test_webservers as web  # noqa: E402


def run_round(h, servers, prop, lua, seconds):
    got = {}
    for name, port in servers:
        ingest.write_lua(lua, prop.id, prop.write_key, 1)   # fresh event ids every run
        events = ingest.wrk("http://127.0.0.1:%d/v1/events" % port, seconds, 64, lua, latency=True)
        static = ingest.wrk("http://127.0.0.1:%d/t.js" % port, seconds, 64)
        got[name] = (events, static)
        print("  %-15s %7.0f events/s  p99 %7.1f ms  %s%s | static %7.0f req/s" % (
            name, events["rps"], events["p99_ms"] or 0, events["errors"] or "no socket errors",
            ", %d non-2xx" % events["non2xx"] if events["non2xx"] else "", static["rps"]), flush=True)
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(here, "..", "..", "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()

    h = Harness(args.build, durable=True, conf=ingest.conf_text(ingest.shipped_settings(web_src(), {})))
    h.start()
    try:
        prop = h.create_property()
        web._start_apache(h, "apache")
        web._start_apache(h, "apache-service", track_socket=web._start_track_service(h))
        servers = [("lighttpd", h.http_port), ("apache fcgid", web._state["apache"]["port"]),
                   ("apache service", web._state["apache-service"]["port"])]
        lua = h.path("single.lua")
        rounds = []
        for i in range(args.runs):
            print("round %d of %d (%d s per run)" % (i + 1, args.runs, args.seconds), flush=True)
            rounds.append(run_round(h, servers, prop, lua, args.seconds))
        print("\nmedians of %d rounds (64 connections, one pageview per POST):" % args.runs)
        print("| server | events/s | p99 | static file req/s | events / static | events / lighttpd's |")
        print("|---|---|---|---|---|---|")
        base = statistics.median(r["lighttpd"][0]["rps"] for r in rounds)
        for name, _ in servers:
            ev = statistics.median(r[name][0]["rps"] for r in rounds)
            p99 = statistics.median(r[name][0]["p99_ms"] or 0 for r in rounds)
            st = statistics.median(r[name][1]["rps"] for r in rounds)
            print("| %s | %.0f | %.1f ms | %.0f | %.0f%% | %.0f%% |" % (name, ev, p99, st, 100 * ev / st, 100 * ev / base))
    finally:
        web._stop_all()
        h.stop()


def web_src():
    return os.path.abspath(os.path.join(here, "..", ".."))


if __name__ == "__main__":
    main()
