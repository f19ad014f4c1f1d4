"""Signed browser tokens: POST /v1/tokens with a read key mints one; /v1/events takes it where a
write key goes; properties may require tokens from browsers."""
import time

from client import count, ev, expect_counts, expect_json_error, new_client


def mint(h, prop, body=None, key=None):
    return h.http("POST", "/v1/tokens", body=body, headers={"Authorization": "Bearer " + (key or prop.read_key)})


def with_token(h, prop, token, events, origin=None, auth="query"):
    hdr = dict(new_client(h))
    if origin:
        hdr["Origin"] = origin
    body = {"property_id": prop.id, "events": events}
    if auth == "query":
        return h.http("POST", "/v1/events?key=" + token, body=body, headers=hdr)
    hdr["Authorization"] = "Bearer " + token
    return h.http("POST", "/v1/events", body=body, headers=hdr)


def test_mint_and_use(h):
    p = h.create_property()
    r = mint(h, p, {"ttl": 600})
    assert r.status == 201, r
    tok = r.json()
    assert tok["property_id"] == p.id and tok["token"].startswith("bt1.%s." % p.id), tok
    expect_counts(with_token(h, p, tok["token"], [ev("/tok-a")]), 1)
    expect_counts(with_token(h, p, tok["token"], [ev("/tok-b")], auth="bearer"), 1)
    assert count(h, p, "path LIKE '/tok-%%'") == 2
    # Default lifetime without a body: 15 minutes.
    r = mint(h, p)
    assert r.status == 201, r
    left = time.mktime(time.strptime(r.json()["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())
    assert 850 < left <= 900, left


def test_bad_tokens(h):
    p = h.create_property()
    q = h.create_property()
    tok = mint(h, p).json()["token"]
    head, _, mac = tok.rpartition(".")
    forged = head + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    expect_json_error(with_token(h, p, forged, [ev()]), 401, "signature")
    expires = int(head.split(".")[2])
    later = "bt1.%s.%d.%s" % (p.id, expires + 60, mac)
    expect_json_error(with_token(h, p, later, [ev()]), 401, "signature")
    expect_json_error(with_token(h, p, "bt1.nonsense", [ev()]), 401, "malformed")
    # A token of one property does not write to another.
    expect_json_error(with_token(h, q, tok, [ev()]), 403, "property_id")
    assert count(h, p) == 0 and count(h, q) == 0


def test_mint_errors(h):
    p = h.create_property()
    expect_json_error(h.http("POST", "/v1/tokens", body={"ttl": 600}), 401, "read key")
    expect_json_error(mint(h, p, key=p.write_key), 401, "read key")
    expect_json_error(mint(h, p, {"ttl": 5}), 400, "ttl")
    expect_json_error(mint(h, p, {"ttl": 86401}), 400, "ttl")
    expect_json_error(mint(h, p, {"ttl": "600"}), 400, "ttl")
    expect_json_error(mint(h, p, b"[1]"), 400, "body")
    r = h.http("GET", "/v1/tokens", headers={"Authorization": "Bearer " + p.read_key})
    expect_json_error(r, 405)
    assert r.headers.get("Allow") == "POST", dict(r.headers)


def test_property_requires_tokens(h):
    p = h.create_property(require_token=True)
    # Browsers (an Origin header) with the plain write key are refused...
    hdr = dict(new_client(h), Origin="https://example.com")
    expect_json_error(h.post_events(p, [ev("/plain")], headers=hdr), 401, "token")
    # ...with a token they are not, and server-side senders (no Origin) keep using the write key.
    tok = mint(h, p).json()["token"]
    expect_counts(with_token(h, p, tok, [ev("/browser")], origin="https://example.com"), 1)
    expect_counts(h.post_events(p, [ev("/server")], headers=new_client(h)), 1)
    assert count(h, p) == 2


def test_nul_byte_bodies_refused(h):
    """A NUL byte after a number is skipped by the JSON parser; the body is still not JSON."""
    p = h.create_property()
    r = h.http("POST", "/v1/tokens", body=b'{"ttl": 600\x00}', headers={"Authorization": "Bearer " + p.read_key})
    expect_json_error(r, 400, "body")
    r = h.http("POST", "/admin/api/session", body=b'{"email": "a@b.c", "password": 1\x00}',
               headers={"Content-Type": "application/json"})
    expect_json_error(r, 400, "body")
    r = h.http("POST", "/v1/webhooks/stripe/" + p.id, body=b'{"id": 1\x00}', headers={"Content-Type": "application/json"})
    assert r.status in (400, 404), r
