#!/usr/bin/env python3
"""The reporting data set of targets.md ("Reports"), generated deterministically and loaded into a
Tally database the way production would hold it: raw events (COPY, numbered by events_seq), then
visits (tally_sessionize) and daily rollups (tally_rollup).

    python3 tests/bench/gen_events.py [--build DIR] [--scale 1.0] [--seed 1] [--keep]

starts a durable harness (tests/e2e/harness.py), loads the data set, prints the timings and disk
figures, and stops. --scale 0.1 is a quick 1M-event run, --scale 0.01 a smoke test.
tests/bench/report.py imports it: create_properties(h), then load(h, site, others, scale).

The data set, at scale 1:
- one property ("main", example.com, UTC) with 10 million events over the 90 UTC days ending now
  (today is cut at the current time), and 20 smaller properties with 1 million events between them
  (sizes Zipf-like, some in other time zones), all interleaved in time order as ingest would store
  them;
- days vary: weekends are quieter, traffic grows ~25% over the 90 days, and the hours follow a
  day curve peaking in the European afternoon;
- a visitor ("person") has 1..4 visits a day, at least half an hour apart; a visit has one
  pageview (about 58% bounce) or 2..~30 pageviews seconds to minutes apart, and sometimes custom
  events. 10M events at this shape are ~45k visitors a day (not the "about 100k" of targets.md:
  the two figures only agree if nearly every visit were a single pageview);
- the main site has 5,000 paths (home page and top pages, docs, blog, products, ...) whose
  popularity follows a Zipf law (s = 1.05);
- a visit's first pageview carries its acquisition as ingest stores it: the referrer URL (query
  string removed), `source` as lib/referrer.c names it (Google, Bing, DuckDuckGo, Twitter,
  Facebook, Reddit, Hacker News, ..., or the bare host of an unknown site, "Direct / None" without
  one), and on ~10% of visits UTM parameters from the landing URL's query (then `source` is
  utm_source, as lib/ingest.c does) and sometimes a campaign_id. Later pageviews of the visit have
  the previous page as referrer, no UTM, and source "Direct / None" (a self-referral);
- country/region/city, device, browser and version, OS and version, and screen width are constant
  within a visit, with realistic shares; names are those lib/ua.c and lib/geo.c produce;
- custom events: Signup, Newsletter Subscribe, Outbound Link: Click and File Download (with a url
  prop), 404 (path prop), and Purchase with revenue in EUR or USD; blog pageviews carry an author
  prop. Goals exist for Signup, Purchase, /pricing and /docs/*;
- every event has an event id and a per-page-load visit token as tracker/t.js makes them (no title:
  the tracker sends none);
- visitor hashes are random 64-bit integers that change every UTC day, as the daily salt makes
  them; every event also has prev_visitor (the same person under yesterday's salt), so a visit
  crossing midnight continues, as in production.

Standard library only. Never fails on speed: prints figures.
"""
import argparse
import bisect
import datetime
import itertools
import json
import math
import operator
import os
import random
import statistics
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Harness  # noqa: E402

DAYS = 90
MAIN_EVENTS = 10_000_000
OTHER_EVENTS = 1_000_000
OTHER_PROPERTIES = 20
MAIN_PATHS = 5000
OTHER_PATHS = 300
ROWS_PER_COPY = 1_000_000          # one COPY (one transaction) per this many rows, about
DAY_MS = 86_400_000
VISIT_GAP_MS = 31 * 60 * 1000      # a person's next visit starts at least this long after the last

# Every column ingest fills for events of the tracker (tracker/t.js sends no title).
COPY_COLUMNS = ("property_pk", "ts", "event_id", "name", "visitor", "prev_visitor", "session", "hostname",
                "path", "query", "referrer", "source", "utm_source", "utm_medium", "utm_campaign",
                "utm_term", "utm_content", "campaign_id", "country", "region", "city", "device", "browser",
                "browser_version", "os", "os_version", "screen_width", "user_id_hash", "interactive",
                "revenue_amount", "revenue_currency", "props", "visit_token")
NULL = "\\N"
DIRECT = "Direct / None"


# --- catalogues ------------------------------------------------------------------------------

WORDS = """analytics privacy cookie dashboard report event visitor session bounce funnel goal revenue
campaign referrer source widget server cloud linux nginx apache postgres backup deploy docker kernel
release update guide tutorial intro advanced quick start setup install config migrate export import api
key token webhook stream batch cache index query table chart graph metric alert team account billing
invoice plan pricing trial upgrade domain script tracker mobile desktop tablet browser chrome firefox
safari edge theme dark light layout design color font image video audio podcast newsletter email form
search filter sort page post blog story news launch week year review compare versus alternative best
free open source self hosted simple fast small secure gdpr consent law europe data retention storage
speed latency memory disk network proxy cdn edge worker queue job cron schedule timezone calendar
holiday summer winter spring autumn sale offer discount coupon partner affiliate customer case study
interview hiring remote culture values mission roadmap changelog feature fix bug issue support help
faq contact about legal terms security status uptime incident report monthly weekly daily""".split()

TOP_PAGES = ["/", "/pricing", "/features", "/docs", "/blog", "/about", "/signup", "/login", "/contact",
             "/changelog", "/integrations", "/customers", "/security", "/careers", "/privacy", "/terms",
             "/status", "/compare", "/faq", "/download"]

AUTHORS = ["ada", "brian", "chiara", "dmitri", "esther", "farid", "grace", "hiro"]

