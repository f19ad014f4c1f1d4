#!/usr/bin/env python3
"""Runs the end-to-end tests: every `test_*` function of tests/e2e/test_*.py, in file order, each
called with the one shared Harness. Modules that set RUN_LAST = True (the privacy audit) run
after all others.

usage: tests/e2e/run.py [--build DIR] [--keep] [-v] [SUBSTRING...]
  --build DIR   build directory whose cgi-bin/ is served (default: $TALLY_BUILD or <repo>/build)
  --keep        keep the temporary directory (logs, database) even when everything passed
  SUBSTRING     run only tests whose "module.function" name contains one of these

A test still running after $TALLY_E2E_TEST_SECONDS (default 600) fails, naming where it waited,
and the suite goes on.

Prints "ok - name", "FAIL - name: reason" or "skip - name: reason" per test, and as its last line
"N passed, N failed" (plus ", N skipped"). Exits 1 if any test failed.
"""
import argparse
import importlib.util
import inspect
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as harness_mod  # noqa: E402


def discover(selected):
    mods = []
    for fn in sorted(os.listdir(HERE)):
        if fn.startswith("test_") and fn.endswith(".py"):
            name = fn[:-3]
            spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, fn))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            mods.append(mod)
    mods.sort(key=lambda m: (bool(getattr(m, "RUN_LAST", False)), m.__name__))
    tests = []
    for mod in mods:
        funcs = [f for n, f in vars(mod).items()
                 if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == mod.__name__]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            full = "%s.%s" % (mod.__name__, f.__name__)
            if not selected or any(s in full for s in selected):
                tests.append((full, f))
    return tests


# No test takes more than a couple of minutes, even under ASan on a busy machine; one that waits
# for ever (a lock, a child that never exits) fails after this long, saying where it waited,
# instead of stopping the suite.
TEST_SECONDS = int(os.environ.get("TALLY_E2E_TEST_SECONDS", "600"))


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout("still running after %d s" % TEST_SECONDS)


def one_line(text):
    return " ".join(str(text).split())[:500]


def main():
    ap = argparse.ArgumentParser(description="Tally end-to-end tests")
    ap.add_argument("--build", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("select", nargs="*")
    args = ap.parse_args()

    try:
        tests = discover(args.select)
    except Exception as e:
        print("FAIL - discovery: %s" % one_line(e))
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1

    passed = failed = skipped = 0
    h = harness_mod.Harness(args.build, verbose=args.verbose)
    missing = h.unavailable()
    if missing:
        # Nothing to run against: every test is skipped, with the reason.
        for name, _ in tests:
            print("skip - %s: %s" % (name, missing))
        print("0 passed, 0 failed, %d skipped" % len(tests))
        return 0
    t0 = time.time()
    try:
        h.start()
    except Exception as e:
        # Without a server no test can run: each one counts as failed.
        print("FAIL - harness start: %s" % one_line(e))
        for name, _ in tests:
            print("FAIL - %s: harness did not start" % name)
        h.stop(keep_logs=True)
        print("%d passed, %d failed" % (0, len(tests)))
        return 1

    signal.signal(signal.SIGALRM, _on_alarm)
    for name, fn in tests:
        start = time.time()
        signal.alarm(TEST_SECONDS)
        try:
            try:
                fn(h)
            finally:
                signal.alarm(0)
        except harness_mod.Skip as e:
            skipped += 1
            print("skip - %s: %s" % (name, one_line(e)))
        except Exception as e:
            failed += 1
            reason = one_line("%s: %s" % (type(e).__name__, e) if not isinstance(e, AssertionError) or not str(e)
                              else e)
            tb = traceback.extract_tb(e.__traceback__)
            where = next((fr for fr in reversed(tb) if fr.name == fn.__name__), None)
            if where:
                reason += " (%s:%d)" % (os.path.basename(where.filename), where.lineno)
            if isinstance(e, TestTimeout):   # where it waited: the innermost frame of this suite
                inner = [fr for fr in tb if fr.filename.startswith(HERE) and fr.name != "_on_alarm"]
                if inner and inner[-1] is not where:
                    reason += " waiting in %s:%d %s" % (os.path.basename(inner[-1].filename), inner[-1].lineno,
                                                         inner[-1].name)
            print("FAIL - %s: %s" % (name, reason))
            if args.verbose:
                traceback.print_exc()
        else:
            passed += 1
            print("ok - %s%s" % (name, " (%.1fs)" % (time.time() - start) if args.verbose else ""))
        sys.stdout.flush()
        # A test that stopped the database must not take the rest down with it.
        if not h.pg_running:
            try:
                h.start_db()
            except Exception as e:
                print("# could not restart PostgreSQL: %s" % one_line(e), file=sys.stderr)

    errors = h.stop(keep_logs=args.keep or failed > 0)
    for e in errors:
        print("# stop: %s" % one_line(e), file=sys.stderr)
    print("# e2e: %.1fs, build %s" % (time.time() - t0, h.build), file=sys.stderr)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
