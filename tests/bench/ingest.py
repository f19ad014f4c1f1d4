#!/usr/bin/env python3
"""Ingest benchmark (targets.md, "Ingest"): track.fcgi behind lighttpd against ceilings measured
in the same run, with PostgreSQL durable (fsync and synchronous commit on).

    python3 tests/bench/ingest.py [--build DIR] [--runs 3] [--seconds 10] [--sessionize-interval N]

Figures (medians of --runs runs):
  HTTP ceiling      lighttpd answering a tiny static file, 64 keep-alive connections
  FastCGI ceilings  the same lighttpd in front of a FastCGI program that answers the same POST
                    without doing anything, written two ways:
                    - threads (tests/bench/fastcgi_ceiling.c): as many threads as track.fcgi has
                      requests in flight, each waiting in accept() through libfcgi, as track.fcgi
                      was served until its event loop: no program of that design goes faster
                    - event loop (tests/bench/fastcgi_ceiling_loop.c): one thread waiting in epoll
                      for all connections, as track.fcgi does: no FastCGI program behind lighttpd
                      goes faster
  single events     one pageview per POST, 64 keep-alive connections   -> % of both ceilings
  p99 latency       single events throttled to 50% of the measured rate (the pause between a
                    connection's requests calibrated so), once the sessioniser has caught up
                    with the runs before: the steady state at that rate. The median of --runs
                    runs, each run's p99 printed too: one run's tail moves by a third from run
                    to run
  storage ceiling   COPY FROM STDIN of the same rows into the same table and indexes
  batched events    100 events per POST                                -> % of storage ceiling
  memory            resident size of each of this run's track.fcgi processes after everything above:
                    as the last batch ends, and at rest 2 s later (the idle trim runs every second)
  CPU per event     CPU time of track.fcgi, PostgreSQL (all its processes, the sessioniser's work
                    included) and lighttpd during the single-event runs, per event
  context switches  per request, of every thread of each no-op program (FastCGI ceiling runs) and
                    of track.fcgi (single-event runs): each is a sleep and a wake-up, which on a
                    virtual machine can cost more than the request's own work
Also prints the load average before and after: other work on the machine lowers every figure
(the ratios less so). --sessionize-interval 0 leaves visits to cron, to see the ingest path alone.
track.fcgi runs with the ingest settings of the shipped conf/tally.conf (SHIPPED_SETTINGS) and
lighttpd with conf/lighttpd.conf, as installed.
Needs wrk (Debian package wrk). Prints figures; never fails on speed.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Harness, HarnessError, free_port, wait_for_lighttpd  # noqa: E402

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36")

LUA = r'''
local nonce = "%(nonce)s"
local batch = %(batch)d
local pause_ms = %(pause_ms)d
local counter = 0
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) math.randomseed(os.time() + (tid or 0) * 7919) end
function delay() return pause_ms end
local function event()
  counter = counter + 1
  return string.format('{"event_id":"%%s-%%d-%%d","type":"pageview","context":{"page":'
    .. '{"url":"https://example.com/p/%%d?utm_source=news","referrer":"https://www.google.com/"},'
    .. '"screen":{"width":1440}}}', nonce, tid or 0, counter, math.random(1, 5000))
end
function request()
  local events = {}
  for i = 1, batch do events[i] = event() end
  local body = '{"property_id":"%(prop)s","events":[' .. table.concat(events, ",") .. ']}'
  -- A pool of 20,000 visitors: addresses from the documentation ranges (only a header here).
  local v = math.random(0, 19999)
  local ip = string.format("198.51.%%d.%%d", v %% 200, 1 + math.floor(v / 200) %% 250)
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "text/plain",
    ["Authorization"] = "Bearer %(key)s", ["X-Forwarded-For"] = ip,
    ["User-Agent"] = "%(ua)s"}, body)
end
'''


# The settings of conf/tally.conf that shape ingest; the test harness's own tally.conf has none.
SHIPPED_SETTINGS = ("ingest_threads", "sessionize_interval", "rate_limit_key", "rate_limit_address")


def shipped_settings(src, overrides):
    """The ingest settings of the shipped conf/tally.conf, with overrides."""
    found = {}
    with open(os.path.join(src, "conf", "tally.conf")) as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and key.strip() in SHIPPED_SETTINGS:
                found[key.strip()] = value.strip()
    found.update(overrides)
    return found


def conf_text(settings):
    """tally.conf lines for the settings."""
    return "".join("%s = %s\n" % kv for kv in sorted(settings.items()))


def wrk(url, seconds, connections, script=None, latency=False):
    argv = ["wrk", "-t%d" % min(2, connections), "-c%d" % connections, "-d%ds" % seconds]
    if latency:
        argv.append("--latency")
    if script:
        argv += ["-s", script]
    done = subprocess.run(argv + [url], capture_output=True, text=True, check=True)
    if "error" in done.stderr.lower():
        raise SystemExit("wrk: %s" % done.stderr.strip())
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p99 = None
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if m:
        p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    return {"rps": rps, "requests": requests, "non2xx": int(bad.group(1)) if bad else 0,
            "errors": errors.group(1) if errors else "", "p99_ms": p99}


def write_lua(path, prop, key, batch, pause_ms=0):
    with open(path, "w") as f:
        f.write(LUA % dict(nonce=os.urandom(6).hex(), batch=batch, pause_ms=pause_ms, prop=prop, key=key, ua=UA))


def wait_for_sessioniser(h, limit=300):
    """Seconds until track.fcgi's sessioniser has grouped every event stored so far into visits."""
    start = time.time()
    while time.time() - start < limit:
        if h.sql_int("SELECT ((SELECT done_seq FROM sessionize_state) >= "
                     "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq))::int") == 1:
            return time.time() - start
        time.sleep(0.5)
    raise SystemExit("the sessioniser did not catch up within %d s" % limit)


