"""A private ClickHouse cluster for the end-to-end tests of the clickhouse events store: two server
processes on loopback ports, each one shard of the cluster `tally` (its <remote_servers>), with
Tally's tables (sql/tally-clickhouse-setup: a MergeTree table per shard, a Distributed table over
both). Everything lives under one directory; the servers run as the `clickhouse` user when started
as root (like PostgreSQL as `postgres`), else as the current user.

    c = ClickHouseCluster(directory, src_dir)
    c.start()
    c.query("SELECT count() FROM tally.events")      # -> [["3"]]
    c.stop()

Standard library only.
"""
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

SERVER = os.environ.get("TALLY_CLICKHOUSE_SERVER", "/usr/sbin/clickhouse-server")   # tests: another binary


class ClickHouseError(Exception):
    pass


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


USERS_XML = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""


def _config_xml(d, http_port, tcp_port, shards):
    replicas = "".join("<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>" % p for p in shards)
    return """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%(d)s/server.log</log><errorlog>%(d)s/error.log</errorlog>
    <size>10M</size><count>1</count></logger>
  <http_port>%(http)d</http_port>
  <tcp_port>%(tcp)d</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>%(d)s/data/</path>
  <tmp_path>%(d)s/tmp/</tmp_path>
  <user_files_path>%(d)s/user_files/</user_files_path>
  <format_schema_path>%(d)s/format_schemas/</format_schema_path>
  <users_config>%(d)s/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <remote_servers><tally>%(replicas)s</tally></remote_servers>
</yandex>
""" % dict(d=d, http=http_port, tcp=tcp_port, replicas=replicas)


class ClickHouseCluster:
    def __init__(self, directory, src_dir, shards=2, database="tally"):
        self.dir = directory
        self.src = src_dir
        self.database = database
        self.n = shards
        self.http_ports = []
        self.procs = []
        self.argv = []     # per shard: (command, directory)

    @property
    def url(self):
        """The node Tally talks to (every node has the Distributed table)."""
        return "http://127.0.0.1:%d/" % self.http_ports[0]

    def _user(self):
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("clickhouse")
        except KeyError:
            return pwd.getpwnam("nobody")

    def start(self):
        if not os.access(SERVER, os.X_OK):
            raise ClickHouseError("%s not found; apt-get install clickhouse-server (scripts/install-deps)" % SERVER)
        os.makedirs(self.dir, exist_ok=True)
        tcp_ports = [_free_port() for _ in range(self.n)]
        self.http_ports = [_free_port() for _ in range(self.n)]
        user = self._user()
        for i in range(self.n):
            d = os.path.join(self.dir, "shard%d" % (i + 1))
            os.makedirs(d)
            with open(os.path.join(d, "config.xml"), "w") as f:
                f.write(_config_xml(d, self.http_ports[i], tcp_ports[i], tcp_ports))
            with open(os.path.join(d, "users.xml"), "w") as f:
                f.write(USERS_XML)
            if user:
                for root, dirs, files in os.walk(d):
                    for name in dirs + files:
                        os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)
                os.chown(d, user.pw_uid, user.pw_gid)
            argv = [SERVER, "--config-file=%s/config.xml" % d]
            if user:
                argv = ["runuser", "-u", user.pw_name, "--"] + argv
            self.argv.append((argv, d))
            self.procs.append(self._spawn(i))
        for i in range(self.n):
            self._wait(i)
        subprocess.run([os.path.join(self.src, "sql", "tally-clickhouse-setup"), "-d", self.database] +
                       ["http://127.0.0.1:%d/" % p for p in self.http_ports],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def _spawn(self, i):
        argv, d = self.argv[i]
        out = open(os.path.join(d, "stdout.log"), "ab")
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=d)

    def stop_shard(self, i):
        """Stops one shard's server (the cluster then refuses inserts that need it)."""
        p = self.procs[i]
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(60)

    @contextlib.contextmanager
    def shard_stopped(self, i):
        """One shard's server stopped with SIGSTOP (a server that hangs: connections are taken,
        nothing is answered) for the duration."""
        pgid = self.procs[i].pid
        os.killpg(pgid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(pgid, signal.SIGCONT)

    def start_shard(self, i):
        self.procs[i] = self._spawn(i)
        self._wait(i)

    def _wait(self, i):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.procs[i].poll() is not None:
                raise ClickHouseError("clickhouse-server shard %d exited with %d; see %s" % (
                    i + 1, self.procs[i].returncode, os.path.join(self.dir, "shard%d" % (i + 1))))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/" % self.http_ports[i], timeout=2) as r:
                    if r.read().strip() == b"Ok.":
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise ClickHouseError("clickhouse-server shard %d does not answer on port %d" % (i + 1, self.http_ports[i]))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []

    def query(self, sql, shard=0):
        """Runs a statement; a SELECT's rows as lists of strings (JSONCompact, 64-bit integers as
        strings; null as None)."""
        req = urllib.request.Request("http://127.0.0.1:%d/" % self.http_ports[shard],
                                     data=(sql + " FORMAT JSONCompact").encode()
                                     if sql.lstrip().upper().startswith("SELECT") else sql.encode())
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            raise ClickHouseError("clickhouse: %s\n  query: %s" % (e.read().decode(errors="replace").strip(), sql[:500]))
        if not sql.lstrip().upper().startswith("SELECT"):
            return []
        return [[None if v is None else v if isinstance(v, (str, list)) else str(v) for v in row]
                for row in json.loads(body)["data"]]

    def literal(self, value):
        """A ClickHouse string literal (for test-built queries)."""
        out = ["'"]
        for ch in str(value):
            if ch in "\\'":
                out.append("\\" + ch)
            elif ch == "\n":
                out.append("\\n")
            elif ord(ch) < 0x20:
                out.append("\\x%02X" % ord(ch))
            else:
                out.append(ch)
        out.append("'")
        return "".join(out)

    def dump(self):
        """Every stored event, as text: what the privacy audit searches (the data files are compressed)."""
        req = urllib.request.Request(self.url, data=("SELECT * FROM %s.events FORMAT TSVRaw" % self.database).encode())
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