# (weight, source name, referrer URLs) for referrers lib/referrers.inc knows; "{n}" varies.
KNOWN_REFERRERS = [
    (34.0, "Google", ["https://www.google.com/"] * 6 + ["https://www.google.de/", "https://www.google.co.uk/",
                      "https://www.google.fr/", "https://www.google.co.in/", "https://www.google.com.br/",
                      "https://www.google.ca/", "https://www.google.nl/", "https://www.google.es/"]),
    (4.0, "Bing", ["https://www.bing.com/"]),
    (3.0, "DuckDuckGo", ["https://duckduckgo.com/"]),
    (2.5, "Twitter", ["https://t.co/{tco}"]),
    (2.0, "Facebook", ["https://l.facebook.com/l.php", "https://m.facebook.com/", "https://www.facebook.com/"]),
    (2.0, "Reddit", ["https://www.reddit.com/r/{sub}/comments/{n}/", "https://www.reddit.com/",
                     "https://old.reddit.com/r/{sub}/"]),
    (1.5, "Hacker News", ["https://news.ycombinator.com/"]),
    (0.8, "GitHub", ["https://github.com/{repo}"]),
    (0.6, "LinkedIn", ["https://www.linkedin.com/", "https://lnkd.in/{tco}"]),
    (0.5, "Ecosia", ["https://www.ecosia.org/"]),
    (0.4, "Yandex", ["https://yandex.ru/"]),
    (0.3, "Yahoo", ["https://search.yahoo.com/"]),
    (0.3, "Baidu", ["https://www.baidu.com/"]),
    (0.6, "ChatGPT", ["https://chatgpt.com/"]),
    (0.3, "Perplexity", ["https://www.perplexity.ai/"]),
    (0.3, "Mastodon", ["https://mastodon.social/", "https://fosstodon.org/"]),
    (0.3, "Wikipedia", ["https://en.wikipedia.org/wiki/{wiki}", "https://de.wikipedia.org/wiki/{wiki}"]),
    (0.4, "Stack Overflow", ["https://stackoverflow.com/questions/{n}/"]),
    (0.3, "YouTube", ["https://www.youtube.com/"]),
    (0.2, "Slack", ["https://app.slack.com/"]),
    (0.2, "Gmail", ["https://mail.google.com/"]),
    (0.2, "Lobsters", ["https://lobste.rs/s/{tco}"]),
    (0.2, "Brave Search", ["https://search.brave.com/"]),
    (0.2, "Kagi", ["https://kagi.com/"]),
]
UNKNOWN_REFERRER_SHARE = 6.0       # % of visits from sites ingest does not know (source = their host)
UTM_SHARE = 10.0                   # % of visits landing with UTM parameters
DIRECT_SHARE = 100.0 - UNKNOWN_REFERRER_SHARE - UTM_SHARE - sum(w for w, _, _ in KNOWN_REFERRERS)

# UTM campaigns: (weight, utm_source, utm_medium, campaigns, terms, contents, referrer or "")
UTM_CAMPAIGNS = [
    (30, "newsletter", "email", ["weekly-{week}"], [], [], ""),
    (25, "google", "cpc", ["brand", "competitors", "winter-sale", "retargeting", "docs-search"],
     ["web analytics", "privacy analytics", "google analytics alternative", "cookieless analytics",
      "self hosted analytics", "plausible alternative", "website stats"], ["ad-a", "ad-b", "ad-c"],
     "https://www.google.com/"),
    (15, "facebook", "paid_social", ["winter-sale", "retargeting", "lookalike"], [],
     ["carousel-1", "carousel-2", "video-15s", "static-blue"], "https://l.facebook.com/l.php"),
    (10, "twitter", "social", ["launch-week", "v2-release"], [], [], "https://t.co/{tco}"),
    (8, "producthunt", "", [], [], [], "https://www.producthunt.com/"),   # ?ref=producthunt
    (7, "partner-{partner}", "referral", ["affiliates"], [], [], "https://{partner}.example.org/"),
    (5, "linkedin", "paid_social", ["b2b-q1", "webinar"], [], ["sponsored-1", "sponsored-2"],
     "https://www.linkedin.com/"),
]
CAMPAIGN_ID_SHARE = 0.2            # of UTM visits from ads, a campaign_id sent by a server-side SDK

# (weight, country, [(region, city), ...]); lib/geo.c stores ISO codes and English city names.
COUNTRIES = [
    (29, "US", [("CA", "San Francisco"), ("CA", "Los Angeles"), ("NY", "New York"), ("TX", "Austin"),
                ("WA", "Seattle"), ("IL", "Chicago"), ("MA", "Boston"), ("", "")]),
    (9, "DE", [("BE", "Berlin"), ("BY", "Munich"), ("HH", "Hamburg"), ("HE", "Frankfurt am Main"), ("", "")]),
    (7, "GB", [("ENG", "London"), ("ENG", "Manchester"), ("SCT", "Edinburgh"), ("", "")]),
    (6, "IN", [("KA", "Bengaluru"), ("MH", "Mumbai"), ("DL", "Delhi"), ("", "")]),
    (5, "FR", [("IDF", "Paris"), ("ARA", "Lyon"), ("", "")]),
    (4, "CA", [("ON", "Toronto"), ("BC", "Vancouver"), ("QC", "Montreal")]),
    (3, "NL", [("NH", "Amsterdam"), ("ZH", "Rotterdam")]),
    (3, "BR", [("SP", "Sao Paulo"), ("RJ", "Rio de Janeiro")]),
    (2.5, "JP", [("13", "Tokyo"), ("27", "Osaka")]),
    (2.5, "ES", [("MD", "Madrid"), ("CT", "Barcelona")]),
    (2.5, "IT", [("25", "Milan"), ("62", "Rome")]),
    (2, "AU", [("NSW", "Sydney"), ("VIC", "Melbourne")]),
    (2, "PL", [("14", "Warsaw"), ("12", "Krakow")]),
    (1.5, "SE", [("AB", "Stockholm")]),
    (1.2, "CH", [("ZH", "Zurich"), ("GE", "Geneva")]),
    (1, "AT", [("9", "Vienna")]), (1, "BE", [("BRU", "Brussels")]), (1, "DK", [("84", "Copenhagen")]),
    (1, "NO", [("03", "Oslo")]), (1, "FI", [("18", "Helsinki")]), (1, "IE", [("L", "Dublin")]),
    (1, "PT", [("11", "Lisbon")]), (1, "CZ", [("10", "Prague")]), (1, "MX", [("CMX", "Mexico City")]),
    (1, "SG", [("", "Singapore")]), (0.8, "KR", [("11", "Seoul")]), (0.8, "ID", [("JK", "Jakarta")]),
    (0.8, "TR", [("34", "Istanbul")]), (0.7, "UA", [("30", "Kyiv")]), (0.7, "AR", [("C", "Buenos Aires")]),
    (0.6, "ZA", [("GP", "Johannesburg")]), (0.6, "IL", [("TA", "Tel Aviv")]), (0.5, "NZ", [("AUK", "Auckland")]),
    (0.5, "RO", [("B", "Bucharest")]), (0.5, "HU", [("BU", "Budapest")]), (0.5, "GR", [("I", "Athens")]),
    (0.5, "VN", [("SG", "Ho Chi Minh City")]), (0.5, "PH", [("00", "Manila")]), (0.4, "NG", [("LA", "Lagos")]),
    (0.4, "EG", [("C", "Cairo")]), (0.4, "CO", [("DC", "Bogota")]), (0.4, "CL", [("RM", "Santiago")]),
    (0.3, "TW", [("TPE", "Taipei")]), (0.3, "HK", [("", "Hong Kong")]), (0.3, "TH", [("10", "Bangkok")]),
    (0.3, "MY", [("14", "Kuala Lumpur")]), (0.3, "PK", [("SD", "Karachi")]), (0.3, "BG", [("22", "Sofia")]),
    (1.0, "", [("", "")]),   # no GeoIP answer
]

