"""Runs a browser story (a node script under tests/browser/ that drives Chromium and prints one
JSON record) for the tests that check its record. A story runs once per harness; one that ends
without a record (it exited with an error, or did not end in time) is not started again by each
later test, which could take minutes each time and run past CI's limit: they fail at once."""
import json
import os
import subprocess

# The stories take half a minute to a minute; this is for one that waits for ever.
STORY_SECONDS = 420

_no_record = {}   # (harness id, script) -> why its one run gave no record


def run_story(h, argv, diagnose=lambda: ""):
    """Runs argv (["node", script, ...]) and returns the record it printed. diagnose() says, when
    the story gave no record, what else might explain it (say, what the database was doing)."""
    key = (id(h), argv[1])
    script = os.path.basename(argv[1])
    if key in _no_record:
        raise AssertionError("the browser story ended without a record (first failure above): " + _no_record[key])
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=STORY_SECONDS)
    except subprocess.TimeoutExpired as e:
        _no_record[key] = "%s did not end within %ds" % (script, e.timeout)
        raise AssertionError("%s; stdout: %s; stderr: %s%s" % (
            _no_record[key], (e.stdout or b"")[-2000:].decode(errors="replace"),
            (e.stderr or b"")[-2000:].decode(errors="replace"), diagnose())) from None
    if p.returncode != 0:
        _no_record[key] = "%s exited %d" % (script, p.returncode)
        raise AssertionError("%s: %s%s" % (_no_record[key], p.stderr.decode(errors="replace")[-2000:], diagnose()))
    return json.loads(p.stdout)
