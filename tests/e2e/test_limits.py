"""Rate limits per client address and write key (429 with Retry-After) and per-property daily
quotas. The suite's tally.conf keeps the defaults: 50 requests/s per address (bursts of 100)."""
import concurrent.futures
import json

from client import count, ev, expect_counts, expect_json_error, new_client, new_ip, unique_ua


def test_rate_limit_per_address(h):
    p = h.create_property()
    flood = h.client(new_ip(), unique_ua())
    statuses = []

    def one(i):
        r = h.post_events(p, [ev("/flood-%d" % i)], headers=flood)
        return r

    # Enough senders at once that even a store whose commits take a while (ClickHouse: one insert
    # per group of requests) receives them faster than the limit.
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(one, range(400)))
    statuses = [r.status for r in answers]
    limited = [r for r in answers if r.status == 429]
    assert set(statuses) <= {202, 429}, sorted(set(statuses))
    assert limited, "400 requests from one address at once must hit the 50/s limit"
    r = limited[0]
    expect_json_error(r, 429, "rate limit")
    assert int(r.headers.get("Retry-After", "0")) >= 1, dict(r.headers)
    # What was answered 202 is stored, what was refused is not.
    assert count(h, p) == statuses.count(202)
    # Another address is not affected.
    expect_counts(h.post_events(p, [ev("/other")], headers=new_client(h)), 1)


def test_daily_quota(h):
    p = h.create_property(event_quota_daily=5)
    c = new_client(h)
    expect_counts(h.post_events(p, [ev("/q%d" % i) for i in range(5)], headers=c), 5)
    for _ in range(3):   # whichever process answers knows the quota is used up
        r = h.post_events(p, [ev("/over")], headers=c)
        expect_json_error(r, 429, "quota")
        assert int(r.headers["Retry-After"]) <= 86400, dict(r.headers)
    assert count(h, p) == 5
    # A request that would cross the quota is refused whole.
    q = h.create_property(event_quota_daily=3)
    expect_json_error(h.post_events(q, [ev("/a"), ev("/b"), ev("/c"), ev("/d")], headers=c), 429, "quota")
    assert count(h, q) == 0
    expect_counts(h.post_events(q, [ev("/a"), ev("/b"), ev("/c")], headers=c), 3)
    # Plausible's endpoint counts against the same quota.
    body = {"name": "pageview", "url": "https://quota.example/x", "domain": "quota.example"}
    r2 = h.create_property(domains=["quota.example"], event_quota_daily=1)
    hdr = dict(c, **{"Content-Type": "text/plain"})
    assert h.http("POST", "/api/event", body=json.dumps(body), headers=hdr).status == 202
    r = h.http("POST", "/api/event", body=json.dumps(body), headers=hdr)
    assert r.status == 429 and r.headers.get("Retry-After"), r
    assert count(h, r2) == 1
