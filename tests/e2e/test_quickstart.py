"""The README's quick start: `scripts/demo` in a copy of the source tree (with this suite's build,
on a free port) starts a PostgreSQL and a lighttpd of its own, writes var/demo.env, serves the demo
page and the dashboard, answers the README's curl example as the README says, keeps its keys when
run again, and `scripts/demo stop` stops what it started.

The copy lives outside the run's directory, since its sources hold the addresses the privacy
audit looks for; once the demo has stopped, its var/ (database files, logs) moves into the run's
directory, where the audit looks for the README example's user agent and every other one."""

import atexit
import json
import os
import re
import shutil
import subprocess
import tempfile

from harness import HarnessError, free_port

_state = {}


def _demo(h, *args):
    """Runs the copy's scripts/demo; its output. A failure raises with the end of it."""
    d = _state["tree"]
    p = subprocess.run(["bash", os.path.join(d, "scripts", "demo"), *args], cwd=d, env=_state["env"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise HarnessError("scripts/demo %s failed (exit %d): %s" % (" ".join(args), p.returncode, p.stdout[-3000:]))
    return p.stdout


def _stop_quietly():
    """Whatever the selection of tests or their outcome, the demo and its copy of the tree do not
    outlive the suite."""
    if "tree" in _state:
        subprocess.run(["bash", os.path.join(_state["tree"], "scripts", "demo"), "stop"], env=_state["env"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(os.path.dirname(_state["tree"]), ignore_errors=True)


def _demo_env():
    with open(os.path.join(_state["tree"], "var", "demo.env")) as f:
        return dict(re.findall(r"^(TALLY_[A-Z_]+)=(.*)$", f.read(), re.M))


def _started(h):
    """The demo of this run, started once: a copy of the tree without builds or state."""
    if "started" not in _state:
        if "tree" in _state:
            raise AssertionError("the demo did not start (see test_demo_starts_and_writes_its_env)")
        top = tempfile.mkdtemp(prefix="tally-quickstart-")
        os.chmod(top, 0o755)      # PostgreSQL runs as postgres, and keeps its cluster under var/
        tree = os.path.join(top, "tally")
        junk = shutil.ignore_patterns(".git", "var", "build", "build-*", "node_modules", "__pycache__", "autom4te.cache")
        shutil.copytree(h.src, tree, ignore=junk, symlinks=True)
        _state.update(tree=tree, port=free_port(),
                      env=dict(os.environ, TALLY_SKIP_DEPS="1", TALLY_BUILD=h.build))
        _state["env"]["TALLY_DEMO_PORT"] = str(_state["port"])
        for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "TALLY_DB", "TALLY_CONF"):
            _state["env"].pop(k, None)
        atexit.register(_stop_quietly)
        _state["started"] = _demo(h)
    return _state["started"]


def _get(h, path, headers=None):
    with h.served_by(_state["port"]):
        return h.http("GET", path, None, headers or {})


def _readme_example(script):
    """A README example run as written, after `. var/demo.env`, in the copy's directory: its output."""
    p = subprocess.run(["bash", "-c", ". var/demo.env\n" + script], cwd=_state["tree"], env=_state["env"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_demo_starts_and_writes_its_env(h):
    out = _started(h)
    assert "Tally demo is running." in out, out[-2000:]
    env = _demo_env()
    for k in ("TALLY_URL", "TALLY_PROPERTY", "TALLY_WRITE_KEY", "TALLY_READ_KEY", "TALLY_DOMAIN",
              "TALLY_ADMIN_EMAIL", "TALLY_ADMIN_PASSWORD"):
        assert env.get(k), "var/demo.env has no %s: %s" % (k, env)
    assert env["TALLY_URL"] == "http://127.0.0.1:%d" % _state["port"], env
    assert _get(h, "/v1/health").status == 200
    page = _get(h, "/")
    assert page.status == 200 and b"demo-config.js" in page.body, page.body[:500]
    assert _get(h, "/admin/").status == 200


def test_readme_curl_example_answers_as_the_readme_says(h):
    """The README's examples, run as written in the copy's directory: the event gives the answer
    printed under it; the overview counts it, with the members the README shows."""
    _started(h)
    with open(os.path.join(_state["tree"], "README.md")) as f:
        readme = f.read()
    m = re.search(r"\n    \. var/demo\.env\n((?:    .*\n)+?)    # (\{.*\})\n", readme)
    assert m, "the README's quick start has no curl example after '. var/demo.env'"
    script = re.sub(r"(?m)^    ", "", m.group(1))
    for ua in re.findall(r"-A '([^']+)'", script):
        h.seen_uas.add(ua)        # for the privacy audit of the demo's files
    out = _readme_example(script)
    assert json.loads(out) == json.loads(m.group(2)), (out, m.group(2))

    # The README's overview example, run as written against the demo: the members it shows.
    m = re.search(r'\n    (curl -s "\$TALLY_URL/v1/properties/\$TALLY_PROPERTY/overview\?[^\n]*)\n'
                  r'((?:    # .*\n)+)', readme)
    assert m, "the README has no overview example"
    overview = json.loads(_readme_example(m.group(1)))
    shown = re.findall(r'"([a-z_]+)":', m.group(2))
    assert sorted(overview) == sorted(shown), (sorted(overview), shown)
    assert overview["pageviews"] >= 1, overview


def test_demo_again_keeps_keys_and_stop_stops_it(h):
    _started(h)
    before = _demo_env()
    out = _demo(h)
    assert "reusing the keys in var/demo.env" in out and "reusing the dashboard account" in out, out[-2000:]
    assert _demo_env() == before
    assert _get(h, "/v1/health").status == 200
    status = _demo(h, "status")
    assert "PostgreSQL: running" in status and "lighttpd:   running" in status, status
    _demo(h, "stop")
    status = _demo(h, "status")
    assert "PostgreSQL: stopped" in status and "lighttpd:   stopped" in status, status
    try:
        r = _get(h, "/v1/health")
    except OSError:
        r = None
    shutil.move(os.path.join(_state["tree"], "var"), h.path("quickstart-var"))
    assert r is None, "the demo still answers after scripts/demo stop: %s" % r.status
