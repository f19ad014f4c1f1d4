"""Durability: a 202 means the events are committed, or written to the fsync'ed spool and replayed
into the database once it is back. 503 only when the database is unreachable and the spool is full
or disabled."""
import json
import os
import subprocess
import tempfile
import threading
import time

from client import count, ev, expect_counts, expect_json_error, new_client, unique_ua, wait_for
from harness import Skip


def metrics(h):
    """Every series of GET /v1/metrics: {'name{labels}': value}."""
    figures = {}
    for line in h.http("GET", "/v1/metrics").body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            figures[name] = float(value)
    return figures


def metric(h, series):
    """The value of one series of GET /v1/metrics, named as 'name{labels}'; 0 when absent."""
    return metrics(h).get(series, 0)


def healthy(h):
    return h.http("GET", "/v1/health").status == 200


def test_spool_while_database_down(h):
    p = h.create_property()
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/before")], headers=c), 1)   # the key is now known
    h.stop_db()
    try:
        spooled = [ev("/during-%d" % i) for i in range(3)]
        no_id = ev("/during-no-id")
        del no_id["event_id"]
        expect_counts(h.post_events(p, spooled + [no_id], headers=c), 4)
        assert len(h.spool_files()) == 1, h.spool_files()
        with open(os.path.join(h.spool_dir, h.spool_files()[0])) as f:
            text = f.read()
        assert "/during-1" in text and '"event_id":"srv-' in text, "the server gives events an id: %s" % text[:300]
        r = h.http("GET", "/v1/health")
        assert r.status == 503 and r.headers.get("Retry-After"), r
        body = r.json()
        assert body["db"] == "unreachable" and body["spool"]["bytes"] > 0, body
    finally:
        h.start_db()
    assert wait_for(lambda: not h.spool_files()), "spool not replayed: %r" % h.spool_files()
    assert count(h, p, "path LIKE '/during-%%'") == 4
    # The operator sees it in /v1/metrics.
    figures = {k: v for k, v in metrics(h).items() if k.startswith("tally_events_total{")}
    assert figures.get('tally_events_total{program="track",outcome="spooled"}', 0) >= 4, figures
    assert figures.get('tally_events_total{program="track",outcome="replayed"}', 0) >= 4, figures
    assert figures.get('tally_events_total{program="track",outcome="stored"}', 0) >= 1, figures

    if h.events_store == "postgresql":   # the clickhouse store has no sessioniser: reports build visits
        assert wait_for(lambda: metric(h, 'tally_sessionizer_runs_total{program="track"}') >= 1, 20), \
            "the sessioniser's runs are counted"
    # Replayed events keep their ids: sending one again is a duplicate.
    expect_counts(h.post_events(p, [spooled[0]], headers=c), 1, duplicates=1)
    assert wait_for(lambda: healthy(h))