def calibrate_pause(base, prop, path, rate):
    """The pause (ms) between a connection's requests that brings 64 connections to `rate` req/s:
    a request's own time adds to the pause, so the first guess (64 / rate) is measured and
    corrected by the time each cycle took beyond it."""
    pause_ms = max(1, int(64 / rate * 1000))
    for _ in range(2):
        write_lua(path, prop.id, prop.write_key, 1, pause_ms)
        got = max(1.0, wrk(base + "/v1/events", 3, 64, path)["rps"])
        extra_ms = 64 / got * 1000 - pause_ms     # a cycle's time beyond the pause
        pause_ms = max(1, int(round(64 / rate * 1000 - extra_ms)))
    return pause_ms


def median(runs, field="rps"):
    return statistics.median(r[field] for r in runs)


def copy_ceiling(h, pk, rows):
    """Rows/s of COPY FROM STDIN of the rows ingest stores, into events and its indexes."""
    lines = []
    base = int(time.time() * 1000)
    for i in range(rows):
        ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime((base - i) / 1000.0)) + "+00"
        lines.append("\t".join([str(pk), ts, "copy-%d" % i, "pageview", str(i % 20000), str(i % 20000),
                                "example.com", "/p/%d" % (i % 5000), "utm_source=news", "", "https://www.google.com/",
                                "news", "news", "", "", "", "", "", "", "", "", "desktop", "Chrome", "120",
                                "Windows", "10", "1440", "\\N", "t", "\\N", "\\N", "\\N"]))
    data = ("\n".join(lines) + "\n").encode()
    cols = ("property_pk, ts, event_id, name, visitor, session, hostname, path, query, title, referrer, source, "
            "utm_source, utm_medium, utm_campaign, utm_term, utm_content, campaign_id, country, region, city, "
            "device, browser, browser_version, os, os_version, screen_width, user_id_hash, interactive, "
            "revenue_amount, revenue_currency, props")
    start = time.time()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "COPY events (%s) FROM STDIN" % cols],
                   input=data, env=h.pg_env("tally"), check=True, stdout=subprocess.DEVNULL)
    return rows / (time.time() - start)


MEMORY_AFTER_EVENTS = 1000000


def stored_events(h, prop):
    """Events stored through track.fcgi (not the storage ceiling's COPYed rows)."""
    return h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND event_id NOT LIKE 'copy-%%'", prop.pk)


def _stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid):
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and (_stat(int(p)) or [None, None])[1] == str(pid)]


def _cpu_seconds(pid):
    f = _stat(pid)
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK") if f else 0.0


