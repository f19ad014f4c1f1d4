#!/usr/bin/env python3
"""Reporting benchmark (targets.md, "Reports"): report.fcgi behind lighttpd over the data set of
gen_events.py, each report against the best plain SQL over raw events that answers it (the query
ceiling), measured in the same run, with PostgreSQL durable (fsync and synchronous commit on).

    python3 tests/bench/report.py [--build DIR] [--scale 1.0] [--runs 15] [--ceiling-runs 5]
                                  [--snapshot DIR]

--scale 0.1 is a quick run (1.1M events); --snapshot DIR keeps the loaded database in DIR (about
5 GB at scale 1) and reuses it on the next run with the same --scale and --seed, topped up with
traffic up to now and brought up to the current schema (tally-migrate).

Figures:
  HTTP        median end-to-end latency of GET /v1/properties/{id}/<report> with the read key,
              on one keep-alive connection (http.client), --runs requests each, the reports
              taking turns; a static file from the same lighttpd is the HTTP floor
  raw SQL     median time of the best of a few plain SQL queries over raw `events` only (no
              visits, no rollups) that answer the same report, each run --ceiling-runs times by
              one psql over the same unix socket that report.fcgi uses, timed by psql's \\timing
              (send to last row received: planning, execution and the transfer of the result);
              visits are found with window functions (a gap of more than the session timeout
              starts a visit), with the server's default settings, as report.fcgi has them
  ratio       raw SQL / HTTP: how many times faster the report is than its ceiling
Also printed: the data set's load figures (gen_events.py): sessioniser, rollups, the rollup of one
day, and bytes per stored event. Prints figures; never fails on speed.
"""
import argparse
import datetime
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import gen_events  # noqa: E402
from harness import Harness, Property, _pg_bindir  # noqa: E402


class SnapshotHarness(Harness):
    """A harness whose database can be saved to, and started from, a copy of its data directory."""

    def __init__(self, *args, snapshot=None, reuse=False, **kw):
        super().__init__(*args, **kw)
        self.snapshot = snapshot
        self.reused = reuse

    def _start_pg_cluster(self):
        if not self.reused:
            return super()._start_pg_cluster()
        self.pg_bindir = _pg_bindir()
        os.makedirs(self.pg_sock)
        subprocess.run(["cp", "-a", os.path.join(self.snapshot, "data"), self.pg_data], check=True)
        if os.geteuid() == 0:
            shutil.chown(self.path("pg"), "postgres", "postgres")
            shutil.chown(self.pg_sock, "postgres", "postgres")
        with open(os.path.join(self.pg_data, "postgresql.conf"), "a") as f:   # the last setting wins
            f.write("\n# reused snapshot\nunix_socket_directories = '%s'\nport = %d\n" % (self.pg_sock, self.pg_port))
        self.start_db()
        self._apply_new_migrations()

    def _apply_new_migrations(self):
        """Applies the migrations written since the snapshot was saved (to the copy; the snapshot
        stays as it was). Only those it has not seen: one applied then edited is left as it was."""
        applied = {v for (v,) in self.sql("SELECT version FROM schema_migrations")}
        src = os.path.join(self.src, "sql", "migrations")
        new = self.path("new-migrations")
        os.makedirs(new)
        for name in sorted(os.listdir(src)):
            if name.endswith(".sql") and name[:-4] not in applied:
                shutil.copy(os.path.join(src, name), new)
        self._run(["sh", os.path.join(self.src, "sql", "tally-migrate"), new], "sql/tally-migrate",
                  env=self.pg_env("tally"))

    def save(self, meta):
        """Copies the stopped database to the snapshot directory, with meta (JSON)."""
        self.stop_db()
        data = os.path.join(self.snapshot, "data")
        if os.path.exists(data):
            shutil.rmtree(data)
        os.makedirs(self.snapshot, exist_ok=True)
        subprocess.run(["cp", "-a", self.pg_data, data], check=True)
        with open(os.path.join(self.snapshot, "meta.json"), "w") as f:
            json.dump(meta, f)
        self.start_db()