def run_cgi(h, conf_text, body, key):
    """POSTs body to track.fcgi run as a plain CGI program with its own configuration."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write(conf_text)
        conf = f.name
    ua = unique_ua()
    h.seen_uas.add(ua)
    h.seen_ips.add("198.51.100.78")
    try:
        out, _ = h.run_cgi("track.fcgi", conf, "POST", "/v1/events", body, {
            "HTTP_AUTHORIZATION": "Bearer " + key, "REMOTE_ADDR": "198.51.100.78", "HTTP_USER_AGENT": ua})
    finally:
        os.unlink(conf)
    head, _, payload = out.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), json.loads(payload)


def base_conf(h):
    with open(h.path("tally.conf")) as f:
        return "".join(line for line in f if not line.startswith("spool_dir"))


def run_track_command(h, conf_text, *args):
    """track.fcgi run from the command line (as tally-cron does) with its own configuration."""
    conf = h.path("command.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    return subprocess.run([os.path.join(h.cgibin, "track.fcgi")] + list(args), env=h.program_env(TALLY_CONF=conf),
                          capture_output=True, text=True, timeout=60)


def test_503_when_spool_disabled_or_full(h):
    p = h.create_property()
    body = json.dumps({"property_id": p.id, "events": [ev("/cgi-503")]}).encode()
    full = tempfile.mkdtemp(prefix="tally-spool-full-")
    # A spool already at its limit: one waiting file of 2 MiB (sparse) against a limit of 1 MiB.
    with open(os.path.join(full, "0000000000000-1-0.spool"), "wb") as f:
        f.truncate(2 << 20)
    h.stop_db()
    try:
        head, answer = run_cgi(h, base_conf(h), body, p.write_key)
        assert head[0].startswith(b"Status: 503") and any(x.startswith(b"Retry-After:") for x in head), head
        assert "database" in answer["error"], answer
        conf = base_conf(h) + "spool_dir = %s\nspool_max_bytes = 1048576\n" % full
        head, answer = run_cgi(h, conf, body, p.write_key)
        assert head[0].startswith(b"Status: 503"), (head, answer)
        assert len([f for f in os.listdir(full) if f.endswith(".spool")]) == 1, os.listdir(full)
    finally:
        h.start_db()
    assert wait_for(lambda: healthy(h))
    assert count(h, p) == 0


def test_replay_spool_command(h):
    """track.fcgi --replay-spool (tally-cron spool) replays a spool that no server process watches:
    plain CGI sites, or a spool left behind by a stopped server."""
    p = h.create_property()
    spool = tempfile.mkdtemp(prefix="tally-spool-cgi-")
    conf = base_conf(h) + "spool_dir = %s\n" % spool
    body = json.dumps({"property_id": p.id, "events": [ev("/cgi-spooled")]}).encode()
    # The key must be known to this process while the database is down: CGI has no cache across
    # requests, so this request is refused with 503 -- and nothing is spooled.
    h.stop_db()
    try:
        head, answer = run_cgi(h, conf, body, p.write_key)
        assert head[0].startswith(b"Status: 503"), (head, answer)
    finally:
        h.start_db()
    assert wait_for(lambda: healthy(h))
    # A file spooled by a FastCGI process of the same site (same format), replayed by the command.
    row = {"event_id": "cmd-1", "ts_ms": int(time.time() * 1000), "name": "pageview", "visitor": 42,
           "path": "/from-spool", "interactive": True}
    with open(os.path.join(spool, "0000000000001-1-0.spool"), "w") as f:
        json.dump({"format": 1, "jobs": [{"property_pk": p.pk, "rows": [row]}]}, f)
    with open(os.path.join(spool, "0000000000002-1-0.spool"), "w") as f:
        f.write("{not json")
    out = run_track_command(h, conf, "--replay-spool")
    assert out.returncode == 0 and out.stdout.strip() == "events replayed 1", (out.stdout, out.stderr)
    assert count(h, p, "path = '/from-spool' AND event_id = 'cmd-1'") == 1
    left = sorted(os.listdir(spool))
    assert left == ["0000000000002-1-0.spool.bad"], "an unreadable file is set aside: %r" % left
    bad = run_track_command(h, conf, "--bogus")
    assert bad.returncode == 2 and "usage" in bad.stderr, bad


class SustainedIngest:
    """Four threads posting one event per request to the property, from 64 visitors so that no
    address comes near its rate limit, while the `with` block runs. `answers` holds (event_id,
    status, sent, answered) for every request that was answered."""

    def __init__(self, h, prop, prefix):
        self.h, self.prop, self.prefix = h, prop, prefix
        self.clients = [new_client(h) for _ in range(64)]
        self.answers = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._send, args=(n,)) for n in range(4)]

    def _send(self, n):
        i = 0
        while not self.stop.is_set():
            e = ev("/%s-%d-%d" % (self.prefix, n, i))
            i += 1
            sent = time.time()
            try:
                r = self.h.post_events(self.prop, [e], headers=self.clients[(n * 16 + i) % len(self.clients)])
            except OSError:
                continue
            with self.lock:
                self.answers.append((e["event_id"], r.status, sent, time.time()))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def check_each_accepted_stored_once(self):
        """Every event answered 202 is stored, once; every other answer is a 503."""
        accepted = [a[0] for a in self.answers if a[1] == 202]
        stored = set(r[0] for r in self.h.sql("SELECT event_id FROM events WHERE property_pk = %s", self.prop.pk))
        lost = [i for i in accepted if i not in stored]
        assert len(accepted) > 50, "too little load to mean anything: %d accepted" % len(accepted)
        assert not lost, "%d of %d events answered 202 are missing: %r" % (len(lost), len(accepted), lost[:5])
        assert len(stored) == len(set(accepted)), (len(stored), len(set(accepted)))
        assert all(a[1] in (202, 503) for a in self.answers), set(a[1] for a in self.answers)


def test_database_restart_under_load(h):
    """Sustained ingest while PostgreSQL restarts: every event answered 202 is in the database once
    the spool has been replayed (targets.md: 0 lost)."""
    p = h.create_property()
    try:
        with SustainedIngest(h, p, "load") as load:
            time.sleep(1.5)
            h.stop_db()
            time.sleep(2.0)
            h.start_db()
            time.sleep(1.5)
    finally:
        if not h.pg_running:
            h.start_db()
    assert wait_for(lambda: not h.spool_files(), 60), h.spool_files()
    load.check_each_accepted_stored_once()


def test_stopped_database_under_load(h):
    """Sustained ingest while every PostgreSQL process is stopped (SIGSTOP: a server that hangs
    instead of refusing connections): requests go on being answered 202 from the spool, and every
    event so answered is stored once after the server goes on."""
    if h.events_store != "postgresql":
        raise Skip("database_timeout bounds the postgresql store's commit")
    p = h.create_property()
    with h.settings("database_timeout = 1\n"):
        with SustainedIngest(h, p, "stopped") as load:
            time.sleep(1.5)
            with h.postgresql_stopped():
                stopped = time.time()
                time.sleep(8)
            went_on = time.time()
            time.sleep(1.5)
        assert wait_for(lambda: not h.spool_files(), 60), h.spool_files()
    during = [a for a in load.answers if a[1] == 202 and a[2] > stopped + 1 and a[3] < went_on]
    assert len(during) >= 50, "only %d events answered 202 while the server was stopped" % len(during)
    load.check_each_accepted_stored_once()


def spooled_events(h):
    return metric(h, 'tally_events_total{program="track",outcome="spooled"}')


def test_commits_after_database_restart_go_straight_in(h):
    """Every connection of track.fcgi dies with the server. The next commits find theirs broken
    before anything ran on it, and commit on a new one: stored, not spooled."""
    p = h.create_property()
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/before")], headers=c), 1)
    spooled = spooled_events(h)
    h.restart_db()
    # Enough requests, one after another, to reach both track.fcgi processes' writer connections.
    for i in range(8):
        expect_counts(h.post_events(p, [ev("/after-%d" % i)], headers=c), 1)
    expect_counts(h.post_events(p, [ev("/batch-%d" % i) for i in range(40)], headers=c), 40)
    assert spooled_events(h) == spooled, "commits after the restart were spooled"
    assert count(h, p) == 49


def test_reports_after_database_restart(h):
    """report.fcgi's connection dies with the server; its next request reconnects and answers."""
    p = h.create_property()
    auth = {"Authorization": "Bearer " + p.read_key}
    assert h.http("GET", "/v1/properties/%s/overview" % p.id, headers=auth).status == 200
    h.restart_db()
    r = h.http("GET", "/v1/properties/%s/overview" % p.id, headers=auth)
    assert r.status == 200, r