# (weight, device, browser, versions, os, os versions, screen widths) as lib/ua.c names them.
USER_AGENTS = [
    (30, "desktop", "Chrome", range(118, 125), "Windows", ["10"] * 8 + ["7", "8.1"], [1920, 1536, 1366, 2560, 1440]),
    (7, "desktop", "Edge", range(118, 125), "Windows", ["10"], [1920, 1536, 1366]),
    (4, "desktop", "Firefox", range(115, 124), "Windows", ["10"], [1920, 1536, 1366]),
    (6, "desktop", "Chrome", range(118, 125), "macOS", ["10.15"], [1440, 1512, 1728, 2560]),
    (5, "desktop", "Safari", range(15, 18), "macOS", ["10.15"], [1440, 1512, 1728]),
    (1.5, "desktop", "Firefox", range(115, 124), "macOS", ["10.15"], [1440, 1512]),
    (1.5, "desktop", "Firefox", range(115, 124), "Ubuntu", [""], [1920, 2560]),
    (1.5, "desktop", "Chrome", range(118, 125), "Linux", [""], [1920, 2560]),
    (1, "desktop", "Chrome", range(118, 125), "Chrome OS", ["14541.0", "15633.69"], [1366, 1536]),
    (0.8, "desktop", "Opera", range(103, 107), "Windows", ["10"], [1920, 1366]),
    (0.3, "desktop", "Vivaldi", range(5, 7), "Windows", ["10"], [1920]),
    (16, "mobile", "Mobile Safari", range(15, 18), "iOS", ["17.2", "17.4", "17.1", "16.6", "16.7", "15.8"],
     [390, 393, 430, 375, 414, 428]),
    (12, "mobile", "Chrome Mobile", range(118, 125), "Android", ["14", "13", "12", "11", "10"],
     [412, 393, 360, 384, 411]),
    (2.5, "mobile", "Samsung Internet", range(21, 24), "Android", ["14", "13", "12"], [384, 412, 360]),
    (2, "mobile", "Chrome Mobile iOS", range(118, 125), "iOS", ["17.2", "17.4", "16.6"], [390, 393, 430]),
    (1.2, "mobile", "Facebook", range(440, 450), "iOS", ["17.1", "17.2"], [390, 393]),
    (0.8, "mobile", "Firefox Mobile", range(115, 124), "Android", ["14", "13"], [412, 393]),
    (0.5, "mobile", "Edge Mobile", range(118, 125), "Android", ["14"], [412]),
    (0.4, "mobile", "Opera Mobile", range(76, 80), "Android", ["12", "13"], [360, 393]),
    (0.3, "mobile", "Firefox iOS", range(118, 122), "iOS", ["17.2"], [390]),
    (2, "tablet", "Mobile Safari", range(15, 18), "iOS", ["17.2", "16.6"], [810, 820, 1024, 768]),
    (1, "tablet", "Chrome", range(118, 125), "Android", ["13", "14"], [800, 1280]),
    (0.3, "tablet", "Amazon Silk", range(118, 121), "Android", ["9", "11"], [800]),
    (1, "desktop", "", [""], "", [""], [1920, 1366]),   # user agents uap-core does not know
]

# Custom events per visit: (probability, name, page it happens on or None, props maker key, interactive)
CUSTOM_EVENTS = [
    (0.030, "Outbound Link: Click", None, "outbound"),
    (0.012, "Signup", "/signup", "plan"),
    (0.010, "File Download", None, "download"),
    (0.008, "Newsletter Subscribe", None, None),
    (0.005, "404", None, "notfound"),
    (0.004, "Purchase", "/pricing", "purchase"),
]
PLANS = [("free", 0, 6), ("pro", 29, 3), ("team", 99, 1)]

# Hour-of-day weights (UTC): Europe's afternoon and America's day overlap around 14-18h.
HOURS = [2.0, 1.6, 1.3, 1.1, 1.0, 1.1, 1.5, 2.2, 3.2, 4.0, 4.5, 4.8, 5.0, 5.3, 5.8, 6.2, 6.3, 6.0,
         5.4, 4.8, 4.2, 3.6, 3.0, 2.5]

TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London",
             "America/Los_Angeles", "Australia/Sydney"]


def cumulative(weights):
    return list(itertools.accumulate(weights))


def zipf_cum(n, s):
    return cumulative(1.0 / (k ** s) for k in range(1, n + 1))


def slug(rng, lo, hi):
    return "-".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def signed64(u):
    return u - (1 << 63)


