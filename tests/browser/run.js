#!/usr/bin/env node
/* Browser tests of the Tally tracker: real headless Chromium (Debian's /usr/bin/chromium) driven by
 * playwright-core, against a running Tally server (lighttpd + track.fcgi + PostgreSQL). Each
 * scenario writes its test pages into the server's document root, loads them in a fresh browser
 * context, acts like a visitor, and records what the page sent to /v1/events and /api/event and
 * what it did to cookies, storage and layout. The caller (tests/e2e/test_tracker.py) asserts on
 * that record and on what reached the database and the reports.
 *
 * usage: node tests/browser/run.js --base http://127.0.0.1:PORT --www DIR --config FILE --ua UA
 *                                  [--only NAME,...]
 *   --base    the server: serves DIR as document root, /t*.js and the ingest endpoints
 *   --www     the server's document root; pages are written under it
 *   --config  JSON {"properties": {"<scenario>": {"id": "prop_...", "key": "wk_..."}, ...}}
 *   --ua      the user agent the browser sends (headless Chromium's own is filtered as a bot)
 * Prints one JSON object: {"chromium": version, "scenarios": {"<name>": {...record...}}}.
 *
 * The pages live on made-up hosts that Chromium resolves to 127.0.0.1 (--host-resolver-rules):
 * site.test (the site), stats.test (the Tally server) and other.test (somewhere else), so the
 * tracker runs cross-origin as on a real site, and not on localhost (which it ignores).
 */
"use strict";
const fs = require("fs");
const path = require("path");
const {chromium} = require("playwright-core");

const HOSTS = ["site.test", "stats.test", "other.test"];

function parseArgs(argv) {
    const args = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error("bad argument " + argv[i]);
        args[argv[i].slice(2)] = argv[i + 1];
    }
    for (const required of ["base", "www", "config", "ua"])
        if (!args[required]) throw new Error("--" + required + " is required");
    return args;
}

const args = parseArgs(process.argv.slice(2));
const port = new URL(args.base).port;
const config = JSON.parse(fs.readFileSync(args.config, "utf8"));
const SITE = "http://site.test:" + port;
const STATS = "http://stats.test:" + port;
const OTHER = "http://other.test:" + port;
const LOCAL = "http://127.0.0.1:" + port;

/* --- pages ------------------------------------------------------------------------------------ */

function writePage(urlPath, html) {
    const file = path.join(args.www, urlPath.endsWith("/") ? urlPath + "index.html" : urlPath);
    fs.mkdirSync(path.dirname(file), {recursive: true});
    fs.writeFileSync(file, html);
}

// The snippet a site owner pastes (tracker/README.md), with the scenario's property and key.
function snippet(scenario, extra = "", origin = STATS) {
    const p = config.properties[scenario];
    return `<script defer src="${origin}/t.js" data-property="${p.id}" data-key="${p.key}"${extra}></script>`;
}

function extension(name, origin = STATS) {
    return `<script defer src="${origin}/t.${name}.js"></script>`;
}

