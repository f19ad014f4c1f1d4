"""The malformed-requests catalogue (targets.md, "Reliability and security"): well over a hundred
distinct bad requests to POST /v1/events, POST /api/event, GET /v1/health and the report endpoints,
each of which must be answered with a specific 4xx and a JSON {"error": ...} whose message names the
field or limit at fault, without a crash (the ASan/UBSan build runs the same cases) and without
changing what is stored.

Every case is one row of a table: a name, the request, the status expected and a piece of text the
error must contain. A group of cases runs against one property that already holds a few events and
visits; its events, event ids and visits are fingerprinted (row count and md5 of the rows) before
and after every case and around the whole catalogue. Each table reports all its wrong answers
together, so one wrong answer does not hide the others.

Some requests never reach Tally's programs: lighttpd refuses bad HTTP framing (conflicting or
malformed Content-Length, broken chunked encoding, bytes it does not accept in a URL, oversized
headers) with its own 4xx and an HTML page. Those cases say `server=True`; for them only the status
is asserted, and the unchanged data proves that nothing went through.

Events that are bad one by one inside a valid envelope are not whole-request errors: the envelope is
answered 202 with one error per rejected event (partial success, api.md section 1). They are checked
in test_event_field_rejections with the same rigour: each rejection names its field.
"""
import json
import os
import subprocess
import urllib.parse

from client import CHROME, ev, expect_counts, new_client
from harness import HarnessError, Skip, new_event_id

LIMITS = dict(body=1048576, events=1000, depth=16, id=64, name=64, url=2048, path=2048, title=500,
              utm=500, identity=128, width=100000, keys=32, key=64, string=500)


# --- the stored-data fingerprint -----------------------------------------------------------------

