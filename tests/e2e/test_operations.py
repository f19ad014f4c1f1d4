"""What an operator relies on: GET /v1/metrics (Prometheus text format, figures that add up every
track.fcgi process, only for clients on the host), the programs' JSON log lines, which never
hold a client address or user agent, at any log level, the README's backup without salts,
tally-migrate run twice at once, and the README's database setup with peer authentication.
"""
import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import time

from harness import Skip
from client import GOOGLEBOT, ev, expect, expect_counts, expect_json_error, new_client, unique_ua

# The advisory lock sql/tally-migrate takes for each of its transactions.
MIGRATE_LOCK = 7319001

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|\+Inf|NaN)$')


def scrape(h):
    r = expect(h.http("GET", "/v1/metrics"), 200)
    assert r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), r.headers
    return parse(r.body.decode())


def parse(text):
    """{(name, 'labels'): value}; asserts the text format line by line."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or family in typed, "sample without # TYPE: %r" % line
        samples[(name, m.group(2) or "")] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    for (n, l), v in samples.items():
        if n == name and all(part in l for part in want.split(",")):
            return v
    raise AssertionError("no sample %s{%s}" % (name, want))


def test_metrics_text_format(h):
    s = scrape(h)
    assert value(s, "tally_metrics_shared", program="track") == 1, "track.fcgi should count in shared memory"
    assert value(s, "tally_processes", program="track") >= 1
    assert value(s, "tally_http_requests_total", program="track", code="200") >= 1
    rss = [v for (n, _), v in s.items() if n == "tally_process_resident_memory_bytes"]
    assert rss and all(1 << 20 < v < 1 << 34 for v in rss), rss
    assert value(s, "tally_http_request_duration_seconds_bucket", program="track", le="+Inf") == \
        value(s, "tally_http_request_duration_seconds_count", program="track")


def test_metrics_count_requests_of_every_process(h):
    """Every scrape, whichever track.fcgi process answers (a web server may run several), counts the
    requests of all of them, and totals never go down between scrapes."""
    p = h.create_property()
    before = scrape(h)
    b202 = value(before, "tally_http_requests_total", program="track", code="202")
    b401 = value(before, "tally_http_requests_total", program="track", code="401")
    for _ in range(6):
        expect_counts(h.post_events(p, [ev()], headers=new_client(h)), 1)
    expect_json_error(h.post_events(p, [ev()], headers=new_client(h), auth=None), 401)
    last = None
    for _ in range(8):
        s = scrape(h)
        got = value(s, "tally_http_requests_total", program="track", code="202")
        assert got >= b202 + 6, "scrape counts %s requests with 202, expected at least %s" % (got, b202 + 6)
        assert value(s, "tally_http_requests_total", program="track", code="401") >= b401 + 1
        assert last is None or got >= last, "the total went down between scrapes: %s -> %s" % (last, got)
        last = got
        assert value(s, "tally_processes", program="track") >= 1


def test_metrics_labels_hold_no_client_data(h):
    c = new_client(h)
    p = h.create_property()
    expect_counts(h.post_events(p, [ev("/label-check")], headers=c), 1)
    r = expect(h.http("GET", "/v1/metrics"), 200)
    text = r.body.decode()
    for needle in list(h.seen_ips) + list(h.seen_uas) + ["/label-check", p.id]:
        assert needle not in text, "%r in /v1/metrics" % needle
    labels = set(re.findall(r'[{,]([a-z_]+)="', text))
    assert labels <= {"program", "outcome", "code", "le", "pid"}, labels


def test_metrics_include_report_and_admin(h):
    """report.fcgi and admin.fcgi count in segments of their own, which track.fcgi's answer adds."""
    p = h.create_property()
    auth = {"Authorization": "Bearer " + p.read_key}
    # Earlier tests restart PostgreSQL: a report.fcgi process that finds its connection broken
    # answers 503 and reconnects on its next request.
    deadline = time.time() + 15
    while True:
        r = h.http("GET", "/v1/properties/%s/overview" % p.id, headers=auth)
        if r.status != 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    expect(r, 200)
    expect_json_error(h.http("GET", "/v1/properties/%s/overview" % p.id), 401)
    s = scrape(h)
    assert value(s, "tally_http_requests_total", program="report", code="200") >= 1
    assert value(s, "tally_http_requests_total", program="report", code="401") >= 1
    assert value(s, "tally_processes", program="report") >= 1
    if os.access(os.path.join(h.cgibin, "admin.fcgi"), os.X_OK):
        h.http("GET", "/admin/api/me")
        s = scrape(h)
        assert sum(v for (n, l), v in s.items()
                   if n == "tally_http_requests_total" and 'program="admin"' in l) >= 1