def test_sigterm_loses_nothing_answered(h):
    """Stopping the web server (SIGTERM to lighttpd and its track.fcgi processes) mid-load: requests
    in flight finish and commit before the processes exit; every 202 is stored."""
    p = h.create_property()
    clients = [new_client(h) for _ in range(32)]
    accepted = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(n):
        i = 0
        while not stop.is_set():
            e = ev("/term-%d-%d" % (n, i))
            i += 1
            try:
                r = h.post_events(p, [e], headers=clients[(n * 8 + i) % len(clients)])
            except OSError:
                continue
            if r.status == 202:
                with lock:
                    accepted.append(e["event_id"])

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        h.stop_lighttpd()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
        h.start_lighttpd()
    assert wait_for(lambda: not h.spool_files(), 30), h.spool_files()
    stored = set(r[0] for r in h.sql("SELECT event_id FROM events WHERE property_pk = %s", p.pk))
    lost = [i for i in accepted if i not in stored]
    assert len(accepted) > 20, len(accepted)
    assert not lost, "%d of %d answered 202 are missing" % (len(lost), len(accepted))


def test_commit_not_answered_in_time_is_spooled(h):
    """A database that does not answer a commit within database_timeout counts as down: the events are
    spooled and answered 202 instead of holding the request, and replayed once it answers again."""
    if h.events_store != "postgresql":
        raise Skip("database_timeout bounds the postgresql store's commit")
    p = h.create_property()
    c = new_client(h)
    with h.settings("database_timeout = 1\n"):
        expect_counts(h.post_events(p, [ev("/before-lock")], headers=c), 1)
        spooled_before = metric(h, 'tally_events_total{program="track",outcome="spooled"}')
        lock = h.table_lock("events")
        try:
            held = [ev("/held-%d" % i) for i in range(3)]
            started = time.time()
            expect_counts(h.post_events(p, held, headers=c), 3)
            waited = time.time() - started
            assert h.spool_files(), "the events are spooled while the table is locked"
            assert metric(h, 'tally_events_total{program="track",outcome="spooled"}') == spooled_before + 3
            # For as long again the database is not asked: the next commit is spooled at once.
            started = time.time()
            expect_counts(h.post_events(p, [ev("/held-3")], headers=c), 1)
            at_once = time.time() - started
        finally:
            lock.release()
        assert waited < 10, "answered after %.1f s, not within about database_timeout" % waited
        assert at_once < waited, "the commit after a timeout waited %.1f s again" % at_once
        assert wait_for(lambda: not h.spool_files()), "spool not replayed: %r" % h.spool_files()
        assert count(h, p, "path LIKE '/held-%%'") == 4
        time.sleep(1)   # the rest after the timeout (database_timeout) is over
        # Replayed once: sending them again finds duplicates; and commits go straight in again.
        expect_counts(h.post_events(p, held + [ev("/after-lock")], headers=c), 4, duplicates=3)
        assert count(h, p, "path = '/after-lock'") == 1
    assert count(h, p, "path LIKE '/held-%%'") == 4