def raw_visits(pk, lo, hi, timeout, columns):
    """Raw events of [lo, hi) with each event's visit: `starts` is true on a visit's first event,
    `visit` numbers a visitor's visits. A visit ends after `timeout` seconds without an event, as
    the sessioniser decides. columns: more expressions to carry ("expr AS name")."""
    names = "".join(", " + c.split(" AS ")[-1] for c in columns)
    return ("SELECT visitor, ts, name, interactive%(names)s, starts, "
            "count(*) FILTER (WHERE starts) OVER (PARTITION BY visitor ORDER BY ts ROWS UNBOUNDED PRECEDING) AS visit "
            "FROM (SELECT visitor, ts, name, interactive%(cols)s, "
            "coalesce(ts - lag(ts) OVER (PARTITION BY visitor ORDER BY ts) > interval '%(t)d seconds', true) AS starts "
            "FROM events WHERE property_pk = %(pk)d AND ts >= '%(lo)s' AND ts < '%(hi)s') a"
            % dict(cols="".join(", " + c for c in columns), names=names, t=timeout, pk=pk, lo=lo, hi=hi))


def visit_figures(first_value=None):
    """Per visit: pageviews, interactive custom events, duration (and the first event's value)."""
    first = ", max(%s) FILTER (WHERE starts) AS value" % first_value if first_value else ""
    return ("SELECT visitor, visit, count(*) FILTER (WHERE name = 'pageview') AS pv, count(*) AS ev, "
            "count(*) FILTER (WHERE name <> 'pageview' AND interactive) AS inter, "
            "extract(epoch FROM max(ts) - min(ts)) AS dur, bool_or(starts AND visit = 1) AS first_visit%s" % first)


def ceilings(pk, today, timeout):
    """Candidate raw-SQL answers for each report; the fastest of each is its ceiling."""
    d30, d90 = today - datetime.timedelta(days=29), today - datetime.timedelta(days=89)
    lo30, lo90, hi = "%s 00:00+00" % d30, "%s 00:00+00" % d90, "%s 00:00+00" % (today + datetime.timedelta(days=1))
    window = "FROM events WHERE property_pk = %d AND ts >= '%s' AND ts < '%s'" % (pk, lo30, hi)

    overview = [
        # Visits by window functions, then the site's figures over the visits. A visitor hash lives
        # one day, so distinct hashes over the range = daily visitors added up (as reports count).
        "SELECT count(*) FILTER (WHERE first_visit) AS visitors, sum(pv) AS pageviews, sum(ev) AS events, "
        "count(*) AS sessions, count(*) FILTER (WHERE pv <= 1 AND inter = 0) AS bounces, "
        "round(sum(dur))::bigint AS duration FROM (%s FROM (%s) v GROUP BY visitor, visit) s"
        % (visit_figures(), raw_visits(pk, lo30, hi, timeout, [])),
    ]
    pages = [
        "SELECT path, count(*) AS pageviews, count(DISTINCT visitor) AS visitors %s AND name = 'pageview' "
        "GROUP BY path ORDER BY pageviews DESC, path COLLATE \"C\" LIMIT 50" % window,
        # Distinct visitors by a hashed (path, visitor) aggregate instead of sorting by path.
        "SELECT path, sum(n) AS pageviews, count(*) AS visitors FROM (SELECT path, visitor, count(*) AS n %s "
        "AND name = 'pageview' GROUP BY path, visitor) t GROUP BY path ORDER BY pageviews DESC, path COLLATE \"C\" "
        "LIMIT 50" % window,
    ]

    def by_visit_value(expr):
        # A visit's value is its first event's; its visits, visitors, pageviews, bounces, duration.
        return ("SELECT value, count(DISTINCT visitor) AS visitors, count(*) AS sessions, sum(pv) AS pageviews, "
                "count(*) FILTER (WHERE pv <= 1 AND inter = 0) AS bounces, round(sum(dur))::bigint AS duration "
                "FROM (%s FROM (%s) v GROUP BY visitor, visit) s WHERE value <> '' GROUP BY value "
                "ORDER BY visitors DESC, value COLLATE \"C\" LIMIT 50"
                % (visit_figures("e_value"), raw_visits(pk, lo30, hi, timeout, ["%s AS e_value" % expr])))

    sources = [by_visit_value("source")]
    campaigns = [by_visit_value("coalesce(nullif(campaign_id, ''), utm_campaign)")]
    days = ("SELECT d::date AS date, coalesce(x.pageviews, 0) AS pageviews, coalesce(x.visitors, 0) AS visitors "
            "FROM generate_series('%s'::date, '%s'::date, interval '1 day') AS d LEFT JOIN (%%s) x ON x.day = d::date "
            "ORDER BY 1" % (d90, today))
    w90 = "FROM events WHERE property_pk = %d AND ts >= '%s' AND ts < '%s'" % (pk, lo90, hi)
    metrics = [
        days % ("SELECT (ts AT TIME ZONE 'UTC')::date AS day, count(*) FILTER (WHERE name = 'pageview') AS pageviews, "
                "count(DISTINCT visitor) AS visitors %s GROUP BY 1" % w90),
        days % ("SELECT day, sum(n) AS pageviews, count(*) AS visitors FROM (SELECT (ts AT TIME ZONE 'UTC')::date "
                "AS day, visitor, count(*) FILTER (WHERE name = 'pageview') AS n %s GROUP BY 1, 2) t GROUP BY 1" % w90),
    ]
    # Realtime is read from raw events by report.fcgi too: its own statement is the ceiling.
    realtime = [
        "SELECT (SELECT count(DISTINCT visitor) FROM events WHERE property_pk = %(pk)d "
        "AND ts >= now() - interval '5 minutes' AND ts <= now() + interval '1 minute'), "
        "(SELECT coalesce(json_agg(coalesce(m.n, 0) ORDER BY g.ago DESC), '[]')::text "
        "FROM generate_series(0, 29) AS g(ago) LEFT JOIN (SELECT floor(extract(epoch FROM now() - ts) / 60)::int AS ago, "
        "count(*) AS n FROM events WHERE property_pk = %(pk)d AND name = 'pageview' "
        "AND ts > now() - interval '30 minutes' AND ts <= now() GROUP BY 1) m USING (ago)), "
        "(SELECT coalesce(json_agg(json_build_object('path', path, 'unique_visitors', v, 'pageviews', pv) "
        "ORDER BY v DESC, pv DESC, path COLLATE \"C\"), '[]')::text FROM (SELECT path, count(DISTINCT visitor) AS v, "
        "count(*) AS pv FROM events WHERE property_pk = %(pk)d AND name = 'pageview' "
        "AND ts > now() - interval '30 minutes' AND ts <= now() + interval '1 minute' "
        "GROUP BY path ORDER BY v DESC, pv DESC, path COLLATE \"C\" LIMIT 10) t)" % dict(pk=pk),
    ]
    return dict(overview=overview, pages=pages, sources=sources, campaigns=campaigns, metrics=metrics,
                realtime=realtime)