def test_metrics_count_database_errors_and_reconnects(h):
    p = h.create_property()
    expect_counts(h.post_events(p, [ev()], headers=new_client(h)), 1)
    before = scrape(h)
    h.restart_db()
    # Every process's connection broke; the next requests reconnect (events meanwhile may go to
    # the spool, which the background thread replays).
    for _ in range(4):
        expect_counts(h.post_events(p, [ev()], headers=new_client(h)), 1)
    deadline = time.time() + 30
    while h.http("GET", "/v1/health").status != 200:
        assert time.time() < deadline, "track.fcgi did not report the database back"
        time.sleep(0.2)
    s = scrape(h)
    assert value(s, "tally_db_reconnects_total", program="track") > \
        value(before, "tally_db_reconnects_total", program="track"), "no reconnect counted"
    assert value(s, "tally_db_errors_total", program="track") > \
        value(before, "tally_db_errors_total", program="track"), "the broken connections were not counted"


def test_metrics_only_for_this_host(h):
    r = expect_json_error(h.http("GET", "/v1/metrics", headers=new_client(h)), 403)
    assert "metrics" in r.json()["error"], r
    r = expect_json_error(h.http("POST", "/v1/metrics", body=b"{}"), 405)
    assert r.headers.get("Allow") == "GET, HEAD", r.headers


# --- logs ----------------------------------------------------------------------------------------

def test_debug_logs_hold_no_address_or_user_agent(h):
    """Every program at log_level = debug, as plain CGI, over requests that log: accepted, bot,
    invalid, unknown key, a report, an admin call, and the database unreachable."""
    base = open(h.path("tally.conf")).read()
    debug = h.path("tally-debug.conf")
    down = h.path("tally-debug-dbdown.conf")
    with open(debug, "w") as f:
        f.write(re.sub(r"(?m)^log_level = .*$", "log_level = debug", base))
    with open(down, "w") as f:
        f.write(re.sub(r"(?m)^database = .*$", "database = host=%s/nonexistent dbname=tally user=tally" % h.tmp,
                       re.sub(r"(?m)^log_level = .*$", "log_level = debug", base)))
    p = h.create_property()
    logs = []

    def client(ua=None):
        c = new_client(h) if ua is None else h.client(new_client(h)["X-Forwarded-For"], ua)
        return {"REMOTE_ADDR": c["X-Forwarded-For"], "HTTP_USER_AGENT": c["User-Agent"]}

    def events(evs, key=p.write_key, conf=debug, ua=None):
        body = json.dumps({"property_id": p.id, "events": evs}).encode()
        hdr = dict(client(ua), HTTP_AUTHORIZATION="Bearer " + key)
        out, err = h.run_cgi("track.fcgi", conf, "POST", "/v1/events", body, hdr)
        logs.append(err)
        return out

    assert b"Status: 202" in events([ev("/ok")])
    assert b"Status: 202" in events([ev("/bot")], ua=GOOGLEBOT + " " + unique_ua().split()[-1])
    bad = ev("/bad")
    bad["ts"] = "yesterday-ish"
    assert b"Status: 202" in events([bad])
    assert b"Status: 401" in events([ev()], key="wk_" + "x" * 43)
    assert b"Status: 503" in events([ev("/down")], conf=down)
    for program, uri in (("report.fcgi", "/v1/properties/%s/overview" % p.id), ("admin.fcgi", "/admin/api/me")):
        if os.access(os.path.join(h.cgibin, program), os.X_OK):
            hdr = dict(client(), HTTP_AUTHORIZATION="Bearer " + p.read_key)
            logs.append(h.run_cgi(program, debug, "GET", uri, headers=hdr)[1])

    text = "".join(logs)
    lines = [line for line in text.splitlines() if line.strip()]
    # Positive control: debug logging was on and wrote lines.
    assert len(lines) >= 3, "expected debug log lines, got %r" % text[:1000]
    for line in lines:
        if not line.startswith("{"):
            continue   # a sanitizer's or libpq's own text is not ours to shape
        rec = json.loads(line)
        assert set(rec) >= {"ts", "level", "program", "msg"}, rec
    found = [n for n in list(h.seen_ips) + list(h.seen_uas) if n in text]
    found += re.findall(r"TallyE2E/[0-9a-f]+", text)
    assert not found, "client data in the programs' logs: %s; log: %s" % (found[:5], text[:1000])


