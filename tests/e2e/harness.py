"""End-to-end test harness for Tally: a private PostgreSQL cluster and a lighttpd serving the
FastCGI programs of one build directory, all under one temporary directory.

    h = Harness(build_dir)      # or env TALLY_BUILD; default <repo>/build
    h.start()
    prop = h.create_property(domains=["example.com"])
    status, headers, body = h.http("POST", "/v1/events", body={...}, headers=h.client(...))
    h.stop(keep_logs=False)

Standard library only. Runs as root (PostgreSQL then runs as the `postgres` user through runuser)
or as an ordinary user (everything runs as that user).

With TALLY_EVENTS_STORE=clickhouse the harness also starts a two-shard ClickHouse cluster
(clickhouse.py) and configures Tally's clickhouse events store. Tests that read stored events with
h.sql(... events ...) then read ClickHouse's events: before such a query the harness copies them
into a table `events` of the schema tally_ch_mirror (same columns as PostgreSQL's events) and runs
the query with that schema first on the search path. Only `events` is mirrored: the PostgreSQL
visits, rollups and sessioniser see nothing, as on a real clickhouse installation.
"""
import base64
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Skip(Exception):
    """Raise in a test to mark it skipped (with a reason)."""


def signal_processes(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass   # ended (and reaped) meanwhile


class TableLock:
    """Harness.table_lock: a psql session holding a table locked until release()."""

    def __init__(self, h, table):
        self.psql = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], env=h.pg_env("postgres"),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.psql.stdin.write("BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n\\echo locked\n" % table)
        self.psql.stdin.flush()
        assert self.psql.stdout.readline().strip() == "locked"

    def release(self):
        if self.psql.poll() is None:
            self.psql.communicate("ROLLBACK;\n", timeout=30)


class HarnessError(Exception):
    pass


def _pg_bindir():
    for v in ("17", "16", "15", "14"):
        d = "/usr/lib/postgresql/%s/bin" % v
        if os.path.exists(os.path.join(d, "pg_ctl")):
            return d
    d = shutil.which("pg_ctl")
    if d:
        return os.path.dirname(d)
    raise HarnessError("PostgreSQL server binaries (pg_ctl, initdb) not found; run scripts/install-deps")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for_lighttpd(proc, port, logs):
    """Waits until the lighttpd started as proc listens on port; HarnessError naming logs if it
    exits or does not listen within 20 seconds."""
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise HarnessError("lighttpd exited with %d; see %s" % (proc.returncode, logs))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise HarnessError("lighttpd did not listen on port %d; see %s" % (port, logs))


def new_key(prefix):
    """A key secret: prefix + 43 base64url characters (32 random bytes)."""
    return prefix + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def new_event_id():
    return str(uuid.uuid4())


class Response(tuple):
    """(status, headers, body) with helpers; headers is an http.client.HTTPMessage
    (case-insensitive .get())."""

    def __new__(cls, status, headers, body):
        return super().__new__(cls, (status, headers, body))

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def json(self):
        try:
            return json.loads(self[2].decode("utf-8"))
        except Exception as e:
            raise AssertionError("response %d is not JSON (%s): %r" % (self[0], e, self[2][:300]))

    def __repr__(self):
        return "<HTTP %d %r>" % (self[0], self[2][:300])


class Property(tuple):
    """(id, pk, write_key, read_key)"""

    def __new__(cls, id, pk, write_key, read_key):
        return super().__new__(cls, (id, pk, write_key, read_key))

    id = property(lambda self: self[0])
    pk = property(lambda self: self[1])
    write_key = property(lambda self: self[2])
    read_key = property(lambda self: self[3])