# (figure, path after /v1/properties/{id}/, target in ms, target text)
def reports(today):
    d90 = today - datetime.timedelta(days=89)
    return [
        ("overview", "overview?period=30d", 50, "<= 50 ms, >= 20x raw"),
        ("pages", "pages?period=30d&limit=50", 100, "<= 100 ms"),
        ("sources", "sources?period=30d&limit=50", 100, "<= 100 ms"),
        ("campaigns", "campaigns?period=30d&limit=50", 100, "<= 100 ms"),
        ("metrics", "metrics?interval=day&from=%s&to=%s" % (d90, today), 100, "<= 100 ms"),
        ("realtime", "realtime", 20, "<= 20 ms"),
    ]


class Client:
    """One keep-alive HTTP/1.1 connection (http.client reopens it if the server closes it)."""

    def __init__(self, port, headers):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = headers

    def get(self, path):
        t = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        r = self.conn.getresponse()
        body = r.read()
        return (time.perf_counter() - t) * 1000, r.status, body


def psql_times(h, sql, runs):
    """Milliseconds of `runs` executions of sql after one warm-up, by psql's \\timing."""
    script = "\\timing on\n\\o /dev/null\n" + (sql + ";\n") * (runs + 1)
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=script, env=h.pg_env("tally"),
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("ceiling query failed: %s\n%s" % (p.stderr.strip(), sql))
    times = gen_events.parse_timings(p.stdout)
    if len(times) != runs + 1:
        raise SystemExit("psql printed %d timings for %d runs: %r" % (len(times), runs + 1, p.stdout[-500:]))
    return times[1:]


def measure_ceilings(h, candidates, runs, log):
    """{figure: (median ms, index of the best candidate, its rows as dicts)}."""
    out = {}
    for name, sqls in candidates.items():
        best = None
        for i, sql in enumerate(sqls):
            med = statistics.median(psql_times(h, sql, runs))
            log("  raw SQL %-10s candidate %d: median %.1f ms" % (name, i + 1, med))
            if best is None or med < best[0]:
                best = (med, i)
        out[name] = (best[0], best[1], h.sql_dicts(sqls[best[1]]))
    return out