@contextlib.contextmanager
def _scratch_database(h, name, owner="postgres"):
    """A new database of the suite's cluster for the duration, dropped afterwards; yields the
    libpq environment that reaches it."""
    env = dict(h.pg_env(), PGDATABASE=name)
    psql = os.path.join(h.pg_bindir, "psql")
    h._run([psql, "-X", "-q", "-d", "tally", "-c", "CREATE DATABASE %s OWNER %s" % (name, owner)], "createdb",
           env=env)
    try:
        yield env
    finally:
        subprocess.run([psql, "-X", "-q", "-d", "tally", "-c", "DROP DATABASE IF EXISTS %s" % name],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _migration_files(h):
    """sql/migrations/*.sql in the order tally-migrate applies them."""
    return sorted(f for f in os.listdir(os.path.join(h.src, "sql", "migrations")) if f.endswith(".sql"))


def test_backup_without_salts_restores(h):
    """The README's backup: pg_dump leaving out the salts' rows restores into a working database
    (tally-migrate runs clean on it) with every property and event, and no salt."""
    p = h.create_property()
    expect_counts(h.post_events(p, [ev(path="/backed-up")], headers=new_client(h)), 1)
    assert h.sql_int("SELECT count(*) FROM salts") >= 1
    dump = h.path("tally-backup.dump")
    env = h.pg_env()

    def run(argv, db="tally"):
        """The command's output; a failure raises with the end of it (the harness's runner)."""
        return h._run(argv, " ".join(argv[:2]), env=dict(env, PGDATABASE=db))

    def pg(tool, *args, db="tally"):
        return run([os.path.join(h.pg_bindir, tool), *args], db)

    try:
        pg("pg_dump", "--exclude-table-data=salts", "-Fc", "-f", dump, "tally")
        with _scratch_database(h, "tally_restore"):
            pg("pg_restore", "--no-owner", "-d", "tally_restore", dump)
            counts = "SELECT (SELECT count(*) FROM salts), (SELECT count(*) FROM properties), (SELECT count(*) FROM events)"
            restored = pg("psql", "-X", "-A", "-t", "-c", counts, db="tally_restore").split("|")
            source = pg("psql", "-X", "-A", "-t", "-c", counts).split("|")
            assert restored[0].strip() == "0", restored
            assert restored[1:] == source[1:], (restored, source)
            run(["sh", os.path.join(h.src, "sql", "tally-migrate")], db="tally_restore")
    finally:
        if os.path.exists(dump):
            os.unlink(dump)


def test_concurrent_migrations_both_succeed(h):
    """Two tally-migrate runs at once on a new database (two hosts deploying together) both end
    well, and each migration is applied once: a run that waited for the other's lock skips what the
    other applied."""
    with _scratch_database(h, "tally_concurrent") as env:
        psql = os.path.join(h.pg_bindir, "psql")
        holder, runs = None, []
        try:
            # Both runs are let go together: a session holds tally-migrate's lock until both wait for it.
            holder = subprocess.Popen([psql, "-X", "-q"], env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      text=True)
            holder.stdin.write("SELECT pg_advisory_lock(%d);\n" % MIGRATE_LOCK)
            holder.stdin.flush()
            locks = ("SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks"
                     " WHERE locktype = 'advisory' AND classid = 0 AND objid = %d" % MIGRATE_LOCK +
                     " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")

            def lock_holders_and_waiters():
                return [int(n) for n in h._run([psql, "-X", "-A", "-t", "-c", locks], "pg_locks", env=env).split("|")]

            deadline = time.time() + 30
            while lock_holders_and_waiters()[0] < 1:
                assert time.time() < deadline, "the lock was not taken"
                time.sleep(0.05)
            migrate = ["sh", os.path.join(h.src, "sql", "tally-migrate")]
            runs = [subprocess.Popen(migrate, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                    for _ in range(2)]
            deadline = time.time() + 30
            while lock_holders_and_waiters()[1] < 2:
                for r in runs:
                    assert r.poll() is None, "a run ended before the lock was free (exit %d): %s" % (
                        r.returncode, r.stdout.read()[-2000:])
                assert time.time() < deadline, "the runs did not both wait for the lock"
                time.sleep(0.05)
            holder.communicate("SELECT pg_advisory_unlock(%d);\n" % MIGRATE_LOCK, timeout=30)
            outs = [(r.communicate(timeout=300)[0], r.returncode) for r in runs]
            for out, rc in outs:
                assert rc == 0, "tally-migrate failed beside another run (exit %d): %s" % (rc, out[-2000:])
            migrations = [f[:-4] for f in _migration_files(h)]
            applied = h._run([psql, "-X", "-A", "-t", "-c", "SELECT version FROM schema_migrations ORDER BY 1"],
                             "schema_migrations", env=env).split()
            assert applied == migrations, (applied, migrations)
            said = [line for out, _ in outs for line in out.splitlines()
                    if re.match(r"tally-migrate: applied \d", line)]
            assert sorted(said) == ["tally-migrate: applied %s" % m for m in migrations], outs
        finally:
            for p in [holder] + runs:
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()


def _property_sql(prop_id, key):
    """The statements that give a database fresh from tally-migrate this month's partitions and a
    property `prop_id` of example.com with the write key `key`."""
    return ["SELECT tally_ensure_partitions(date_trunc('month', now())::date, 2)",
            "INSERT INTO properties (id, name, domains, allowed_origins) VALUES ('%s', '%s', '{example.com}', '{*}')"
            % (prop_id, prop_id),
            "INSERT INTO api_keys (property_pk, kind, key_hash, prefix) SELECT pk, 'write', "
            "sha256(convert_to('%s', 'UTF8')), left('%s', 10) FROM properties WHERE id = '%s'" % (key, key, prop_id)]


# The README's lines for PostgreSQL's peer authentication (Database and cron).
PG_IDENT_LINES = [("tally", "www-data", "tally"), ("tally", "root", "tally")]
PG_HBA_LINE = ("local", "tally", "tally", "peer", "map=tally")


def _as(user, env, argv, stdin=None):
    """argv run as `user` with exactly `env` (runuser would reset part of it); returns the process."""
    full = ["runuser", "-u", user, "--", "env", "-i"] + ["%s=%s" % kv for kv in env.items()] + argv
    return subprocess.run(full, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)


def test_readme_database_setup_with_peer_authentication(h):
    """The README's database setup on a PostgreSQL that authenticates as Debian's does (peer, on the
    unix socket). With the README's pg_ident.conf and pg_hba.conf lines, root runs tally-migrate;
    the web server's user runs track.fcgi (the `database` of conf/tally.conf, tally.conf 640
    root:www-data, the spool directory made as the README says), which stores an event; and the
    cron jobs run as that user too (cron/crontab's TALLY_DB): `tally-cron spool` reads the spool,
    `salts` and `retention` (which runs track.fcgi) run. Without the lines, the web server's user
    is refused: they are what makes it work."""
    if os.geteuid() != 0:
        raise Skip("needs root: runs programs as www-data and root against peer authentication")
    readme = re.sub(r"[ \t]+", " ", open(os.path.join(h.src, "README.md")).read())
    for fields in PG_IDENT_LINES + [PG_HBA_LINE]:
        assert re.search(r"(?m)(^|: |# )%s$" % re.escape(" ".join(fields)), readme), \
            "the README does not give the line %r" % " ".join(fields)

    base = h.path("peer-auth")
    data, sock, spool = (os.path.join(base, d) for d in ("data", "sock", "spool"))
    for d in (base, sock):
        os.makedirs(d)
        shutil.chown(d, "postgres", "postgres")
    # The spool directory as the README makes it.
    make_spool = re.search(r"(?m)^ *(install -d .*) /var/spool/tally\b", readme)
    assert make_spool, "the README does not say how to make the spool directory"
    h._run(make_spool.group(1).split() + [spool], "install -d")
    port = 5432
    pg = lambda tool: os.path.join(h.pg_bindir, tool)  # noqa: E731
    h._run(h._as_pg([pg("initdb"), "-D", data, "--auth-local=peer", "--auth-host=scram-sha-256", "-U", "postgres",
                     "-E", "UTF8", "--locale=C", "--no-sync"]), "initdb")
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write("listen_addresses = ''\nport = %d\nunix_socket_directories = '%s'\nfsync = off\n" % (port, sock))

    def ctl(*args):
        h._run(h._as_pg([pg("pg_ctl"), "-D", data, "-l", os.path.join(base, "postgresql.log"), "-w", *args]),
               "pg_ctl " + args[0])

    def as_postgres(sql):
        return h._run(h._as_pg(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", sock, "-p", str(port),
                                "-d", "tally", "-c", sql]), "psql")

    ctl("start")
    try:
        h._run(h._as_pg(["psql", "-X", "-q", "-h", sock, "-p", str(port), "-d", "postgres",
                         "-c", "CREATE ROLE tally LOGIN", "-c", "CREATE DATABASE tally OWNER tally"]), "createdb")
        path_env = h.program_env()
        conninfo = "host=%s port=%d dbname=tally user=tally" % (sock, port)
        refused = _as("www-data", path_env, ["psql", "-X", conninfo, "-c", "SELECT 1"])
        assert refused.returncode != 0 and b"Peer authentication failed" in refused.stderr, refused.stderr

        with open(os.path.join(data, "pg_ident.conf"), "a") as f:
            f.write("".join("%s   %s   %s\n" % fields for fields in PG_IDENT_LINES))
        hba = open(os.path.join(data, "pg_hba.conf")).read()
        first_local = re.search(r"(?m)^local\s", hba).start()
        with open(os.path.join(data, "pg_hba.conf"), "w") as f:
            f.write(hba[:first_local] + "   ".join(PG_HBA_LINE) + "\n" + hba[first_local:])
        ctl("reload")

        # root runs the migrations as tally.
        migrated = subprocess.run(["sh", os.path.join(h.src, "sql", "tally-migrate")], env=dict(path_env, TALLY_DB=conninfo),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        assert migrated.returncode == 0, migrated.stdout[-2000:]
        key = "wk_peerauth" + os.urandom(12).hex()
        for sql in _property_sql("prop_peer", key):
            as_postgres(sql)

        # tally.conf as the README has it: the shipped `database` (this cluster's socket), 640 root:www-data.
        shipped = re.search(r"(?m)^database = (.*)$", open(os.path.join(h.src, "conf", "tally.conf")).read()).group(1)
        assert "host=/var/run/postgresql" in shipped, shipped
        conf = os.path.join(base, "tally.conf")
        with open(conf, "w") as f:
            f.write("database = %s\nspool_dir = %s\nlog_level = info\n"
                    % (shipped.replace("host=/var/run/postgresql", "host=%s port=%d" % (sock, port)),
                       spool))
        shutil.chown(conf, "root", "www-data")
        os.chmod(conf, 0o640)
        track = os.path.join(h.cgibin, "track.fcgi")

        # track.fcgi as www-data, as plain CGI: it stores the event (and opens its spool, which
        # the spool job below reads too).
        body = json.dumps({"property_id": "prop_peer", "events": [ev(path="/peer-auth")]}).encode()
        ip, ua = "198.51.100.91", unique_ua()
        h.seen_ips.add(ip)
        h.seen_uas.add(ua)
        cgi = dict(path_env, TALLY_CONF=conf, REQUEST_METHOD="POST", REQUEST_URI="/v1/events",
                   CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(body)), REMOTE_ADDR=ip,
                   HTTP_AUTHORIZATION="Bearer " + key, HTTP_USER_AGENT=ua)
        out = _as("www-data", cgi, [track], stdin=body)
        assert out.returncode == 0 and out.stdout.startswith(b"Status: 202"), (out.stdout[-500:], out.stderr[-1000:])
        st = os.stat(spool)
        assert st.st_mode & 0o077 == 0 and st.st_uid == pwd.getpwnam("www-data").pw_uid, oct(st.st_mode)

        # The cron jobs as www-data, with cron/crontab's TALLY_DB.
        crontab = open(os.path.join(h.src, "cron", "crontab")).read()
        tally_db = re.search(r'(?m)^TALLY_DB="(.*)"$', crontab).group(1)
        assert "user=tally" in tally_db, tally_db
        cron = dict(path_env, TALLY_CONF=conf, TALLY_TRACK=track,
                    TALLY_DB=tally_db.replace("host=/var/run/postgresql", "host=%s port=%d" % (sock, port)))
        tally_cron = os.path.join(h.src, "cron", "tally-cron")
        for job in ("spool", "salts", "retention"):
            r = _as("www-data", cron, ["sh", tally_cron, job])
            assert r.returncode == 0, "tally-cron %s as www-data: %s" % (job, (r.stdout + r.stderr)[-1500:])
        assert as_postgres("SELECT count(*) FROM events WHERE path = '/peer-auth'").strip() == "1"
    finally:
        subprocess.run(h._as_pg([pg("pg_ctl"), "-D", data, "-m", "immediate", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cgi(h, conf, method, uri, body=b"", headers=None):
    """track.fcgi as plain CGI with tally.conf `conf`: (status line, JSON body)."""
    out, _ = h.run_cgi("track.fcgi", conf, method, uri, body, headers)
    head, _, payload = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(payload)


def test_programs_refuse_a_database_without_the_newest_migration(h):
    """An upgrade installed before its tally-migrate has run: against a database migrated to all
    but the newest migration, track.fcgi's health says so and names tally-migrate, and ingest
    answers 503 instead of failing on a missing column or function; once tally-migrate has run,
    both work. (TLY_SCHEMA_NEEDED in lib/db.h must name the newest migration.)"""
    migrations = _migration_files(h)
    older = h.path("migrations-but-newest")
    os.makedirs(older)
    for f in migrations[:-1]:
        shutil.copy(os.path.join(h.src, "sql", "migrations", f), older)
    psql = os.path.join(h.pg_bindir, "psql")
    with _scratch_database(h, "tally_behind", owner="tally") as env:
        migrate = ["sh", os.path.join(h.src, "sql", "tally-migrate")]
        h._run(migrate + [older], "tally-migrate (all but the newest)", env=dict(env, PGUSER="tally"))
        h._run([psql, "-X", "-q"] + [a for sql in _property_sql("prop_behind", "wk_behind_key_0123456789")
                                     for a in ("-c", sql)], "property", env=env)
        conf = h.path("tally-behind.conf")
        with open(conf, "w") as f:
            f.write(re.sub(r"(?m)^database = .*$", "database = " + h.conninfo.replace("dbname=tally", "dbname=tally_behind"),
                           open(h.path("tally.conf")).read()))
        body = json.dumps({"property_id": "prop_behind", "events": [ev(path="/behind")]}).encode()
        post = {"CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": "Bearer wk_behind_key_0123456789",
                "HTTP_USER_AGENT": unique_ua()}
        h.seen_uas.add(post["HTTP_USER_AGENT"])

        status, health = _cgi(h, conf, "GET", "/v1/health")
        newest = migrations[-1][:3]
        assert status.startswith("Status: 503") and health["db"] == "unreachable", (status, health)
        assert health["schema"] == "behind", health
        assert "needs %s: run tally-migrate" % newest in health["error"], health
        status, answer = _cgi(h, conf, "POST", "/v1/events", body, post)
        assert status.startswith("Status: 503") and "error" in answer, (status, answer)

        h._run(migrate, "tally-migrate", env=dict(env, PGUSER="tally"))
        status, health = _cgi(h, conf, "GET", "/v1/health")
        assert status.startswith("Status: 200") and health["db"] == "ok", (status, health)
        status, answer = _cgi(h, conf, "POST", "/v1/events", body, post)
        assert status.startswith("Status: 202") and answer["accepted"] == 1, (status, answer)