function html(title, head, body) {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>\n${head}\n</head>\n` +
           `<body>\n${body}\n</body></html>\n`;
}

/* --- what the tracker does to the page: installed before any page script ------------------------ */

// Counts, for calls made by the tracker scripts (recognised by stats.test in the call stack):
// layout reads, storage and cookie writes, synchronous XHR. Records fetch calls (to see keepalive).
function audit() {
    const log = window.__tallyAudit = {layoutReads: [], storageWrites: [], cookieWrites: 0, syncXhr: 0, fetches: []};
    const fromTracker = () => /stats\.test/.test(new Error().stack);
    function watchGetter(proto, name) {
        const d = Object.getOwnPropertyDescriptor(proto, name);
        if (!d || !d.get) return;
        Object.defineProperty(proto, name, {
            configurable: true, enumerable: d.enumerable, set: d.set,
            get() { if (fromTracker()) log.layoutReads.push(name); return d.get.call(this); }
        });
    }
    function watchMethod(proto, name, onCall) {
        const original = proto[name];
        proto[name] = function () { onCall(arguments); return original.apply(this, arguments); };
    }
    for (const n of ["clientHeight", "clientWidth", "scrollHeight", "scrollWidth", "scrollTop", "scrollLeft"])
        watchGetter(Element.prototype, n);
    for (const n of ["offsetHeight", "offsetWidth", "offsetTop", "offsetLeft"])
        watchGetter(HTMLElement.prototype, n);
    for (const n of ["scrollX", "scrollY", "pageXOffset", "pageYOffset", "innerWidth", "innerHeight"])
        watchGetter(Object.getOwnPropertyDescriptor(window, n) ? window : Window.prototype, n);
    for (const n of ["getBoundingClientRect", "getClientRects"])
        watchMethod(Element.prototype, n, () => fromTracker() && log.layoutReads.push(n));
    watchMethod(window, "getComputedStyle", () => fromTracker() && log.layoutReads.push("getComputedStyle"));
    for (const n of ["setItem", "removeItem", "clear"])
        watchMethod(Storage.prototype, n, () => fromTracker() && log.storageWrites.push(n));
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
    Object.defineProperty(Document.prototype, "cookie", {
        configurable: true, get: cookie.get,
        set(v) { if (fromTracker()) log.cookieWrites++; cookie.set.call(this, v); }
    });
    watchMethod(XMLHttpRequest.prototype, "open", (a) => { if (a[2] === false) log.syncXhr++; });
    const fetch = window.fetch;
    window.fetch = function (url, init) {
        log.fetches.push({url: String(url), keepalive: !!(init && init.keepalive), method: init && init.method});
        return fetch.apply(this, arguments);
    };
}

/* --- one scenario ------------------------------------------------------------------------------ */

const TRACKED = /\/(v1\/events|api\/event)(\?|$)/;

class Run {
    constructor(browser, name) {
        this.browser = browser;
        this.name = name;
        this.requests = [];
        this.pending = new Map();   // request -> its entry in this.requests, until answered
        this.lastActivity = Date.now();
        this.record = {requests: this.requests};
    }

    // A fresh browser context (no cookies, no storage) and a page in it; initScript runs in every
    // page before the page's own scripts.
    async open(initScript = null) {
        this.context = await this.browser.newContext({viewport: {width: 1280, height: 800}});
        await this.context.addInitScript(audit);
        if (initScript) await this.context.addInitScript(initScript);
        this.context.on("request", (r) => this.onRequest(r));
        // A response ends a request here: the tracker never reads the body, so "requestfinished"
        // does not always follow (a keepalive fetch's body is left unread).
        this.context.on("response", (resp) => this.onDone(resp.request(), resp.status(), null));
        this.context.on("requestfailed", (r) => this.onDone(r, null, r.failure() && r.failure().errorText));
        // Page errors and console messages help explain a failure.
        this.record.console = [];
        this.context.on("console", (m) => this.record.console.push(m.type() + ": " + m.text()));
        this.context.on("weberror", (e) => this.record.console.push("error: " + e.error()));
        this.page = await this.context.newPage();
        return this.page;
    }

    onRequest(r) {
        if (!TRACKED.test(r.url())) return;
        const entry = {url: r.url(), method: r.method(), resourceType: r.resourceType(), body: null, status: null,
                       contentType: null, origin: null, failure: null};
        const body = r.postData();
        try {
            entry.body = JSON.parse(body);
        } catch (e) {
            entry.body = body;
        }
        this.requests.push(entry);
        this.pending.set(r, entry);
        this.lastActivity = Date.now();
        entry.headersDone = r.allHeaders().then((h) => {
            entry.contentType = h["content-type"] || null;
            entry.origin = h["origin"] || null;
        }).catch(() => {});
    }

    onDone(r, status, failure) {
        const entry = this.pending.get(r);
        if (!entry) return;
        entry.status = status;
        entry.failure = failure;
        this.pending.delete(r);
        this.lastActivity = Date.now();
    }

    // Waits until at least `count` tracked requests were made, none is in flight, and nothing
    // happened for `quietMs` (what might still be sent has had time to be).
    async settle(count = 0, quietMs = 250, timeoutMs = 15000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            if (this.requests.length >= count && this.pending.size === 0 && Date.now() - this.lastActivity >= quietMs)
                return;
            if (Date.now() > deadline)
                throw new Error(`settle: ${this.requests.length} requests (wanted ${count}), ${this.pending.size} in flight`);
            await new Promise((r) => setTimeout(r, 50));
        }
    }

    // Leaves the page (as a visitor does, to another site). What it sends while unloading is not
    // always reported by the browser's request events, and closing the context too early would
    // cancel it: wait a moment (the database shows what arrived).
    async leave(page = this.page) {
        await page.goto("about:blank");
        await page.waitForTimeout(700);
    }

    // What the tracker left behind in the page: cookies, storage, and the audit's counts.
    async snapshot(label, page = this.page) {
        this.record[label] = await page.evaluate(() => ({
            url: location.href,
            documentCookie: document.cookie,
            localStorage: Object.assign({}, localStorage),
            sessionStorage: Object.assign({}, sessionStorage),
            audit: window.__tallyAudit
        }));
    }

    async close() {
        this.record.cookies = this.context ? await this.context.cookies() : [];
        for (const e of this.requests) {
            await e.headersDone;
            delete e.headersDone;
        }
        if (this.context) await this.context.close();
    }
}

/* --- the scenarios ---------------------------------------------------------------------------- */

const scenarios = {};

// A pageview on load, with referrer and UTM parameters; every extension loaded, and still no layout
// read, storage write, cookie or synchronous request on load.
scenarios.pageview = async (run) => {
    writePage("/pageview/", html("Pageview", [
        extension("hash"), extension("engagement"), snippet("pageview"), extension("outbound"), extension("downloads")
    ].join("\n"), "<h1>Hello</h1><p style='height:3000px'>tall</p>"));
    const page = await run.open();
    await page.goto(SITE + "/pageview/?utm_source=newsletter&utm_campaign=launch", {referer: "https://www.google.com/search?q=tally"});
    await run.settle(1);
    await run.snapshot("loaded");
    run.record.screenWidth = await page.evaluate(() => screen.width);
};

// Single-page app: pushState to a new path counts, to the same path (query only) does not, nor a
// #fragment change; back (popstate) to the first path counts.
scenarios.spa = async (run) => {
    writePage("/spa/", html("SPA", snippet("spa"), "<h1>App</h1>"));
    const page = await run.open();
    await page.goto(SITE + "/spa/");
    await run.settle(1);
    await page.evaluate(() => history.pushState({}, "", "/spa/two"));
    await run.settle(2);
    await page.evaluate(() => history.pushState({}, "", "/spa/two?tab=1"));
    await page.evaluate(() => { location.hash = "#section"; });
    await run.settle(2);
    await page.evaluate(() => history.replaceState({}, "", "/spa/two?tab=2#section"));
    await page.evaluate(() => history.go(-3));
    await run.settle(3);
    await run.snapshot("final");
};

// Hash routing: the route is the path; each route change counts once.
scenarios.hash = async (run) => {
    writePage("/app/", html("Hash app", extension("hash") + "\n" + snippet("hash"),
                            '<a id="settings" href="#/settings">Settings</a> <a id="bang" href="#!/users/7?tab=2">User</a>'));
    const page = await run.open();
    await page.goto(SITE + "/app/#/home");
    await run.settle(1);
    await page.click("#settings");
    await run.settle(2);
    await page.click("#bang");
    await run.settle(3);
    await page.evaluate(() => history.back());
    await run.settle(4);
    await run.snapshot("final");
};

// Custom events with properties, revenue and a non-interactive one.
scenarios.custom = async (run) => {
    writePage("/custom/", html("Custom events", snippet("custom"), `
<button id="signup" onclick="tally('signup', {props: {plan: 'pro', seats: 3, trial: true}})">Sign up</button>
<button id="buy" onclick="tally('purchase', {props: {sku: 'A1'}, revenue: {amount: '49.90', currency: 'EUR'}})">Buy</button>
<button id="autoplay" onclick="tally('video autoplay', {interactive: false})">Autoplay</button>`));
    const page = await run.open();
    await page.goto(SITE + "/custom/");
    await run.settle(1);
    for (const id of ["#signup", "#buy", "#autoplay"]) await page.click(id);
    await run.settle(4);
    await run.snapshot("final");
};

// Calls made before t.js has loaded (async) wait in the queue and are sent after the pageview. The
// endpoint is given explicitly (data-api).
scenarios.queue = async (run) => {
    const p = config.properties.queue;
    writePage("/queue/", html("Queue", `
<script>
window.tally = window.tally || function () { (tally.q = tally.q || []).push(arguments); };
tally("early", {props: {step: 1}});
</script>
<script async src="${STATS}/t.js" data-property="${p.id}" data-key="${p.key}" data-api="${STATS}/v1/events"></script>
<script>tally("early", {props: {step: 2}});</script>`, "<h1>Queue</h1>"));
    const page = await run.open();
    await page.goto(SITE + "/queue/");
    await run.settle(3);
    await run.snapshot("final");
};

// The site owner's opt-out: localStorage.tally_ignore = "true" (set here by the test, as the
// owner would in the console); nothing is sent and the tracker writes nothing.
scenarios.optout = async (run) => {
    writePage("/optout/blank.html", html("Set the flag", "", ""));
    writePage("/optout/", html("Opted out", snippet("optout"), '<button id="b" onclick="tally(\'signup\')">x</button>'));
    const page = await run.open();
    await page.goto(SITE + "/optout/blank.html");
    await page.evaluate(() => localStorage.setItem("tally_ignore", "true"));
    await page.goto(SITE + "/optout/");
    await page.click("#b");
    await page.evaluate(() => history.pushState({}, "", "/optout/two"));
    await run.settle(0, 800);
    await run.snapshot("final");
};

// Localhost, 127.0.0.1 and [::1]... pages are not counted, unless data-allow-localhost.
scenarios.localhost = async (run) => {
    writePage("/local/plain.html", html("Local", snippet("localhost", "", ""), '<button id="b" onclick="tally(\'signup\')">x</button>'));
    writePage("/local/allowed.html", html("Local, allowed", snippet("localhost", " data-allow-localhost", ""), ""));
    const page = await run.open();
    for (const origin of [LOCAL, "http://localhost:" + port]) {
        await page.goto(origin + "/local/plain.html");
        await page.click("#b");
    }
    await run.settle(0, 800);
    run.record.sentWhenIgnored = run.requests.length;
    await page.goto(LOCAL + "/local/allowed.html");
    await run.settle(1);
    await run.snapshot("final");
};

// sendBeacon refuses (as when its queue is full): fetch with keepalive, still text/plain.
scenarios.fetch_fallback = async (run) => {
    writePage("/fallback/", html("Fallback", snippet("fetch_fallback"), '<button id="b" onclick="tally(\'signup\')">x</button>'));
    const page = await run.open(() => {
        window.__beaconCalls = 0;
        navigator.sendBeacon = function () { window.__beaconCalls++; return false; };
    });
    await page.goto(SITE + "/fallback/");
    await run.settle(1);
    await page.click("#b");
    await run.settle(2);
    await run.snapshot("final");
    run.record.beaconCalls = await page.evaluate(() => window.__beaconCalls);
};

// Outbound links: a click and a middle click on a link to another host; not internal or mailto links.
scenarios.outbound = async (run) => {
    writePage("/landing.html", html("Elsewhere", "", "<h1>Elsewhere</h1>"));
    writePage("/outbound/", html("Outbound", snippet("outbound") + "\n" + extension("outbound"), `
<a id="internal" href="/outbound/next.html">next</a>
<a id="mail" href="mailto:someone@example.com">mail</a>
<a id="out" href="${OTHER}/landing.html?ref=tally"><span id="inner">other site</span></a>
<script>
// The internal and mailto links stay on the page (the extension listens before this does).
for (const id of ["internal", "mail"]) document.getElementById(id).addEventListener("click", (e) => e.preventDefault());
</script>`));
    const page = await run.open();
    await page.goto(SITE + "/outbound/");
    await run.settle(1);
    await page.click("#internal");
    await page.click("#mail");
    await run.settle(1, 300);
    await run.snapshot("before");
    const popup = run.context.waitForEvent("page");
    await page.click("#inner", {button: "middle"});
    await (await popup).waitForLoadState();
    await run.settle(2);
    await Promise.all([page.waitForURL(OTHER + "/landing.html?ref=tally"), page.click("#out")]);
    await run.settle(3);
};

// File downloads: by extension (query string dropped), by the download attribute, on another host;
// not an ordinary page link.
scenarios.downloads = async (run) => {
    writePage("/downloads/", html("Downloads", snippet("downloads") + "\n" + extension("downloads"), `
<a id="pdf" href="/files/report.pdf">report</a>
<a id="csv" href="/files/data.csv?token=secret#top">data</a>
<a id="attr" href="/files/export" download>export</a>
<a id="zip" href="${OTHER}/files/archive.ZIP">archive</a>
<a id="page" href="/files/page.html">a page</a>
<script>
// The files do not exist: the links stay on the page (the extension listens before this does).
document.addEventListener("click", (e) => e.preventDefault());
</script>`));
    const page = await run.open();
    await page.goto(SITE + "/downloads/");
    await run.settle(1);
    for (const id of ["#pdf", "#csv", "#attr", "#zip", "#page"]) await page.click(id);
    await run.settle(5);
    await run.snapshot("final");
};

// Engagement: time visible and scroll depth, sent when a single-page app moves on and when the
// page is left.
scenarios.engagement = async (run) => {
    writePage("/eng/", html("Engagement", extension("engagement") + "\n" + snippet("engagement"),
                            '<div style="height:5000px">long read</div>'));
    const page = await run.open();
    await page.goto(SITE + "/eng/");
    await run.settle(1);
    await run.snapshot("loaded");
    await page.waitForTimeout(600);
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForTimeout(200);
    await page.evaluate(() => history.pushState({}, "", "/eng/two"));
    await run.settle(3);
    await page.waitForTimeout(400);
    await run.leave();
};

// A single pageview and its engagement when the page is left: still a bounce.
scenarios.engagement_bounce = async (run) => {
    writePage("/eng-solo/", html("Short visit", extension("engagement") + "\n" + snippet("engagement_bounce"), "<p>short</p>"));
    const page = await run.open();
    await page.goto(SITE + "/eng-solo/");
    await run.settle(1);
    await page.waitForTimeout(500);
    await run.leave();
};

// Plausible's own published tracker (npm @plausible-analytics/tracker) sending to /api/event.
function plausiblePage(title, initOptions, body = "") {
    return html(title, `<script type="module">
import {init, track} from "/vendor/plausible.js";
init(Object.assign({endpoint: "${STATS}/api/event"}, ${JSON.stringify(initOptions)}));
window.plausibleTrack = track;
</script>`, body);
}

scenarios.plausible = async (run) => {
    const vendor = path.join(__dirname, "node_modules", "@plausible-analytics", "tracker", "plausible.js");
    writePage("/vendor/plausible.js", fs.readFileSync(vendor, "utf8"));
    writePage("/plausible/", plausiblePage("Plausible", {domain: "site.test"}, '<div style="height:3000px">page</div>'));
    const page = await run.open();
    await page.goto(SITE + "/plausible/?utm_source=plausible-test", {referer: "https://news.ycombinator.com/item?id=1"});
    await run.settle(1);
    await page.evaluate(() => window.plausibleTrack("signup", {props: {plan: "pro"},
                                                               revenue: {amount: 15.99, currency: "USD"}}));
    await run.settle(2);
    await page.evaluate(() => history.pushState({}, "", "/plausible/two"));
    await run.settle(3);
    await run.leave();
};

scenarios.plausible_hash = async (run) => {
    writePage("/plausible-hash/", plausiblePage("Plausible, hash routing", {domain: "hash.site.test", hashBasedRouting: true},
                                                '<a id="r" href="#/reports">reports</a>'));
    const page = await run.open();
    await page.goto(SITE + "/plausible-hash/#/home");
    await run.settle(1);
    await page.click("#r");
    await run.settle(2);
};

/* --- main ------------------------------------------------------------------------------------- */

async function main() {
    const only = args.only ? args.only.split(",") : Object.keys(scenarios);
    const browser = await chromium.launch({
        executablePath: process.env.TALLY_CHROMIUM || "/usr/bin/chromium",
        // A browser as a visitor has it: an ordinary user agent (headless Chromium's own names
        // itself HeadlessChrome and is filtered as a bot; set for the whole browser, since a
        // per-page override does not cover what a page sends while unloading), no automation flag
        // (navigator.webdriver stays false, as Plausible's script requires), and the made-up
        // hosts resolved to this machine.
        ignoreDefaultArgs: ["--enable-automation"],
        args: ["--user-agent=" + args.ua, "--host-resolver-rules=" + HOSTS.map((h) => "MAP " + h + " 127.0.0.1").join(", "),
               "--disable-blink-features=AutomationControlled", "--disable-features=HttpsUpgrades"],
    });
    const out = {chromium: browser.version(), scenarios: {}};
    try {
        for (const name of only) {
            if (!scenarios[name]) throw new Error("unknown scenario " + name);
            const run = new Run(browser, name);
            const started = Date.now();
            try {
                await scenarios[name](run);
            } catch (e) {
                run.record.error = String(e && e.stack || e).split("\n").slice(0, 3).join(" | ");
            }
            try {
                await run.close();
            } catch (e) {
                run.record.error = run.record.error || "close: " + e;
            }
            run.record.ms = Date.now() - started;
            out.scenarios[name] = run.record;
        }
    } finally {
        await browser.close();
    }
    process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
    process.stderr.write("run.js: " + (e && e.stack || e) + "\n");
    process.exit(1);
});