class Site:
    """One property's catalogue: its paths with their popularity, and how often custom events happen."""

    def __init__(self, pk, hostname, n_paths, seed, custom_rate=1.0):
        self.pk = pk
        self.pk_text = str(pk)
        self.hostname = hostname
        self.custom_rate = custom_rate
        rng = random.Random("paths:%s:%s" % (seed, hostname))
        paths, seen = list(TOP_PAGES[:max(5, min(len(TOP_PAGES), n_paths // 10))]), set()
        seen.update(paths)
        makers = [(0.30, lambda: "/docs/%s/%s" % (rng.choice(WORDS), slug(rng, 1, 3))),
                  (0.25, lambda: "/blog/%d/%s" % (rng.randint(2016, 2025), slug(rng, 2, 5))),
                  (0.25, lambda: "/products/%s-%d" % (slug(rng, 1, 2), rng.randint(100, 9999))),
                  (0.08, lambda: "/integrations/%s" % rng.choice(WORDS)),
                  (0.05, lambda: "/customers/%s" % slug(rng, 1, 2)),
                  (0.07, lambda: "/help/%s" % slug(rng, 2, 4))]
        maker_cum = cumulative(w for w, _ in makers)
        rest = []
        while len(paths) + len(rest) < n_paths:
            p = makers[bisect.bisect(maker_cum, rng.random() * maker_cum[-1])][1]()
            if p not in seen:
                seen.add(p)
                rest.append(p)
        rng.shuffle(rest)   # popularity is not by section: a blog post may beat a docs page
        self.paths = paths + rest
        self.path_cum = zipf_cum(len(self.paths), 1.05)
        self.known = set(self.paths)

    def path(self, rng):
        return self.paths[bisect.bisect(self.path_cum, rng.random() * self.path_cum[-1])]


# --- visits ----------------------------------------------------------------------------------

class Generator:
    """Turns (site, time window, number of events wanted) into COPY lines, visit by visit."""

    def __init__(self, seed, stream="load"):
        self.seed = seed
        self.stream = stream     # another stream: other visits over the same catalogue
        rng = random.Random("catalogue:%s" % seed)
        self.ref_cum = cumulative([DIRECT_SHARE, UNKNOWN_REFERRER_SHARE, UTM_SHARE] +
                                  [w for w, _, _ in KNOWN_REFERRERS])
        self.unknown_hosts = ["%s%s.%s" % ("www." if rng.random() < 0.4 else "", slug(rng, 1, 2).replace("-", ""),
                                           rng.choice(["com", "net", "org", "io", "dev", "de", "co.uk", "fr"]))
                              for _ in range(1500)]
        self.unknown_cum = zipf_cum(len(self.unknown_hosts), 1.1)
        self.tco = ["".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                            for _ in range(10)) for _ in range(400)]
        self.subs = ["selfhosted", "webdev", "privacy", "programming", "linux", "sysadmin", "startups", "SaaS"]
        self.repos = ["%s/%s" % (rng.choice(WORDS), slug(rng, 1, 2)) for _ in range(200)]
        self.partners = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay"]
        self.utm_cum = cumulative(w for w, *_ in UTM_CAMPAIGNS)
        self.country_cum = cumulative(w for w, _, _ in COUNTRIES)
        self.ua_cum = cumulative(w for w, *_ in USER_AGENTS)
        self.hour_cum = cumulative(HOURS)
        self.eid_counter = 0

    # A visit's acquisition: (referrer, source, query, utm block text "src\tmed\tcamp\tterm\tcont\tcid")
    def acquisition(self, rng, week):
        r = rng.random() * self.ref_cum[-1]
        i = bisect.bisect(self.ref_cum, r)
        empty_utm = "\t\t\t\t\t"
        if i == 0:
            return "", DIRECT, "", empty_utm
        if i == 1:
            host = self.unknown_hosts[bisect.bisect(self.unknown_cum, rng.random() * self.unknown_cum[-1])]
            path = "/" if rng.random() < 0.5 else "/%s/" % slug(rng, 1, 3)
            return "https://%s%s" % (host, path), host[4:] if host.startswith("www.") else host, "", empty_utm
        if i == 2:
            return self.utm_acquisition(rng, week)
        _, source, urls = KNOWN_REFERRERS[i - 3]
        return self.fill(rng.choice(urls), rng, week), source, "", empty_utm

    def fill(self, template, rng, week, partner=""):
        if "{" not in template:
            return template
        return template.format(tco=rng.choice(self.tco), sub=rng.choice(self.subs), n=rng.randint(10 ** 6, 10 ** 7),
                               repo=rng.choice(self.repos), wiki=rng.choice(WORDS).capitalize(),
                               week=week, partner=partner)

    def utm_acquisition(self, rng, week):
        _, src, medium, campaigns, terms, contents, ref = UTM_CAMPAIGNS[
            bisect.bisect(self.utm_cum, rng.random() * self.utm_cum[-1])]
        partner = rng.choice(self.partners)
        src = src.format(partner=partner)
        referrer = self.fill(ref, rng, week, partner)
        if src == "producthunt":   # ?ref= names the source when utm_source is absent (lib/envelope.c)
            return referrer, src, "ref=producthunt", "%s\t\t\t\t\t" % src
        campaign = self.fill(rng.choice(campaigns), rng, week) if campaigns else ""
        term = rng.choice(terms) if terms and rng.random() < 0.7 else ""
        content = rng.choice(contents) if contents else ""
        query = "utm_source=%s&utm_medium=%s&utm_campaign=%s" % (src, medium, campaign)
        if term:
            query += "&utm_term=" + term.replace(" ", "+")
        if content:
            query += "&utm_content=" + content
        cid = ""
        if medium in ("cpc", "paid_social") and rng.random() < CAMPAIGN_ID_SHARE:
            cid = "cmp_%d" % (1000 + (campaigns.index(campaign) if campaign in campaigns else 0))
        return referrer, src, query, "\t".join((src, medium, campaign, term, content, cid))

    # Who is visiting: "country\tregion\tcity\tdevice\tbrowser\tversion\tos\tos_version\tscreen\tuser_id_hash"
    def client(self, rng):
        _, country, places = COUNTRIES[bisect.bisect(self.country_cum, rng.random() * self.country_cum[-1])]
        region, city = rng.choice(places)
        _, device, browser, versions, os_name, os_versions, widths = USER_AGENTS[
            bisect.bisect(self.ua_cum, rng.random() * self.ua_cum[-1])]
        user = NULL
        if rng.random() < 0.03:   # signed-in users of a site sending identity.user_id_hash
            user = "sha256:%064x" % rng.getrandbits(256)
        return "\t".join((country, region, city, device, browser, str(rng.choice(versions)), os_name,
                          rng.choice(os_versions), str(rng.choice(widths)), user))

    @staticmethod
    def event_id(rng):
        # As tracker/t.js makes them: four random 32-bit numbers.
        return "%d-%d-%d-%d" % (rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32))

    def props(self, kind, rng, site, path):
        if kind == "outbound":
            return json.dumps({"url": "https://github.com/" + rng.choice(self.repos)}), None
        if kind == "download":
            return json.dumps({"url": "https://%s/files/%s.pdf" % (site.hostname, rng.choice(WORDS))}), None
        if kind == "notfound":
            return json.dumps({"path": "/%s/%s" % (rng.choice(WORDS), rng.choice(WORDS))}), None
        if kind in ("plan", "purchase"):
            plan, price, _ = rng.choices(PLANS, weights=[w for _, _, w in PLANS])[0]
            if kind == "plan":
                return json.dumps({"plan": plan}), None
            if price == 0:
                plan, price = "pro", 29
            yearly = rng.random() < 0.3
            amount = "%d.00" % (price * 10 if yearly else price)
            return json.dumps({"plan": plan, "billing": "yearly" if yearly else "monthly"}), \
                (amount, "EUR" if rng.random() < 0.4 else "USD")
        return NULL, None

    def person(self, rng, site, day, t0_ms, t1_ms, week, out):
        """One person's visits on `day` (UTC days since 1970), the first starting in [t0_ms, t1_ms).
        Appends (ts_ms, line) to out; returns the number of events."""
        n_visits = 1 + (rng.random() < 0.14) + (rng.random() < 0.04) + (rng.random() < 0.01)
        # Hashes of this person per UTC day, drawn as needed; the day before `day` is yesterday's salt.
        hashes = {day - 1: signed64(rng.getrandbits(64)), day: signed64(rng.getrandbits(64))}
        start = t0_ms + int(rng.random() * (t1_ms - t0_ms))
        count = 0
        for _ in range(n_visits):
            count += self.visit(rng, site, start, hashes, week, out)
            start = out[-1][0] + VISIT_GAP_MS + int(rng.expovariate(1 / (3 * 3600e3)))
            if start >= t1_ms + DAY_MS // 4:
                break
        return count

    def visit(self, rng, site, start, hashes, week, out):
        """One visit from `start`: its pageviews, then perhaps custom events. Returns the number of
        events appended to out."""
        referrer, source, query, utm = self.acquisition(rng, week)
        who = self.client(rng)
        pageviews = 1 if rng.random() < 0.58 else 2 + min(28, int(rng.expovariate(1 / 2.4)))
        page = site.path(rng) if rng.random() < 0.85 else "/"
        # What the tracker sends with each event of a page load: its query, its referrer (the page
        # before, or the visit's own referrer on the landing page), what ingest derives from them,
        # and the page load's visit token.
        acq = "%s\t%s\t%s\t%s" % (query, referrer, source, utm)
        state = [start, page, acq, "%d-%d" % (rng.getrandbits(32), rng.getrandbits(32))]

        def pageview(next_page):
            state[0] += min(1_500_000, max(2000, int(rng.lognormvariate(math.log(45e3), 1.0))))
            state[2] = "\thttps://%s%s\t%s\t\t\t\t\t\t" % (site.hostname, state[1], DIRECT)
            state[1] = next_page
            state[3] = "%d-%d" % (rng.getrandbits(32), rng.getrandbits(32))
            emit("pageview", NULL, NULL)

        def emit(name, revenue, props):
            if name == "pageview" and state[1].startswith("/blog/"):
                props = '{"author": "%s"}' % AUTHORS[zlib.crc32(state[1].encode()) % len(AUTHORS)]
            out.append((state[0], site.pk_text, self.row(rng, site, state[0], name, hashes, state[1], state[2], who,
                                                         revenue, props, state[3])))

        emit("pageview", NULL, NULL)
        for _ in range(pageviews - 1):
            pageview(site.path(rng))
        n = pageviews
        # Custom events after the last pageview, or on the page they belong to (viewed first).
        for p, name, on_page, kind in CUSTOM_EVENTS:
            if rng.random() < p * site.custom_rate:
                if on_page and on_page != state[1] and on_page in site.known:
                    pageview(on_page)
                    n += 1
                state[0] += int(rng.uniform(1000, 40_000))
                props, revenue = self.props(kind, rng, site, state[1])
                emit(name, "%s\t%s" % revenue if revenue else NULL, props)
                n += 1
        return n

    def row(self, rng, site, ts, name, hashes, path, acq, who, revenue, props, token):
        day = ts // DAY_MS
        if day not in hashes:
            hashes[day] = signed64(rng.getrandbits(64))
        prev = hashes.get(day - 1)
        return "%s\t%s\t%d\t%s\t\\N\t%s\t%s\t%s\t%s\tt\t%s\t%s\t%s\n" % (
            self.event_id(rng), name, hashes[day], NULL if prev is None else prev,
            site.hostname, path, acq, who, NULL + "\t" + NULL if revenue == NULL else revenue, props, token)


class Timestamps:
    """ms since the epoch -> PostgreSQL timestamptz text, cheaply (one date string per day)."""

    def __init__(self):
        self.days = {}

    def __call__(self, ms):
        day, rem = divmod(ms, DAY_MS)
        prefix = self.days.get(day)
        if prefix is None:
            prefix = self.days[day] = (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()
        s, milli = divmod(rem, 1000)
        m, s = divmod(s, 60)
        h, m = divmod(m, 60)
        return "%s %02d:%02d:%02d.%03d+00" % (prefix, h, m, s, milli)


# --- the data set ----------------------------------------------------------------------------

def day_weights(seed, first_day, days, now_ms):
    """Relative traffic of each UTC day: growth, quieter weekends, some noise; today only so far."""
    rng = random.Random("days:%s" % seed)
    weights = []
    hour_total = sum(HOURS)
    for i in range(days):
        day = first_day + i
        weekday = (day + 3) % 7           # 1970-01-01 was a Thursday (3, Monday = 0)
        w = (1 + 0.25 * i / max(1, days - 1)) * (0.72 if weekday >= 5 else 1.0) * rng.lognormvariate(0, 0.06)
        day_end = (day + 1) * DAY_MS
        if now_ms < day_end:              # today: the share of the day's traffic that has happened
            hours = (now_ms - day * DAY_MS) / 3600e3
            full = int(hours)
            w *= (sum(HOURS[:full]) + (hours - full) * HOURS[min(full, 23)]) / hour_total
        weights.append(w)
    return weights


def hour_windows(day, target, now_ms):
    """Splits a day's target events over its hours by the day curve, up to now_ms."""
    total = sum(HOURS)
    for h in range(24):
        t0 = day * DAY_MS + h * 3600_000
        t1 = min(t0 + 3600_000, now_ms)
        if t1 <= t0:
            break
        yield t0, t1, target * HOURS[h] / total * (t1 - t0) / 3600_000


def generate_day(gen, sites, site_events, balance, day, now_ms, carry):
    """All events of one UTC day (of every site) in time order, as (ts_ms, pk, COPY line rest).
    `carry` holds events of visits from earlier days that run past midnight; events later than now
    are dropped. site_events: events wanted on this day per site (the whole day's, not cut by now);
    balance: per site, events made minus events wanted so far (updated), so that small sites get
    their share over many hours rather than at least one visitor every hour."""
    rng = random.Random("day:%s:%s:%d" % (gen.seed, gen.stream, day))
    week = datetime.date.fromordinal(datetime.date(1970, 1, 1).toordinal() + day).strftime("%G-w%V")
    out = carry
    for i, (site, target) in enumerate(zip(sites, site_events)):
        for t0, t1, want in hour_windows(day, target, (day + 1) * DAY_MS):
            if t0 >= now_ms:
                break
            balance[i] -= want
            while balance[i] < 0:
                balance[i] += gen.person(rng, site, day, t0, t1, week, out)
    out.sort(key=operator.itemgetter(0))
    end = min((day + 1) * DAY_MS, now_ms)
    cut = bisect.bisect_left(out, (end,))
    today, later = out[:cut], [e for e in out[cut:] if e[0] < now_ms]
    return today, later


def create_properties(h, others=OTHER_PROPERTIES, seed=1):
    """The main property (example.com, UTC, with goals) and `others` smaller ones."""
    main = h.create_property(domains=["example.com"], name="Example (benchmark)")
    h.sql("INSERT INTO goals (property_pk, name, event_name, path_pattern) VALUES "
          "(%s, 'Signup', 'Signup', NULL), (%s, 'Purchase', 'Purchase', NULL), "
          "(%s, 'Visit pricing', NULL, '/pricing'), (%s, 'Read docs', NULL, '/docs/*')",
          main.pk, main.pk, main.pk, main.pk)
    rng = random.Random("properties:%s" % seed)
    props = []
    for i in range(others):
        host = "site%02d.example.net" % (i + 1)
        props.append(h.create_property(domains=[host], name=host, timezone=rng.choice(TIMEZONES)))
    return main, props


class Loader:
    """Streams COPY text into psql, one COPY (one transaction) per ~ROWS_PER_COPY rows."""

    def __init__(self, h):
        self.h = h
        self.proc = None
        self.rows_in_copy = 0
        self.rows = 0
        self.copies = 0

    def write(self, lines):
        if self.proc is None:
            self.proc = subprocess.Popen(
                ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                 "COPY events (%s) FROM STDIN" % ", ".join(COPY_COLUMNS)],
                stdin=subprocess.PIPE, env=self.h.pg_env("tally"), stdout=subprocess.DEVNULL)
        self.proc.stdin.write("".join(lines).encode())
        self.rows_in_copy += len(lines)
        self.rows += len(lines)
        if self.rows_in_copy >= ROWS_PER_COPY:
            self.finish()

    def finish(self):
        if self.proc is not None:
            self.proc.stdin.close()
            if self.proc.wait() != 0:
                raise SystemExit("COPY into events failed (psql exit %d)" % self.proc.returncode)
            self.proc = None
            self.rows_in_copy = 0
            self.copies += 1


def copy_events(h, sites, totals, first_day, days, now_ms, seed, log, start_ms=None, stream="load"):
    """Generates and COPYs every site's events from first_day (or start_ms) to now_ms; `totals` are
    the events of each site over the whole range."""
    gen = Generator(seed, stream)
    fmt = Timestamps()
    weights = day_weights(seed, first_day, days, now_ms)
    full_weights = day_weights(seed, first_day, days, 10 ** 15)   # today as a whole day
    loader = Loader(h)
    carry = []
    balance = [0.0] * len(sites)
    # Each site gets the same day curve. A day's target is for the whole day (today's hours after now
    # are simply not generated), scaled so that what is generated adds up to the totals.
    for i in range(days):
        day = first_day + i
        share = [t * full_weights[i] / sum(weights) for t in totals]
        if start_ms is not None and (day + 1) * DAY_MS <= start_ms:
            continue
        rows, carry = generate_day(gen, sites, share, balance, day, now_ms, carry)
        if start_ms is not None:
            rows = [r for r in rows if r[0] >= start_ms]
        loader.write(["%s\t%s\t%s" % (pk, fmt(ts), rest) for ts, pk, rest in rows])
        if log and (i % 10 == 9 or i == days - 1):
            log("  day %d/%d generated, %d rows so far" % (i + 1, days, loader.rows))
    loader.finish()
    return loader.rows


def until_zero(h, call):
    """Repeats `SELECT call` until it returns 0; returns (total, seconds, per-call seconds)."""
    total, times = 0, []
    while True:
        t = time.time()
        n = h.sql_int("SELECT " + call)
        times.append(time.time() - t)
        if n == 0:
            return total, sum(times), times[:-1]
        total += n


def archive(h, main, fig, log=None):
    """Moves every closed day into the archive (tally-cron archive), timed; then times the rollup
    of one archived day of the main property, which reads its events back from the archive."""
    log = log or (lambda msg: None)
    log("archiving the days older than two days...")
    start, days = time.time(), 0
    while True:
        n = h.sql_int("SELECT tally_archive_days(2, 20)")
        if n == 0:
            break
        days += n
    archive_seconds = time.time() - start
    # As an administrator: the data set's monthly partitions may belong to postgres, who made them
    # (the application's role leaves another role's partitions alone).
    partitions_seconds = timed_sql(h, "SELECT tally_archive_partitions(2)", user="postgres")
    h.sql("ANALYZE events_archive")
    archived_day = (datetime.date.fromisoformat(fig["rollup_day"]) - datetime.timedelta(days=7)).isoformat()
    rolls = [timed_sql(h, "SELECT tally_rollup_day(%d, '%s')" % (main.pk, archived_day)) for _ in range(3)]
    return {"archive_seconds": archive_seconds, "days_archived": days, "archive_partitions_seconds": partitions_seconds,
            "archived_events": h.sql_int("SELECT coalesce(sum(events), 0) FROM events_archive"),
            "rollup_archived_day": archived_day, "rollup_archived_day_seconds": rolls,
            "rollup_archived_day_events": h.sql_int(
                "SELECT coalesce(sum(events), 0) FROM events_archive WHERE property_pk = %s AND day = %s",
                main.pk, archived_day)}


def disk_figures(h, events):
    """Bytes per stored event of the events table and indexes, the rollups and the visits."""
    def size(query):
        return h.sql_int(query)
    ev_total = size("SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree('events') "
                    "WHERE isleaf")
    ev_heap = size("SELECT coalesce(sum(pg_table_size(relid)), 0) FROM pg_partition_tree('events') WHERE isleaf")
    # With the weekly sums and live figures of migration 017, when the schema has them.
    rollups = size("SELECT coalesce(sum(pg_total_relation_size(to_regclass(t))), 0) FROM unnest(ARRAY['rollup_days', "
                   "'rollup_revenue', 'rollup_state', 'rollup_weeks', 'rollup_week_state', 'rollup_hours', 'live_days', "
                   "'live_visitors', 'live_page_visitors']) AS t")
    rollup_rows = size("SELECT count(*) FROM rollup_days")
    sessions = size("SELECT pg_total_relation_size('sessions')")
    session_rows = size("SELECT count(*) FROM sessions")
    # Where the bytes of a row go: average stored size of each column, on a 1% sample.
    cols = ("seq",) + COPY_COLUMNS
    widths = h.sql("SELECT %s FROM events TABLESAMPLE SYSTEM (1) REPEATABLE (1)" % ", ".join(
        "round(avg(coalesce(pg_column_size(%s), 0)), 1)" % c for c in cols))
    columns = sorted(((float(v or 0), c) for c, v in zip(cols, widths[0])), reverse=True) if widths else []
    # The archive of closed days (migration 018), when the schema has it: rows, TOAST and index.
    archived = size("SELECT coalesce(pg_total_relation_size(to_regclass('events_archive')), 0)")
    return {"events": events, "events_bytes": ev_total + archived, "column_bytes": columns, "events_heap_bytes": ev_heap,
            "events_index_bytes": ev_total - ev_heap, "archive_bytes": archived, "rollup_bytes": rollups,
            "rollup_rows": rollup_rows, "sessions_bytes": sessions, "sessions": session_rows,
            "table_events": h.sql_int("SELECT count(*) FROM events")}


def load(h, main, others, scale=1.0, seed=1, now=None, log=None):
    """Generates and loads the data set into the harness database; returns its figures (a dict).
    Run with nothing else sessionising (stop lighttpd first: track.fcgi sessionises every few
    seconds and would take part of the work being timed)."""
    log = log or (lambda msg: None)
    if getattr(h, "events_store", "postgresql") != "postgresql":
        raise SystemExit("gen_events loads PostgreSQL's events table: run without TALLY_EVENTS_STORE=%s" % h.events_store)
    now_ms = int((now or time.time()) * 1000)
    today = now_ms // DAY_MS
    first_day = today - DAYS + 1
    first_date = datetime.date(1970, 1, 1) + datetime.timedelta(days=first_day)
    last_date = datetime.date(1970, 1, 1) + datetime.timedelta(days=today)
    months = (last_date.year - first_date.year) * 12 + last_date.month - first_date.month + 2
    h.sql("SELECT tally_ensure_partitions(%s, %s)", first_date.isoformat(), months)

    main_site = Site(main.pk, "example.com", MAIN_PATHS, seed)
    sites = [main_site]
    other_total = OTHER_EVENTS * scale
    zipf = [1 / k for k in range(1, len(others) + 1)]
    totals = [MAIN_EVENTS * scale] + [other_total * z / sum(zipf) for z in zipf]
    for i, p in enumerate(others):
        sites.append(Site(p.pk, "site%02d.example.net" % (i + 1), OTHER_PATHS, seed, custom_rate=0.5))

    fig = {"scale": scale, "seed": seed, "now_ms": now_ms, "first_day": first_date.isoformat(), "days": DAYS}
    log("generating and loading %d days of events (scale %g)..." % (DAYS, scale))
    t = time.time()
    fig["rows"] = copy_events(h, sites, totals, first_day, DAYS, now_ms, seed, log)
    fig["copy_seconds"] = time.time() - t
    fig["main_events"] = h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s", main.pk)
    log("  %d rows in %.1f s" % (fig["rows"], fig["copy_seconds"]))

    log("sessionising (tally_sessionize(200000) until 0)...")
    n, secs, calls = until_zero(h, "tally_sessionize(200000)")
    fig.update(sessionized=n, sessionize_seconds=secs, sessionize_calls=calls)
    log("  %d events in %.1f s" % (n, secs))

    log("rolling up (tally_rollup(20) until 0)...")
    days_rolled, secs, calls = until_zero(h, "tally_rollup(20)")
    fig.update(days_rolled=days_rolled, rollup_seconds=secs, rollup_calls=calls)
    log("  %d property-days in %.1f s" % (days_rolled, secs))

    # As autovacuum would eventually: statistics for the planner, visibility map for index-only scans.
    t = time.time()
    h.sql("VACUUM ANALYZE")
    fig["vacuum_seconds"] = time.time() - t

    # One closed day of the main property rolled up again, as cron does when it changes.
    yesterday = (datetime.date(1970, 1, 1) + datetime.timedelta(days=today - 1)).isoformat()
    fig["rollup_day"] = yesterday
    fig["rollup_day_events"] = h.sql_int("SELECT count(*) FROM events WHERE property_pk = %s AND ts >= %s::date "
                                         "AND ts < %s::date + 1", main.pk, yesterday, yesterday)
    fig["rollup_day_seconds"] = [timed_sql(h, "SELECT tally_rollup_day(%d, '%s')" % (main.pk, yesterday))
                                 for _ in range(3)]
    fig.update(disk_figures(h, fig["rows"]))
    fig["visitors_per_day"] = h.sql_int(
        "SELECT (sum(visitors) / count(*))::bigint FROM rollup_days WHERE property_pk = %s AND dim = 'total'", main.pk)
    return fig


def top_up(h, main, others, fig, now=None, log=None):
    """Adds the traffic between the data set's end and now (same rate), sessionises and rolls up:
    reports on "today" and realtime then see live-looking data however long the load took."""
    now_ms = int((now or time.time()) * 1000)
    start_ms = fig["now_ms"]
    if now_ms <= start_ms:
        return 0
    start_ms = max(start_ms, now_ms - 3 * 3600_000)   # a data set saved long ago: the last 3 hours only
    scale, seed = fig["scale"], fig["seed"]
    sites = [Site(main.pk, "example.com", MAIN_PATHS, seed)]
    sites += [Site(p.pk, "site%02d.example.net" % (i + 1), OTHER_PATHS, seed, custom_rate=0.5)
              for i, p in enumerate(others)]
    zipf = [1 / k for k in range(1, len(others) + 1)]
    totals = [MAIN_EVENTS * scale] + [OTHER_EVENTS * scale * z / sum(zipf) for z in zipf]
    first_day = datetime.date.fromisoformat(fig["first_day"]).toordinal() - datetime.date(1970, 1, 1).toordinal()
    today = now_ms // DAY_MS
    # The same day weights over the data set's days; new days continue at the last day's rate.
    days = today - first_day + 1
    rows = copy_events(h, sites, totals, first_day, days, now_ms, seed, None, start_ms=start_ms,
                       stream="top-up-%d" % now_ms)
    until_zero(h, "tally_sessionize(200000)")
    until_zero(h, "tally_rollup(20)")
    fig["now_ms"] = now_ms
    if log:
        log("topped up %d events (%.0f s of traffic up to now)" % (rows, (now_ms - start_ms) / 1000))
    return rows


def timed_sql(h, query, user="tally"):
    """Wall time of one statement run by psql with \\timing (server execution + one round trip)."""
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"],
                         input="\\timing on\n%s;\n" % query, env=h.pg_env(user), capture_output=True,
                         text=True, check=True).stdout
    return parse_timings(out)[0] / 1000.0


def parse_timings(text):
    """Milliseconds from psql's "Time: 12.345 ms" lines."""
    return [float(line.split()[1]) for line in text.splitlines() if line.startswith("Time: ")]


def print_figures(fig, out=sys.stdout):
    w = out.write
    n = fig["rows"]
    w("Data set: %d events (%d for the main property) over %d days from %s, scale %g, seed %d\n" % (
        n, fig["main_events"], fig["days"], fig["first_day"], fig["scale"], fig["seed"]))
    w("  main property: %d visitors a day on average, %d visits in all properties\n" % (
        fig["visitors_per_day"], fig["sessions"]))
    w("  generation + COPY               %9.1f s   %9.0f rows/s  (%s)\n" % (
        fig["copy_seconds"], n / fig["copy_seconds"], "generator and PostgreSQL share the cores"))
    calls = fig["sessionize_calls"] or [0]
    w("  sessioniser (200k per call)     %9.1f s   %9.0f events/s, calls: median %.2f s, first %.2f s, "
      "last %.2f s, slowest %.2f s\n" % (fig["sessionize_seconds"], fig["sessionized"] / max(fig["sessionize_seconds"], 1e-9),
                                         statistics.median(calls), calls[0], calls[-1], max(calls)))
    w("  rollups, every closed day       %9.1f s   %d property-days, %.3f s each on average\n" % (
        fig["rollup_seconds"], fig["days_rolled"], fig["rollup_seconds"] / max(1, fig["days_rolled"])))
    w("  rollup of one day (main, %s, %d events): median %.2f s of %s  [target <= 10 s]\n" % (
        fig["rollup_day"], fig["rollup_day_events"], statistics.median(fig["rollup_day_seconds"]),
        ", ".join("%.2f" % s for s in fig["rollup_day_seconds"])))
    w("  VACUUM ANALYZE                  %9.1f s\n" % fig["vacuum_seconds"])
    mb = 1024 * 1024
    if fig.get("days_archived"):
        w("  archive of closed days          %9.1f s   %d property-days, %d events; partitions dropped/split "
          "in %.1f s\n" % (fig["archive_seconds"], fig["days_archived"], fig["archived_events"],
                           fig["archive_partitions_seconds"]))
        w("  rollup of one archived day (main, %s, %d events): median %.2f s of %s\n" % (
            fig["rollup_archived_day"], fig["rollup_archived_day_events"],
            statistics.median(fig["rollup_archived_day_seconds"]),
            ", ".join("%.2f" % s for s in fig["rollup_archived_day_seconds"])))
    if "table_events" in fig:
        w("  (disk per event below: bytes over all %d events; %d of them in the events table)\n" % (n, fig["table_events"]))
    w("  disk, events heap               %9.1f MB  %6.1f B/event\n" % (fig["events_heap_bytes"] / mb, fig["events_heap_bytes"] / n))
    cols = fig.get("column_bytes") or []
    if cols and not fig.get("archive_bytes"):   # the sample is of the events table
        data = sum(v for v, _ in cols)
        w("    of which column data %.1f B (%s, ...), row headers/alignment/free space %.1f B\n" % (
            data, ", ".join("%s %.1f" % (c, v) for v, c in cols[:8]), fig["events_heap_bytes"] / n - data))
    w("  disk, events indexes            %9.1f MB  %6.1f B/event\n" % (fig["events_index_bytes"] / mb, fig["events_index_bytes"] / n))
    if fig.get("archive_bytes"):
        w("  disk, archive of closed days    %9.1f MB  %6.1f B/event\n" % (fig["archive_bytes"] / mb, fig["archive_bytes"] / n))
    w("  disk, rollups (%8d rows)    %9.1f MB  %6.1f B/event\n" % (fig["rollup_rows"], fig["rollup_bytes"] / mb, fig["rollup_bytes"] / n))
    w("  disk, raw + rollups             %9.1f MB  %6.1f B/event  [target <= 200 B]\n" % (
        (fig["events_bytes"] + fig["rollup_bytes"]) / mb, (fig["events_bytes"] + fig["rollup_bytes"]) / n))
    w("  disk, visits (%8d rows)     %9.1f MB  %6.1f B/event\n" % (fig["sessions"], fig["sessions_bytes"] / mb, fig["sessions_bytes"] / n))
    total = fig["events_bytes"] + fig["rollup_bytes"] + fig["sessions_bytes"]
    w("  disk, raw + rollups + visits    %9.1f MB  %6.1f B/event\n" % (total / mb, total / n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=None, help="build directory (default: build/ or $TALLY_BUILD)")
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 10M + 1M events; 0.1 = 1.1M")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the harness running until Enter, then its logs")
    args = ap.parse_args()

    def log(msg):
        print("# " + msg, file=sys.stderr, flush=True)

    h = Harness(args.build, durable=True).start()
    try:
        h.stop_lighttpd()   # track.fcgi's background sessioniser would race the timed one
        main_prop, others = create_properties(h, seed=args.seed)
        fig = load(h, main_prop, others, scale=args.scale, seed=args.seed, log=log)
        print_figures(fig)
        if args.keep:
            log("PGHOST=%s PGPORT=%d PGDATABASE=tally PGUSER=tally psql  -- main property pk %d; Enter to stop" % (
                h.pg_sock, h.pg_port, main_prop.pk))
            input()
    finally:
        h.stop(keep_logs=args.keep)


if __name__ == "__main__":
    main()