def test_request_waiting_for_its_key_holds_up_no_other(h):
    """A request whose key must be looked up while the database keeps it waiting (here: the keys
    table held locked) waits alone: requests whose keys track.fcgi remembers are answered
    meanwhile, and it is answered once the database answers."""
    known, unknown = h.create_property(), h.create_property()
    c = new_client(h)
    with h.settings("key_cache_seconds = 300\n"):
        expect_counts(h.post_events(known, [ev("/known-before")], headers=c), 1)
        lock = h.table_lock("api_keys")
        waiting = {}
        t = threading.Thread(target=lambda: waiting.update(r=h.post_events(unknown, [ev("/unknown")], headers=c)))
        try:
            t.start()
            assert wait_for(lambda: h.sql_int("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                              "AND application_name = 'tally-track'") == 1, 20), \
                "the unknown key's lookup waits for the lock"
            expect_counts(h.post_events(known, [ev("/known-during")], headers=c), 1)
            assert h.http("OPTIONS", "/v1/events", headers={"Origin": "https://example.com"}).status == 204
            assert "r" not in waiting, "answered while its key could not be looked up: %r" % waiting
        finally:
            lock.release()
            t.join(30)
        expect_counts(waiting["r"], 1)
    assert count(h, known, "path LIKE '/known-%%'") == 2
    assert count(h, unknown, "path = '/unknown'") == 1


def test_lookup_not_answered_in_time_takes_the_key_seen_before(h):
    """A key lookup that the database does not answer within database_timeout counts as the
    database being down: a key seen in the last hour goes on working from memory, and an unknown
    one is answered 503 with Retry-After instead of waiting."""
    known, unknown = h.create_property(), h.create_property()
    c = new_client(h)
    with h.settings("database_timeout = 1\n"):
        expect_counts(h.post_events(known, [ev("/seen-before")], headers=c), 1)
        lock = h.table_lock("api_keys")
        try:
            time.sleep(1.5)   # past key_cache_seconds (1 in the suite): the key is to be looked up again
            started = time.time()
            expect_counts(h.post_events(known, [ev("/seen-during")], headers=c), 1)
            r = h.post_events(unknown, [ev("/unknown")], headers=c)
            waited = time.time() - started
        finally:
            lock.release()
        expect_json_error(r, 503)
        assert r.headers.get("Retry-After"), r
        assert waited < 10, "answered after %.1f s, not within about twice database_timeout" % waited
    assert count(h, known, "path LIKE '/seen-%%'") == 2
    assert count(h, unknown, "path = '/unknown'") == 0


def track_processes(h):
    """The pids of the build's track.fcgi processes that are running (not zombies)."""
    exe = os.path.realpath(os.path.join(h.cgibin, "track.fcgi"))
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.path.realpath("/proc/%s/exe" % pid) == exe:
                pids.append(pid)
        except OSError:
            continue
    return pids


def test_background_not_answered_in_time_lets_the_process_stop(h):
    """track.fcgi's background thread (visits, the spool's replay) waits for an answer no longer
    than 6 times database_timeout: with its sessioniser waiting for a table held locked, the process
    still ends soon after SIGTERM, not only once the table is free."""
    if h.events_store != "postgresql":
        raise Skip("the sessioniser runs on the postgresql store")
    p = h.create_property()
    waiting = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tally-track-background' "
               "AND wait_event_type = 'Lock'")
    with h.settings("database_timeout = 1\nsessionize_interval = 1\n"):
        expect_counts(h.post_events(p, [ev("/background")], headers=new_client(h)), 1)
        lock = h.table_lock("sessions")
        try:
            assert wait_for(lambda: h.sql_int(waiting) == 1, 20), "the sessioniser never waited for the lock"
            pids = track_processes(h)
            assert pids, "no track.fcgi process found"
            started = time.time()
            h.stop_lighttpd()
            ended = wait_for(lambda: not set(pids) & set(track_processes(h)), 30)
            waited = time.time() - started
        finally:
            lock.release()
        assert ended, "track.fcgi was still running 30 s after SIGTERM, its background thread waiting"
        assert waited < 20, waited
    assert wait_for(lambda: h.sql_int("SELECT count(*) FROM sessions WHERE property_pk = %s", p.pk) == 1, 30)


def test_plausible_endpoint_spools_too(h):
    p = h.create_property(domains=["spool-plausible.example"])
    body = {"name": "pageview", "url": "https://spool-plausible.example/one", "domain": "spool-plausible.example"}
    hdr = dict(new_client(h), **{"Content-Type": "text/plain"})
    assert h.http("POST", "/api/event", body=json.dumps(body), headers=hdr).status == 202
    h.stop_db()
    try:
        body["url"] = "https://spool-plausible.example/two"
        r = h.http("POST", "/api/event", body=json.dumps(body), headers=hdr)
        assert r.status == 202, r
        assert h.spool_files(), "the event waits in the spool"
    finally:
        h.start_db()
    assert wait_for(lambda: not h.spool_files()), h.spool_files()
    assert count(h, p, "path = '/two'") == 1


def test_spool_of_a_deleted_property_is_dropped(h):
    """Events spooled for a property deleted before the replay are not stored (no orphan rows)."""
    p = h.create_property()
    spool = tempfile.mkdtemp(prefix="tally-spool-gone-")
    row = {"event_id": "gone-1", "ts_ms": int(time.time() * 1000), "name": "pageview", "visitor": 7, "path": "/gone"}
    with open(os.path.join(spool, "0000000000001-1-0.spool"), "w") as f:
        json.dump({"format": 1, "jobs": [{"property_pk": p.pk, "rows": [row]}]}, f)
    h.sql("DELETE FROM properties WHERE pk = %s", p.pk)
    out = run_track_command(h, base_conf(h) + "spool_dir = %s\n" % spool, "--replay-spool")
    assert out.returncode == 0, out.stderr
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", p.pk) == 0
    assert os.listdir(spool) == [], os.listdir(spool)
