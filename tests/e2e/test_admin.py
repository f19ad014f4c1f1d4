"""End-to-end tests of admin.fcgi (api.md section 3, docs/admin-api.md) over HTTP: first-run
sign-up, sign-in and sign-out, the session cookie and its CSRF token, login throttling, properties,
keys, goals, share links, the team and its roles, the raw-events export, the audit log, and the
dashboard cookie on report.fcgi. Against lighttpd + admin.fcgi (+ track.fcgi, report.fcgi) +
PostgreSQL.

The suite shares one database, so there is one first-run owner: the first test signs it up (it is
the first test of the suite) and every other test signs in as it or as accounts it invites. Every
browser (Dash) has its own client address and user agent, registered for the privacy audit; every
password, token and key secret handed out is remembered, and the last test looks for them on disk.
"""
import hashlib
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import uuid

from client import ev, expect, expect_counts, expect_json_error, new_ip, unique_ua
from harness import Property, Skip

OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "first owner password"
COOKIE = "tally_session"


# --- helpers -------------------------------------------------------------------------------------

def secrets(h):
    """Every secret the tests saw (passwords, tokens, key secrets): none may be stored or logged."""
    if not hasattr(h, "admin_secrets"):
        h.admin_secrets = set()
    return h.admin_secrets


def sha(secret):
    """SHA-256 hex of a secret, as the database stores it (queries must not log the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def unique(prefix=""):
    return prefix + uuid.uuid4().hex[:10]


class Dash:
    """One browser on the dashboard: its own client address and user agent, its session cookie and
    CSRF token. Paths without a leading '/' are below /admin/api/."""

    def __init__(self, h, ip=None):
        self.h = h
        self.headers = h.client(ip or new_ip(), unique_ua())
        self.cookie = None
        self.csrf = None
        self.user = None
        self.last_set_cookie = None

    def request(self, method, path, body=None, csrf=True, headers=None):
        hd = dict(self.headers)
        if self.cookie:
            hd["Cookie"] = "%s=%s" % (COOKIE, self.cookie)
        if csrf and self.csrf and method != "GET":
            hd["X-CSRF-Token"] = self.csrf
        if isinstance(body, (str, bytes)):
            hd["Content-Type"] = "application/json"
        hd.update(headers or {})
        r = self.h.http(method, path if path.startswith("/") else "/admin/api/" + path, body=body, headers=hd)
        for c in r.headers.get_all("Set-Cookie") or []:
            if c.startswith(COOKIE + "="):
                self.last_set_cookie = c
                self.cookie = c[len(COOKIE) + 1:].split(";")[0] or None
                if self.cookie:
                    secrets(self.h).add(self.cookie)
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def signed_in(self, r):
        """Takes the session of a successful sign-in (or sign-up, or accepted invitation)."""
        body = r.json()
        self.csrf = body["csrf_token"]
        self.user = body["user"]
        secrets(self.h).add(self.csrf)
        return body

    def sign_in(self, email, password):
        r = self.post("session", {"email": email, "password": password})
        expect(r, 200)
        self.signed_in(r)
        return self

    def report(self, prop_id, report="overview", query=""):
        hd = dict(self.headers)
        if self.cookie:
            hd["Cookie"] = "%s=%s" % (COOKIE, self.cookie)
        return self.h.http("GET", "/v1/properties/%s/%s%s" % (prop_id, report, "?" + query if query else ""),
                           headers=hd)


def ok(r, status=200):
    expect(r, status)
    return r.json() if status != 204 else None


def err(r, status, field=None):
    expect_json_error(r, status, field)
    return r.json()["error"]


def ensure_owner(h):
    """Signs up the first-run owner if nobody has; returns True when this call did it."""
    if getattr(h, "admin_owner_ready", False):
        return False
    d = Dash(h)
    if not ok(d.get("signup"))["open"]:
        raise Skip("an account existed before these tests: the first-run owner is not theirs")
    secrets(h).add(OWNER_PASSWORD)
    ok(d.post("signup", {"email": OWNER_EMAIL, "password": OWNER_PASSWORD}), 201)
    h.admin_owner_ready = True
    return True


def owner(h):
    ensure_owner(h)
    return Dash(h).sign_in(OWNER_EMAIL, OWNER_PASSWORD)


def new_property(d, **settings):
    body = {"name": unique("Site ")}
    body.update(settings)
    return ok(d.post("properties", body), 201)


def pk_of(h, prop_id):
    return h.sql_int("SELECT pk FROM properties WHERE id = %s", prop_id)


def new_key(d, prop_id, kind, name=""):
    body = ok(d.post("properties/%s/keys" % prop_id, {"kind": kind, "name": name}), 201)
    secrets(d.h).add(body["secret"])
    return body


def as_property(h, prop_id, write_key=None, read_key=None):
    """A harness Property for h.post_events and friends."""
    return Property(prop_id, pk_of(h, prop_id), write_key, read_key)


def invite(o, prop_id, role, email=None):
    email = email or unique("user-") + "@example.org"
    body = ok(o.post("properties/%s/invitations" % prop_id, {"email": email, "role": role}), 201)
    secrets(o.h).add(body["token"])
    return email, body


def member(h, o, prop_id, role, email=None):
    """A new account with `role` on prop_id, signed in through its invitation."""
    email, inv = invite(o, prop_id, role, email)
    password = unique("password-")
    secrets(h).add(password)
    d = Dash(h)
    r = d.post("invitations/accept", {"token": inv["token"], "password": password})
    expect(r, 200)
    d.signed_in(r)
    d.email, d.password = email, password
    return d


def wait_for_key_cache():
    """The programs remember key lookups for key_cache_seconds (1 in the e2e tally.conf)."""
    time.sleep(1.2)


def pageview(path="/", ts=None, title="T", **extra):
    e = ev(path, ts=ts, **extra)
    e["context"]["page"]["title"] = title
    return e


# --- first run, sign-in, sessions ----------------------------------------------------------------

def test_health(h):
    want = {"status": "ok", "db": "ok"}
    if h.events_store == "clickhouse":
        want["clickhouse"] = "ok"
    assert ok(Dash(h).get("health")) == want


def test_first_run_signup(h):
    d = Dash(h)
    if h.sql_int("SELECT count(*) FROM users") > 0:
        raise Skip("an account exists already: first-run sign-up cannot be tested in this run")
    assert ok(d.get("signup")) == {"open": True}
    # Bad sign-ups name their field and create nothing.
    err(d.post("signup", {"email": "not-an-email", "password": OWNER_PASSWORD}), 400, "email")
    err(d.post("signup", {"email": OWNER_EMAIL, "password": "short"}), 400, "password")
    err(d.post("signup", {"email": OWNER_EMAIL}), 400, "password")
    err(d.request("POST", "signup", "email=%s&password=x" % OWNER_EMAIL,
                  headers={"Content-Type": "application/x-www-form-urlencoded"}), 415, "Content-Type")
    err(d.request("POST", "signup", "{not json", headers={"Content-Type": "application/json"}), 400, "body")
    assert h.sql_int("SELECT count(*) FROM users") == 0

    assert ensure_owner(h)
    assert h.sql_int("SELECT count(*) FROM users") == 1
    row = h.sql_dicts("SELECT email, password_hash, instance_owner FROM users")[0]
    assert row["email"] == OWNER_EMAIL and row["instance_owner"] is True, row
    assert row["password_hash"].startswith("$argon2id$") and OWNER_PASSWORD not in row["password_hash"], row

    # Closed from now on, whoever asks.
    assert ok(d.get("signup")) == {"open": False}
    e = err(d.post("signup", {"email": "second@example.com", "password": "second password!"}), 409)
    assert "invitation" in e, e
    assert h.sql_int("SELECT count(*) FROM users") == 1


def test_signup_answer_and_cookie_flags(h):
    """The session cookie: HttpOnly, SameSite=Lax, Path=/, a lifetime, not Secure over plain HTTP;
    the database keeps only the SHA-256 of its token."""
    d = owner(h)
    c = d.last_set_cookie
    parts = [p.strip() for p in c.split(";")]
    assert parts[0].startswith(COOKIE + "=ts_") and len(parts[0]) == len(COOKIE) + 1 + 46, c
    flags = set(parts[1:])
    assert {"Path=/", "HttpOnly", "SameSite=Lax"} <= flags, c
    assert "Max-Age=1209600" in flags and "Secure" not in flags, c
    assert h.sql_int("SELECT count(*) FROM admin_sessions WHERE token_hash = decode(%s, 'hex')",
                     sha(d.cookie)) == 1
    assert d.cookie.encode() not in h.pg_dump()
    s = ok(d.get("session"))
    assert s["user"]["email"] == OWNER_EMAIL and s["user"]["instance_owner"] and s["user"]["can_create_properties"]
    assert s["csrf_token"] == d.csrf and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", s["expires_at"]), s


def test_cookie_is_secure_over_https(h):
    """Served over HTTPS (the server's HTTPS=on), the cookie is Secure; admin.fcgi as plain CGI."""
    ensure_owner(h)
    ip = new_ip()
    h.seen_ips.add(ip)
    body = json.dumps({"email": OWNER_EMAIL, "password": OWNER_PASSWORD}).encode()
    env = {k: v for k, v in os.environ.items() if k.startswith(("ASAN_", "UBSAN_", "PATH", "LANG"))}
    env.update(TALLY_CONF=h.path("tally.conf"), GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="POST",
               REQUEST_URI="/admin/api/session", QUERY_STRING="", CONTENT_TYPE="application/json",
               CONTENT_LENGTH=str(len(body)), REMOTE_ADDR=ip, HTTPS="on", HTTP_HOST="stats.example.com")
    p = subprocess.run([os.path.join(h.cgibin, "admin.fcgi")], input=body, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    head, _, payload = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "Status: 200 OK", lines
    cookies = [l for l in lines if l.startswith("Set-Cookie: %s=" % COOKIE)]
    assert len(cookies) == 1 and cookies[0].endswith("; Secure") and "HttpOnly" in cookies[0], lines
    secrets(h).add(cookies[0].split("=", 1)[1].split(";")[0])
    assert json.loads(payload)["user"]["email"] == OWNER_EMAIL


def test_sign_in_and_out(h):
    ensure_owner(h)
    d = Dash(h)
    # A wrong password and an unknown account get the same answer.
    wrong = err(d.post("session", {"email": OWNER_EMAIL, "password": "not the password"}), 401)
    unknown = err(d.post("session", {"email": "nobody@example.com", "password": "not the password"}), 401)
    assert wrong == unknown, (wrong, unknown)
    assert d.cookie is None
    err(d.post("session", {"email": OWNER_EMAIL}), 400, "password")
    err(d.post("session", {"email": "owner", "password": "x"}), 400, "email")
    err(d.post("session", {"email": OWNER_EMAIL, "password": "x" * 1025}), 400, "password")
    # Emails are matched without regard to case.
    d.sign_in(OWNER_EMAIL.upper(), OWNER_PASSWORD)
    assert d.user["email"] == OWNER_EMAIL
    ok(d.get("session"))
    # Signing out needs the CSRF token too, ends the session and expires the cookie.
    old = d.cookie
    err(d.delete("session", csrf=False), 403, "X-CSRF-Token")
    ok(d.delete("session"), 204)
    assert "Max-Age=0" in d.last_set_cookie and d.cookie is None, d.last_set_cookie
    d.cookie = old
    e = err(d.get("session"), 401, "session")
    assert "Max-Age=0" in d.last_set_cookie, "a dead session cookie is expired"
    assert h.sql_int("SELECT count(*) FROM admin_sessions WHERE token_hash = decode(%s, 'hex')", sha(old)) == 0


def test_expired_and_forged_sessions(h):
    d = owner(h)
    for forged in ("ts_" + "A" * 43, "garbage", "wk_" + "A" * 43, "ts_" + "A" * 500):
        f = Dash(h)
        f.cookie = forged
        err(f.get("properties"), 401)
    nobody = Dash(h)
    e = err(nobody.get("properties"), 401)
    assert "sign" in e, e
    h.sql("UPDATE admin_sessions SET expires_at = now() - interval '1 second' "
          "WHERE token_hash = decode(%s, 'hex')", sha(d.cookie))
    err(d.get("session"), 401, "session")


def test_every_signed_in_route_needs_a_session(h):
    ensure_owner(h)
    anon = Dash(h)
    pid = "prop_doesnotmatter"
    routes = [("GET", "session"), ("DELETE", "session"), ("POST", "account/password"), ("GET", "audit"),
              ("GET", "timezones"), ("GET", "properties"), ("POST", "properties"),
              ("GET", "properties/%s" % pid), ("PATCH", "properties/%s" % pid), ("DELETE", "properties/%s" % pid)]
    for sub in ("keys", "goals", "shares", "invitations"):
        routes += [("GET", "properties/%s/%s" % (pid, sub)), ("POST", "properties/%s/%s" % (pid, sub))]
    routes.append(("GET", "properties/%s/members" % pid))
    routes += [("POST", "properties/%s/keys/1/revoke" % pid), ("POST", "properties/%s/keys/1/rotate" % pid),
               ("PATCH", "properties/%s/goals/1" % pid), ("DELETE", "properties/%s/goals/1" % pid),
               ("POST", "properties/%s/shares/1/revoke" % pid), ("PATCH", "properties/%s/members/1" % pid),
               ("DELETE", "properties/%s/members/1" % pid), ("DELETE", "properties/%s/invitations/1" % pid),
               ("GET", "properties/%s/export/events" % pid), ("GET", "properties/%s/audit" % pid)]
    wrong = [(m, p, r.status) for m, p in routes for r in [anon.request(m, p, {} if m != "GET" else None)]
             if r.status != 401 or "error" not in r.json()]
    assert not wrong, wrong


def test_csrf_token_required_on_every_change(h):
    o = owner(h)
    other = owner(h)          # a second session of the same account has another token
    assert other.csrf != o.csrf
    p = new_property(o)
    pid = p["id"]
    goal = ok(o.post("properties/%s/goals" % pid, {"name": "G", "event_name": "signup"}), 201)
    attempts = [("POST", "properties", {"name": "x"}), ("PATCH", "properties/" + pid, {"name": "x"}),
                ("DELETE", "properties/" + pid, {"confirm": pid}),
                ("POST", "properties/%s/keys" % pid, {"kind": "write"}),
                ("POST", "properties/%s/goals" % pid, {"name": "H", "event_name": "x"}),
                ("DELETE", "properties/%s/goals/%d" % (pid, goal["id"]), None),
                ("POST", "properties/%s/shares" % pid, {}),
                ("POST", "properties/%s/invitations" % pid, {"email": "x@example.com", "role": "viewer"}),
                ("POST", "account/password", {"current_password": OWNER_PASSWORD, "new_password": "x" * 12}),
                ("DELETE", "session", None)]
    for method, path, body in attempts:
        for token in (None, "", other.csrf, o.csrf[:-1] + ("A" if o.csrf[-1] != "A" else "B")):
            hd = {"X-CSRF-Token": token} if token is not None else {}
            r = o.request(method, path, body, csrf=False, headers=hd)
            err(r, 403, "X-CSRF-Token")
    # Nothing happened; with the token the same requests work.
    assert ok(o.get("properties/" + pid))["name"] == p["name"]
    assert ok(o.patch("properties/" + pid, {"name": "Renamed"}))["name"] == "Renamed"
    ok(o.delete("properties/%s/goals/%d" % (pid, goal["id"])), 204)
    ok(o.get("session"))


# --- login throttling ----------------------------------------------------------------------------

def test_login_throttled_per_account(h):
    o = owner(h)
    p = new_property(o)
    victim = member(h, o, p["id"], "viewer")
    # Five failures, each from another address: the account is throttled, whoever asks.
    for i in range(5):
        err(Dash(h).post("session", {"email": victim.email, "password": "guess %d" % i}), 401)
    r = Dash(h).post("session", {"email": victim.email, "password": victim.password})
    e = err(r, 429, "account")
    wait = int(r.headers.get("Retry-After"))
    assert 1 <= wait <= 900, r.headers.get("Retry-After")
    # Only keyed hashes are stored (32 bytes each), and nothing names the account.
    rows = h.sql_dicts("SELECT length(account_hash) AS a, length(address_hash) AS b FROM login_failures")
    assert rows and all(r_["a"] == 32 and r_["b"] == 32 for r_ in rows), rows
    assert h.sql_int("SELECT count(*) FROM login_failures WHERE position(convert_to(%s, 'UTF8') IN account_hash) > 0",
                     victim.email) == 0
    # Other accounts are not affected; the victim's failures are on its own audit trail.
    owner(h)
    failures = h.sql_int("SELECT count(*) FROM audit_log WHERE action = 'account.sign_in_failed' AND actor_email = %s",
                         victim.email)
    assert failures == 5, failures
    # Once the failures leave the window, the right password works again.
    h.sql("UPDATE login_failures SET at = at - interval '16 minutes'")
    Dash(h).sign_in(victim.email, victim.password)


def test_login_throttled_per_address(h):
    o = owner(h)
    p = new_property(o)
    target = member(h, o, p["id"], "viewer")
    address = "2001:db8:ad::1"
    for i in range(20):
        err(Dash(h, ip=address).post("session", {"email": "nobody%d@example.com" % i, "password": "guess"}), 401)
    r = Dash(h, ip=address).post("session", {"email": target.email, "password": target.password})
    err(r, 429, "address")
    assert int(r.headers.get("Retry-After")) > 0
    # From another address the same sign-in goes through, and the account was never locked.
    Dash(h).sign_in(target.email, target.password)
    h.sql("UPDATE login_failures SET at = at - interval '16 minutes'")
    Dash(h, ip=address).sign_in(target.email, target.password)


def test_password_change(h):
    o = owner(h)
    p = new_property(o)
    u = member(h, o, p["id"], "admin")
    other_session = Dash(h).sign_in(u.email, u.password)
    err(u.post("account/password", {"current_password": "wrong wrong", "new_password": "a new password"}), 403,
        "current_password")
    err(u.post("account/password", {"current_password": u.password, "new_password": "short"}), 400, "new_password")
    new = unique("new-password-")
    secrets(h).add(new)
    ok(u.post("account/password", {"current_password": u.password, "new_password": new}), 204)
    ok(u.get("session"))                                  # this session lives on
    err(other_session.get("session"), 401)                 # every other one ended
    err(Dash(h).post("session", {"email": u.email, "password": u.password}), 401)
    Dash(h).sign_in(u.email, new)


# --- properties ----------------------------------------------------------------------------------

def test_property_create_read_update(h):
    o = owner(h)
    p = new_property(o, name="Shop", domains=["Shop.Example.com", "shop.example.com", "www.example.com"],
                     allowed_origins=["https://Shop.example.com", "example.com"], timezone="Europe/Berlin",
                     retention_days=400, session_timeout=900, drop_gpc=True, excluded_paths=["/admin/*", "/health"],
                     excluded_addresses=["198.51.100.0/24", "2001:DB8:E0::/48"], ignored_field="forward compatible")
    assert p["id"].startswith("prop_") and len(p["id"]) == 21, p
    want = {"name": "Shop", "domains": ["shop.example.com", "www.example.com"],
            "allowed_origins": ["https://shop.example.com", "example.com"], "timezone": "Europe/Berlin",
            "retention_days": 400, "session_timeout": 900, "drop_gpc": True,
            "excluded_paths": ["/admin/*", "/health"], "excluded_addresses": ["198.51.100.0/24", "2001:db8:e0::/48"],
            "role": "owner"}
    assert {k: p[k] for k in want} == want, p
    assert ok(o.get("properties/" + p["id"])) == p
    listed = ok(o.get("properties"))["results"]
    assert p in listed, listed
    # Defaults.
    q = new_property(o)
    assert (q["domains"], q["allowed_origins"], q["timezone"], q["retention_days"], q["session_timeout"],
            q["drop_gpc"], q["excluded_paths"], q["excluded_addresses"]) == ([], ["*"], "UTC", 0, 1800, False, [], []), q
    # Each setting changes alone; the others stay.
    for field, value in [("name", "Shop 2"), ("domains", ["shop2.example.com"]), ("allowed_origins", ["*"]),
                         ("timezone", "America/New_York"), ("retention_days", 0), ("session_timeout", 60),
                         ("drop_gpc", False), ("excluded_paths", []), ("excluded_addresses", ["203.0.113.0/24"]),
                         ("excluded_addresses", [])]:
        got = ok(o.patch("properties/" + p["id"], {field: value}))
        assert got[field] == value, (field, got)
        p[field] = value
        assert got == p, (field, got, p)
    assert h.sql_value("SELECT timezone FROM properties WHERE id = %s", p["id"]) == "America/New_York"
    zones = ok(o.get("timezones"))["results"]
    assert "Europe/Berlin" in zones and "UTC" in zones and not any(z.startswith("posix/") for z in zones)


def test_property_bad_input(h):
    o = owner(h)
    p = new_property(o)
    path = "properties/" + p["id"]
    cases = [({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "x" * 121}, "name"), ({"name": 5}, "name"),
             ({"domains": "example.com"}, "domains"), ({"domains": ["https://example.com"]}, "domains[0]"),
             ({"domains": ["ok.example", "bad domain"]}, "domains[1]"), ({"domains": ["a.example"] * 101}, "domains"),
             ({"allowed_origins": ["https://example.com/"]}, "allowed_origins[0]"),
             ({"allowed_origins": [7]}, "allowed_origins[0]"),
             ({"timezone": "Mars/Olympus_Mons"}, "timezone"), ({"timezone": "Europe/Berlin'; --"}, "timezone"),
             ({"retention_days": -1}, "retention_days"), ({"retention_days": 36501}, "retention_days"),
             ({"retention_days": "30"}, "retention_days"), ({"session_timeout": 59}, "session_timeout"),
             ({"session_timeout": 86401}, "session_timeout"), ({"session_timeout": 1.5}, "session_timeout"),
             ({"drop_gpc": "yes"}, "drop_gpc"), ({"excluded_paths": ["admin"]}, "excluded_paths[0]"),
             ({"excluded_addresses": ["192.0.2.0/33"]}, "excluded_addresses[0]"),
             ({"excluded_addresses": ["10.0.0.0/8", "example.com"]}, "excluded_addresses[1]"),
             ({"excluded_addresses": ["10.0.0.1 10.0.0.2"]}, "excluded_addresses[0]"),
             ({"excluded_addresses": ["10.0.0.0/-0"]}, "excluded_addresses[0]"),
             ({"excluded_addresses": ["0000:0000:0000:0000:0000:0000:0000:0000/128 "]}, "excluded_addresses[0]"),
             ({"excluded_addresses": ["10.0.0.0/8"] * 101}, "excluded_addresses"),
             ({"excluded_addresses": "10.0.0.1"}, "excluded_addresses"),
             ({}, "nothing to change"), ({"unknown": 1}, "nothing to change")]
    wrong = []
    for body, field in cases:
        r = o.patch(path, body)
        if r.status != 400 or field not in r.json().get("error", ""):
            wrong.append((body if len(json.dumps(body)) < 80 else "...", field, r))
    assert not wrong, wrong
    assert ok(o.get(path)) == p, "a rejected change changes nothing"
    err(o.post("properties", {"domains": ["example.com"]}), 400, "name")
    err(o.post("properties", {"name": "x", "timezone": "Nowhere/Land"}), 400, "timezone")


def test_property_settings_reach_ingest(h):
    """What the dashboard sets is what track.fcgi applies: excluded paths and addresses, allowed
    origins, GPC."""
    o = owner(h)
    p = new_property(o, allowed_origins=["https://shop.example.com"])
    wk = new_key(o, p["id"], "write")["secret"]
    prop = as_property(h, p["id"], wk)
    c = h.client(new_ip(), unique_ua())
    expect_counts(h.post_events(prop, [pageview("/a")], headers=dict(c, Origin="https://shop.example.com")), 1)
    expect(h.post_events(prop, [pageview("/a")], headers=dict(c, Origin="https://evil.example.net")), 403)
    ok(o.patch("properties/" + p["id"], {"excluded_paths": ["/private/*"], "drop_gpc": True,
                                          "allowed_origins": ["*"]}))
    wait_for_key_cache()
    expect_counts(h.post_events(prop, [pageview("/private/x"), pageview("/public")], headers=c), 2, filtered=1)
    expect_counts(h.post_events(prop, [pageview("/public")], headers=dict(c, **{"Sec-GPC": "1"})), 1, filtered=1)
    expect_counts(h.post_events(prop, [pageview("/a")], headers=dict(c, Origin="https://evil.example.net")), 1)
    # Addresses: a range of each family and one address; the Plausible endpoint and a server key's
    # end users are filtered alike. (The privacy audit looks for every client address of the suite
    # as text: the one address is written in full here, so that the setting does not hold the text
    # of the address it matches, and ranges end in .0, which no test sends from.)
    ok(o.patch("properties/" + p["id"], {"excluded_addresses": ["198.51.100.0/24", "2001:db8:e0::/48", "2001:db8:e2:0:0:0:0:1"],
                                          "domains": ["excluded.example"]}))
    wait_for_key_cache()
    for ip, filtered in (("198.51.100.77", 1), ("2001:db8:e0::9", 1), ("2001:db8:e2::1", 1), ("2001:db8:e2::2", 0),
                         ("203.0.113.249", 0), ("2001:db8:e1::9", 0)):
        r = h.post_events(prop, [pageview("/office"), pageview("/office")], headers=h.client(ip, unique_ua()))
        expect_counts(r, 2, filtered=2 * filtered)
        r = h.http("POST", "/api/event", body=json.dumps({"name": "pageview", "url": "https://excluded.example/x",
                                                            "domain": "excluded.example"}),
                   headers=dict(h.client(ip, unique_ua()), **{"Content-Type": "text/plain"}))
        assert r.status == 202, r
    sk = new_key(o, p["id"], "server")["secret"]
    user = h.client("198.51.100.78", unique_ua())
    event = dict(pageview("/checkout"), context=dict(pageview("/checkout")["context"],
                                                     client={"ip": "198.51.100.78", "user_agent": user["User-Agent"]}))
    expect_counts(h.post_events(as_property(h, p["id"], sk), [event], headers=h.client(new_ip(), unique_ua())), 1, filtered=1)
    stored = h.sql("SELECT path FROM events WHERE property_pk = %s AND path IN ('/office', '/x', '/checkout')",
                   h.sql_int("SELECT pk FROM properties WHERE id = %s", p["id"]))
    assert sorted(r[0] for r in stored) == ["/office"] * 6 + ["/x"] * 3, stored


def test_property_delete_removes_its_data(h):
    """Deleting a property takes its metadata, events (from either store), visits and rollups."""
    on_pg = h.events_store == "postgresql"
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    keep = new_property(o)
    wk, rk = new_key(o, pid, "write")["secret"], new_key(o, pid, "read")["secret"]
    keep_wk = new_key(o, keep["id"], "write")["secret"]
    prop, kept = as_property(h, pid, wk, rk), as_property(h, keep["id"], keep_wk)
    ok(o.post("properties/%s/goals" % pid, {"name": "Signup", "event_name": "signup"}), 201)
    ok(o.post("properties/%s/shares" % pid, {"name": "public"}), 201)
    invite(o, pid, "viewer")
    viewer = member(h, o, pid, "viewer")
    admin = member(h, o, pid, "admin")
    two_days_ago = time.time() - 2 * 86400
    c = h.client(new_ip(), unique_ua())
    expect_counts(h.post_events(prop, [pageview("/", ts=two_days_ago), pageview("/x", ts=two_days_ago + 60),
                                       ev("/x", type="signup", ts=two_days_ago + 90), pageview("/today")], headers=c), 4)
    expect_counts(h.post_events(kept, [pageview("/")], headers=c), 1)
    h.sessionize()
    while h.sql_int("SELECT tally_rollup(50)"):
        pass
    pk = prop.pk
    tables = ["events", "event_ids", "api_keys", "goals", "share_links", "memberships", "invitations"]
    if on_pg:   # the clickhouse store keeps no visits or rollups
        tables += ["sessions", "rollup_days", "rollup_state"]
    before = {t: h.sql_int("SELECT count(*) FROM %s WHERE property_pk = %%s" % t, pk) for t in tables}
    assert all(before[t] > 0 for t in tables), before

    path = "properties/" + pid
    err(viewer.delete(path, {"confirm": pid}), 403, "owner")
    err(admin.delete(path, {"confirm": pid}), 403, "owner")
    err(o.delete(path), 400, "body")
    err(o.delete(path, {}), 400, "confirm")
    err(o.delete(path, {"confirm": keep["id"]}), 400, "confirm")
    err(o.delete(path, {"confirm": pid.upper()}), 400, "confirm")
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", pk) == 4

    got = ok(o.delete(path, {"confirm": pid}))
    assert got["deleted"] == pid and got["events"] == 4, got
    assert not on_pg or (got["sessions"] >= 2 and got["rollup_rows"] > 0), got
    deadline = time.time() + 30   # ClickHouse applies its deletions in the background, within seconds
    while h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", pk) and time.time() < deadline:
        time.sleep(0.5)
    after = {t: h.sql_int("SELECT count(*) FROM %s WHERE property_pk = %%s" % t, pk) for t in tables}
    assert not any(after.values()), after
    for t in ("rollup_revenue", "rollup_dirty"):
        assert h.sql_int("SELECT count(*) FROM %s WHERE property_pk = %%s" % t, pk) == 0, t
    assert h.sql_int("SELECT count(*) FROM properties WHERE id = %s", pid) == 0
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", kept.pk) == 1, "other properties keep theirs"
    err(o.get(path), 404)
    err(viewer.report(pid), 404)
    wait_for_key_cache()
    expect(h.post_events(prop, [pageview("/")], headers=c), 401)
    # The deletion stays on record, in the owner's own trail.
    mine = ok(o.get("audit?limit=200"))["results"]
    assert any(e["action"] == "property.delete" and e["property_id"] == pid and e["details"]["events"] == 4
               for e in mine), mine[:3]


# --- keys ----------------------------------------------------------------------------------------

def test_keys_shown_once_and_usable(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    w = new_key(o, pid, "write", "website")
    r = new_key(o, pid, "read", "backend")
    assert re.match(r"^wk_[A-Za-z0-9_-]{43}$", w["secret"]) and re.match(r"^rk_[A-Za-z0-9_-]{43}$", r["secret"])
    assert w["key"]["prefix"] == w["secret"][:10] and w["key"]["kind"] == "write" and w["key"]["name"] == "website"
    assert w["key"]["last_used_at"] is None and w["key"]["revoked_at"] is None, w
    listed = ok(o.get("properties/%s/keys" % pid))["results"]
    assert [k["id"] for k in listed] == [w["key"]["id"], r["key"]["id"]], listed
    assert "secret" not in json.dumps(listed) and w["secret"] not in json.dumps(listed), listed
    # Only the SHA-256 is stored, as track.fcgi and report.fcgi look keys up.
    assert h.sql_int("SELECT count(*) FROM api_keys WHERE key_hash = decode(%s, 'hex')", sha(w["secret"])) == 1
    assert w["secret"].encode() not in h.pg_dump()
    # The write key sends events; the read key reads them.
    prop = as_property(h, pid, w["secret"], r["secret"])
    expect_counts(h.post_events(prop, [pageview("/k")], headers=h.client(new_ip(), unique_ua())), 1)
    report = h.http("GET", "/v1/properties/%s/overview" % pid, headers={"Authorization": "Bearer " + r["secret"]})
    assert ok(report)["pageviews"] == 1
    expect(h.http("GET", "/v1/properties/%s/overview" % pid, headers={"Authorization": "Bearer " + w["secret"]}), 401)
    used = {k["id"]: k["last_used_at"] for k in ok(o.get("properties/%s/keys" % pid))["results"]}
    assert used[w["key"]["id"]] and used[r["key"]["id"]], used


def test_key_rotate_and_revoke(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    w = new_key(o, pid, "write", "site")
    r = new_key(o, pid, "read")
    c = h.client(new_ip(), unique_ua())
    rot = ok(o.post("properties/%s/keys/%d/rotate" % (pid, w["key"]["id"])), 201)
    secrets(h).add(rot["secret"])
    assert rot["key"]["name"] == "site" and rot["key"]["kind"] == "write" and rot["key"]["id"] != w["key"]["id"], rot
    assert rot["revoked"]["id"] == w["key"]["id"] and rot["revoked"]["revoked_at"], rot
    wait_for_key_cache()
    expect(h.post_events(as_property(h, pid, w["secret"]), [pageview("/")], headers=c), 401)
    expect_counts(h.post_events(as_property(h, pid, rot["secret"]), [pageview("/")], headers=c), 1)
    err(o.post("properties/%s/keys/%d/rotate" % (pid, w["key"]["id"])), 409, "revoked")

    gone = ok(o.post("properties/%s/keys/%d/revoke" % (pid, r["key"]["id"])))["key"]
    assert gone["revoked_at"], gone
    wait_for_key_cache()
    expect(h.http("GET", "/v1/properties/%s/overview" % pid, headers={"Authorization": "Bearer " + r["secret"]}), 401)
    err(o.post("properties/%s/keys/%d/revoke" % (pid, r["key"]["id"])), 409, "revoked")
    err(o.post("properties/%s/keys/999999999/revoke" % pid), 404, "key")
    err(o.post("properties/%s/keys/abc/revoke" % pid), 404, "key")
    err(o.post("properties/%s/keys/-1/revoke" % pid), 404, "key")
    # A key of another property is not found through this one.
    q = new_property(o)
    err(o.post("properties/%s/keys/%d/revoke" % (q["id"], rot["key"]["id"])), 404, "key")
    err(o.post("properties/%s/keys" % pid, {"kind": "admin"}), 400, "kind")
    err(o.post("properties/%s/keys" % pid, {}), 400, "kind")
    err(o.post("properties/%s/keys" % pid, {"kind": "read", "name": "\n"}), 400, "name")


# --- goals ---------------------------------------------------------------------------------------

def test_goals(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    path = "properties/%s/goals" % pid
    signup = ok(o.post(path, {"name": "Signup", "event_name": "signup", "revenue": True}), 201)
    assert (signup["event_name"], signup["path_pattern"], signup["revenue"]) == ("signup", None, True), signup
    pricing = ok(o.post(path, {"name": "Pricing", "path_pattern": "/pric*"}), 201)
    assert (pricing["event_name"], pricing["path_pattern"], pricing["revenue"]) == (None, "/pric*", False), pricing
    assert [g["name"] for g in ok(o.get(path))["results"]] == ["Pricing", "Signup"]
    err(o.post(path, {"name": "Signup", "event_name": "other"}), 409, "name")
    err(o.post(path, {"name": "Both", "event_name": "a", "path_pattern": "/a"}), 400, "event_name")
    err(o.post(path, {"name": "Neither"}), 400, "path_pattern")
    err(o.post(path, {"name": "PV", "event_name": "pageview"}), 400, "event_name")
    err(o.post(path, {"name": "Bad", "path_pattern": "pricing"}), 400, "path_pattern")
    err(o.post(path, {"name": "Bad", "event_name": "semi;colon"}), 400, "event_name")
    err(o.post(path, {"event_name": "x"}), 400, "name")
    err(o.post(path, {"name": "R", "event_name": "x", "revenue": "yes"}), 400, "revenue")

    # The report counts them.
    wk, rk = new_key(o, pid, "write")["secret"], new_key(o, pid, "read")["secret"]
    prop = as_property(h, pid, wk, rk)
    c = h.client(new_ip(), unique_ua())
    expect_counts(h.post_events(prop, [pageview("/pricing"), ev("/pricing", type="signup",
                                       data={"revenue": {"amount": "10.00", "currency": "EUR"}})], headers=c), 2)
    h.sessionize()
    goals = ok(h.http("GET", "/v1/properties/%s/goals" % pid, headers={"Authorization": "Bearer " + rk}))["results"]
    assert {g["goal"]: g["conversions"] for g in goals} == {"Pricing": 1, "Signup": 1}, goals

    # Changes: one kind of match replaces the other.
    g = ok(o.patch("%s/%d" % (path, pricing["id"]), {"event_name": "checkout"}))
    assert (g["event_name"], g["path_pattern"], g["name"]) == ("checkout", None, "Pricing"), g
    g = ok(o.patch("%s/%d" % (path, pricing["id"]), {"name": "Checkout", "revenue": True}))
    assert (g["name"], g["event_name"], g["revenue"]) == ("Checkout", "checkout", True), g
    err(o.patch("%s/%d" % (path, pricing["id"]), {"name": "Signup"}), 409, "name")
    err(o.patch("%s/%d" % (path, pricing["id"]), {}), 400, "nothing to change")
    err(o.patch("%s/%d" % (path, 999999999), {"name": "x"}), 404, "goal")
    ok(o.delete("%s/%d" % (path, pricing["id"])), 204)
    err(o.delete("%s/%d" % (path, pricing["id"])), 404, "goal")
    assert [g["name"] for g in ok(o.get(path))["results"]] == ["Signup"]
    q = new_property(o)
    err(o.delete("properties/%s/goals/%d" % (q["id"], signup["id"])), 404, "goal")


# --- share links ---------------------------------------------------------------------------------

def test_share_links(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    s = ok(o.post("properties/%s/shares" % pid, {"name": "Public stats"}), 201)
    secrets(h).add(s["token"])
    assert re.match(r"^sh_[A-Za-z0-9_-]{43}$", s["token"]), s
    assert s["url"].endswith("/admin/#/share/%s/%s" % (pid, s["token"])) and s["url"].startswith("http://"), s
    assert s["share"]["prefix"] == s["token"][:10] and s["share"]["name"] == "Public stats", s
    listed = ok(o.get("properties/%s/shares" % pid))["results"]
    assert listed == [s["share"]] and s["token"] not in json.dumps(listed), listed
    assert h.sql_int("SELECT count(*) FROM share_links WHERE token_hash = decode(%s, 'hex')", sha(s["token"])) == 1

    # Anyone with the token reads this property's reports, and only this one's.
    anon = Dash(h)
    ok(anon.report(pid, "overview", "share=" + s["token"]))
    other = new_property(o)
    expect(anon.report(other["id"], "overview", "share=" + s["token"]), 403)
    revoked = ok(o.post("properties/%s/shares/%d/revoke" % (pid, s["share"]["id"])))["share"]
    assert revoked["revoked_at"], revoked
    assert "revoked" in err(anon.report(pid, "overview", "share=" + s["token"]), 401)
    err(o.post("properties/%s/shares/%d/revoke" % (pid, s["share"]["id"])), 409, "revoked")
    err(o.post("properties/%s/shares/999999999/revoke" % pid), 404, "share")
    err(o.post("properties/%s/shares" % pid, {"name": "two\nlines"}), 400, "name")
    assert ok(o.post("properties/%s/shares" % pid), 201)["share"]["name"] == ""
    assert ok(o.post("properties/%s/shares" % pid, {"name": ""}), 201)["share"]["name"] == ""


# --- team and roles ------------------------------------------------------------------------------

def test_invitations(h):
    o = owner(h)
    p = new_property(o, name="Team site")
    pid = p["id"]
    email, inv = invite(o, pid, "admin", unique("Invitee-") + "@Example.org")
    assert re.match(r"^inv_[A-Za-z0-9_-]{43}$", inv["token"]) and inv["url"].endswith("/admin/#/invite/" + inv["token"])
    assert (inv["invitation"]["email"], inv["invitation"]["role"], inv["invitation"]["invited_by"]) == \
        (email, "admin", OWNER_EMAIL), inv
    pending = ok(o.get("properties/%s/invitations" % pid))["results"]
    assert [i["email"] for i in pending] == [email] and inv["token"] not in json.dumps(pending)
    assert h.sql_int("SELECT count(*) FROM invitations WHERE token_hash = decode(%s, 'hex')", sha(inv["token"])) == 1

    anon = Dash(h)
    preview = ok(anon.post("invitations/preview", {"token": inv["token"]}))
    assert preview["email"] == email and preview["role"] == "admin" and preview["account_exists"] is False, preview
    assert preview["property"] == {"id": pid, "name": "Team site"}, preview
    err(anon.post("invitations/preview", {"token": "inv_" + "A" * 43}), 404, "token")
    err(anon.post("invitations/preview", {"token": "not a token"}), 400, "token")
    err(anon.post("invitations/accept", {"token": inv["token"], "password": "short"}), 400, "password")
    err(anon.post("invitations/accept", {"token": inv["token"]}), 400, "password")
    password = unique("pw-")
    secrets(h).add(password)
    r = anon.post("invitations/accept", {"token": inv["token"], "password": password})
    body = ok(r)
    anon.signed_in(r)
    assert body["user"]["email"] == email and body["property"] == {"id": pid, "role": "admin"}, body
    assert body["user"]["instance_owner"] is False and body["user"]["can_create_properties"] is True, body
    assert ok(anon.get("properties/" + pid))["role"] == "admin"
    # Used up.
    err(Dash(h).post("invitations/preview", {"token": inv["token"]}), 404, "token")
    err(Dash(h).post("invitations/accept", {"token": inv["token"], "password": password}), 404, "token")
    assert ok(o.get("properties/%s/invitations" % pid))["results"] == []
    # A member is not invited again; bad invitations name their field.
    err(o.post("properties/%s/invitations" % pid, {"email": email.lower(), "role": "viewer"}), 409, "email")
    err(o.post("properties/%s/invitations" % pid, {"email": "x@example.org", "role": "god"}), 400, "role")
    err(o.post("properties/%s/invitations" % pid, {"email": "nope", "role": "viewer"}), 400, "email")

    # An existing account joins another property with its own password.
    q = new_property(o, name="Second site")
    _, inv2 = invite(o, q["id"], "viewer", email)
    later, inv3 = invite(o, q["id"], "viewer", email)   # replaces the first
    err(Dash(h).post("invitations/preview", {"token": inv2["token"]}), 404, "token")
    preview = ok(Dash(h).post("invitations/preview", {"token": inv3["token"]}))
    assert preview["account_exists"] is True, preview
    err(Dash(h).post("invitations/accept", {"token": inv3["token"], "password": "wrong password"}), 401, "password")
    joined = Dash(h)
    r = joined.post("invitations/accept", {"token": inv3["token"], "password": password})
    expect(r, 200)
    joined.signed_in(r)
    assert sorted(x["id"] for x in ok(joined.get("properties"))["results"]) == sorted([pid, q["id"]])
    assert h.sql_int("SELECT count(*) FROM users WHERE lower(email) = lower(%s)", email) == 1

    # Revoked invitations cannot be used.
    _, inv4 = invite(o, q["id"], "viewer")
    ok(o.delete("properties/%s/invitations/%d" % (q["id"], inv4["invitation"]["id"])), 204)
    err(o.delete("properties/%s/invitations/%d" % (q["id"], inv4["invitation"]["id"])), 404, "invitation")
    err(Dash(h).post("invitations/accept", {"token": inv4["token"], "password": "long enough pw"}), 404, "token")
    # So are expired ones.
    _, inv5 = invite(o, q["id"], "viewer")
    h.sql("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = %s", inv5["invitation"]["id"])
    err(Dash(h).post("invitations/accept", {"token": inv5["token"], "password": "long enough pw"}), 404, "token")


def test_role_rules_on_every_route(h):
    """Viewer: read-only; admin: also properties, keys, goals, share links, export, audit; owner: also
    the team and deletion; an account without a role: as if the property did not exist."""
    o = owner(h)
    p = new_property(o, name="Roles")
    pid = p["id"]
    people = {role: member(h, o, pid, role) for role in ("viewer", "admin", "owner")}
    outsider = member(h, o, new_property(o)["id"], "admin")
    base = "properties/" + pid

    def fixtures(role):
        """Fresh things for `role` to act on, made by the first owner."""
        f = {"key": new_key(o, pid, "write")["key"]["id"], "key2": new_key(o, pid, "read")["key"]["id"],
             "goal": ok(o.post(base + "/goals", {"name": unique("g"), "event_name": "e"}), 201)["id"],
             "goal2": ok(o.post(base + "/goals", {"name": unique("g"), "event_name": "e"}), 201)["id"],
             "share": ok(o.post(base + "/shares"), 201)["share"]["id"],
             "inv": invite(o, pid, "viewer")[1]["invitation"]["id"]}
        if role == "owner":
            f["member"] = member(h, o, pid, "viewer").user["id"]
            f["member2"] = member(h, o, pid, "viewer").user["id"]
        else:
            # Never themselves: leaving is allowed to anyone (test_last_owner_stays).
            f["member"] = f["member2"] = people["owner"].user["id"]
        return f

    steps = [
        ("viewer", 200, lambda d, f: d.get(base)),
        ("viewer", 200, lambda d, f: d.get(base + "/keys")),
        ("viewer", 200, lambda d, f: d.get(base + "/goals")),
        ("viewer", 200, lambda d, f: d.get(base + "/shares")),
        ("viewer", 200, lambda d, f: d.get(base + "/members")),
        ("viewer", 200, lambda d, f: d.report(pid)),
        ("admin", 200, lambda d, f: d.patch(base, {"session_timeout": 1200})),
        ("admin", 201, lambda d, f: d.post(base + "/keys", {"kind": "read"})),
        ("admin", 201, lambda d, f: d.post(base + "/keys/%d/rotate" % f["key"])),
        ("admin", 200, lambda d, f: d.post(base + "/keys/%d/revoke" % f["key2"])),
        ("admin", 201, lambda d, f: d.post(base + "/goals", {"name": unique("g"), "path_pattern": "/x"})),
        ("admin", 200, lambda d, f: d.patch(base + "/goals/%d" % f["goal"], {"revenue": True})),
        ("admin", 204, lambda d, f: d.delete(base + "/goals/%d" % f["goal2"])),
        ("admin", 201, lambda d, f: d.post(base + "/shares", {})),
        ("admin", 200, lambda d, f: d.post(base + "/shares/%d/revoke" % f["share"])),
        ("admin", 200, lambda d, f: d.get(base + "/export/events")),
        ("admin", 200, lambda d, f: d.get(base + "/audit")),
        ("owner", 200, lambda d, f: d.get(base + "/invitations")),
        ("owner", 201, lambda d, f: d.post(base + "/invitations", {"email": unique("i") + "@example.org",
                                                                   "role": "viewer"})),
        ("owner", 204, lambda d, f: d.delete(base + "/invitations/%d" % f["inv"])),
        ("owner", 200, lambda d, f: d.patch(base + "/members/%d" % f["member"], {"role": "admin"})),
        ("owner", 204, lambda d, f: d.delete(base + "/members/%d" % f["member2"])),
        # A wrong confirmation, so that passing the role check deletes nothing (deletion: below).
        ("owner", 400, lambda d, f: d.delete(base, {"confirm": "not this property"})),
    ]
    rank = {"viewer": 1, "admin": 2, "owner": 3}
    wrong = []
    for role in ("viewer", "admin", "owner", "outsider"):
        d = outsider if role == "outsider" else people[role]
        f = fixtures(role)
        for i, (need, status, call) in enumerate(steps):
            if role == "outsider":
                want = 403 if i == 5 else 404       # report.fcgi answers 403 for a property not yours
            elif rank[role] >= rank[need]:
                want = status
            else:
                want = 403
            r = call(d, f)
            if r.status == 201 and r.headers.get("Content-Type", "").startswith("application/json"):
                for k in ("secret", "token"):
                    if k in r.json():
                        secrets(h).add(r.json()[k])
            if r.status != want:
                wrong.append((role, i, want, r))
            elif want >= 400:
                assert "error" in r.json(), r
    assert not wrong, wrong
    # Deletion is the owner's: a second owner deletes a property of theirs.
    second = people["owner"]
    mine = new_property(second)
    err(people["admin"].delete("properties/" + mine["id"], {"confirm": mine["id"]}), 404)
    assert ok(second.delete("properties/" + mine["id"], {"confirm": mine["id"]}))["deleted"] == mine["id"]
    # Viewers only may not create properties; admins and owners may.
    only_viewer = member(h, o, new_property(o)["id"], "viewer")
    assert ok(only_viewer.get("session"))["user"]["can_create_properties"] is False
    err(only_viewer.post("properties", {"name": "Mine"}), 403, "owner or admin")
    ok(people["admin"].post("properties", {"name": "Admin's own"}), 201)
    # Each sees only the properties they have a role on.
    assert [x["role"] for x in ok(only_viewer.get("properties"))["results"]] == ["viewer"]
    assert pid not in [x["id"] for x in ok(outsider.get("properties"))["results"]]


def test_last_owner_stays(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    me = o.user["id"]
    e = err(o.patch("properties/%s/members/%d" % (pid, me), {"role": "admin"}), 409, "role")
    assert "last owner" in e, e
    err(o.delete("properties/%s/members/%d" % (pid, me)), 409, "last owner")
    v = member(h, o, pid, "viewer")
    a = member(h, o, pid, "admin")
    members = ok(o.get("properties/%s/members" % pid))["results"]
    assert [(m["email"], m["role"]) for m in members] == [(OWNER_EMAIL, "owner"), (a.email, "admin"), (v.email, "viewer")]
    # Viewers and admins do not manage the team, but anyone may leave.
    err(v.patch("properties/%s/members/%d" % (pid, v.user["id"]), {"role": "owner"}), 403, "owner")
    err(a.delete("properties/%s/members/%d" % (pid, v.user["id"])), 403, "owner")
    ok(v.delete("properties/%s/members/%d" % (pid, v.user["id"])), 204)
    err(v.get("properties/" + pid), 404)
    expect(v.report(pid), 403)
    # With a second owner, the first may step down.
    assert ok(o.patch("properties/%s/members/%d" % (pid, a.user["id"]), {"role": "owner"}))["role"] == "owner"
    ok(o.patch("properties/%s/members/%d" % (pid, me), {"role": "viewer"}))
    err(o.patch(("properties/%s" % pid), {"name": "x"}), 403, "admin")
    err(a.delete("properties/%s/members/%d" % (pid, a.user["id"])), 409, "last owner")
    ok(a.patch("properties/%s/members/%d" % (pid, me), {"role": "owner"}))
    err(a.patch("properties/%s/members/%d" % (pid, me), {"role": "boss"}), 400, "role")
    err(a.patch("properties/%s/members/999999999" % pid, {"role": "viewer"}), 404, "member")
    ok(a.delete("properties/%s/members/%d" % (pid, me)), 204)
    err(o.get("properties/" + pid), 404)


def test_reports_with_the_session_cookie(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    wk = new_key(o, pid, "write")["secret"]
    expect_counts(h.post_events(as_property(h, pid, wk), [pageview("/"), pageview("/b")],
                                headers=h.client(new_ip(), unique_ua())), 2)
    v = member(h, o, pid, "viewer")
    assert ok(v.report(pid))["pageviews"] == 2
    assert ok(o.report(pid, "pages"))["results"][0]["pageviews"] == 1
    csv = v.report(pid, "pages", "format=csv")
    assert csv.status == 200 and csv.body.startswith(b"path,"), csv
    stranger = member(h, o, new_property(o)["id"], "viewer")
    assert "role" in err(stranger.report(pid), 403)
    err(stranger.report("prop_nonexistent"), 404)
    forged = Dash(h)
    forged.cookie = "ts_" + "B" * 43
    err(forged.report(pid), 401)
    # The other credentials are unchanged and win over the cookie.
    rk = new_key(o, pid, "read")["secret"]
    hd = {"Cookie": "%s=%s" % (COOKIE, stranger.cookie), "Authorization": "Bearer " + rk}
    ok(h.http("GET", "/v1/properties/%s/overview" % pid, headers=hd))
    old = o.cookie
    ok(o.delete("session"), 204)
    o.cookie = old
    assert "session" in err(o.report(pid), 401)
    h.sql("UPDATE admin_sessions SET expires_at = now() - interval '1 second' "
          "WHERE token_hash = decode(%s, 'hex')", sha(v.cookie))
    assert "session" in err(v.report(pid), 401)


# --- a database that is slow ---------------------------------------------------------------------

def locked_for(h, table, seconds):
    """`table` held locked (h.table_lock) from now for `seconds`; returns the timer to join."""
    lock = h.table_lock(table)
    timer = threading.Timer(seconds, lock.release)
    timer.start()
    return timer


def test_database_timeout_bounds_requests_but_not_deletion_or_export(h):
    """With database_timeout, a request whose query waits past it (a table held locked, as by a
    migration) is stopped by the server and answered 503, and the next one is answered as soon as
    the table is free. Deleting a property and exporting its events take as long as their data
    needs: both wait for the lock rather than fail."""
    if h.events_store != "postgresql":
        raise Skip("database_timeout bounds PostgreSQL's statements")
    with h.settings("database_timeout = 1\n"):
        o = owner(h)
        pid = new_property(o, timezone="UTC")["id"]
        prop = as_property(h, pid, new_key(o, pid, "write")["secret"])
        expect_counts(h.post_events(prop, [pageview("/a"), pageview("/b")], headers=h.client(new_ip(), unique_ua())), 2)
        goals = "properties/%s/goals" % pid
        timer = locked_for(h, "goals", 30)
        try:
            r = o.get(goals)
        finally:
            timer.cancel()
            timer.function()
        assert "took longer than allowed" in err(r, 503) and r.headers.get("Retry-After"), r
        assert ok(o.get(goals)) is not None

        timer = locked_for(h, "events", 4)
        started = time.time()
        r = o.get("properties/%s/export/events" % pid)
        waited = time.time() - started
        timer.join()
        assert r.status == 200, r
        assert [row[6] for row in parse_csv(r.body)[1:]] == ["/a", "/b"], r.body
        assert waited > 3, "the export did not wait for the lock (%.1f s)" % waited

        timer = locked_for(h, "events", 4)
        started = time.time()
        r = o.delete("properties/" + pid, {"confirm": pid})
        waited = time.time() - started
        timer.join()
        got = ok(r)
        assert got["deleted"] == pid and got["events"] == 2, got
        assert waited > 3, "the deletion did not wait for the lock (%.1f s)" % waited


# --- export and audit ----------------------------------------------------------------------------

def parse_csv(body):
    import csv
    import io
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def bulk_events(h, prop, n):
    """Stores n pageviews of the last hour straight into the events store (not through ingest; on
    ClickHouse into one shard's table, which has them at once)."""
    if h.events_store == "clickhouse":
        h.clickhouse.query(
            "INSERT INTO %s.events_local (property_pk, ts, ts_ms, seq, event_id, name, visitor, path, title) "
            "SELECT %d, toDateTime(intDiv(ms, 1000)), ms, g, concat('bulk-', toString(g)), 'pageview', g, "
            "concat('/bulk/', toString(g)), '%s' FROM (SELECT number + 1 AS g, "
            "(toUInt64(now()) - 3600) * 1000 + number + 1 AS ms FROM system.numbers LIMIT %d)"
            % (h.clickhouse.database, prop.pk, "t" * 100, n))
    else:
        h.sql("INSERT INTO events (property_pk, ts, name, visitor, path, title) "
              "SELECT %s, now() - interval '1 hour' + g * interval '1 millisecond', 'pageview', g, '/bulk/' || g, "
              "repeat('t', 100) FROM generate_series(1, " + str(int(n)) + ") g", prop.pk)


def test_export_events(h):
    """The raw-events export, from whichever events store holds them."""
    o = owner(h)
    p = new_property(o, timezone="UTC")
    pid = p["id"]
    wk = new_key(o, pid, "write")["secret"]
    prop = as_property(h, pid, wk)
    c = h.client(new_ip(), unique_ua())
    day = 86400
    t0 = time.time() - 3 * day
    events = [pageview("/a,b", ts=t0, title='=HYPERLINK("http://evil.example")'),
              pageview("/quote\"d", ts=t0 + day, title="plain"),
              ev("/buy", type="purchase", ts=t0 + 2 * day, data={"plan": "pro", "revenue": {"amount": "9.5", "currency": "EUR"}})]
    expect_counts(h.post_events(prop, events, headers=c), 3)
    r = o.get("properties/%s/export/events" % pid)
    assert r.status == 200 and r.headers.get("Content-Type") == "text/csv; charset=utf-8", r
    assert r.headers.get("Content-Disposition") == 'attachment; filename="%s-events.csv"' % pid, r.headers
    rows = parse_csv(r.body)
    header = rows[0]
    assert header[:4] == ["ts", "event_id", "name", "visitor"] and "props" in header and "path" in header, header
    for forbidden in ("ip", "user_agent", "ua", "address", "user_id_hash", "prev_visitor"):
        assert forbidden not in header, header
    data = [dict(zip(header, row)) for row in rows[1:]]
    assert [d["path"] for d in data] == ["/a,b", '/quote"d', "/buy"], data
    assert data[0]["title"] == '\'=HYPERLINK("http://evil.example")', "formula cells are defused: %r" % data[0]
    assert data[2]["name"] == "purchase" and json.loads(data[2]["props"]) == {"plan": "pro"}, data[2]
    assert data[2]["revenue_amount"].startswith("9.5") and data[2]["revenue_currency"] == "EUR", data[2]
    assert all(re.match(r"^-?\d+$", d["visitor"]) for d in data) and data[0]["ts"].endswith("Z"), data
    assert data[0]["event_id"] == events[0]["event_id"]
    assert b"TallyE2E" not in r.body
    # A range of the property's local days.
    d1 = time.strftime("%Y-%m-%d", time.gmtime(t0 + day))
    sub = parse_csv(o.get("properties/%s/export/events?from=%s&to=%s" % (pid, d1, d1)).body)
    assert [row[header.index("path")] for row in sub[1:]] == ['/quote"d'], sub
    sub = parse_csv(o.get("properties/%s/export/events?from=%s" % (pid, d1)).body)
    assert len(sub) == 3, sub
    err(o.get("properties/%s/export/events?from=yesterday" % pid), 400, "from")
    err(o.get("properties/%s/export/events?to=2026-02-30" % pid), 400, "to")
    err(o.get("properties/%s/export/events?from=2026-02-02&to=2026-02-01" % pid), 400, "from")
    # A large export streams in pieces and ends with every row.
    bulk_events(h, prop, 12000)
    big = o.get("properties/%s/export/events" % pid)
    assert big.status == 200 and len(big.body) > 200 * 1024, len(big.body)
    all_rows = parse_csv(big.body)
    assert len(all_rows) == 1 + 3 + 12000, len(all_rows)
    assert [r[header.index("path")] for r in all_rows[4:]] == ["/bulk/%d" % g for g in range(1, 12001)]
    entries = ok(o.get("properties/%s/audit" % pid))["results"]
    assert entries[0]["action"] == "export.events" and entries[0]["details"] == {"from": None, "to": None}, entries[0]


def test_audit_log(h):
    o = owner(h)
    p = new_property(o, name="Audited")
    pid = p["id"]
    w = new_key(o, pid, "write")
    ok(o.post("properties/%s/keys/%d/rotate" % (pid, w["key"]["id"])), 201)
    ok(o.patch("properties/" + pid, {"name": "Audited 2", "retention_days": 30}))
    g = ok(o.post("properties/%s/goals" % pid, {"name": "G", "event_name": "x"}), 201)
    ok(o.delete("properties/%s/goals/%d" % (pid, g["id"])), 204)
    s = ok(o.post("properties/%s/shares" % pid), 201)
    secrets(h).add(s["token"])
    v = member(h, o, pid, "viewer")
    entries = ok(o.get("properties/%s/audit" % pid))["results"]
    actions = [e["action"] for e in entries]
    assert actions == ["member.join", "account.sign_up", "member.invite", "share.create", "goal.delete", "goal.create", "property.update",
                       "key.rotate", "key.create", "property.create"], actions
    assert all(e["property_id"] == pid and re.match(r"^\d{4}-\d\d-\d\dT", e["at"]) for e in entries), entries
    by = {e["action"]: e for e in entries}
    assert by["property.update"]["details"] == {"name": "Audited 2", "retention_days": 30}, by["property.update"]
    assert by["property.update"]["actor"] == {"id": o.user["id"], "email": OWNER_EMAIL}
    assert by["member.join"]["actor"]["email"] == v.email and by["member.join"]["details"]["role"] == "viewer"
    assert by["key.create"]["details"]["prefix"] == w["secret"][:10]
    # Paging, newest first.
    first = ok(o.get("properties/%s/audit?limit=2" % pid))["results"]
    rest = ok(o.get("properties/%s/audit?limit=200&before=%d" % (pid, first[-1]["id"])))["results"]
    assert [e["id"] for e in first + rest] == [e["id"] for e in entries]
    err(o.get("properties/%s/audit?limit=0" % pid), 400, "limit")
    err(o.get("properties/%s/audit?limit=201" % pid), 400, "limit")
    err(o.get("properties/%s/audit?before=x" % pid), 400, "before")
    err(v.get("properties/%s/audit" % pid), 403, "admin")
    # A user's own trail: sign-ins (and failed ones) and their actions everywhere.
    err(Dash(h).post("session", {"email": v.email, "password": "wrong password"}), 401)
    mine = [e["action"] for e in ok(v.get("audit"))["results"]]
    assert mine[:2] == ["account.sign_in_failed", "member.join"] and "account.sign_up" in mine, mine
    # No secret is in any entry.
    text = json.dumps(h.sql_dicts("SELECT * FROM audit_log"))
    leaked = [s_ for s_ in secrets(h) if s_ in text]
    assert not leaked, leaked


# --- bad requests --------------------------------------------------------------------------------

def test_bad_requests(h):
    o = owner(h)
    p = new_property(o)
    pid = p["id"]
    err(o.get("nothing/here"), 404, "no such endpoint")
    err(o.get("/admin/api/"), 404)
    err(o.get("properties/"), 404)
    err(o.get("properties//keys"), 404)
    err(o.get("properties/%s/nothing" % pid), 404)
    err(o.get("properties/prop_doesnotexist"), 404, "property")
    err(o.get("properties/not-a-property-id"), 404, "property")
    err(o.get("properties/%s/keys" % ("prop_" + "x" * 200)), 404)
    r = o.request("PUT", "properties/" + pid, {"name": "x"})
    err(r, 405, "PUT")
    assert r.headers.get("Allow") == "GET, PATCH, DELETE", r.headers.get("Allow")
    r = o.request("PUT", "session", {})
    assert r.status == 405 and r.headers.get("Allow") == "POST, GET, DELETE", r
    err(o.post("properties", "[1, 2]"), 400, "body")
    err(o.post("properties", '{"name": "a", "name": "b"}'), 400, "body")
    err(o.request("POST", "properties", '{"name": "x"}', headers={"Content-Type": "text/plain"}), 415, "Content-Type")
    err(o.request("POST", "properties", b"", headers={"Content-Type": "application/json"}), 400, "body")
    big = json.dumps({"name": "x", "padding": "p" * (64 * 1024)})
    err(o.post("properties", big), 413, "body")
    ok(o.request("POST", "properties", json.dumps({"name": "charset ok"}),
                 headers={"Content-Type": "application/json; charset=utf-8"}), 201)


def test_no_secret_stored_or_logged(h):
    """Passwords, session cookies, CSRF tokens, key secrets, share and invitation tokens handed out
    in these tests: none is in the database, its statement log, or the programs' logs."""
    if not secrets(h):
        raise Skip("no admin test ran before this one")
    needles = sorted(s.encode() for s in secrets(h))
    places = {"pg_dump": h.pg_dump()}
    for name in ("pg/postgresql.log", "lighttpd-error.log", "lighttpd.out"):
        try:
            with open(h.path(name), "rb") as f:
                places[name] = f.read()
        except FileNotFoundError:
            pass
    found = [(n.decode()[:12] + "...", where) for n in needles for where, blob in places.items() if n in blob]
    assert not found, found
    assert len(needles) > 20, "the check would be vacuous: %d secrets" % len(needles)
