"""Tally as a site owner installs it: `make install` (into a DESTDIR, and into a prefix under the
run's temporary directory), then lighttpd and Apache with mod_fcgid serving the installed programs,
configuration files and static files, against the suite's PostgreSQL; and Apache passing ingest
through mod_proxy_fcgi to track.fcgi run as the installed systemd units would run it.

Apache runs as www-data (when the suite runs as root) from a private ServerRoot under the run's
temporary directory, so the privacy audit (test_privacy.py) scans its logs too. It loads
mod_remoteip so that Apache's own idea of the client address (%a) is the simulated one from
X-Forwarded-For: had any log format written it, the audit would find it.
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import HarnessError, Skip, free_port
from client import count, ev, expect, expect_counts, expect_json_error, new_client, rows

APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"

_state = {}


# --- make install --------------------------------------------------------------------------------

def _make(h, *args):
    p = subprocess.run(["make", "-s", "-C", h.build] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, "make %s failed (exit %d): %s" % (" ".join(args), p.returncode, out[-3000:])
    return out


def _make_vars(h, *names, **overrides):
    """Values of the build's Makefile variables (prefix, libexecdir, ...), fully expanded, with
    variables overridden on the command line as `make install prefix=...` does."""
    rule = "print:\n" + "".join("\t@echo '%s=$(%s)'\n" % (n, n) for n in names)
    argv = ["make", "-s", "--no-print-directory", "-C", h.build, "-f", "Makefile", "-f", "-", "print"]
    argv += ["%s=%s" % kv for kv in overrides.items()]
    p = subprocess.run(argv, input=rule.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, p.stdout.decode(errors="replace")
    return dict(line.split("=", 1) for line in p.stdout.decode().splitlines() if "=" in line)


def _programs(h):
    return sorted(p for p in ("track.fcgi", "report.fcgi", "admin.fcgi")
                  if os.access(os.path.join(h.cgibin, p), os.X_OK))


def _layout(root, v, h):
    """Every file an install must have, as paths under root (DESTDIR)."""
    j = lambda d, *p: root + os.path.join(v[d], *p)  # noqa: E731
    files = [j("bindir", "tally-migrate"), j("bindir", "tally-cron")]
    files += [j("libexecdir", "tally", "cgi-bin", p) for p in _programs(h)]
    files += [j("sysconfdir", "tally", f) for f in ("tally.conf", "tally.conf.example", "apache.conf", "lighttpd.conf")]
    files += [j("pkgdatadir", "conf", "lighttpd.conf"), j("pkgdatadir", "cron", "crontab"),
              j("pkgdatadir", "sql", "tally-migrate"), j("pkgdatadir", "systemd", "tally-track.socket"),
              j("pkgdatadir", "systemd", "tally-track.service")]
    files += [j("pkgdatadir", "sql", "migrations", f)
              for f in sorted(os.listdir(os.path.join(h.src, "sql", "migrations"))) if f.endswith(".sql")]
    tracker = os.path.join(h.src, "tracker")
    if os.path.isdir(tracker):
        files += [j("pkgdatadir", "tracker", f) for f in sorted(os.listdir(tracker))
                  if re.fullmatch(r"t(\.[A-Za-z0-9_-]+)?\.js", f)]
    return files


def test_make_install_destdir(h):
    v = _make_vars(h, "prefix", "bindir", "libexecdir", "sysconfdir", "pkgdatadir")
    dest = h.path("destdir")
    _make(h, "install", "DESTDIR=" + dest)
    missing = [f for f in _layout(dest, v, h) if not os.path.isfile(f)]
    assert not missing, "not installed: %s" % missing
    for f in ("tally-migrate", "tally-cron"):
        assert os.access(dest + os.path.join(v["bindir"], f), os.X_OK), f
    for p in _programs(h):
        assert os.access(dest + os.path.join(v["libexecdir"], "tally", "cgi-bin", p), os.X_OK), p

    # The files that name paths name those of this install, and they exist.
    named = [os.path.join(v["sysconfdir"], "tally", f) for f in ("apache.conf", "lighttpd.conf")]
    named += [os.path.join(v["pkgdatadir"], "cron", "crontab"), os.path.join(v["bindir"], "tally-migrate"),
              os.path.join(v["pkgdatadir"], "systemd", "tally-track.service")]
    checked = 0
    for f in named:
        text = open(dest + f).read()
        assert "@TALLY_" not in text, "placeholder left in %s" % f
        for path in set(re.findall(r"(/[^\s\"'<>]+)", text)):
            if path.startswith(v["prefix"] + "/"):
                checked += 1
                assert os.path.exists(dest + path), "%s names %s, which was not installed" % (f, path)
    assert checked >= 8, "only %d installed paths named: the check would be vacuous" % checked
    crontab = open(dest + os.path.join(v["pkgdatadir"], "cron", "crontab")).read()
    assert os.path.join(v["bindir"], "tally-cron") + " rollup" in crontab, crontab

    # A reinstall keeps the site's tally.conf and refreshes the example.
    conf = dest + os.path.join(v["sysconfdir"], "tally", "tally.conf")
    with open(conf, "a") as f:
        f.write("# edited by the site\n")
    example = conf + ".example"
    os.unlink(example)
    _make(h, "install", "DESTDIR=" + dest)
    assert open(conf).read().endswith("# edited by the site\n"), "make install replaced an existing tally.conf"
    assert open(example).read() == open(os.path.join(h.src, "conf", "tally.conf")).read()

    # Uninstall removes everything but the site's settings.
    _make(h, "uninstall", "DESTDIR=" + dest)
    left = sorted(os.path.join(r, n) for r, _, ns in os.walk(dest) for n in ns)
    assert left == [conf], "left after make uninstall: %s" % left


def _install_prefix(h):
    """Installs into a prefix under the run's directory (once); returns the expanded paths."""
    if "prefix" not in _state:
        prefix = h.path("inst")
        _make(h, "install", "prefix=" + prefix)
        v = _make_vars(h, "bindir", "libexecdir", "sysconfdir", "pkgdatadir", prefix=prefix)
        _state["prefix"] = dict(prefix=prefix, bindir=v["bindir"],
                                cgibin=os.path.join(v["libexecdir"], "tally", "cgi-bin"),
                                etc=os.path.join(v["sysconfdir"], "tally"), share=v["pkgdatadir"])
        # The installed programs read the installed tally.conf: make it the suite's, with a spool
        # directory of their own that Apache's user (www-data) may write.
        spool = h.path("spool-installed")
        os.makedirs(spool, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(spool, "www-data", "www-data")
        conf = re.sub(r"(?m)^spool_dir *=.*$", "spool_dir = " + spool, open(h.path("tally.conf")).read())
        with open(os.path.join(_state["prefix"]["etc"], "tally.conf"), "w") as f:
            f.write(conf)
    return _state["prefix"]


# --- lighttpd with the installed files -----------------------------------------------------------

def test_installed_lighttpd_conf_accepted(h):
    inst = _install_prefix(h)
    conf = h.path("lighttpd-installed.conf")
    with open(conf, "w") as f:
        f.write('server.port = %d\nserver.bind = "127.0.0.1"\nserver.document-root = "%s"\n'
                'server.errorlog = "%s"\ninclude "%s/lighttpd.conf"\n'
                % (free_port(), h.path("www"), h.path("lighttpd-installed-error.log"), inst["etc"]))
    p = subprocess.run(["lighttpd", "-tt", "-f", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, "lighttpd -tt rejects the installed lighttpd.conf: %s" % p.stdout.decode()[-2000:]
    # As the README has it: included at the end of Debian's own lighttpd.conf, whose modules and
    # settings it must get along with.
    debian = "/etc/lighttpd/lighttpd.conf"
    if os.path.exists(debian):
        with_debian = h.path("lighttpd-debian.conf")
        with open(with_debian, "w") as f:
            f.write('include "%s"\ninclude "%s/lighttpd.conf"\n' % (debian, inst["etc"]))
        p = subprocess.run(["lighttpd", "-tt", "-f", with_debian], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert p.returncode == 0, "with Debian's lighttpd.conf: %s" % p.stdout.decode()[-2000:]
    # Positive control: the same check refuses a broken file.
    with open(conf, "a") as f:
        f.write('fastcgi.server += ( "/x" => (( "socket" => )) )\n')
    p = subprocess.run(["lighttpd", "-tt", "-f", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode != 0, "lighttpd -tt accepted a broken file: the check above proves nothing"


def _wait_health(h, what, proc=None, log=None, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HarnessError("%s exited with %d: %s" % (what, proc.returncode, _tail(log)))
        try:
            last = h.http("GET", "/v1/health")
            if last.status == 200:
                return last
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise HarnessError("%s: /v1/health answers %r; %s" % (what, last, _tail(log)))


def _tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except (OSError, TypeError):
        return "(no log)"


def test_installed_tree_served_by_lighttpd(h):
    """The installed programs and static files, routed by the installed routes file."""
    inst = _install_prefix(h)
    port = free_port()
    run = h.path("run-installed")
    os.makedirs(run, exist_ok=True)
    conf, log = h.path("lighttpd-installed-run.conf"), h.path("lighttpd-installed-error.log")
    with open(conf, "w") as f:
        f.write('server.port = %d\nserver.bind = "127.0.0.1"\nserver.document-root = "%s"\n'
                'server.errorlog = "%s"\nserver.upload-dirs = ( "%s" )\n'
                'mimetype.assign = ( ".js" => "text/javascript" )\n'
                'var.tally_cgibin = "%s"\nvar.tally_conf = "%s/tally.conf"\nvar.tally_share = "%s"\n'
                'var.tally_rundir = "%s"\ninclude "%s/conf/lighttpd.conf"\n'
                % (port, h.path("www"), log, h.path("upload"), inst["cgibin"], inst["etc"], inst["share"], run,
                   inst["share"]))
    proc = subprocess.Popen(["lighttpd", "-D", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        with h.served_by(port):
            _wait_health(h, "lighttpd (installed tree)", proc, log)
            p = h.create_property()
            expect_counts(h.post_events(p, [ev("/installed-lighttpd")], headers=new_client(h)), 1)
            assert count(h, p, "path = '/installed-lighttpd'") == 1
            if os.path.exists(os.path.join(inst["share"], "tracker", "t.js")):
                r = expect(h.http("GET", "/t.js"), 200)
                assert r.body == open(os.path.join(inst["share"], "tracker", "t.js"), "rb").read()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- Apache with mod_fcgid -----------------------------------------------------------------------

def _apache_conf(h, inst, root, port, control_log, track_socket=None):
    modules = ["mpm_event", "authz_core", "alias", "mime", "dir", "setenvif", "remoteip", "fcgid", "env"]
    if track_socket:
        modules += ["proxy", "proxy_fcgi"]
    lines = ["# written by tests/e2e/test_webservers.py",
             'ServerRoot "%s"' % root,
             "ServerName 127.0.0.1",
             "Listen 127.0.0.1:%d" % port,
             'PidFile "%s/httpd.pid"' % root,
             'ErrorLog "%s/logs/error.log"' % root,
             "LogLevel warn",
             'DocumentRoot "%s/htdocs"' % root,
             'TypesConfig "/etc/mime.types"',
             'FcgidIPCDir "%s/fcgid"' % root,
             'FcgidProcessTableFile "%s/fcgid/table"' % root,
             # Apache then takes the suite's simulated client address as the client's (%a).
             "RemoteIPHeader X-Forwarded-For",
             "RemoteIPInternalProxy 127.0.0.1"]
    lines[2:2] = ["LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m) for m in modules]
    if os.geteuid() == 0:
        lines += ["User www-data", "Group www-data"]
    # The sanitizer build's settings (scripts/test) reach the programs as they do under lighttpd.
    lines += ["PassEnv %s" % v for v in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if v in os.environ]
    if track_socket:
        lines.append('Define TALLY_TRACK_SOCKET "%s"' % track_socket)
    lines += ["<VirtualHost 127.0.0.1:%d>" % port,
              "    Include %s/apache.conf" % inst["etc"],
              '    CustomLog "%s/logs/access.log" tally' % root,
              # Positive control, kept outside the audited directory and deleted by the test:
              # Apache's %a is the simulated client address.
              '    CustomLog "%s" "%%a"' % control_log,
              "</VirtualHost>"]
    return "\n".join(lines) + "\n"


def _apache_stop(keep_control=False, key="apache"):
    a = _state.pop(key, None)
    if not a:
        return
    proc = a["proc"]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if not keep_control:
        shutil.rmtree(a["control_dir"], ignore_errors=True)


def _stop_all():
    """Whatever the selection of tests, Apache and the track.fcgi service do not outlive the suite."""
    _apache_stop()
    _apache_stop(key="apache-service")
    _track_service_stop()


atexit.register(_stop_all)


def _apache(h, key="apache"):
    a = _state.get(key)
    if not a:
        raise AssertionError("Apache is not running (see test_%s_starts)" % key.replace("-", "_"))
    return h.served_by(a["port"])


def _start_apache(h, key, track_socket=None):
    """Apache serving the installed tree from its own ServerRoot h.path(key), as _state[key]; with
    track_socket, ingest goes to the track.fcgi service listening there (mod_proxy_fcgi)."""
    if not os.access(APACHE, os.X_OK) or not os.path.exists(os.path.join(APACHE_MODULES, "mod_fcgid.so")):
        raise Skip("apache2 or libapache2-mod-fcgid is not installed (scripts/install-deps installs them)")
    inst = _install_prefix(h)
    root = h.path(key)
    for d in ("logs", "htdocs", "fcgid"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(os.path.join(root, "fcgid"), "www-data", "www-data")
    control_dir = tempfile.mkdtemp(prefix="tally-apache-control-")
    port = free_port()
    conf = os.path.join(root, "httpd.conf")
    with open(conf, "w") as f:
        f.write(_apache_conf(h, inst, root, port, os.path.join(control_dir, "control.log"), track_socket))
    p = subprocess.run([APACHE, "-t", "-f", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, "apache2 -t rejects the configuration: %s" % p.stdout.decode()[-2000:]
    out = open(os.path.join(root, "apache.out"), "ab")
    proc = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"], stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    _state[key] = dict(proc=proc, port=port, root=root, control_dir=control_dir)
    try:
        with h.served_by(port):
            r = _wait_health(h, "apache2", proc, os.path.join(root, "logs", "error.log"))
            want = {"status": "ok", "db": "ok"}
            if h.events_store == "clickhouse":
                want["clickhouse"] = "ok"
            assert r.json() == want, r
    except Exception:
        _apache_stop(key=key)
        raise


def test_apache_conf_accepted_by_debians_apache(h):
    """`apache2 -t` on Debian's own configuration (/etc/apache2, its modules as installed) with the
    installed apache.conf included, as the README has it; with TALLY_TRACK_SOCKET defined, it asks
    for mod_proxy_fcgi by name until that is loaded, then is accepted too."""
    if not os.path.exists("/etc/apache2/apache2.conf") or not os.path.exists("/etc/apache2/envvars"):
        raise Skip("Debian's apache2 configuration is not installed")
    inst = _install_prefix(h)
    run = h.path("apache-debian")
    os.makedirs(run, exist_ok=True)

    def load(*mods):
        """LoadModule lines for the modules Debian's configuration does not enable (a2enmod)."""
        return ["LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m) for m in mods
                if not os.path.exists("/etc/apache2/mods-enabled/%s.load" % m)]

    include = load("fcgid") + ["Include %s/apache.conf" % inst["etc"]]
    proxy = load("proxy", "proxy_fcgi")

    def check(*directives):
        script = (". /etc/apache2/envvars && export APACHE_RUN_DIR=%s APACHE_LOCK_DIR=%s APACHE_LOG_DIR=%s "
                  "&& exec %s -t %s" % (run, run, run, APACHE, " ".join("-c '%s'" % d for d in directives)))
        return subprocess.run(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    p = check(*include)
    assert p.returncode == 0 and "Syntax OK" in p.stdout, p.stdout[-2000:]
    if proxy:
        p = check("Define TALLY_TRACK_SOCKET /run/tally/track.sock", *include)
        assert p.returncode != 0 and "a2enmod proxy_fcgi" in p.stdout, p.stdout[-2000:]
    p = check(*proxy, "Define TALLY_TRACK_SOCKET /run/tally/track.sock", *include)
    assert p.returncode == 0 and "Syntax OK" in p.stdout, p.stdout[-2000:]


def test_apache_starts(h):
    _start_apache(h, "apache")


def test_apache_events_stored_and_visitor_as_with_lighttpd(h):
    p = h.create_property()
    c = new_client(h)
    e = ev("/via-apache")
    with _apache(h):
        expect_counts(h.post_events(p, [e], headers=c), 1)
        # A retried batch is a duplicate, through Apache as through lighttpd.
        expect_counts(h.post_events(p, [e], headers=c), 1, duplicates=1)
        expect_counts(h.post_events(p, [ev("/x-write-key")], headers=c, auth="x-write-key"), 1)
        expect_counts(h.post_events(p, [ev("/beacon")], headers=c, auth="query", content_type="text/plain"), 1)
    expect_counts(h.post_events(p, [ev("/via-lighttpd")], headers=c), 1)
    assert count(h, p) == 4
    v = {r["path"]: r["visitor"] for r in rows(h, p, "path, visitor")}
    assert v["/via-apache"] == v["/via-lighttpd"], \
        "same address and user agent through Apache and lighttpd must be the same visitor: %r" % v


def test_apache_passes_authorization(h):
    """Without CGIPassAuth Apache withholds the Authorization header: every Bearer key would be a 401."""
    p = h.create_property()
    with _apache(h):
        r = expect_json_error(h.post_events(p, [ev()], headers=new_client(h), auth=None), 401)
        expect_counts(h.post_events(p, [ev()], headers=new_client(h), auth="bearer"), 1)
        r = expect(h.http("GET", "/v1/properties/%s/overview?period=today" % p.id,
                          headers={"Authorization": "Bearer " + p.read_key}), 200)
        assert r.json()["pageviews"] == 1, r
        expect_json_error(h.http("GET", "/v1/properties/%s/overview" % p.id,
                                 headers={"Authorization": "Bearer " + p.write_key}), 401)
        expect_json_error(h.http("GET", "/v1/properties/%s/overview" % p.id), 401)


def test_apache_report_paths(h):
    p = h.create_property()
    auth = {"Authorization": "Bearer " + p.read_key}
    with _apache(h):
        for page in ("/a", "/b", "/a"):
            expect_counts(h.post_events(p, [ev(page)], headers=new_client(h)), 1)
        r = expect(h.http("GET", "/v1/properties/%s/pages?period=today" % p.id, headers=auth), 200)
        assert [(x["path"], x["pageviews"]) for x in r.json()["results"]] == [("/a", 2), ("/b", 1)], r
        r = expect(h.http("GET", "/v1/properties/%s/pages?period=today&format=csv" % p.id, headers=auth), 200)
        assert r.headers.get("Content-Type", "").startswith("text/csv"), r.headers
        expect_json_error(h.http("GET", "/v1/properties/%s/pages?limit=0" % p.id, headers=auth), 400, "limit")
        expect_json_error(h.http("GET", "/v1/properties/prop_nonexistent/overview", headers=auth), 404)


def _check_ingest_errors_are_json(h, p):
    """track.fcgi's own JSON errors and CORS preflight, through whichever server h.http reaches."""
    expect_json_error(h.post_events(p, [ev()], headers=new_client(h), auth=None), 401)
    r = expect_json_error(h.http("GET", "/v1/events"), 405)
    assert "POST" in r.headers.get("Allow", ""), r.headers
    expect_json_error(h.http("DELETE", "/v1/health"), 405)
    expect_json_error(h.http("GET", "/v1/events/extra"), 404)
    expect_json_error(h.post_events(p, [ev()], headers=new_client(h), content_type="application/xml"), 415)
    expect_json_error(h.http("POST", "/v1/events", body=b"{not json", headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + p.write_key}), 400)
    # Over tally.conf's max_body_bytes but within Apache's LimitRequestBody: the program's 413.
    big = b'{"property_id":"%s","events":[],"pad":"%s"}' % (p.id.encode(), b"x" * (1 << 20))
    expect_json_error(h.http("POST", "/v1/events", body=big, headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + p.write_key}), 413)
    r = h.http("OPTIONS", "/v1/events", headers={"Origin": "https://example.com",
                                                 "Access-Control-Request-Method": "POST"})
    assert r.status == 204, r


def test_apache_errors_are_json(h):
    p = h.create_property()
    with _apache(h):
        _check_ingest_errors_are_json(h, p)


def test_apache_plausible_and_static(h):
    h.create_property(domains=["plausible-apache.example"])
    with _apache(h):
        r = h.http("POST", "/api/event", body={"name": "pageview", "url": "https://plausible-apache.example/p",
                                               "domain": "plausible-apache.example"},
                   headers=new_client(h))
        assert r.status == 202 and r.body == b"ok", r
        inst = _state["prefix"]
        if os.path.exists(os.path.join(inst["share"], "tracker", "t.js")):
            r = expect(h.http("GET", "/t.js"), 200)
            assert r.body == open(os.path.join(inst["share"], "tracker", "t.js"), "rb").read()
            assert "javascript" in r.headers.get("Content-Type", ""), r.headers
        assert h.http("GET", "/t.nonexistent.js").status == 404


def test_apache_metrics(h):
    with _apache(h):
        r = expect(h.http("GET", "/v1/metrics"), 200)
        assert r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), r.headers
        text = r.body.decode()
        m = re.search(r'^tally_http_requests_total\{program="track",code="202"\} (\d+)$', text, re.M)
        assert m and int(m.group(1)) >= 5, "202s counted under Apache: %r" % (m and m.group(0))
        assert '\ntally_metrics_shared{program="track"} 1\n' in text, text[:300]
        # A proxied request (mod_remoteip makes its address the program's REMOTE_ADDR) is refused.
        expect_json_error(h.http("GET", "/v1/metrics", headers=new_client(h)), 403)


def test_apache_logs_hold_no_address_or_user_agent(h):
    a = _state.get("apache")
    if not a:
        raise AssertionError("Apache is not running (see test_apache_starts)")
    root = a["root"]
    control = os.path.join(a["control_dir"], "control.log")
    _apache_stop(keep_control=True)
    # Positive control: Apache's %a was the simulated client address, so a log format with %a (or
    # the User-Agent) would have written one.
    logged = open(control).read().split() if os.path.exists(control) else []
    shutil.rmtree(a["control_dir"], ignore_errors=True)
    assert any(ip in h.seen_ips for ip in logged), "control log has no simulated address: %r" % logged[:5]
    access = open(os.path.join(root, "logs", "access.log")).read()
    assert re.search(r'"POST /v1/events" 202 ', access), access[:500]
    assert "?" not in access, "the access log must not hold query strings (?key=): %s" % access[:500]
    error_log = open(os.path.join(root, "logs", "error.log"), errors="replace").read()
    assert "stderr: {" in error_log or "[fcgid" in error_log or "AH" in error_log, error_log[:500]
    found = _client_data_in(h, _logs(root))
    assert not found, "Apache logged client data: %s" % found[:10]


def _logs(root):
    """{file name: text} of an Apache ServerRoot's logs."""
    d = os.path.join(root, "logs")
    return {name: open(os.path.join(d, name), errors="replace").read() for name in os.listdir(d)}


def _client_data_in(h, texts):
    """What of the suite's client addresses and user agents ({file name: text}) holds, as found."""
    found = []
    for name, text in texts.items():
        found += ["%s in %s" % (n, name) for n in list(h.seen_ips) + list(h.seen_uas) if n in text]
        found += ["%s in %s" % (m, name) for m in re.findall(r"TallyE2E/[0-9a-f]+", text)]
        found += ["client address in %s" % name for _ in re.findall(r"\[client [^\]]+\]", text)]
    return found


# --- Apache with track.fcgi as a service of its own (mod_proxy_fcgi) ------------------------------

def _unit(inst, name):
    """The settings of an installed systemd unit: {key: [values, in order]}."""
    settings = {}
    for line in open(os.path.join(inst["share"], "systemd", name)):
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            k, v = line.split("=", 1)
            settings.setdefault(k, []).append(v)
    return settings


def _track_service_stop():
    t = _state.pop("track-service", None)
    if t and t["proc"].poll() is None:
        t["proc"].send_signal(signal.SIGTERM)
        try:
            t["proc"].wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(t["proc"].pid, signal.SIGKILL)
            t["proc"].wait()


def _start_track_service(h):
    """track.fcgi as the installed tally-track.service starts it (its command, user and
    environment), on a listening socket made as tally-track.socket makes it (its mode and owner;
    under the run's directory instead of /run/tally), given as standard input."""
    inst = _install_prefix(h)
    service, sock_unit = _unit(inst, "tally-track.service"), _unit(inst, "tally-track.socket")
    assert service["StandardInput"] == ["socket"] and sock_unit["Accept"] == ["no"], (service, sock_unit)
    d = h.path("track-service")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "track.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)
    os.chmod(path, int(sock_unit["SocketMode"][0], 8))
    argv = service["ExecStart"][0].split()
    if os.geteuid() == 0:
        shutil.chown(path, sock_unit["SocketUser"][0], sock_unit["SocketGroup"][0])
        argv = ["runuser", "-u", service["User"][0], "--"] + argv
    env = dict(os.environ, **dict(e.split("=", 1) for e in service["Environment"]))
    log = os.path.join(d, "track.log")
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=listener.fileno(), stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    listener.close()
    _state["track-service"] = dict(proc=proc, socket=path, log=log)
    return path


def test_systemd_units_verify(h):
    """The installed tally-track.socket and .service as systemd reads them: no error, no warning
    (an unknown setting or value is only a warning), and an ExecStart that exists."""
    tool = shutil.which("systemd-analyze")
    if not tool:
        raise Skip("systemd-analyze is not installed")
    d = os.path.join(_install_prefix(h)["share"], "systemd")
    p = subprocess.run([tool, "verify", "./tally-track.socket", "./tally-track.service"], cwd=d,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    assert p.returncode == 0 and not p.stdout.strip(), "systemd-analyze verify: %s" % p.stdout
    assert _unit(_state["prefix"], "tally-track.service")["ExecStart"] == [
        os.path.join(_state["prefix"]["cgibin"], "track.fcgi")]


def test_apache_service_starts(h):
    """apache.conf with TALLY_TRACK_SOCKET defined: ingest through mod_proxy_fcgi to the service."""
    path = _start_track_service(h)
    try:
        _start_apache(h, "apache-service", track_socket=path)
    except BaseException:
        _track_service_stop()
        raise


def test_apache_service_events_stored_and_visitor_as_with_lighttpd(h):
    p = h.create_property()
    c = new_client(h)
    e = ev("/via-apache-service")
    with _apache(h, "apache-service"):
        expect_counts(h.post_events(p, [e], headers=c), 1)
        expect_counts(h.post_events(p, [e], headers=c), 1, duplicates=1)
        expect_counts(h.post_events(p, [ev("/service-x-write-key")], headers=c, auth="x-write-key"), 1)
        expect_counts(h.post_events(p, [ev("/service-beacon")], headers=c, auth="query",
                                    content_type="text/plain"), 1)
        # Reports still go to report.fcgi under mod_fcgid, in the same Apache.
        r = expect(h.http("GET", "/v1/properties/%s/overview?period=today" % p.id,
                          headers={"Authorization": "Bearer " + p.read_key}), 200)
        assert r.json()["pageviews"] == 3, r
    expect_counts(h.post_events(p, [ev("/via-lighttpd")], headers=c), 1)
    v = {r["path"]: r["visitor"] for r in rows(h, p, "path, visitor")}
    assert v["/via-apache-service"] == v["/via-lighttpd"], \
        "same address and user agent through Apache's proxy and lighttpd must be the same visitor: %r" % v


def test_apache_service_errors_and_other_endpoints(h):
    p = h.create_property(domains=["plausible-service.example"])
    with _apache(h, "apache-service"):
        _check_ingest_errors_are_json(h, p)
        r = h.http("POST", "/api/event", body={"name": "pageview", "url": "https://plausible-service.example/p",
                                               "domain": "plausible-service.example"}, headers=new_client(h))
        assert r.status == 202 and r.body == b"ok", r
        r = expect(h.http("GET", "/v1/metrics"), 200)
        assert re.search(r'^tally_http_requests_total\{program="track",code="202"\} \d+$', r.body.decode(), re.M), r
    assert count(h, p) == 1


def test_apache_service_is_what_answers_and_logs_hold_no_client_data(h):
    """With the service stopped, Apache has nothing to pass ingest to (so it was the service that
    answered, not mod_fcgid); then neither Apache's logs nor the service's output hold a client
    address or user agent."""
    a = _state.get("apache-service")
    if not a:
        raise AssertionError("Apache is not running (see test_apache_service_starts)")
    log = _state["track-service"]["log"]
    _track_service_stop()
    with _apache(h, "apache-service"):
        r = h.post_events(h.create_property(), [ev()], headers=new_client(h))
        assert r.status == 503, r
    _apache_stop(key="apache-service")
    texts = dict(_logs(a["root"]), **{"track.fcgi": open(log, errors="replace").read()})
    assert re.search(r'"POST /v1/events" 202 ', texts["access.log"]), texts["access.log"][:500]
    found = _client_data_in(h, texts)
    assert not found, "client data logged: %s" % found[:10]