class Session:
    """One psql session kept open for the fingerprints, which are taken around every case: a query
    then costs a round trip rather than a psql start (the harness's h.sql starts one per call)."""

    def __init__(self, h):
        self.h = h
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-h", h.pg_sock, "-p", str(h.pg_port), "-U", "postgres",
             "-d", "tally"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def rows(self, query):
        self.proc.stdin.write(query + ";\n\\echo " + END + "\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == END:
                return out
            out.append(line)
        raise HarnessError("psql ended: %s" % "\n".join(out))


END = "-- end of answer --"
_sessions = {}


def fingerprint(h, prop):
    """(count, md5) of the property's events, event ids and visits, in one query."""
    session = _sessions.get(id(h))
    if session is None or session.h is not h or session.proc.poll() is not None:
        session = _sessions[id(h)] = Session(h)
    if h.clickhouse:
        return clickhouse_fingerprint(h, prop, session)
    part = ("(SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') "
            "FROM %s t WHERE property_pk = %d)")
    rows = session.rows("SELECT " + ", ".join(part % (table, int(prop.pk)) for table in ("events", "event_ids", "sessions")))
    if len(rows) != 1 or rows[0].count("|") != 2:
        raise HarnessError("fingerprint: unexpected answer %r" % rows)
    return tuple(rows[0].split("|"))


def clickhouse_fingerprint(h, prop, session):
    """The same on the clickhouse events store: the events in ClickHouse, the ledger in PostgreSQL,
    and the visits as the overview counts them (ClickHouse keeps no visits table)."""
    events = h.clickhouse.query(
        "SELECT count(), hex(MD5(arrayStringConcat(arraySort(groupArray(concat(event_id, '|', toString(ts_ms), '|', "
        "name, '|', toString(visitor), '|', path, '|', query, '|', title, '|', referrer, '|', arrayStringConcat("
        "props.key, ','), '|', arrayStringConcat(props.value, ',')))), '\\n'))) FROM %s.events WHERE property_pk = %d"
        % (h.clickhouse.database, int(prop.pk)))[0]
    ids = session.rows("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') "
                       "FROM event_ids t WHERE property_pk = %d" % int(prop.pk))
    r = h.http("GET", "/v1/properties/%s/overview?period=today&metrics=sessions" % prop.id,
               headers={"Authorization": "Bearer " + prop.read_key})
    if r.status != 200 or len(ids) != 1:
        raise HarnessError("fingerprint: unexpected answers %r, %r" % (ids, r))
    return ("%s:%s" % (events[0], events[1] if events[0] != "0" else "-"), ids[0], "%d:-" % r.json()["sessions"])


def seeded_property(h):
    """A property with three stored events in two visits (sessionised), so that the fingerprint
    covers real rows, and allowed origins limited to https://example.com."""
    p = h.create_property(domains=["malformed.example"], allowed_origins=["https://example.com"],
                          timezone="UTC")
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/seed-a"), ev("/seed-b")], headers=c), 2)
    expect_counts(h.post_events(p, [ev("/seed-c", type="signup", data={"plan": "pro"})], headers=new_client(h)), 1)
    h.sessionize()
    before = fingerprint(h, p)
    assert before[0].startswith("3:") and before[2].startswith("2:"), before
    return p


# --- requests ------------------------------------------------------------------------------------

def raw_request(h, method, path, headers=(), body=b"", length="auto"):
    """A hand-written HTTP/1.1 request: headers is a list of (name, value) sent as given, length
    "auto" adds a correct Content-Length, None none, anything else is sent as the header's value."""
    lines = [b"%s %s HTTP/1.1" % (method.encode(), path.encode() if isinstance(path, str) else path),
             b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in headers:
        lines.append(name.encode() + b": " + (value.encode() if isinstance(value, str) else value))
    if length == "auto":
        lines.append(b"Content-Length: %d" % len(body))
    elif length is not None:
        lines.append(b"Content-Length: " + length.encode())
    return h.http_raw(b"\r\n".join(lines) + b"\r\n\r\n" + body)


def events_request(h, prop, body, content_type="application/json", key="own", extra=None, path="/v1/events"):
    """POST /v1/events with a raw body (bytes/str, or an object sent as JSON) and the write key."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    headers = dict(new_client(h))
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key == "own":
        headers["Authorization"] = "Bearer " + prop.write_key
    elif key is not None:
        headers["Authorization"] = key
    headers.update(extra or {})
    return h.http("POST", path, body=body.encode() if isinstance(body, str) else body, headers=headers)


def envelope(prop, **fields):
    """A valid one-event envelope with fields replaced (a value of DROP removes the field)."""
    env = {"schema_version": 1, "property_id": prop.id, "events": [ev("/malformed")]}
    for k, v in fields.items():
        if v is DROP:
            env.pop(k, None)
        else:
            env[k] = v
    return env


DROP = object()


def deep(levels, inner="1"):
    return "[" * levels + inner + "]" * levels


def with_raw_member(prop, member_json):
    """An envelope whose event carries one extra member written as raw JSON text."""
    return ('{"property_id":"%s","events":[{"type":"pageview","context":{"page":{"path":"/x"}},%s}]}'
            % (prop.id, member_json))


# --- running a table -----------------------------------------------------------------------------

def check_case(h, prop, name, send, status, text, server=False):
    """Sends one case and checks its answer; returns None when right, else what was wrong."""
    try:
        r = send()
    except OSError as e:
        return "%s: no answer (%s)" % (name, e)
    if r.status != status:
        return "%s: expected %d, got %r" % (name, status, r)
    if server:
        return None
    ctype = r.headers.get("Content-Type", "")
    if not ctype.startswith("application/json"):
        return "%s: %d is not JSON (%s): %r" % (name, status, ctype, r)
    try:
        msg = json.loads(r.body.decode("utf-8")).get("error")
    except (ValueError, UnicodeDecodeError) as e:
        return "%s: body is not JSON (%s): %r" % (name, e, r)
    if not isinstance(msg, str) or text not in msg:
        return "%s: the error should contain %r: %r" % (name, text, msg)
    return None


def run_table(h, prop, cases):
    """cases: (name, send, status, text[, server]). Checks every case and the fingerprint after
    each; asserts with the list of every miss. Returns how many cases ran."""
    names = [c[0] for c in cases]
    dupes = sorted(set(n for n in names if names.count(n) > 1))
    assert not dupes, "case names must be distinct: %r" % dupes
    start = first = fingerprint(h, prop)
    misses = []
    for case in cases:
        name, send, status, text = case[:4]
        server = case[4] if len(case) > 4 else False
        miss = check_case(h, prop, name, send, status, text, server)
        if miss:
            misses.append(miss)
        now = fingerprint(h, prop)
        if now != start:
            misses.append("%s: stored data changed: %r -> %r" % (name, start, now))
            start = now
    assert not misses, "%d of %d cases wrong: %s" % (len(misses), len(cases), " | ".join(misses))
    CATALOGUE.append((len(cases), prop, first))
    return len(cases)


CATALOGUE = []   # (cases, property, fingerprint before the table) of every table that passed


# --- POST /v1/events: the body and its framing ---------------------------------------------------

def test_events_body_and_framing(h):
    p = seeded_property(h)
    good = json.dumps(envelope(p)).encode()
    key = p.write_key

    def post(body, **kw):
        return lambda: events_request(h, p, body, **kw)

    def raw(headers, body=b"", length="auto", method="POST", path="/v1/events"):
        hdrs = [("Authorization", "Bearer " + key), ("Content-Type", "application/json")] + list(headers)
        return lambda: raw_request(h, method, path, hdrs, body, length)

    cases = [
        # Content-Type: application/json or text/plain only.
        ("no Content-Type", post(good, content_type=None), 415, "Content-Type"),
        ("Content-Type empty", post(good, content_type=""), 415, "Content-Type"),
        ("Content-Type application/xml", post(good, content_type="application/xml"), 415, "Content-Type"),
        ("Content-Type form", post(good, content_type="application/x-www-form-urlencoded"), 415, "Content-Type"),
        ("Content-Type multipart", post(good, content_type="multipart/form-data; boundary=x"), 415, "Content-Type"),
        ("Content-Type application/jsonp", post(good, content_type="application/jsonp"), 415, "Content-Type"),
        ("Content-Type text/html", post(good, content_type="text/html"), 415, "Content-Type"),
        ("Content-Type bare json", post(good, content_type="json"), 415, "Content-Type"),
        ("Content-Type text/plainx", post(good, content_type="text/plainx"), 415, "Content-Type"),
        # Not JSON at all, or not quite.
        ("empty body", post(b""), 400, "not valid JSON"),
        ("whitespace body", post(b"  \r\n\t "), 400, "not valid JSON"),
        ("lone brace", post(b"{"), 400, "not valid JSON"),
        ("plain text", post(b"hello"), 400, "not valid JSON"),
        ("trailing garbage", post(good + b" x"), 400, "not valid JSON"),
        ("two documents", post(good + good), 400, "not valid JSON"),
        ("trailing comma", post(good[:-1] + b",}"), 400, "not valid JSON"),
        ("single quotes", post(b"{'property_id': 'p', 'events': []}"), 400, "not valid JSON"),
        ("comment", post(b"/* c */" + good), 400, "not valid JSON"),
        ("NaN", post(good[:-1] + b',"x":NaN}'), 400, "not valid JSON"),
        ("Infinity", post(good[:-1] + b',"x":-Infinity}'), 400, "not valid JSON"),
        ("byte order mark", post(b"\xef\xbb\xbf" + good), 400, "not valid JSON"),
        ("UTF-16", post(good.decode().encode("utf-16")), 400, "not valid JSON"),
        ("unquoted key", post(b'{property_id:"p","events":[]}'), 400, "not valid JSON"),
        ("unterminated string", post(b'{"property_id":"p'), 400, "not valid JSON"),
        ("invalid escape", post(good[:-1] + b',"x":"\\q"}'), 400, "not valid JSON"),
        ("raw newline in string", post(good[:-1] + b',"x":"a\nb"}'), 400, "not valid JSON"),
        # Text that is not UTF-8, and NUL.
        ("byte 0xff in a string", post(good[:-1] + b',"x":"\xff"}'), 400, "not valid JSON"),
        ("overlong UTF-8", post(good[:-1] + b',"x":"\xc0\xaf"}'), 400, "not valid JSON"),
        ("UTF-8 surrogate", post(good[:-1] + b',"x":"\xed\xa0\x80"}'), 400, "not valid JSON"),
        ("truncated UTF-8", post(good[:-1] + b',"x":"caf\xc3"}'), 400, "not valid JSON"),
        ("invalid UTF-8 in a key", post(good[:-1] + b',"\xfe":1}'), 400, "not valid JSON"),
        ("raw NUL byte", post(good[:20] + b"\x00" + good[20:]), 400, "not valid JSON"),
        ("escaped NUL", post(good[:-1] + b',"x":"a\\u0000b"}'), 400, "not valid JSON"),
        ("lone surrogate escape", post(good[:-1] + b',"x":"\\ud800"}'), 400, "not valid JSON"),
        # Numbers JSON can write but Tally cannot hold.
        ("integer beyond 64 bits", post(good[:-1] + b',"x":99999999999999999999}'), 400, "not valid JSON"),
        ("real beyond double", post(good[:-1] + b',"x":1e400}'), 400, "not valid JSON"),
        # Duplicate keys, at every level.
        ("duplicate property_id", post('{"property_id":"%s","property_id":"%s","events":[]}' % (p.id, p.id)),
         400, "duplicate"),
        ("duplicate events", post('{"property_id":"%s","events":[],"events":[]}' % p.id), 400, "duplicate"),
        ("duplicate key in an event",
         post('{"property_id":"%s","events":[{"type":"pageview","type":"x"}]}' % p.id), 400, "duplicate"),
        ("duplicate key in data", post(with_raw_member(p, '"data":{"a":1,"a":2}')), 400, "duplicate"),
        # Nesting: 16 levels at most (TLY_MAX_JSON_DEPTH).
        ("17 levels", post(with_raw_member(p, '"x":' + deep(14))), 400, "nested deeper than 16"),
        ("100000 brackets", post(b"[" * 100000), 400, "nested deeper than 16"),
        ("deep objects", post(with_raw_member(p, '"x":' + '{"a":' * 20 + '1' + '}' * 20)), 400,
         "nested deeper than 16"),
        # Sizes: 1 MiB of body, 1000 events.
        ("body of 1 MiB + 1 byte", post(good + b" " * (LIMITS["body"] + 1 - len(good))), 413, "1048576 bytes"),
        ("1001 events", post(envelope(p, events=[{"type": "pageview"}] * 1001)), 413,
         "the limit is 1000 per request"),
        ("100000 events", post(envelope(p, events=[0] * 100000)), 413, "the limit is 1000 per request"),
        # Framing the programs see: a Content-Length shorter than the body cuts the JSON.
        ("Content-Length shorter than the body", raw([], good, length=str(len(good) - 5)), 400, "not valid JSON"),
        ("chunked, JSON cut short",
         raw([("Transfer-Encoding", "chunked")], b"5\r\n{\"pro\r\n0\r\n\r\n", length=None), 400, "not valid JSON"),
        ("chunked, not JSON",
         raw([("Transfer-Encoding", "chunked")], b"5\r\nhello\r\n0\r\n\r\n", length=None), 400, "not valid JSON"),
        ("chunked, empty", raw([("Transfer-Encoding", "chunked")], b"0\r\n\r\n", length=None), 400, "not valid JSON"),
        # Framing lighttpd refuses itself (its own 400/411/413/431; status only).
        ("no Content-Length", raw([], b"", length=None), 411, "", True),
        ("Content-Length twice, equal", raw([("Content-Length", str(len(good)))], good), 400, "", True),
        ("Content-Length twice, different", raw([("Content-Length", "5")], good), 400, "", True),
        ("Content-Length negative", raw([], good, length="-1"), 400, "", True),
        ("Content-Length not a number", raw([], good, length="12abc"), 400, "", True),
        ("Content-Length beyond 64 bits", raw([], good, length="99999999999999999999"), 400, "", True),
        ("Content-Length over the server's 4 MiB", raw([], b"", length="5000000"), 413, "", True),
        ("chunked with a bad chunk size", raw([("Transfer-Encoding", "chunked")], b"zz\r\nabc\r\n0\r\n\r\n",
                                              length=None), 400, "", True),
        ("chunked and Content-Length", raw([("Transfer-Encoding", "chunked")], b"5\r\n{}{}{\r\n0\r\n\r\n",
                                           length="5"), 400, "", True),
        ("header of 70 KB", raw([("X-Padding", "a" * 70000)], good), 431, "", True),
        ("header name with a space", raw([("Bad Header", "x")], good), 400, "", True),
        ("Content-Type twice", raw([("Content-Type", "application/xml")], good), 400, "", True),
    ]
    run_table(h, p, cases)


# --- POST /v1/events: keys, origins, methods and paths -------------------------------------------

def test_events_auth_and_routing(h):
    p = seeded_property(h)
    other = h.create_property()
    good = envelope(p)

    def post(body=good, **kw):
        return lambda: events_request(h, p, body, **kw)

    def method(m, path="/v1/events"):
        return lambda: h.http(m, path, body=b"{}" if m in ("PUT", "PATCH") else None,
                              headers={"Authorization": "Bearer " + p.write_key, "Content-Type": "application/json"})

    cases = [
        ("no key", post(key=None), 401, "missing write key"),
        ("empty Bearer", post(key="Bearer "), 401, "missing write key"),
        ("Basic credentials", post(key="Basic dXNlcjpwYXNz"), 401, "missing write key"),
        ("key of 300 characters", post(key="Bearer wk_" + "A" * 297), 401, "write key"),
        ("unknown key", post(key="Bearer wk_" + "A" * 43), 401, "unknown write key"),
        ("read key", post(key="Bearer " + p.read_key), 401, "unknown write key"),
        ("empty X-Write-Key", post(key=None, extra={"X-Write-Key": ""}), 401, "missing write key"),
        ("unknown ?key=", lambda: events_request(h, p, good, key=None, path="/v1/events?key=wk_nope"), 401,
         "unknown write key"),
        ("?key= with a bad escape", lambda: events_request(h, p, good, key=None, path="/v1/events?key=%zz"), 401,
         "unknown write key"),
        ("empty ?key=", lambda: events_request(h, p, good, key=None, path="/v1/events?key="), 401,
         "missing write key"),
        ("key of another property", post(key="Bearer " + other.write_key), 403, "property_id"),
        ("property_id of another property", post(envelope(p, property_id=other.id)), 403, "property_id"),
        ("Origin not allowed", post(extra={"Origin": "https://evil.example"}), 403, "allowed_origins"),
        ("Origin null", post(extra={"Origin": "null"}), 403, "allowed_origins"),
        ("Origin with another port", post(extra={"Origin": "https://example.com:8443"}), 403, "allowed_origins"),
        ("Origin of 5000 characters", post(extra={"Origin": "https://example.com/" + "o" * 4980}), 403,
         "allowed_origins"),
        ("GET /v1/events", method("GET"), 405, "method GET"),
        ("PUT /v1/events", method("PUT"), 405, "method PUT"),
        ("DELETE /v1/events", method("DELETE"), 405, "method DELETE"),
        ("PATCH /v1/events", method("PATCH"), 405, "method PATCH"),
        ("TRACE /v1/events", method("TRACE"), 405, "method TRACE"),
        ("PROPFIND /v1/events", method("PROPFIND"), 405, "method PROPFIND"),
        ("POST /v1/events/extra", post(path="/v1/events/extra"), 404, "no such endpoint"),
        ("POST /v1/eventsx", post(path="/v1/eventsx"), 404, "no such endpoint"),
        ("POST /v1/events/", post(path="/v1/events/"), 404, "no such endpoint"),
        ("?key=%00 (lighttpd refuses the URL)",
         lambda: events_request(h, p, good, key=None, path="/v1/events?key=%00"), 400, "", True),
        ("line-folded X-Write-Key (lighttpd joins the lines)",
         lambda: raw_request(h, "POST", "/v1/events", [("Content-Type", "application/json"),
                                                       ("X-Write-Key", p.write_key + "\r\n x")],
                             json.dumps(good).encode()), 401, "unknown write key"),
    ]
    run_table(h, p, cases)


# --- POST /v1/events: the envelope's fields --------------------------------------------------------

def test_envelope_fields(h):
    p = seeded_property(h)

    def post(**fields):
        return lambda: events_request(h, p, envelope(p, **fields))

    cases = [("body is an array", lambda: events_request(h, p, [envelope(p)]), 400, "body: expected a JSON object"),
             ("body is a string", lambda: events_request(h, p, '"text"'), 400, "JSON"),
             ("body is a number", lambda: events_request(h, p, "42"), 400, "JSON"),
             ("body is null", lambda: events_request(h, p, "null"), 400, "JSON"),
             ("body is an empty object", lambda: events_request(h, p, {}), 400, "property_id: required")]
    for label, value in (("a string", "1"), ("0", 0), ("negative", -1), ("a real", 1.5), ("true", True),
                         ("null", None), ("an array", [1]), ("an object", {"v": 1})):
        cases.append(("schema_version " + label, post(schema_version=value), 400, "schema_version"))
    for label, value, text in (("missing", DROP, "property_id: required"),
                               ("a number", 42, "property_id: must be"),
                               ("empty", "", "property_id: must be"),
                               ("65 characters", "p" * (LIMITS["id"] + 1), "at most 64 characters"),
                               ("null", None, "property_id: must be"),
                               ("an array", [p.id], "property_id: must be"),
                               ("an object", {"id": p.id}, "property_id: must be"),
                               ("true", True, "property_id: must be"),
                               ("SQL", "' OR 1=1 --", "property_id: this write key belongs to another property"),
                               ("64 characters, not the key's", "p" * LIMITS["id"],
                                "property_id: this write key belongs to another property")):
        status = 403 if "another property" in text else 400
        cases.append(("property_id " + label, post(property_id=value), status, text))
    for label, value, text in (("missing", DROP, "events: required"), ("an object", {"0": ev()}, "events: must be an array"),
                               ("a string", "[]", "events: must be an array"), ("null", None, "events: must be an array"),
                               ("a number", 1, "events: must be an array"), ("true", True, "events: must be an array")):
        cases.append(("events " + label, post(events=value), 400, text))
    for label, value in (("words", "yesterday"), ("true", True), ("a real", 1.5), ("an array", []),
                         ("an object", {}), ("empty", ""), ("epoch ms after year 9999", 10 ** 15),
                         ("epoch ms before year 1", -10 ** 15), ("February 30", "2026-02-30T00:00:00Z"),
                         ("hour 25", "2026-01-24T25:00:00Z"), ("no offset", "2026-01-24T18:12:33"),
                         ("date only", "2026-01-24")):
        cases.append(("sent_at " + label, post(sent_at=value), 400, "sent_at"))
    run_table(h, p, cases)


# --- events that are refused one by one -----------------------------------------------------------

def bad_events():
    """(label, event, text its error must contain): every per-event rule of api.md section 1."""
    page = {"url": "https://example.com/x"}

    def e(**fields):
        out = {"event_id": new_event_id(), "type": "pageview", "context": {"page": dict(page)}}
        out.update(fields)
        return out

    def ctx(**parts):
        c = {"page": dict(page)}
        c.update(parts)
        return e(context=c)

    def pg(**fields):
        return e(context={"page": dict(page, **fields)})

    def utm(**fields):
        return ctx(campaign={"utm": fields})

    def ident(**fields):
        return e(identity=fields)

    many_keys = {"k%d" % i: i for i in range(LIMITS["keys"] + 1)}
    return [
        ("a string", "pageview", "event: must be a JSON object"),
        ("a number", 5, "event: must be a JSON object"),
        ("null", None, "event: must be a JSON object"),
        ("an array", [e()], "event: must be a JSON object"),
        ("event_id a number", e(event_id=5), "event_id: must be a string"),
        ("event_id empty", e(event_id=""), "event_id: must be 1-64 characters"),
        ("event_id 65 characters", e(event_id="a" * 65), "event_id: longer than 64 characters"),
        ("event_id with a space", e(event_id="a b"), "event_id: must be 1-64 characters"),
        ("event_id with a quote", e(event_id="a'--"), "event_id: must be 1-64 characters"),
        ("type missing", {"context": {"page": page}}, "type: required"),
        ("type a number", e(type=5), "type: must be 1-64 characters"),
        ("type empty", e(type=""), "type: must be 1-64 characters"),
        ("type 65 characters", e(type="a" * 65), "type: must be 1-64 characters"),
        ("type with markup", e(type="<script>"), "type: must be 1-64 characters"),
        ("type with a newline", e(type="a\nb"), "type: must be 1-64 characters"),
        ("type with a quote", e(type="x' OR 1=1"), "type: must be 1-64 characters"),
        ("ts words", e(ts="last tuesday"), "ts: not RFC 3339 or epoch milliseconds"),
        ("ts true", e(ts=True), "ts: not RFC 3339"),
        ("ts a real", e(ts=1769278353000.5), "ts: not RFC 3339"),
        ("ts an object", e(ts={}), "ts: not RFC 3339"),
        ("ts after year 9999", e(ts=10 ** 15), "ts: not RFC 3339"),
        ("ts offset beyond 23:59", e(ts="2026-01-24T18:12:33+24:00"), "ts: not RFC 3339"),
        ("context a string", e(context="page"), "context: must be a JSON object"),
        ("context an array", e(context=[]), "context: must be a JSON object"),
        ("context.page a number", e(context={"page": 5}), "context.page: must be a JSON object"),
        ("url a number", e(context={"page": {"url": 5}}), "context.page.url: must be a string"),
        ("url ftp", pg(url="ftp://example.com/"), "context.page.url: not an absolute http(s) URL"),
        ("url javascript", pg(url="javascript:alert(1)"), "context.page.url: not an absolute http(s) URL"),
        ("url without host", pg(url="https://"), "context.page.url: not an absolute http(s) URL"),
        ("url relative", pg(url="/x"), "context.page.url: not an absolute http(s) URL"),
        ("url with a space in the host", pg(url="http://exa mple.com/"), "context.page.url: not an absolute"),
        ("url with a tab", pg(url="https://example.com/\tx"), "context.page.url: not an absolute"),
        ("url with port 65536", pg(url="https://example.com:65536/"), "context.page.url: not an absolute"),
        ("url with an open bracket", pg(url="https://[::1/"), "context.page.url: not an absolute"),
        ("url with a 300-byte IPv6 host", pg(url="http://[" + "1:" * 150 + "1]/"), "context.page.url: not an absolute"),
        ("url with a 254-byte host", pg(url="https://" + "a" * 254 + "/"), "context.page.url: not an absolute"),
        ("url 2049 characters", pg(url="https://example.com/" + "a" * (LIMITS["url"] - 19)),
         "context.page.url: longer than 2048 characters"),
        ("pageview without url or path", e(context={"page": {"title": "t"}}), "context.page.url: required for a pageview"),
        ("pageview without context", {"type": "pageview"}, "context.page.url: required for a pageview"),
        ("path a number", pg(path=5), "context.page.path: must be a string"),
        ("path empty", pg(path=""), "context.page.path: must start with '/'"),
        ("path relative", pg(path="x/y"), "context.page.path: must start with '/'"),
        ("path 2049 characters", pg(path="/" + "a" * LIMITS["path"]), "context.page.path: longer than 2048 characters"),
        ("title a number", pg(title=5), "context.page.title: must be a string"),
        ("title 501 characters", pg(title="t" * (LIMITS["title"] + 1)), "context.page.title: longer than 500 characters"),
        ("title 501 two-byte characters", pg(title="\u00e9" * (LIMITS["title"] + 1)),
         "context.page.title: longer than 500 characters"),
        ("referrer a number", pg(referrer=5), "context.page.referrer: must be a string"),
        ("referrer 2049 characters", pg(referrer="https://r.example/" + "a" * (LIMITS["url"] - 17)),
         "context.page.referrer: longer than 2048 characters"),
        ("campaign a string", ctx(campaign="x"), "context.campaign: must be a JSON object"),
        ("campaign_id a number", ctx(campaign={"campaign_id": 5}), "context.campaign.campaign_id: must be a string"),
        ("campaign_id 501 characters", ctx(campaign={"campaign_id": "c" * 501}),
         "context.campaign.campaign_id: longer than 500 characters"),
        ("utm a string", ctx(campaign={"utm": "x"}), "context.campaign.utm: must be a JSON object"),
        ("utm.source a number", utm(source=5), "context.campaign.utm.source: must be a string"),
        ("utm.source 501 characters", utm(source="s" * 501), "context.campaign.utm.source: longer than 500"),
        ("utm.medium 501 characters", utm(medium="m" * 501), "context.campaign.utm.medium: longer than 500"),
        ("utm.campaign 501 characters", utm(campaign="c" * 501), "context.campaign.utm.campaign: longer than 500"),
        ("utm.term 501 characters", utm(term="t" * 501), "context.campaign.utm.term: longer than 500"),
        ("utm.content 501 characters", utm(content="c" * 501), "context.campaign.utm.content: longer than 500"),
        ("utm.campaign an array", utm(campaign=[]), "context.campaign.utm.campaign: must be a string"),
        ("utm.term an object", utm(term={}), "context.campaign.utm.term: must be a string"),
        ("utm.content true", utm(content=True), "context.campaign.utm.content: must be a string"),
        ("screen a number", ctx(screen=5), "context.screen: must be a JSON object"),
        ("screen.width a string", ctx(screen={"width": "1440"}), "context.screen.width: must be an integer"),
        ("screen.width negative", ctx(screen={"width": -1}), "context.screen.width: must be an integer between 0 and 100000"),
        ("screen.width 100001", ctx(screen={"width": LIMITS["width"] + 1}), "between 0 and 100000"),
        ("screen.width a real", ctx(screen={"width": 1440.5}), "context.screen.width: must be an integer"),
        ("identity a string", e(identity="v1"), "identity: must be a JSON object"),
        ("visitor_id a number", ident(visitor_id=5), "identity.visitor_id: must be a string"),
        ("visitor_id 129 characters", ident(visitor_id="v" * 129), "identity.visitor_id: longer than 128 characters"),
        ("session_id an array", ident(session_id=[]), "identity.session_id: must be a string"),
        ("session_id 129 characters", ident(session_id="s" * 129), "identity.session_id: longer than 128 characters"),
        ("user_id_hash an e-mail address", ident(user_id_hash="me@example.com"), "identity.user_id_hash: must be a hash"),
        ("user_id_hash short hex", ident(user_id_hash="sha256:abc"), "identity.user_id_hash: must be a hash"),
        ("user_id_hash with SQL", ident(user_id_hash="sha256:' OR 1=1 --" + "a" * 40), "identity.user_id_hash: must be a hash"),
        ("user_id_hash a number", ident(user_id_hash=5), "identity.user_id_hash: must be a string"),
        ("user_id_hash 129 characters", ident(user_id_hash="a" * 129), "identity.user_id_hash: longer than 128"),
        ("data a string", e(data="x"), "data: must be a JSON object"),
        ("data an array", e(data=[1]), "data: must be a JSON object"),
        ("data with 33 keys", e(data=many_keys), "data: 33 keys; the limit is 32"),
        ("data key 65 characters", e(data={"k" * 65: 1}), "data: keys must be 1-64 characters"),
        ("data key empty", e(data={"": 1}), "data: keys must be 1-64 characters"),
        ("data value 501 characters", e(data={"plan": "p" * 501}), "data.plan: string longer than 500 characters"),
        ("data value an array", e(data={"plan": ["pro"]}), "data.plan: must be a string, number or boolean"),
        ("data value an object", e(data={"plan": {"a": 1}}), "data.plan: must be a string, number or boolean"),
        ("data value null", e(data={"plan": None}), "data.plan: must be a string, number or boolean"),
        ("revenue a string", e(data={"revenue": "49.90 EUR"}), "data.revenue: must be an object"),
        ("revenue amount words", e(data={"revenue": {"amount": "lots", "currency": "EUR"}}), "data.revenue.amount"),
        ("revenue amount 5 decimals", e(data={"revenue": {"amount": "1.23456", "currency": "EUR"}}), "data.revenue.amount"),
        ("revenue amount 10^13", e(data={"revenue": {"amount": 1e13, "currency": "EUR"}}), "data.revenue.amount"),
        ("revenue currency EURO", e(data={"revenue": {"amount": "1", "currency": "EURO"}}), "data.revenue.currency"),
        ("revenue currency digits", e(data={"revenue": {"amount": "1", "currency": "123"}}), "data.revenue.currency"),
        ("revenue without currency", e(data={"revenue": {"amount": "1"}}), "data.revenue.currency"),
        ("interactive a string", e(interactive="yes"), "interactive: must be true or false"),
        ("interactive 1", e(interactive=1), "interactive: must be true or false"),
    ]


def test_event_field_rejections(h):
    """Each bad event inside a valid envelope is rejected on its own with an error naming its field;
    the one good event beside them is the only one stored."""
    p = seeded_property(h)
    cases = bad_events()
    start = fingerprint(h, p)
    body = expect_counts(h.post_events(p, [c[1] for c in cases], headers=new_client(h)), 0, rejected=len(cases))
    errors = {e["index"]: e for e in body["errors"]}
    misses = []
    for i, (label, event, text) in enumerate(cases):
        got = errors.get(i, {}).get("error", "")
        if text not in got:
            misses.append("%s: the error should contain %r: %r" % (label, text, got))
        if isinstance(event, dict) and isinstance(event.get("event_id"), str) and \
                errors.get(i, {}).get("event_id") != event["event_id"]:
            misses.append("%s: the error should carry the event_id" % label)
    assert not misses, "%d of %d wrong: %s" % (len(misses), len(cases), " | ".join(misses))
    assert fingerprint(h, p) == start, "rejected events changed the stored data"
    # The same events beside a good one: only the good one is stored.
    good = ev("/the-good-one")
    body = expect_counts(h.post_events(p, [c[1] for c in cases[:20]] + [good], headers=new_client(h)), 1,
                         rejected=20)
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND path = '/the-good-one'", p.pk) == 1


# --- POST /api/event (Plausible) -------------------------------------------------------------------

def test_plausible_body(h):
    p = seeded_property(h)
    base = {"name": "pageview", "url": "https://malformed.example/x", "domain": "malformed.example"}

    def post(body, content_type="text/plain", extra=None):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        headers = dict(new_client(h))
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers.update(extra or {})
        return lambda: h.http("POST", "/api/event", body=body, headers=headers)

    def with_(**fields):
        b = dict(base)
        for k, v in fields.items():
            if v is DROP:
                b.pop(k, None)
            else:
                b[k] = v
        return post(b)

    cases = [
        ("no Content-Type", post(base, content_type=None), 415, "Content-Type"),
        ("Content-Type xml", post(base, content_type="application/xml"), 415, "Content-Type"),
        ("empty body", post(b""), 400, "not valid JSON"),
        ("not JSON", post(b"{not json"), 400, "not valid JSON"),
        ("invalid UTF-8", post(b'{"name":"\xff"}'), 400, "not valid JSON"),
        ("duplicate keys", post(b'{"name":"pageview","name":"x","url":"https://malformed.example/","domain":"malformed.example"}'),
         400, "duplicate"),
        ("an array", post([base]), 400, "body: expected a JSON object"),
        ("17 levels", post(json.dumps(base)[:-1] + ',"x":' + deep(16) + "}"), 400, "nested deeper than 16"),
        ("body over 1 MiB", post(json.dumps(dict(base, pad="x" * LIMITS["body"]))), 413, "1048576 bytes"),
        ("name missing", with_(name=DROP), 400, "name: required"),
        ("name a number", with_(name=5), 400, "name: required"),
        ("name empty", with_(name=""), 400, "name: required"),
        ("name 65 characters", with_(name="n" * 65), 400, "name: required, 1-64 characters"),
        ("name with markup", with_(name="<script>"), 400, "name: required, 1-64 characters"),
        ("url missing", with_(url=DROP), 400, "url: required"),
        ("url ftp", with_(url="ftp://malformed.example/"), 400, "url: required, an absolute http(s) URL"),
        ("url a number", with_(url=5), 400, "url: required"),
        ("url 2049 characters", with_(url="https://malformed.example/" + "a" * 2023), 400, "at most 2048 characters"),
        ("domain missing", with_(domain=DROP), 400, "domain: required"),
        ("domain empty", with_(domain=""), 400, "domain: required"),
        ("domain 1001 characters", with_(domain="d" * 1001), 400, "domain: required"),
        ("domain a list", with_(domain=["malformed.example"]), 400, "domain: required"),
        ("referrer a number", with_(referrer=5), 400, "referrer: must be a string"),
        ("props broken JSON text", with_(props="{broken"), 400, "props: not a JSON object"),
        ("props an array", with_(props=[1]), 400, "props: must be a JSON object"),
        ("props nested value", with_(props={"a": [1]}), 400, "props.a: must be a string, number or boolean"),
        ("props 33 keys", with_(props={"k%d" % i: 1 for i in range(33)}), 400, "props: 33 keys; the limit is 32"),
        ("props value 501 characters", with_(props={"k": "v" * 501}), 400, "props.k: string longer than 500"),
        ("revenue words", with_(revenue="10 EUR"), 400, "revenue: not a JSON object"),
        ("revenue without currency", with_(revenue={"amount": 1}), 400, "revenue.currency"),
        ("$ a number", post(dict(base, **{"$": 5})), 400, "revenue: must be an object"),
        ("interactive a string", with_(interactive="no"), 400, "interactive: must be true or false"),
        ("i a number", post(dict(base, i=0)), 400, "interactive: must be true or false"),
        ("GET /api/event", lambda: h.http("GET", "/api/event"), 405, "method GET"),
        ("PUT /api/event", lambda: h.http("PUT", "/api/event", body=b"{}", headers={"Content-Type": "text/plain"}),
         405, "method PUT"),
        ("POST /api/events", lambda: h.http("POST", "/api/events", body=json.dumps(base),
                                            headers={"Content-Type": "text/plain"}), 404, "no such endpoint"),
    ]
    run_table(h, p, cases)


# --- GET /v1/health --------------------------------------------------------------------------------

def test_health_misuse(h):
    p = seeded_property(h)
    cases = []
    for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        cases.append(("%s /v1/health" % m, (lambda m=m: h.http(m, "/v1/health", body=b"{}" if m in ("POST", "PUT", "PATCH") else None,
                                                              headers={"Content-Type": "application/json"})),
                      405, "method %s not allowed on /v1/health" % m))
    cases += [
        ("GET /v1/healthz", lambda: h.http("GET", "/v1/healthz"), 404, "no such endpoint: /v1/healthz"),
        ("GET /v1/health/db", lambda: h.http("GET", "/v1/health/db"), 404, "no such endpoint"),
        ("GET /v1/health with a bad escape (lighttpd)", lambda: h.http("GET", "/v1/health?%00"), 400, "", True),
        ("GET /v1/health without Host (lighttpd)",
         lambda: h.http_raw(b"GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n"), 400, "", True),
        ("GET /v1/health with a control byte in the URL (lighttpd)",
         lambda: h.http_raw(b"GET /v1/health\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 400, "", True),
    ]
    run_table(h, p, cases)


def test_http_lighttpd_does_not_implement(h):
    """Outside the catalogue: what lighttpd answers with a 5xx of its own, as HTTP says it should,
    before any program runs: a transfer coding it does not implement (501, RFC 9112 section 6.1),
    a method it does not know (501, RFC 9110 section 9.1) and an HTTP version it does not speak
    (505). Stored data is untouched."""
    p = seeded_property(h)
    start = fingerprint(h, p)
    head = b"Host: 127.0.0.1\r\nConnection: close\r\n"
    r = h.http_raw(b"POST /v1/events HTTP/1.1\r\n" + head + b"Content-Type: application/json\r\n"
                   b"Authorization: Bearer " + p.write_key.encode() + b"\r\nTransfer-Encoding: gzip\r\n\r\n")
    assert r.status == 501, r
    r = h.http_raw(b"FROB /v1/events HTTP/1.1\r\n" + head + b"\r\n")
    assert r.status == 501, r
    r = h.http_raw(b"GET /v1/health HTTP/9.9\r\n" + head + b"\r\n")
    assert r.status == 505, r
    assert fingerprint(h, p) == start


# --- the report endpoints --------------------------------------------------------------------------

def test_report_requests(h):
    p = seeded_property(h)
    other = h.create_property(timezone="UTC")

    def get(path, key="own", headers=None):
        hdr = {}
        if key == "own":
            hdr["Authorization"] = "Bearer " + p.read_key
        elif key:
            hdr["Authorization"] = key
        hdr.update(headers or {})
        return lambda: h.http("GET", path, headers=hdr)

    pages = "/v1/properties/%s/pages" % p.id

    def q(query):
        return get(pages + "?" + query)

    cases = [
        ("no credential", get(pages, key=None), 401, "no credential"),
        ("Basic credentials", get(pages, key="Basic dXNlcjpwYXNz"), 401, "Authorization"),
        ("Bearer without a key", get(pages, key="Bearer"), 401, "Authorization: expected 'Bearer <read key>'"),
        ("unknown read key", get(pages, key="Bearer rk_" + "A" * 43), 401, "unknown read key"),
        ("write key", get(pages, key="Bearer " + p.write_key), 401, "read key"),
        ("read key of another property", get(pages, key="Bearer " + other.read_key), 403, "another property"),
        ("unknown share link", get(pages + "?share=sh_nope", key=None), 401, "share link"),
        ("unknown property", get("/v1/properties/prop_nope_%s/pages" % os.urandom(4).hex()), 404, "no such property"),
        ("property id 65 characters", get("/v1/properties/%s/pages" % ("p" * 65)), 404, "longer than 64 characters"),
        ("property id with SQL", get("/v1/properties/%s/pages" % urllib.parse.quote("x' OR '1'='1")), 404,
         "no such property"),
        ("property id empty", get("/v1/properties//pages"), 404, "no such report"),
        ("unknown report", get("/v1/properties/%s/colours" % p.id), 404, "no such report"),
        ("report name 40 characters", get("/v1/properties/%s/%s" % (p.id, "r" * 40)), 404, "no such report"),
        ("no report", get("/v1/properties/%s" % p.id), 404, "no such report"),
        ("POST a report", lambda: h.http("POST", pages, body=b"{}", headers={"Authorization": "Bearer " + p.read_key,
                                                                            "Content-Type": "application/json"}),
         405, "method POST"),
        ("DELETE a report", lambda: h.http("DELETE", pages, headers={"Authorization": "Bearer " + p.read_key}), 405,
         "method DELETE"),
        ("from not a date", q("from=2026-13-01"), 400, "from:"),
        ("to not a date", q("to=tomorrow"), 400, "to:"),
        ("from after to", q("from=2026-02-01&to=2026-01-01"), 400, "from:"),
        ("range over 3660 days", q("from=2000-01-01&to=2026-01-01"), 400, "the limit is 3660"),
        ("year 1999", q("from=1999-12-31"), 400, "from:"),
        ("unknown period", q("period=fortnight"), 400, "period:"),
        ("period with from", q("period=7d&from=2026-01-01"), 400, "period: cannot be combined"),
        ("unknown dimension", q("filters=colour==red"), 400, "filters: unknown dimension 'colour'"),
        ("17 filters", q("filters=" + ";".join("path!=/%d" % i for i in range(17))), 400, "more than 16 filters"),
        ("filter value 501 characters", q("filters=path==" + "x" * 501), 400, "longer than 500 characters"),
        ("filter without operator", q("filters=path"), 400, "filters:"),
        ("filter =~ without text", q("filters=path=~"), 400, "needs a substring"),
        ("filter invalid UTF-8", q("filters=path==%c3%28"), 400, "filters: not valid UTF-8"),
        ("limit 0", q("limit=0"), 400, "limit: must be an integer 1-1000"),
        ("limit 1001", q("limit=1001"), 400, "limit: must be an integer 1-1000"),
        ("limit negative", q("limit=-1"), 400, "limit:"),
        ("limit words", q("limit=ten"), 400, "limit:"),
        ("limit beyond 64 bits", q("limit=99999999999999999999"), 400, "limit:"),
        ("limit empty", q("limit="), 400, "limit:"),
        ("limit twice", q("limit=5&limit=5"), 400, "limit: given more than once"),
        ("offset 1000001", q("offset=1000001"), 400, "offset: must be an integer 0-1000000"),
        ("unknown metric", get("/v1/properties/%s/metrics?metrics=visitors" % p.id), 400, "metrics: unknown metric"),
        ("unknown interval", get("/v1/properties/%s/metrics?interval=minute" % p.id), 400, "interval:"),
        ("group_by 4 dimensions", get("/v1/properties/%s/metrics?group_by=path,country,device,os" % p.id), 400,
         "group_by: more than 3"),
        ("group_by a prop key with SQL", get("/v1/properties/%s/metrics?group_by=prop:%s" % (
            p.id, urllib.parse.quote("plan';--"))), 400, "group_by:"),
        ("compare yes", q("compare=yes"), 400, "compare:"),
        ("format xml", q("format=xml"), 400, "format:"),
        ("interval on /pages", q("interval=day"), 400, "interval:"),
        ("%00 in the query (lighttpd)", q("filters=path==%00"), 400, "", True),
        ("%ff in the query (lighttpd)", q("from=%ff"), 400, "", True),
    ]
    run_table(h, p, cases)


# --- the whole catalogue -----------------------------------------------------------------------------

def test_catalogue_size_and_data_unchanged(h):
    """The tables above hold at least 100 distinct whole-request cases answered 4xx (plus the
    per-event rejections), and after all of them every table's property holds exactly what it held
    before its table ran: nothing was stored late either (e.g. replayed from the spool). Runs after
    the tables; skipped when only some were selected."""
    if len(CATALOGUE) < 6:
        raise Skip("only part of the catalogue ran")
    total = sum(n for n, _, _ in CATALOGUE)
    assert total >= 100, "the catalogue has %d whole-request cases" % total
    h.sessionize()
    for n, prop, before in CATALOGUE:
        assert fingerprint(h, prop) == before, "%s: stored data changed after its %d cases" % (prop.id, n)
    print("# malformed catalogue: %d whole-request cases, %d per-event rejections" % (total, len(bad_events())))


def test_limits_at_the_edge_accepted(h):
    """The other side of every limit the catalogue crosses: values exactly at each limit of
    lib/limits.h are accepted and stored whole (on a property of its own, so the catalogue's
    fingerprints are not involved)."""
    pid = "prop_" + "p" * (LIMITS["id"] - 5)
    p = h.create_property(id=pid)
    eid = "e" * LIMITS["id"]
    edge = {
        "event_id": eid, "type": "t" * LIMITS["name"],
        "context": {"page": {"url": "https://example.com/" + "u" * (LIMITS["url"] - 20),
                             "path": "/" + "\u00e9" * (LIMITS["path"] - 1),
                             "title": "\u00e9" * LIMITS["title"],
                             "referrer": "https://r.example/" + "r" * (LIMITS["url"] - 18)},
                    "campaign": {"campaign_id": "c" * LIMITS["utm"],
                                 "utm": {k: k[0] * LIMITS["utm"] for k in ("source", "medium", "campaign", "term",
                                                                            "content")}},
                    "screen": {"width": LIMITS["width"]}},
        "identity": {"visitor_id": "v" * LIMITS["identity"], "session_id": "s" * LIMITS["identity"],
                     "user_id_hash": "a" * LIMITS["identity"]},
        "data": dict({"k%02d" % i + "k" * (LIMITS["key"] - 3): "v" * LIMITS["string"]
                      for i in range(LIMITS["keys"] - 1)},
                     revenue={"amount": "999999999999.9999", "currency": "EUR"}),
        # 16 levels: envelope, events, event, then 13 of an unknown member.
        "future": json.loads(deep(LIMITS["depth"] - 3)),
    }
    # A user agent of 5000 bytes is no error: what lies past TLY_MAX_UA_LEN (1024) is not parsed.
    ua = CHROME + " " + "x" * (5000 - len(CHROME) - 1)
    expect_counts(h.post_events(p, [edge], headers=h.client("203.0.113.250", ua)), 1)
    row = h.sql_dicts("SELECT event_id, name, length(path) AS path, length(title) AS title, length(referrer) AS ref, "
                      "length(utm_source) AS utm, length(campaign_id) AS cid, screen_width, length(user_id_hash) AS uid, "
                      "(SELECT count(*) FROM jsonb_object_keys(props)) AS keys, revenue_amount::text AS amount, browser "
                      "FROM events WHERE property_pk = %s", p.pk)
    assert row == [{"event_id": eid, "name": "t" * 64, "path": 2048, "title": 500, "ref": 2048, "utm": 500, "cid": 500,
                    "screen_width": 100000, "uid": 128, "keys": 31, "amount": "999999999999.9999",
                    "browser": "Chrome"}], row
    # A body of exactly 1 MiB and a batch of exactly 1000 events.
    env = json.dumps({"property_id": pid, "events": [{"type": "pageview", "context": {"page": {"path": "/b"}}}] * 1000})
    body = env + " " * (LIMITS["body"] - len(env))
    r = h.http("POST", "/v1/events", body=body, headers=dict(new_client(h), **{
        "Content-Type": "application/json", "Authorization": "Bearer " + p.write_key}))
    expect_counts(r, 1000)
    # Plausible at its limits: a 64-character name and a 2048-character URL.
    q = h.create_property(domains=["edge.example"])
    body = {"n": "n" * 64, "u": "https://edge.example/" + "x" * (LIMITS["url"] - 21), "d": "edge.example",
            "p": {"k" * 64: "v" * 500}}
    r = h.http("POST", "/api/event", body=json.dumps(body), headers=dict(new_client(h), **{"Content-Type": "text/plain"}))
    assert r.status == 202, r
    assert h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND length(path) = 2048 - 20", q.pk) == 1