def measure_http(h, prop, report_list, runs, log):
    """{figure: (median ms, status, parsed body)} plus the static-file floor under "static"."""
    client = Client(h.http_port, {"Authorization": "Bearer " + prop.read_key})
    base = "/v1/properties/%s/" % prop.id
    results = {name: [] for name, *_ in report_list}
    bodies = {}
    for name, path, *_ in report_list:          # warm up: processes, connections, caches
        for _ in range(2):
            _, status, body = client.get(base + path)
        bodies[name] = (status, body)
    static = []
    for _ in range(runs):                        # the reports take turns, so noise spreads evenly
        static.append(client.get("/index.html")[0])
        for name, path, *_ in report_list:
            ms, status, body = client.get(base + path)
            results[name].append(ms)
            bodies[name] = (status, body)
    out = {"static": (statistics.median(static), 200, None)}
    for name, *_ in report_list:
        status, body = bodies[name]
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body[:300]
        out[name] = (statistics.median(results[name]), status, parsed)
        if status != 200:
            log("  HTTP %s answered %d: %r" % (name, status, body[:300]))
    return out


def compare_answers(http, raw, out):
    """Prints where report.fcgi and the raw SQL agree, as a check that both answer one question."""
    w = out.write
    o = http.get("overview")
    r = raw.get("overview")
    if o and o[1] == 200 and r:
        rv = r[2][0]
        sessions = rv["sessions"] or 1
        pairs = [("unique_visitors", rv["visitors"]), ("pageviews", rv["pageviews"]), ("events", rv["events"]),
                 ("sessions", rv["sessions"]), ("bounce_rate", round(100.0 * rv["bounces"] / sessions, 1)),
                 ("visit_duration", round(rv["duration"] / sessions)),
                 ("views_per_session", round(rv["pageviews"] / sessions, 2))]
        w("  overview, report vs raw SQL: %s\n" % ", ".join(
            "%s %s/%s" % (k, o[2].get(k), v) for k, v in pairs))
    for name, key, metric, raw_metric in (("pages", "path", "pageviews", "pageviews"),
                                          ("sources", "source", "unique_visitors", "visitors"),
                                          ("campaigns", "campaign", "unique_visitors", "visitors")):
        o, r = http.get(name), raw.get(name)
        if not (o and o[1] == 200 and r and isinstance(o[2], dict)):
            continue
        mine = [(row.get(key), row.get(metric)) for row in o[2].get("results", [])]
        theirs = [(row.get("path") if name == "pages" else row.get("value"), row.get(raw_metric)) for row in r[2]]
        same_keys = sum(1 for a, b in zip(mine, theirs) if a[0] == b[0])
        w("  %-9s top %d: %d in the same place; first rows report %s, raw %s\n" % (
            name, len(mine), same_keys, mine[:3], theirs[:3]))
    o, r = http.get("metrics"), raw.get("metrics")
    if o and o[1] == 200 and r and isinstance(o[2], dict):
        rows = o[2].get("results", [])
        pv = sum(x.get("pageviews", 0) for x in rows)
        uv = sum(x.get("unique_visitors", 0) for x in rows)
        w("  metrics   %d days: report pageviews %d, visitors %d; raw %d, %d\n" % (
            len(rows), pv, uv, sum(x["pageviews"] for x in r[2]), sum(x["visitors"] for x in r[2])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=None)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=15, help="HTTP requests per report")
    ap.add_argument("--ceiling-runs", type=int, default=5, help="runs of each raw-SQL candidate")
    ap.add_argument("--snapshot", default=None, help="directory to save the loaded database to / reuse it from")
    ap.add_argument("--keep", action="store_true", help="keep the harness's temporary directory")
    args = ap.parse_args()

    def log(msg):
        print("# " + msg, file=sys.stderr, flush=True)

    snapshot = os.path.abspath(args.snapshot) if args.snapshot else None
    meta = None
    if snapshot and os.path.exists(os.path.join(snapshot, "meta.json")):
        with open(os.path.join(snapshot, "meta.json")) as f:
            meta = json.load(f)
        if meta["scale"] != args.scale or meta["seed"] != args.seed:
            log("snapshot %s holds scale %g seed %d: generating anew" % (snapshot, meta["scale"], meta["seed"]))
            meta = None
    h = SnapshotHarness(args.build, durable=True, snapshot=snapshot, reuse=meta is not None)
    h.start()
    try:
        h.stop_lighttpd()   # track.fcgi sessionises in the background: not while the data set loads
        if h.reused:
            main_prop = Property(*meta["main"])
            others = [Property(*p) for p in meta["others"]]
            fig = meta["figures"]
            log("reusing the data set in %s (loaded %s)" % (snapshot, time.strftime(
                "%Y-%m-%d %H:%M UTC", time.gmtime(fig["now_ms"] / 1000))))
        else:
            main_prop, others = gen_events.create_properties(h, seed=args.seed)
            fig = gen_events.load(h, main_prop, others, scale=args.scale, seed=args.seed, log=log)
            if snapshot:
                log("saving the database to %s" % snapshot)
                h.save({"scale": args.scale, "seed": args.seed, "main": list(main_prop),
                        "others": [list(p) for p in others], "figures": fig})
        gen_events.top_up(h, main_prop, others, fig, log=log)
        if h.reused:   # this machine, this run: the rollup of one day again
            fig["rollup_day_seconds"] = [gen_events.timed_sql(h, "SELECT tally_rollup_day(%d, '%s')" % (
                main_prop.pk, fig["rollup_day"])) for _ in range(3)]

        today = datetime.datetime.utcfromtimestamp(time.time()).date()   # the main property is in UTC
        report_list = reports(today)
        timeout = h.sql_int("SELECT session_timeout FROM properties WHERE pk = %s", main_prop.pk)
        # The ceilings read the events table with every event in it, before the archive takes the
        # closed days: plain rows are the fastest raw SQL there is.
        log("raw SQL ceilings: %d runs of each candidate..." % args.ceiling_runs)
        candidates = ceilings(main_prop.pk, today, timeout)
        raw = measure_ceilings(h, candidates, args.ceiling_runs, log)
        if h.sql_value("SELECT to_regclass('events_archive')"):
            fig.update(gen_events.archive(h, main_prop, fig, log=log))
        fig.update(gen_events.disk_figures(h, fig["rows"]))

        h.start_lighttpd()
        have_report = os.access(os.path.join(h.cgibin, "report.fcgi"), os.X_OK)
        http_res = {}
        if have_report:
            log("HTTP: %d requests per report on one keep-alive connection..." % args.runs)
            http_res = measure_http(h, main_prop, report_list, args.runs, log)
        else:
            log("%s/report.fcgi is not built: measuring the raw-SQL ceilings only" % h.cgibin)

        settings = dict(h.sql("SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                              "('server_version', 'shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather')"))
        today_events = h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND ts >= %s", main_prop.pk, str(today))
        today_visits = h.sql_int("SELECT count(*) FROM sessions WHERE property_pk = %s AND started_at >= %s",
                                 main_prop.pk, str(today))
        print("Report benchmark (medians; PostgreSQL %s durable, shared_buffers %s, work_mem %s, jit %s, "
              "parallel workers %s; %d cores)" % (settings["server_version"].split()[0], settings["shared_buffers"],
                                                  settings["work_mem"], settings["jit"],
                                                  settings["max_parallel_workers_per_gather"], os.cpu_count()))
        tail = h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND ts >= %s "
                         "AND seq > (SELECT done_seq FROM sessionize_state)", main_prop.pk, str(today))
        live = h.sql_int("SELECT count(*) FROM live_days WHERE property_pk = %s AND dim = 'total' AND day = %s",
                         main_prop.pk, str(today)) if h.sql_value("SELECT to_regclass('live_days')") else 0
        print("  today so far (%s UTC): %d events and %d visits of the main property; %s (closed days come from "
              "rollups)" % (time.strftime("%H:%M", time.gmtime()), today_events, today_visits,
                            "live figures and the %d events after the sessioniser's mark" % tail if live
                            else "read raw by the reports"))
        if "static" in http_res:
            print("  HTTP floor: lighttpd static file %.2f ms" % http_res["static"][0])
        print("  %-10s %10s %10s %12s %9s  %s" % ("report", "HTTP ms", "status", "raw SQL ms", "raw/HTTP", "target"))
        for name, path, target_ms, target in report_list:
            ms, status, _ = http_res.get(name, (None, None, None))
            if status != 200:
                ms = None   # an error answer's time says nothing
            ceiling = raw[name][0]
            print("  %-10s %10s %10s %12.1f %9s  %s%s" % (
                name, "%.1f" % ms if ms is not None else "-", status or "-", ceiling,
                "%.1fx" % (ceiling / ms) if ms else "-", target,
                "" if len(candidates[name]) == 1 else " (raw: candidate %d of %d best)" % (
                    raw[name][1] + 1, len(candidates[name]))))
        print("  (raw SQL over raw events only, all in the events table (before the archive), timed by psql "
              "\\timing over the unix socket; HTTP end to end through lighttpd and report.fcgi, with closed days archived)")
        if http_res:
            compare_answers(http_res, raw, sys.stdout)
        gen_events.print_figures(fig)
    finally:
        h.stop(keep_logs=args.keep)


if __name__ == "__main__":
    main()