class Harness:
    def __init__(self, build_dir=None, src_dir=SRC, verbose=False, durable=False, conf=""):
        self.src = os.path.abspath(src_dir)
        self.build = os.path.abspath(build_dir or os.environ.get("TALLY_BUILD") or os.path.join(self.src, "build"))
        self.cgibin = os.path.join(self.build, "cgi-bin")
        self.verbose = verbose
        # Benchmarks need PostgreSQL as in production (fsync, synchronous commit, quiet logs);
        # the test suite trades durability for speed and logs every statement for the audit.
        self.durable = durable
        self.extra_conf = conf     # more tally.conf lines (benchmarks: e.g. "sessionize_interval = 0")
        self.tmp = None
        self.pg_port = 5432
        self.http_port = None
        self.lighttpd = None
        self.pg_running = False
        # Everything a test sent as a client address or user agent: the privacy audit looks for them.
        self.seen_ips = set()
        self.seen_uas = set()
        self._props = 0
        # Where events are stored: postgresql (default) or clickhouse (clickhouse.py).
        self.events_store = os.environ.get("TALLY_EVENTS_STORE", "postgresql")
        self.clickhouse = None
        self._mirrored = None

    # --- paths ----------------------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    @property
    def pg_data(self):
        return self.path("pg", "data")

    @property
    def pg_sock(self):
        return self.path("pg", "sock")

    @property
    def pg_log(self):
        return self.path("pg", "postgresql.log")

    @property
    def lighttpd_log(self):
        return self.path("lighttpd-error.log")

    @property
    def conninfo(self):
        return "host=%s port=%d dbname=tally user=tally" % (self.pg_sock, self.pg_port)

    # --- process helpers ------------------------------------------------------------------
    def _log(self, msg):
        if self.verbose:
            print("# harness: " + msg, file=sys.stderr)

    def _as_pg(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def _run(self, argv, what, **kw):
        self._log(" ".join(argv))
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        if p.returncode != 0:
            raise HarnessError("%s failed (exit %d): %s" % (what, p.returncode, p.stdout.decode(errors="replace")[-2000:]))
        return p.stdout.decode(errors="replace")

    def pg_env(self, user="postgres"):
        env = dict(os.environ)
        env.update(PGHOST=self.pg_sock, PGPORT=str(self.pg_port), PGDATABASE="tally", PGUSER=user)
        env.pop("TALLY_DB", None)
        return env

    # --- lifecycle ------------------------------------------------------------------------
    def start(self):
        for prog in ("track.fcgi",):
            if not os.access(os.path.join(self.cgibin, prog), os.X_OK):
                raise HarnessError("%s/%s not built (build dir %s)" % (self.cgibin, prog, self.build))
        self.tmp = tempfile.mkdtemp(prefix="tally-e2e-")
        os.chmod(self.tmp, 0o755)
        for d in ("run", "upload", "www"):
            os.mkdir(self.path(d))
        self._start_pg_cluster()
        if self.events_store == "clickhouse":
            self._start_clickhouse()
        elif self.events_store != "postgresql":
            raise HarnessError("TALLY_EVENTS_STORE must be postgresql or clickhouse, not %r" % self.events_store)
        self._write_conf()
        self.start_lighttpd()
        return self

    def _start_pg_cluster(self):
        bindir = _pg_bindir()
        self.pg_bindir = bindir
        os.makedirs(self.pg_sock)
        if os.geteuid() == 0:
            shutil.chown(self.path("pg"), "postgres", "postgres")
            shutil.chown(self.pg_sock, "postgres", "postgres")
        self._run(self._as_pg([bindir + "/initdb", "-D", self.pg_data, "-A", "trust", "-U", "postgres",
                               "-E", "UTF8", "--locale=C", "--no-sync"]), "initdb")
        with open(os.path.join(self.pg_data, "postgresql.conf"), "a") as f:
            f.write("\n# tally e2e\nlisten_addresses = ''\nport = %d\nunix_socket_directories = '%s'\n"
                    "max_connections = 50\nshared_buffers = 128MB\nlog_min_messages = warning\n"
                    % (self.pg_port, self.pg_sock))
            if self.durable:
                f.write("fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n")
            else:
                f.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                        # Log every statement with its parameters: the privacy audit then also
                        # proves that no address or user agent is ever sent to the database.
                        "log_statement = 'all'\nlog_parameter_max_length = -1\n")
        self.start_db()
        self._run(self._as_pg(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg_sock, "-p", str(self.pg_port),
                               "-U", "postgres", "-d", "postgres",
                               "-c", "CREATE ROLE tally LOGIN", "-c", "CREATE DATABASE tally OWNER tally"]),
                  "create database")
        self._run(["sh", os.path.join(self.src, "sql", "tally-migrate")], "sql/tally-migrate", env=self.pg_env("tally"))
        self.sql("SELECT tally_ensure_partitions(date_trunc('month', now() - interval '1 year')::date, 15)")

    def start_db(self):
        self._run(self._as_pg([self.pg_bindir + "/pg_ctl", "-D", self.pg_data, "-l", self.pg_log, "-w", "-t", "60",
                               "start"]), "pg_ctl start")
        self.pg_running = True

    def stop_db(self):
        """Stops PostgreSQL (fast shutdown: open connections are dropped)."""
        if self.pg_running:
            self._run(self._as_pg([self.pg_bindir + "/pg_ctl", "-D", self.pg_data, "-m", "fast", "-w", "-t", "60",
                                   "stop"]), "pg_ctl stop")
            self.pg_running = False

    def restart_db(self):
        self.stop_db()
        self.start_db()

    @property
    def spool_dir(self):
        return self.path("spool")

    def spool_files(self):
        """The spool files waiting for replay (the events track.fcgi accepted while the database was down)."""
        if not os.path.isdir(self.spool_dir):
            return []
        return sorted(f for f in os.listdir(self.spool_dir) if f.endswith(".spool"))

    @property
    def geoip_path(self):
        return self.path("geo.mmdb")

    def _write_conf(self):
        # A tiny GeoIP database of documentation networks (tests/tools/make-test-mmdb).
        self._run([sys.executable, os.path.join(self.src, "tests", "tools", "make-test-mmdb"), self.geoip_path],
                  "make-test-mmdb")
        with open(self.path("tally.conf"), "w") as f:
            f.write("# written by tests/e2e/harness.py\n"
                    "geoip_database = %s\n" % self.geoip_path +
                    "database = %s\n" % self.conninfo +
                    "trusted_proxies = 127.0.0.1 ::1\n"
                    "session_timeout = 1800\n"
                    "max_body_bytes = 1048576\n"
                    "max_batch_events = 1000\n"
                    "key_cache_seconds = 1\n"
                    "spool_dir = %s\n" % self.spool_dir +
                    "log_level = info\n" + self._store_conf() + self.extra_conf)
        with open(self.path("www", "index.html"), "w") as f:
            f.write("<!doctype html><title>tally e2e</title>\n")
        self.http_port = free_port()
        with open(self.path("lighttpd.conf"), "w") as f:
            f.write('''# written by tests/e2e/harness.py
server.port = %(port)d
server.bind = "127.0.0.1"
server.document-root = "%(www)s"
server.errorlog = "%(errlog)s"
server.upload-dirs = ( "%(upload)s" )
server.max-request-size = 4096
server.tag = "tally-e2e"
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html", ".js" => "text/javascript", ".css" => "text/css",
                    ".json" => "application/json", ".svg" => "image/svg+xml" )
server.modules = ( "mod_indexfile" )
var.tally_cgibin = "%(cgibin)s"
var.tally_conf   = "%(conf)s"
var.tally_share  = "%(src)s"
var.tally_rundir = "%(run)s"
include "%(src)s/conf/lighttpd.conf"
''' % dict(port=self.http_port, www=self.path("www"), errlog=self.lighttpd_log, upload=self.path("upload"),
                cgibin=self.cgibin, conf=self.path("tally.conf"), src=self.src, run=self.path("run")))

    def start_lighttpd(self):
        out = open(self.path("lighttpd.out"), "ab")
        self._run(["lighttpd", "-tt", "-f", self.path("lighttpd.conf")], "lighttpd config test")
        self.lighttpd = subprocess.Popen(["lighttpd", "-D", "-f", self.path("lighttpd.conf")], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        wait_for_lighttpd(self.lighttpd, self.http_port, "%s and %s" % (self.path("lighttpd.out"), self.lighttpd_log))
        # Wait until track.fcgi answers (its health endpoint needs the database).
        deadline = time.time() + 20
        last = None
        while time.time() < deadline:
            try:
                last = self.http("GET", "/v1/health")
                if last.status in (200, 503):
                    return
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise HarnessError("track.fcgi does not answer /v1/health: %r" % (last,))

    def stop_lighttpd(self):
        if self.lighttpd and self.lighttpd.poll() is None:
            self.lighttpd.send_signal(signal.SIGTERM)
            try:
                self.lighttpd.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.lighttpd.pid, signal.SIGKILL)
                self.lighttpd.wait()
        self.lighttpd = None

    def stop(self, keep_logs=False):
        """Stops lighttpd and PostgreSQL; removes the temporary directory unless keep_logs."""
        errors = []
        for step in (self.stop_lighttpd, self.stop_db, self.stop_clickhouse):
            try:
                step()
            except Exception as e:  # keep going: stop everything we can
                errors.append(str(e))
        if self.tmp and not keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            print("# e2e logs kept in %s (lighttpd-error.log, pg/postgresql.log, tally.conf)" % self.tmp,
                  file=sys.stderr)
        return errors

    # --- the clickhouse events store -------------------------------------------------------
    def unavailable(self):
        """Why this run cannot take place on this machine (a part it needs is not installed), or None."""
        if self.events_store == "clickhouse":
            import clickhouse
            if not os.access(clickhouse.SERVER, os.X_OK):
                return "the clickhouse events store needs clickhouse-server (%s), which is not installed" % clickhouse.SERVER
        return None

    def _start_clickhouse(self):
        import clickhouse
        self.sql("CREATE SCHEMA tally_ch_mirror")
        self.sql("CREATE TABLE tally_ch_mirror.events (LIKE public.events INCLUDING DEFAULTS)")
        cluster = clickhouse.ClickHouseCluster(self.path("clickhouse"), self.src)
        self.clickhouse = cluster
        cluster.start()

    def _store_conf(self):
        if self.events_store != "clickhouse":
            return ""
        return "events_store = clickhouse\nclickhouse_url = %s\nclickhouse_shards = %s\n" % (
            self.clickhouse.url, " ".join("http://127.0.0.1:%d/" % port for port in self.clickhouse.http_ports))

    def stop_clickhouse(self):
        if self.clickhouse:
            self.clickhouse.stop()
            self.clickhouse = None

    _MIRROR_TEXT = ("hostname", "path", "query", "title", "referrer", "source", "utm_source", "utm_medium",
                    "utm_campaign", "utm_term", "utm_content", "campaign_id", "country", "region", "city", "device",
                    "browser", "browser_version", "os", "os_version")

    @staticmethod
    def _decimal_e4(e4):
        if e4 is None:
            return None
        return "%s%d.%04d" % ((("-" if int(e4) < 0 else ""),) + divmod(abs(int(e4)), 10000))

    @staticmethod
    def _props_json(keys, values, kinds):
        """The custom properties as the JSON they were sent as (props.kind: 0 string, 1 number,
        2 boolean; numbers and booleans are their own JSON text)."""
        return "{%s}" % ", ".join("%s: %s" % (json.dumps(k), v if str(t) in ("1", "2") else json.dumps(v))
                                  for k, v, t in zip(keys, values, kinds))

    def _mirror_events(self):
        """Copies ClickHouse's events into tally_ch_mirror.events, when they changed since the last copy:
        only the new ones when nothing else changed (what arrived since has higher seq), else all."""
        db = self.clickhouse.database
        state = tuple(int(v) for v in self.clickhouse.query(
            "SELECT count(), max(seq), sum(cityHash64(event_id)) FROM %s.events" % db)[0])
        if state == self._mirrored:
            return
        where, truncate = "", "TRUNCATE tally_ch_mirror.events;\n"
        if self._mirrored:
            count, top, digest = self._mirrored
            added = [int(v) for v in self.clickhouse.query(
                "SELECT count(), sum(cityHash64(event_id)) FROM %s.events WHERE seq > %d" % (db, top))[0]]
            if count + added[0] == state[0] and (digest + added[1]) % 2 ** 64 == state[2]:
                where, truncate = " WHERE seq > %d" % top, ""
        cols = ("property_pk, ts_ms, seq, event_id, name, visitor, prev_visitor, session, %s, screen_width, "
                "user_id_hash, interactive, revenue_amount_e4, revenue_currency, visit_token, props.key, props.value, "
                "props.kind"
                % ", ".join(self._MIRROR_TEXT))
        lines = []
        for r in self.clickhouse.query("SELECT %s FROM %s.events%s" % (cols, db, where)):
            pk, ts_ms, seq, event_id, name, visitor, prev, session = r[:8]
            width, uid, interactive, e4, currency, token, keys, values, kinds = r[28:]
            rec = dict(zip(self._MIRROR_TEXT, r[8:28]))
            rec.update(property_pk=int(pk), ts_ms=int(ts_ms), seq=int(seq), event_id=event_id or None, name=name,
                       visitor=int(visitor), prev_visitor=None if prev is None else int(prev),
                       session=None if session is None else int(session),
                       screen_width=None if width is None else int(width), user_id_hash=uid,
                       interactive=interactive == "1", revenue_amount=self._decimal_e4(e4),
                       revenue_currency=currency, visit_token=token, props="\x00props" if keys else None)
            line = json.dumps(rec).replace('"\\u0000props"', self._props_json(keys, values, kinds))
            lines.append(line.replace("\\", "\\\\"))
        load = ("BEGIN;\n%sCREATE TEMP TABLE mirror_in (doc jsonb) ON COMMIT DROP;\n"
                "COPY mirror_in (doc) FROM STDIN;\n%s\\.\n"
                # ts as tally_ingest() makes it from the milliseconds.
                "INSERT INTO tally_ch_mirror.events SELECT x.* FROM mirror_in, jsonb_populate_record("
                "NULL::tally_ch_mirror.events, doc || jsonb_build_object('ts', to_timestamp((doc->>'ts_ms')::bigint / 1000.0))) x;\n"
                "COMMIT;\n") % (truncate, "".join(l + "\n" for l in lines))
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg_sock, "-p", str(self.pg_port),
                            "-U", "postgres", "-d", "tally"], input=load.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise HarnessError("mirroring ClickHouse's events failed: %s" % p.stderr.decode(errors="replace")[-2000:])
        self._mirrored = state

    # --- database -------------------------------------------------------------------------
    def _psql(self, query, args, extra):
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg_sock, "-p", str(self.pg_port),
                "-U", "postgres", "-d", "tally"] + extra
        # Arguments go in as psql variables (:'pN' is quoted by psql), never pasted into SQL.
        parts = query.split("%s")
        if len(parts) - 1 != len(args):
            raise HarnessError("sql: %d placeholders, %d arguments" % (len(parts) - 1, len(args)))
        text = parts[0]
        for i, a in enumerate(args):
            if a is None:
                raise HarnessError("sql: use NULL in the query text instead of a None argument")
            if isinstance(a, bytes):
                a = "\\x" + a.hex()
            argv += ["-v", "p%d=%s" % (i, a)]
            text += ":'p%d'" % i + parts[i + 1]
        if self.clickhouse and re.search(r"(?<![.'])\bevents\b", query):
            self._mirror_events()
            text = "SET search_path = tally_ch_mirror, public;\n" + text
        p = subprocess.run(argv, input=(text.replace("%%", "%") + "\n").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise HarnessError("sql failed: %s\n  query: %s" % (p.stderr.decode(errors="replace").strip(), query))
        return p.stdout.decode()

    def sql(self, query, *args):
        """Runs SQL (placeholders %s, %% for a literal %); returns the rows as tuples of strings,
        None for NULL."""
        out = self._psql(query, args, ["-A", "-t", "-F", "\x1f", "-R", "\x1e", "-P", "null=\x1d"])
        rows = []
        for rec in out.split("\x1e"):
            rec = rec.strip("\n")
            if rec == "":
                continue
            rows.append(tuple(None if v == "\x1d" else v for v in rec.split("\x1f")))
        return rows

    def sql_value(self, query, *args):
        rows = self.sql(query, *args)
        return rows[0][0] if rows else None

    def sql_int(self, query, *args):
        return int(self.sql_value(query, *args))

    def sql_dicts(self, query, *args):
        """A SELECT's rows as dicts with JSON types."""
        out = self._psql("SELECT coalesce(json_agg(t), '[]') FROM (" + query + ") t", args, ["-A", "-t"])
        return json.loads(out)

    def sessionize(self):
        """Runs the sessioniser until every stored event is in a visit; returns how many it took."""
        total = 0
        while True:
            n = self.sql_int("SELECT tally_sessionize(100000)")
            if n == 0:
                return total
            total += n

    def pg_dump(self):
        p = subprocess.run(["pg_dump", "--data-only", "-h", self.pg_sock, "-p", str(self.pg_port), "-U", "postgres",
                            "tally"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise HarnessError("pg_dump failed: %s" % p.stderr.decode(errors="replace"))
        return p.stdout

    # --- fixtures -------------------------------------------------------------------------
    def create_property(self, domains=("example.com",), allowed_origins=("*",), id=None, name=None, **settings):
        """Creates a property with one write and one read key; returns Property(id, pk, write_key,
        read_key). `settings` are other columns of properties (session_timeout=..., drop_gpc=...)."""
        self._props += 1
        id = id or "prop_e2e%d_%s" % (self._props, uuid.uuid4().hex[:8])
        name = name or id
        cols = ["id", "name", "domains", "allowed_origins"]
        vals = [id, name, "{%s}" % ",".join(domains), "{%s}" % ",".join(allowed_origins)]
        for k, v in settings.items():
            if not k.replace("_", "").isalnum():
                raise HarnessError("bad column %r" % k)
            cols.append(k)
            if isinstance(v, (list, tuple)):
                v = "{%s}" % ",".join(v)
            vals.append(str(v).lower() if isinstance(v, bool) else str(v))
        pk = self.sql_value("INSERT INTO properties (%s) VALUES (%s) RETURNING pk" %
                            (", ".join(cols), ", ".join(["%s"] * len(vals))), *vals)
        wk, rk = self.add_key(int(pk), "write"), self.add_key(int(pk), "read")
        return Property(id, int(pk), wk, rk)

    def add_key(self, pk, kind="write"):
        secret = new_key("wk_" if kind == "write" else "rk_")
        self.sql("INSERT INTO api_keys (property_pk, kind, key_hash, prefix) "
                 "VALUES (%s, %s, sha256(convert_to(%s, 'UTF8')), left(%s, 10))", pk, kind, secret, secret)
        return secret

    def revoke_key(self, secret):
        self.sql("UPDATE api_keys SET revoked_at = now() WHERE key_hash = sha256(convert_to(%s, 'UTF8'))", secret)

    def client(self, ip, ua):
        """Headers that make lighttpd (a trusted proxy at 127.0.0.1) present `ip` as the client
        address; both values are registered for the privacy audit."""
        self.seen_ips.add(ip)
        self.seen_uas.add(ua)
        return {"X-Forwarded-For": ip, "User-Agent": ua}

    @contextlib.contextmanager
    def settings(self, lines):
        """The programs served with more tally.conf lines (lighttpd restarted) for the duration."""
        conf = self.path("tally.conf")
        with open(conf) as f:
            saved = f.read()
        self.stop_lighttpd()
        try:
            with open(conf, "a") as f:
                f.write(lines)
            self.start_lighttpd()
            yield
        finally:
            self.stop_lighttpd()
            with open(conf, "w") as f:
                f.write(saved)
            self.start_lighttpd()

    def table_lock(self, table):
        """A session holding `table` locked ACCESS EXCLUSIVE, as a migration that rewrites it does,
        until its release(): statements that touch the table wait for it."""
        return TableLock(self, table)

    @contextlib.contextmanager
    def postgresql_stopped(self):
        """Every PostgreSQL process stopped (SIGSTOP: a server that hangs) for the duration: the
        postmaster first, so that it starts no more, then the processes it had started; they go on
        in the opposite order."""
        with open(os.path.join(self.pg_data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        signal_processes([postmaster], signal.SIGSTOP)
        children = []
        try:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                            children.append(int(pid))
                except OSError:
                    continue
            signal_processes(children, signal.SIGSTOP)
            yield
        finally:
            signal_processes(children + [postmaster], signal.SIGCONT)

    # --- programs run directly -----------------------------------------------------------
    @staticmethod
    def program_env(**settings):
        """The environment a program gets from a web server or cron here: PATH, the sanitizer
        build's settings (scripts/test), and `settings`."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update((k, os.environ[k]) for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ)
        env.update(settings)
        return env

    def run_cgi(self, program, conf, method, uri, body=b"", headers=None):
        """One of cgi-bin's programs run as plain CGI with tally.conf `conf` and the CGI variables
        `headers` (HTTP_..., REMOTE_ADDR); it must exit 0. Returns (stdout bytes, stderr text)."""
        env = self.program_env(TALLY_CONF=conf, REQUEST_METHOD=method, REQUEST_URI=uri,
                               CONTENT_LENGTH=str(len(body)), CONTENT_TYPE="application/json")
        env.update(headers or {})
        p = subprocess.run([os.path.join(self.cgibin, program)], input=body, env=env, capture_output=True, timeout=60)
        assert p.returncode == 0, "%s exited with %d: %r" % (program, p.returncode, p.stderr[-500:])
        return p.stdout, p.stderr.decode(errors="replace")

    # --- HTTP -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def served_by(self, port):
        """http and post_events against another server on 127.0.0.1 for the duration."""
        saved = self.http_port
        self.http_port = port
        try:
            yield
        finally:
            self.http_port = saved

    def http(self, method, path, body=None, headers=None, timeout=30):
        """One request on a fresh connection. body: bytes, str, or a JSON-able object (sent as
        JSON). Returns Response(status, headers, body_bytes)."""
        headers = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        ua = headers.get("User-Agent")
        if ua:
            self.seen_uas.add(ua)
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def http_raw(self, data, timeout=30):
        """Sends raw bytes (a hand-written request) and returns Response parsed from the answer."""
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=timeout)
        try:
            s.sendall(data)
            r = http.client.HTTPResponse(s)
            r.begin()
            return Response(r.status, r.headers, r.read())
        finally:
            s.close()

    def post_events(self, prop, events, headers=None, auth="bearer", envelope=None, path="/v1/events",
                    content_type="application/json"):
        """POSTs an envelope {"schema_version":1,"property_id":prop.id,"events":events} (plus
        `envelope` fields) with the property's write key sent the `auth` way."""
        env = {"schema_version": 1, "property_id": prop.id if prop else None, "events": events}
        env.update(envelope or {})
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        if auth == "bearer":
            headers["Authorization"] = "Bearer " + prop.write_key
        elif auth == "x-write-key":
            headers["X-Write-Key"] = prop.write_key
        elif auth == "query":
            path += ("&" if "?" in path else "?") + "key=" + prop.write_key
        return self.http("POST", path, body=json.dumps(env), headers=headers)
