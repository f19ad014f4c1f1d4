#!/usr/bin/env python3
"""Instructions per request of track.fcgi, counted by callgrind while it runs behind lighttpd.

    python3 tests/bench/instructions.py [--build DIR] [--batch 1] [--seconds 20] [--warmup 10]

lighttpd starts track.fcgi under `valgrind --tool=callgrind` (through a wrapper in a copy of the
cgi-bin folder), with PostgreSQL durable as in tests/bench/ingest.py. One wrk connection sends
POSTs of --batch pageviews for --warmup seconds (caches, salts and arenas settle), callgrind's
counters are zeroed, the load runs --seconds more, and the counters are dumped. Prints the
instructions of the whole process (every thread: requests, the group commit, the background
thread) per request and per event. Unlike time, the count hardly moves with the machine: two runs
of the same build agree to about 0.1%, so it shows changes of a few percent that the wall-clock
benchmark cannot. track.fcgi runs with the ingest settings of the shipped conf/tally.conf, the
sessioniser off (it runs in PostgreSQL, not in track.fcgi).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import ingest  # noqa: E402  (its settings, wrk driver and request script)
from harness import Harness  # noqa: E402


def wrapped_cgibin(build, tmp, out):
    """A cgi-bin folder whose track.fcgi runs the built one under callgrind; the others as built."""
    cgibin = os.path.join(tmp, "cgi-bin")
    os.makedirs(cgibin)
    for prog in ("track.fcgi", "report.fcgi", "admin.fcgi"):
        real = os.path.join(build, "cgi-bin", prog)
        under = "valgrind --tool=callgrind --callgrind-out-file=%s.%%p " % out if prog == "track.fcgi" else ""
        path = os.path.join(cgibin, prog)
        with open(path, "w") as f:
            f.write('#!/bin/sh\nexec %s%s "$@"\n' % (under, real))
        os.chmod(path, 0o755)
    return cgibin


def program_total(dump):
    """The PROGRAM TOTALS line of a callgrind dump, as an integer."""
    text = subprocess.run(["callgrind_annotate", dump], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?PROGRAM TOTALS", text, re.M)
    if not m:
        raise SystemExit("no PROGRAM TOTALS in %s" % dump)
    return int(m.group(1).replace(",", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=None)
    ap.add_argument("--batch", type=int, default=1, help="events per request")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate", "wrk"):
        if not shutil.which(tool):
            raise SystemExit("%s is missing (Debian: valgrind, wrk)" % tool)

    tmp = tempfile.mkdtemp(prefix="tally-instructions-")
    out = os.path.join(tmp, "callgrind.out")
    settings = ingest.shipped_settings(os.path.join(HERE, "..", ".."), {"sessionize_interval": "0"})
    h = Harness(args.build, durable=True, conf=ingest.conf_text(settings))
    h.cgibin = wrapped_cgibin(h.build, tmp, out)
    h.start()
    try:
        prop = h.create_property(domains=["example.com"])
        url = "http://127.0.0.1:%d/v1/events" % h.http_port
        script = os.path.join(tmp, "load.lua")
        ingest.write_lua(script, prop.id, prop.write_key, args.batch)
        ingest.wrk(url, args.warmup, 1, script)
        subprocess.run(["callgrind_control", "--zero"], capture_output=True, check=True)
        ingest.write_lua(script, prop.id, prop.write_key, args.batch)   # fresh event ids
        run = ingest.wrk(url, args.seconds, 1, script)
        subprocess.run(["callgrind_control", "--dump"], capture_output=True, check=True)
        dumps = sorted(glob.glob(out + ".*.*"), key=os.path.getmtime)
        if not dumps:
            raise SystemExit("callgrind wrote no dump (is track.fcgi running under it?)")
        total = program_total(dumps[-1])
        requests = run["requests"]
        print("track.fcgi instructions (callgrind; %d-event requests, one connection, %d s after %d s of warm-up)"
              % (args.batch, args.seconds, args.warmup))
        print("  requests              %12d   (non-2xx: %d)" % (requests, run["non2xx"]))
        print("  instructions          %12d" % total)
        print("  per request           %12.0f" % (total / max(requests, 1)))
        print("  per event             %12.0f" % (total / max(requests * args.batch, 1)))
    finally:
        h.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