def track_pids(h):
    """This run's track.fcgi processes (children of its lighttpd)."""
    program = os.path.join(h.cgibin, "track.fcgi")
    pids = []
    for pid in _children(h.lighttpd.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[0] == program.encode():
                    pids.append(pid)
        except OSError:
            continue
    return pids


def cpu_snapshot(h):
    """CPU seconds used so far by this run's track.fcgi, PostgreSQL and lighttpd processes."""
    with open(os.path.join(h.pg_data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    return {"track.fcgi": sum(_cpu_seconds(p) for p in track_pids(h)),
            "PostgreSQL": sum(_cpu_seconds(p) for p in [postmaster] + _children(postmaster)),
            "lighttpd": _cpu_seconds(h.lighttpd.pid)}


def context_switches(pids):
    """Context switches so far of every thread of these processes: voluntary (a thread went to
    sleep: waiting in accept(), for a commit, for the database) and involuntary (preempted)."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    found = re.findall(r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", f.read(), re.M)
                total += sum(int(n) for n in found)
            except OSError:
                continue
    return total


def switches_per_request(pids, run):
    """Runs `run` (a wrk call); returns its result with the processes' context switches per request."""
    before = context_switches(pids)
    result = run()
    result["switches"] = (context_switches(pids) - before) / max(1, result["requests"])
    return result


def track_rss_kb(h):
    sizes = []
    for pid in track_pids(h):
        try:
            with open("/proc/%d/status" % pid) as f:
                sizes.append(int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)))
        except (OSError, AttributeError):
            continue
    return sizes


def track_max_procs(src):
    """The number of track.fcgi processes conf/lighttpd.conf asks lighttpd for."""
    with open(os.path.join(src, "conf", "lighttpd.conf")) as f:
        return int(re.search(r'"max-procs"\s*=>\s*(\d+)', f.read()).group(1))


def start_fastcgi_ceiling(h, src, tmp, threads, name="fastcgi-ceiling"):
    """Another lighttpd, configured like the harness's, in front of the no-op FastCGI program
    `name` (tests/bench/). Returns (base URL, process)."""
    program = os.path.join(h.build, "tests", "bench", name)
    if not os.access(program, os.X_OK):
        raise SystemExit("%s is missing: build first (scripts/build)" % program)
    www = os.path.join(tmp, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("<!doctype html><title>ceiling</title>\n")
    port = free_port()
    conf = os.path.join(tmp, "%s-lighttpd.conf" % name)
    log = os.path.join(tmp, "%s-lighttpd.log" % name)
    with open(conf, "w") as f:
        f.write("""server.port = %d
server.bind = "127.0.0.1"
server.document-root = "%s"
server.errorlog = "%s"
server.max-request-size = 4096
server.modules = ( "mod_indexfile", "mod_fastcgi" )
fastcgi.server = ( "/v1/events" => ((
    "bin-path" => "%s", "socket" => "%s/%s.sock", "check-local" => "disable",
    "max-procs" => %d, "bin-environment" => ( "THREADS" => "%s" ) )) )
""" % (port, www, log, program, tmp, name, track_max_procs(src), threads))
    proc = subprocess.Popen(["lighttpd", "-D", "-f", conf], stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_lighttpd(proc, port, log)
    except HarnessError:
        proc.kill()
        raise
    return "http://127.0.0.1:%d" % port, proc


def stop_fastcgi_ceiling(proc):
    os.killpg(proc.pid, signal.SIGTERM)   # lighttpd stops the FastCGI processes it started
    proc.wait(timeout=20)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--sessionize-interval", type=int, default=None,
                    help="tally.conf sessionize_interval (default: tally.conf's); 0 leaves visits to cron")
    args = ap.parse_args()

    load_before = load_average()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    settings = shipped_settings(src, {} if args.sessionize_interval is None
                                else {"sessionize_interval": str(args.sessionize_interval)})
    h = Harness(args.build, durable=True, conf=conf_text(settings)).start()
    try:
        prop = h.create_property(domains=["example.com"])
        base = "http://127.0.0.1:%d" % h.http_port
        tmp = tempfile.mkdtemp(prefix="tally-bench-")
        single, batched, slow = (os.path.join(tmp, n) for n in ("single.lua", "batch.lua", "slow.lua"))
        write_lua(single, prop.id, prop.write_key, 1)
        write_lua(batched, prop.id, prop.write_key, 100)
        wrk(base + "/v1/events", 2, 8, single)          # warm up processes and caches
        ceiling_base, ceiling_proc = start_fastcgi_ceiling(h, src, tmp, settings.get("ingest_threads", "16"))
        loop_base, loop_proc = start_fastcgi_ceiling(h, src, tmp, "1", "fastcgi-ceiling-loop")

        results = {"static": [], "fastcgi": [], "loop": [], "single": [], "batch": []}
        cpu = dict.fromkeys(("track.fcgi", "PostgreSQL", "lighttpd"), 0.0)
        for _ in range(args.runs):
            results["static"].append(wrk(base + "/index.html", args.seconds, 64))
            results["fastcgi"].append(switches_per_request(_children(ceiling_proc.pid), lambda: wrk(
                ceiling_base + "/v1/events", args.seconds, 64, single)))
            results["loop"].append(switches_per_request(_children(loop_proc.pid), lambda: wrk(
                loop_base + "/v1/events", args.seconds, 64, single)))
            write_lua(single, prop.id, prop.write_key, 1)   # fresh event ids every run
            before = cpu_snapshot(h)
            results["single"].append(switches_per_request(track_pids(h), lambda: wrk(
                base + "/v1/events", args.seconds, 64, single)))
            after = cpu_snapshot(h)
            for k in cpu:
                cpu[k] += after[k] - before[k]
        stop_fastcgi_ceiling(ceiling_proc)
        stop_fastcgi_ceiling(loop_proc)
        single_events = sum(r["rps"] for r in results["single"]) * args.seconds
        ceiling = median(results["static"])
        fastcgi = median(results["fastcgi"])
        loop = median(results["loop"])
        rate = median(results["single"])
        caught_up = wait_for_sessioniser(h) if settings.get("sessionize_interval", "5") != "0" else None
        pause_ms = calibrate_pause(base, prop, slow, rate / 2)
        lats = []
        for _ in range(args.runs):
            write_lua(slow, prop.id, prop.write_key, 1, pause_ms)   # fresh event ids every run
            lats.append(wrk(base + "/v1/events", args.seconds, 64, slow, latency=True))
        p99s = sorted(r["p99_ms"] or -1 for r in lats)

        copy_rates = [copy_ceiling(h, prop.pk, 100000) for _ in range(args.runs)]
        for _ in range(args.runs):
            write_lua(batched, prop.id, prop.write_key, 100)
            results["batch"].append(wrk(base + "/v1/events", args.seconds, 8, batched))
        storage = statistics.median(copy_rates)
        batch_rate = median(results["batch"]) * 100
        rss_busy = track_rss_kb(h)   # as the last batch ends, before the events are counted
        stored = stored_events(h, prop)
        # The memory target holds after a million events (targets.md): on a slower machine the runs
        # above store fewer, and more batches follow until the process has taken that many.
        topup = []
        while stored < MEMORY_AFTER_EVENTS:
            write_lua(batched, prop.id, prop.write_key, 100)
            seconds = min(60, 2 + int((MEMORY_AFTER_EVENTS - stored) / max(batch_rate, 1000)))
            topup.append(wrk(base + "/v1/events", seconds, 8, batched))
            rss_busy = track_rss_kb(h)
            stored = stored_events(h, prop)
        time.sleep(2)
        rss = track_rss_kb(h)
        bad = sum(r["non2xx"] for k in ("single", "batch") for r in results[k]) + sum(r["non2xx"] for r in lats + topup)

        print("Ingest benchmark (medians of %d runs x %ds; PostgreSQL durable; %d cores; %d track.fcgi; %s)" % (
            args.runs, args.seconds, os.cpu_count(), len(track_pids(h)),
            ", ".join("%s %s" % kv for kv in sorted(settings.items()))))
        print("  load average before / after                     %s / %s" % (load_before, load_average()))
        print("  HTTP ceiling (lighttpd static file, 64 conns)   %9.0f req/s" % ceiling)
        print("  FastCGI ceiling, threads (no-op, libfcgi)       %9.0f req/s    = %.0f%% of HTTP ceiling" % (
            fastcgi, 100 * fastcgi / ceiling))
        print("  FastCGI ceiling, event loop (no-op, epoll)      %9.0f req/s    = %.0f%% of HTTP ceiling" % (
            loop, 100 * loop / ceiling))
        print("  single-event POSTs (64 conns)                   %9.0f events/s  = %.0f%% of HTTP ceiling, %.0f%% / %.0f%% of FastCGI threads / loop" % (
            rate, 100 * rate / ceiling, 100 * rate / fastcgi, 100 * rate / loop))
        print("  CPU per single event                            %s" % ", ".join(
            "%s %.0f us" % (k, v * 1e6 / single_events) for k, v in cpu.items()))
        print("  context switches per request                    no-op threads %.2f, no-op loop %.2f, track.fcgi %.2f" % (
            median(results["fastcgi"], "switches"), median(results["loop"], "switches"),
            median(results["single"], "switches")))
        print("  p99 latency at %5.0f events/s (50%%)             %9.2f ms   (runs %s ms at %.0f req/s; %s)" % (
            rate / 2, statistics.median(p99s), " / ".join("%.1f" % p for p in p99s), median(lats),
            "sessioniser off" if caught_up is None else "after %.0f s for the sessioniser to catch up" % caught_up))
        print("  storage ceiling (COPY FROM STDIN)               %9.0f rows/s" % storage)
        print("  batched POSTs (100 events, 8 conns)             %9.0f events/s  = %.0f%% of storage ceiling" % (
            batch_rate, 100 * batch_rate / storage))
        print("  events stored through track.fcgi                %9d" % stored)
        print("  track.fcgi resident memory (each process)       %s at rest; %s as the load ended" % (
            ", ".join("%.1f MB" % (k / 1024) for k in rss), ", ".join("%.1f MB" % (k / 1024) for k in rss_busy)))
        print("  non-2xx responses during the runs              %9d" % bad)
    finally:
        h.stop()


if __name__ == "__main__":
    main()
