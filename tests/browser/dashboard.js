#!/usr/bin/env node
/* Browser test of the Tally dashboard (dashboard/, served under /admin/): real headless Chromium
 * (Debian's /usr/bin/chromium) driven by playwright-core, against a running Tally server
 * (lighttpd + track.fcgi + report.fcgi + admin.fcgi + PostgreSQL). Like a new site owner it signs
 * up (or accepts an invitation), moves on before a view's answer arrives (which must not draw over
 * the next view), creates a property in the settings, copies the snippet, puts it
 * in a few pages of a site, visits them as two visitors, and then reads the dashboard: cards,
 * graph, tables, filters, compare, date ranges, realtime, CSV, revenue; then funnels, keys, the
 * quota, the Stripe secret, token secret rotation and server keys, share links, team, audit log,
 * sign-out and sign-in. It saves screenshots of the main views and prints one JSON
 * record of what it saw; the caller (tests/e2e/test_dashboard.py) asserts on it.
 *
 * usage: node tests/browser/dashboard.js --base http://127.0.0.1:PORT --www DIR --config FILE
 *                                        --ua UA --out DIR
 *   --config  JSON {"mode": "signup" | "invite", "email", "password", "invite_token" (invite mode),
 *                   "sessionize": [argv of a command that runs the sessioniser],
 *                   "mobile_ua": UA of the second visitor, "visitor_ips": [two addresses],
 *                   "owner_ip", "server_ip": client addresses (X-Forwarded-For) of the owner's
 *                   browser and of a server-side sender, "viewer_email", "viewer_password",
 *                   "stripe_secret": a Stripe webhook signing secret to set}
 *   --out     where the screenshots go (PNG)
 *
 * Hosts as in run.js: site.test (the site) and stats.test (the Tally server) resolve to 127.0.0.1.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const {execFileSync} = require("child_process");
const {chromium} = require("playwright-core");

function parseArgs(argv) {
    const args = {};
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error("bad argument " + argv[i]);
        args[argv[i].slice(2)] = argv[i + 1];
    }
    for (const required of ["base", "www", "config", "ua", "out"])
        if (!args[required]) throw new Error("--" + required + " is required");
    return args;
}

const args = parseArgs(process.argv.slice(2));
const config = JSON.parse(fs.readFileSync(args.config, "utf8"));
const port = new URL(args.base).port;
const SITE = "http://site.test:" + port;
const STATS = "http://stats.test:" + port;
const DASH = STATS + "/admin/";
const record = {steps: {}, screenshots: [], console: [], pageErrors: [], tracked: []};

/* --- helpers ------------------------------------------------------------------------------------ */

function step(name, data) {
    record.steps[name] = data;
}

async function shot(name, target, opts = {}) {
    const file = path.join(args.out, name + ".png");
    await target.screenshot(Object.assign({path: file}, opts));
    record.screenshots.push({name, file});
    return file;
}

function watch(context, label) {
    context.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") record.console.push(label + " " + m.type() + ": " + m.text());
    });
    context.on("weberror", (e) => record.pageErrors.push(label + ": " + String(e.error())));
    context.on("response", (r) => {
        if (/\/v1\/events(\?|$)/.test(r.url())) record.tracked.push({who: label, status: r.status()});
    });
}

/* A browser context (its own cookies) for one person, with its own client address: lighttpd, a
 * trusted proxy here, takes it from X-Forwarded-For. */
async function newContext(browser, label, ip, options = {}) {
    const context = await browser.newContext(Object.assign({viewport: {width: 1280, height: 900},
                                                            extraHTTPHeaders: {"X-Forwarded-For": ip}}, options));
    watch(context, label);
    return context;
}

/* The report view has drawn everything it asked for (data-pending counts requests in flight). */
async function reportsReady(page, previousGen = null) {
    await page.waitForFunction((gen) => {
        const main = document.getElementById("main");
        return main.dataset.gen && main.dataset.gen !== gen && main.dataset.pending === "0" &&
               document.querySelector(".cards .card") && document.querySelector(".chart-svg") &&
               !main.querySelector(".loading:not(#realtime .loading)");
    }, previousGen, {timeout: 15000});
}

async function gen(page) {
    return page.evaluate(() => document.getElementById("main").dataset.gen || null);
}

/* Does something that re-renders the report view, and waits until it has. */
async function rerender(page, action) {
    const before = await gen(page);
    await action();
    await reportsReady(page, before);
}

async function cards(page) {
    return page.evaluate(() => Object.fromEntries([...document.querySelectorAll(".cards .card")].map((c) => [
        c.dataset.metric, {value: Number(c.dataset.value), text: c.querySelector(".card-value").textContent,
                           delta: c.querySelector(".card-delta") ? c.querySelector(".card-delta").firstChild.textContent : null}])));
}

async function graph(page) {
    return page.evaluate(() => {
        const svg = document.querySelector(".chart-svg");
        return {points: Number(svg.dataset.points), dots: svg.querySelectorAll(".dots.s-visitors circle").length,
                previousLines: svg.querySelectorAll(".line.previous").length,
                xLabels: [...svg.querySelectorAll(".axis-x text")].map((t) => t.textContent)};
    });
}

/* The rows of the table on screen in a panel, after choosing its tab for `report`. */
async function table(page, panel, report) {
    await page.click(`#panel-${panel} .tab[data-report="${report}"]`);
    await page.waitForFunction(([p, r]) => {
        const node = document.getElementById("panel-" + p);
        return node.dataset.report === r && !node.querySelector(".loading");
    }, [panel, report]);
    return page.evaluate((p) => [...document.querySelectorAll(`#panel-${p} tbody tr`)].map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => td.textContent.trim())), panel);
}

async function revenueTotals(page) {
    return page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#panel-revenue .mini-card")].map((c) =>
        [c.dataset.metric, c.querySelector(".card-value").textContent])));
}

/* The revenue table's rows after choosing its grouping. */
async function revenueRows(page, group) {
    if ((await page.evaluate(() => document.getElementById("panel-revenue").dataset.group)) !== group)
        await page.selectOption("#revenue-group", group);
    await page.waitForFunction((g) => {
        const node = document.getElementById("panel-revenue");
        return node.dataset.group === g && !node.querySelector(".loading") && document.getElementById("main").dataset.pending === "0";
    }, group);
    return page.evaluate(() => [...document.querySelectorAll("#panel-revenue tbody tr")].map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => td.textContent.trim())));
}

async function funnelReady(page) {
    await page.waitForFunction(() => document.getElementById("main").dataset.pending === "0" &&
                                     document.querySelector("#funnel-list, #funnel-form") &&
                                     !document.querySelector("#main .loading"));
}

async function funnelSteps(page) {
    return page.evaluate(() => [...document.querySelectorAll("#funnel-chart .funnel-step")].map((li) => ({
        label: li.querySelector(".funnel-label").textContent, visits: Number(li.dataset.visits), rate: Number(li.dataset.rate),
        drop: Number(li.dataset.drop), text: li.querySelector(".funnel-figures").textContent,
        width: li.querySelector(".funnel-bar").style.width})));
}

async function text(page, selector) {
    return page.evaluate((s) => {
        const n = document.querySelector(s);
        return n ? (n.value !== undefined && n.tagName !== "BUTTON" ? n.value : n.textContent) : null;
    }, selector);
}

function pageHtml(title, snippet, body) {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>\n<link rel="icon" href="data:,">\n${snippet}\n</head>\n` +
           `<body>\n<nav><a id="home" href="/shop/">Home</a> <a id="pricing" href="/shop/pricing.html">Pricing</a> ` +
           `<a id="docs" href="/shop/docs.html">Docs</a></nav>\n${body}\n</body></html>\n`;
}

function writePage(urlPath, html) {
    const file = path.join(args.www, urlPath.endsWith("/") ? urlPath + "index.html" : urlPath);
    fs.mkdirSync(path.dirname(file), {recursive: true});
    fs.writeFileSync(file, html);
}

async function waitTracked(count, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    while (record.tracked.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${record.tracked.length} of ${count} tracker requests answered`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/* A promise that fails after `ms` with a message saying what did not happen, so that a step
 * which waits for an event of its own making cannot wait for ever. */
function within(promise, ms, what) {
    let timer;
    const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(what + " within " + ms + " ms")), ms); });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/* Runs the sessioniser (psql). It blocks the event loop, so it has a time limit of its own. */
function sessionize() {
    try {
        execFileSync(config.sessionize[0], config.sessionize.slice(1), {stdio: ["ignore", "ignore", "pipe"], timeout: 60000});
    } catch (e) {
        throw new Error("the sessioniser: " + (e.code === "ETIMEDOUT" ? "no answer within 60 s" : String(e.stderr || e.message).trim()));
    }
}

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n) => new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);

/* --- the story ---------------------------------------------------------------------------------- */

async function signUpOrAcceptInvitation(page) {
    if (config.mode === "signup") {
        await page.goto(DASH);
        await page.waitForSelector("#sign-up");
        await shot("01-first-run-sign-up", page);
        await page.fill("#sign-up input[name=email]", config.email);
        await page.fill("#sign-up input[name=password]", config.password);
        await page.fill("#sign-up input[name=password2]", config.password);
        await page.click("#sign-up button[type=submit]");
    } else {
        await page.goto(DASH + "#/invite/" + config.invite_token);
        await page.waitForSelector("#accept-invitation");
        await shot("01-accept-invitation", page);
        await page.fill("#accept-invitation input[name=password]", config.password);
        await page.fill("#accept-invitation input[name=password2]", config.password);
        await page.click("#accept-invitation button[type=submit]");
    }
    await page.waitForSelector("#account-link");
    // The view after signing in has drawn (no request of it is still in flight): the empty
    // properties list, or the one property of the invitation.
    if (config.mode === "signup") await page.waitForSelector("main .property-list, main a[href='#/new']");
    else await reportsReady(page);
    step("signedIn", {mode: config.mode, account: await text(page, "#account-link"), url: page.url()});
}

/* The properties list answers late (held back here) after the user has gone on to the new-property
 * form: the form stays, the late list is not drawn over it. The view after signing in has drawn,
 * so the first list request from here on is the one that #/?late sends; it is held. The form is
 * opened only once that request is held: two hash changes in a row can reach the app as two
 * events that both read the later hash, and then no view would ask for the list. The request is
 * let go once the form is on screen, and the check waits for its answer. */
async function lateAnswer(page) {
    let caught;
    const heldRoute = new Promise((resolve) => { caught = resolve; });
    await page.route(/\/admin\/api\/properties$/, (route) => caught(route), {times: 1});
    await page.goto(DASH + "#/?late");
    const route = await within(heldRoute, 15000, "the properties list view asked for the list");
    const answered = page.waitForResponse((r) => r.request() === route.request());
    await page.goto(DASH + "#/new");
    await page.waitForSelector("#new-property");
    await new Promise((r) => setTimeout(r, 500));   // the user is on the form for a moment
    await route.continue();
    await answered;
    await new Promise((r) => setTimeout(r, 300));
    step("lateAnswer", {held: true, form: (await page.$("#new-property")) !== null,
                        heading: await text(page, "main h1, main h2")});
}

async function createProperty(page) {
    await lateAnswer(page);
    await page.goto(DASH + "#/new");
    await page.waitForSelector("#new-property");
    await page.fill("#new-property input[name=name]", "Shop");
    // Not site.test: the tracker's test finds its Plausible property by that domain.
    await page.fill("#new-property input[name=domain]", "shop.example");
    await page.click("#new-property button[type=submit]");
    await page.waitForSelector("#snippet");
    const snippet = await text(page, "#snippet");
    await page.click("#copy-snippet");
    await page.waitForFunction(() => document.querySelector(".copied").textContent !== "");
    step("snippet", {text: snippet, copied: await text(page, ".copied"), url: page.url()});
    await shot("02-snippet", page);
    const m = /data-property="([^"]+)" data-key="([^"]+)"/.exec(snippet);
    if (!m) throw new Error("no property id and key in the snippet: " + snippet);
    return {id: m[1], key: m[2], snippet};
}

async function configure(page, prop) {
    // General settings: rename, allow the site's origin only, exclude a path and two ranges of
    // addresses that the story's visitors are not in.
    await page.goto(`${DASH}#/p/${prop.id}/settings/general`);
    await page.waitForSelector("#property-settings");
    await page.fill("#property-settings input[name=name]", "Shop (example)");
    await page.fill("#property-settings textarea[name=allowed_origins]", SITE);
    await page.fill("#property-settings textarea[name=excluded_paths]", "/shop/private/*");
    await page.fill("#property-settings textarea[name=excluded_addresses]", "2001:DB8:FF00::/40\n100.64.0.0/24");
    await page.click("#property-settings button[type=submit]");
    await page.waitForSelector("#property-settings .status.ok");
    step("settings", {status: await text(page, "#property-settings .status"),
                      title: await text(page, ".property-name")});
    await shot("03-settings-general", page, {fullPage: true});
    // Goals: a custom event and a page.
    await page.goto(`${DASH}#/p/${prop.id}/settings/goals`);
    for (const [name, kind, value] of [["Signup", "event", "signup"], ["Saw pricing", "path", "/shop/pricing*"]]) {
        await page.waitForSelector("#new-goal");
        await page.fill("#new-goal input[name=name]", name);
        await page.selectOption("#new-goal select[name=kind]", kind);
        await page.fill("#new-goal input[name=value]", value);
        if (name === "Signup") await page.check("#new-goal input[name=revenue]");
        await page.click("#new-goal button[type=submit]");
        await page.waitForFunction((n) => [...document.querySelectorAll("#goals-table td")].some((td) => td.textContent === n), name);
    }
    step("goals", await page.evaluate(() => [...document.querySelectorAll("#goals-table tbody tr")].map((tr) => tr.textContent)));
}

/* Two visitors on the site with the copied snippet; one excluded page; one server-side event of
 * yesterday whose path and source are markup (they must show as text). */
async function visit(browser, prop) {
    const page = (title, body) => pageHtml(title, prop.snippet, body);
    writePage("/shop/", page("Shop", "<h1>Shop</h1>"));
    writePage("/shop/pricing.html", page("Pricing", `<h1>Pricing</h1>
<button id="signup" onclick="tally('signup', {props: {plan: 'pro'}, revenue: {amount: '19.00', currency: 'EUR'}})">Sign up</button>`));
    writePage("/shop/docs.html", page("Docs", "<h1>Docs</h1>"));
    writePage("/shop/private/secret.html", page("Private", "<h1>Private</h1>"));

    const desktop = await newContext(browser, "visitor1", config.visitor_ips[0]);
    const p1 = await desktop.newPage();
    await p1.goto(SITE + "/shop/?utm_source=newsletter&utm_campaign=launch", {referer: "https://www.google.com/search?q=shop"});
    await waitTracked(1);
    await p1.click("#pricing");
    await p1.waitForURL(SITE + "/shop/pricing.html");
    await waitTracked(2);
    await p1.click("#signup");
    await waitTracked(3);
    await p1.goto(SITE + "/shop/private/secret.html");
    await waitTracked(4);
    await desktop.close();

    const phone = await newContext(browser, "visitor2", config.visitor_ips[1], {userAgent: config.mobile_ua, viewport: {width: 390, height: 844},
                                                         isMobile: true, hasTouch: true});
    const p2 = await phone.newPage();
    await p2.goto(SITE + "/shop/docs.html", {referer: "https://news.ycombinator.com/item?id=1"});
    await waitTracked(5);
    await phone.close();

    const evil = {path: '/"><img src=x onerror="window.__xss=1">', source: "<script>window.__xss=2</script>"};
    const r = await fetch(args.base + "/v1/events", {
        method: "POST", signal: AbortSignal.timeout(30000),
        headers: {"Authorization": "Bearer " + prop.key, "Content-Type": "application/json", "User-Agent": args.ua,
                  "X-Forwarded-For": config.server_ip},
        body: JSON.stringify({property_id: prop.id, events: [{type: "pageview", ts: Date.now() - 86400000,
            context: {page: {url: "https://site.test" + evil.path + "?utm_source=" + encodeURIComponent(evil.source),
                             path: evil.path, title: "<b>t</b>"}}}]}),
    });
    step("visits", {tracked: record.tracked.slice(), serverSide: {status: r.status, body: await r.json()}, evil});
    sessionize();
    return evil;
}

async function dashboard(page, prop, evil) {
    // The default view: the last 7 days.
    await page.goto(`${DASH}#/p/${prop.id}`);
    await reportsReady(page);
    const week = {cards: await cards(page), graph: await graph(page), range: await text(page, "#range"),
                  pages: await table(page, "pages", "pages"), sources: await table(page, "sources", "sources")};
    week.xss = await page.evaluate(() => ({flag: window.__xss === undefined ? null : window.__xss,
                                          images: document.querySelectorAll("#main img").length,
                                          scripts: document.querySelectorAll("#main script").length}));
    step("week", week);
    await shot("04-dashboard-7d", page, {fullPage: true});

    // Today, from the date picker.
    await page.click("#range");
    await rerender(page, () => page.click('.menu-item[data-period="today"]'));
    const day = {url: page.url(), cards: await cards(page), graph: await graph(page)};
    for (const [panel, report] of [["pages", "pages"], ["pages", "entry-pages"], ["pages", "exit-pages"],
                                   ["sources", "sources"], ["sources", "campaigns"], ["locations", "countries"],
                                   ["devices", "devices"], ["devices", "browsers"], ["devices", "os"],
                                   ["events", "events"], ["events", "goals"]])
        day[report] = await table(page, panel, report);
    await table(page, "pages", "pages");
    await table(page, "sources", "sources");
    await table(page, "devices", "browsers");
    await table(page, "events", "goals");
    // A tooltip where the traffic is (the current hour). The graph is scrolled into view first, so
    // that the screenshot does not move it away from under the mouse.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator(".graph-panel").scrollIntoViewIfNeeded();
    const box = await page.locator(".chart-svg .overlay").boundingBox();
    const hour = new Date().getUTCHours();
    await page.mouse.move(box.x + box.width * hour / 23, box.y + box.height / 2);
    await page.waitForSelector(".chart-tip:not([hidden])");
    day.tooltip = await text(page, ".chart-tip");
    step("today", day);
    await shot("05-graph-tooltip", page.locator(".graph-panel"));
    await page.mouse.move(0, 0);
    await page.waitForSelector("#realtime[data-updated]");
    await shot("06-dashboard-today", page, {fullPage: true});

    // Revenue: the totals and the table by source, then by landing page; a row filters.
    const revenue = {totals: await revenueTotals(page), sources: await revenueRows(page, "source")};
    revenue.landing = await revenueRows(page, "entry_page");
    await rerender(page, () => page.locator("#panel-revenue tbody tr")
        .filter({has: page.locator("td.label", {hasText: /^\/shop\/$/})}).click());
    revenue.filtered = {url: page.url(), chips: await page.evaluate(() => [...document.querySelectorAll(".chip")].map((c) => c.textContent)),
                        totals: await revenueTotals(page)};
    await rerender(page, () => page.click(".chip-remove"));
    await revenueRows(page, "source");
    step("revenue", revenue);

    // A click on a row filters; the chip removes the filter.
    await rerender(page, () => page.click('#panel-pages tbody tr:has-text("/shop/pricing.html")'));
    const filtered = {url: page.url(), chips: await page.evaluate(() => [...document.querySelectorAll(".chip")].map((c) => c.textContent)),
                      cards: await cards(page), pages: await table(page, "pages", "pages"), graph: await graph(page)};
    await shot("07-filtered", page, {fullPage: true});
    await rerender(page, () => page.click('#panel-sources tbody tr:has-text("newsletter")'));
    filtered.twoFilters = {url: page.url(), cards: await cards(page),
                           chips: await page.evaluate(() => document.querySelectorAll(".chip").length)};
    await rerender(page, () => page.click(".chip-remove"));
    await rerender(page, () => page.click(".chip-remove"));
    filtered.removed = {url: page.url(), chips: await page.evaluate(() => document.querySelectorAll(".chip").length),
                        cards: await cards(page)};
    // A filter that leaves nothing: the tables say so, and Countries says where countries come from.
    await rerender(page, () => page.goto(`${DASH}#/p/${prop.id}?period=today&filters=country%3D%3DZZ`));
    filtered.nothing = await page.evaluate(() => Object.fromEntries(["pages", "locations"].map((p) =>
        [p, (document.querySelector(`#panel-${p} .empty`) || {}).textContent || null])));
    await rerender(page, () => page.goto(`${DASH}#/p/${prop.id}?period=today`));
    step("filter", filtered);

    // Compare with the previous period (yesterday has the server-side event).
    await rerender(page, () => page.click("#compare"));
    step("compare", {url: page.url(), cards: await cards(page), graph: await graph(page),
                     sourceDeltas: await page.evaluate(() => [...document.querySelectorAll("#panel-sources .row-delta")].map((d) => d.textContent.trim()))});
    await shot("08-compare", page, {fullPage: true});
    await rerender(page, () => page.click("#compare"));

    // A custom range of three days.
    await page.click("#range");
    await page.fill(".custom-range input[name=from]", daysAgo(2));
    await page.fill(".custom-range input[name=to]", today());
    await rerender(page, () => page.click(".custom-range button[type=submit]"));
    step("custom", {url: page.url(), graph: await graph(page), cards: await cards(page), range: await text(page, "#range")});

    // Realtime.
    await page.waitForSelector("#realtime[data-updated]");
    step("realtime", await page.evaluate(() => ({
        visitors: Number(document.getElementById("realtime-visitors").dataset.value),
        sparkTotal: Number(document.querySelector("#realtime .sparkline").dataset.total),
        pages: [...document.querySelectorAll("#realtime tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent)),
        live: document.getElementById("live-visitors").textContent})));
    await shot("09-realtime", page.locator("#realtime"));

    // CSV export of a table, as the link gives it.
    const csv = await page.evaluate(async () => {
        const a = document.querySelector("#panel-pages a.csv");
        const r = await fetch(a.href, {signal: AbortSignal.timeout(30000)});
        return {href: a.getAttribute("href"), status: r.status, type: r.headers.get("Content-Type"), text: await r.text()};
    });
    step("csv", csv);
}

/* A funnel made in the UI over today's visits: the first visitor went /shop/ → pricing → signup,
 * the second saw only /shop/docs.html (a page under /shop/ too). */
async function funnels(page, prop) {
    await page.goto(`${DASH}#/p/${prop.id}?period=today`);
    await reportsReady(page);
    await page.click("#funnels-link");
    await page.waitForSelector("#funnel-form");
    await funnelReady(page);
    const empty = await page.locator("#funnel-list").count();
    await page.fill("#funnel-form input[name=name]", "Signup");
    await page.click("#add-step");
    const steps = [["path", "=~", "/shop/"], ["path", "==", "/shop/pricing.html"], ["event_type", "==", "signup"]];
    for (const [i, [dim, op, value]] of steps.entries()) {
        const row = page.locator("#funnel-form .step-row").nth(i);
        await row.locator("select[name=dimension]").selectOption(dim);
        await row.locator("select[name=op]").selectOption(op);
        await row.locator("input[name=value]").fill(value);
    }
    await page.click("#funnel-form button[type=submit]");
    await page.waitForSelector("#funnel-chart .funnel-step");
    await funnelReady(page);
    const made = {url: page.url(), empty, list: await page.evaluate(() => [...document.querySelectorAll("#funnel-list li")].map((li) =>
                      li.querySelector(".funnel-name").textContent)), steps: await funnelSteps(page)};
    await shot("17-funnel", page, {fullPage: true});
    // Edit: rename it; then a second funnel, deleted (two clicks).
    await page.locator("#funnel-list li", {hasText: "Signup"}).locator("button", {hasText: "Edit"}).click();
    await page.waitForFunction(() => document.querySelector("#funnel-form input[name=name]").value === "Signup" &&
                                     document.querySelectorAll("#funnel-form .step-row").length === 3);
    await page.fill("#funnel-form input[name=name]", "Signup path");
    await page.click("#funnel-form button[type=submit]");
    await page.waitForFunction(() => [...document.querySelectorAll("#funnel-list .funnel-name")].some((a) => a.textContent === "Signup path"));
    await funnelReady(page);
    made.renamed = {list: await page.evaluate(() => [...document.querySelectorAll("#funnel-list .funnel-name")].map((a) => a.textContent)),
                    steps: await funnelSteps(page)};
    await page.fill("#funnel-form input[name=name]", "Docs");
    await page.locator("#funnel-form .step-row").nth(0).locator("input[name=value]").fill("/shop/docs.html");
    await page.locator("#funnel-form .step-row").nth(1).locator("select[name=dimension]").selectOption("event_type");
    await page.locator("#funnel-form .step-row").nth(1).locator("input[name=value]").fill("signup");
    await page.click("#funnel-form button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#funnel-list li").length === 2);
    await funnelReady(page);
    made.second = await funnelSteps(page);
    const docs = page.locator("#funnel-list li", {hasText: "Docs"});
    await docs.locator("button", {hasText: "Delete"}).click();
    await docs.locator("button", {hasText: "Confirm delete"}).click();
    await page.waitForFunction(() => document.querySelectorAll("#funnel-list li").length === 1);
    await funnelReady(page);
    made.afterDelete = await page.evaluate(() => [...document.querySelectorAll("#funnel-list .funnel-name")].map((a) => a.textContent));
    // A bad step: the admin API's message, naming the step, in the form.
    await page.fill("#funnel-form input[name=name]", "Bad");
    await page.locator("#funnel-form .step-row").nth(0).locator("input[name=value]").fill("pricing");
    await page.locator("#funnel-form .step-row").nth(1).locator("input[name=value]").fill("/shop/");
    await page.click("#funnel-form button[type=submit]");
    await page.waitForSelector("#funnel-form .status.error");
    made.badStep = await text(page, "#funnel-form .status");
    // The reports' filters apply: only the second visitor (France) is left.
    await page.goto(`${DASH}#/p/${prop.id}?period=today&filters=country%3D%3DFR`);
    await reportsReady(page);
    await page.click("#funnels-link");
    await page.waitForSelector("#funnel-chart .funnel-step");
    await funnelReady(page);
    made.filtered = {url: page.url(), chips: await page.evaluate(() => [...document.querySelectorAll(".chip")].map((c) => c.textContent)),
                     steps: (await funnelSteps(page)).map((x) => x.visits)};
    step("funnel", made);
}

/* Settings of revenue and ingest: a daily quota, the write-only Stripe secret, the token secret
 * rotation; a server key, which then sends a purchase for the second visitor. */
async function revenueSettings(page, prop) {
    await page.goto(`${DASH}#/p/${prop.id}/settings/general`);
    await page.waitForSelector("#stripe-secret");
    const before = {stripe: await text(page, "#stripe-status"), url: await text(page, "#stripe-url")};
    await page.fill("#property-settings input[name=event_quota_daily]", "100000");
    await page.click("#property-settings button[type=submit]");
    await page.waitForSelector("#property-settings .status.ok");
    const quota = {status: await text(page, "#property-settings .status"),
                   value: await text(page, "#property-settings input[name=event_quota_daily]")};
    await page.fill("#stripe-secret input[name=stripe_webhook_secret]", config.stripe_secret);
    await page.click("#stripe-secret button[type=submit]");
    await page.waitForSelector('#stripe-status[data-configured="1"]');
    const after = {stripe: await text(page, "#stripe-status"), url: await text(page, "#stripe-url"),
                   status: await text(page, "#stripe-secret .status"),
                   secretShown: await page.evaluate((x) => document.body.innerText.includes(x) ||
                       [...document.querySelectorAll("input")].some((i) => i.value.includes(x)), config.stripe_secret)};
    const rotate = page.locator("#token-secret button");
    await rotate.click();
    const armed = await rotate.textContent();
    await rotate.click();
    await page.waitForSelector("#token-secret .status.ok");
    const rotated = await text(page, "#token-secret .status");
    await shot("18-settings-revenue", page, {fullPage: true});
    // A server key.
    await page.goto(`${DASH}#/p/${prop.id}/settings/keys`);
    await page.waitForSelector("#new-key");
    await page.selectOption("#new-key select[name=kind]", "server");
    await page.fill("#new-key input[name=name]", "backend events");
    await page.click("#new-key button[type=submit]");
    await page.waitForSelector("#new-secret .secret-value");
    const server = {secret: await text(page, "#new-secret .secret-value"), title: await text(page, "#new-secret strong"),
                    rows: await page.evaluate(() => [...document.querySelectorAll("#keys-table tbody tr")].map((tr) =>
                        [...tr.children].slice(0, 2).map((td) => td.textContent)))};
    // The backend reports a purchase of the second visitor with the server key (the visitor's
    // address and user agent join it to their visit); the revenue panel shows it.
    const order = await fetch(args.base + "/v1/events", {
        method: "POST", signal: AbortSignal.timeout(30000),
        headers: {"Authorization": "Bearer " + server.secret, "Content-Type": "application/json",
                  "User-Agent": "ShopBackend/1.0", "X-Forwarded-For": config.server_ip},
        body: JSON.stringify({property_id: prop.id, events: [{type: "purchase", ts: Date.now(),
            data: {revenue: {amount: "49.90", currency: "EUR"}},
            context: {page: {url: "https://site.test/checkout/done", path: "/checkout/done"},
                      client: {ip: config.visitor_ips[1], user_agent: config.mobile_ua}}}]}),
    });
    server.purchase = {status: order.status, body: await order.json()};
    sessionize();
    await page.goto(`${DASH}#/p/${prop.id}?period=today`);
    await reportsReady(page);
    const revenue = {totals: await revenueTotals(page), sources: await revenueRows(page, "source")};
    await page.locator("#panel-revenue").scrollIntoViewIfNeeded();
    await shot("16-revenue", page.locator("#panel-revenue"));
    step("revenueSettings", {before, quota, after, armed, rotated, server, revenue});
}

async function keys(page, prop) {
    await page.goto(`${DASH}#/p/${prop.id}/settings/keys`);
    await page.waitForSelector("#new-key");
    await page.selectOption("#new-key select[name=kind]", "read");
    await page.fill("#new-key input[name=name]", "backend");
    await page.click("#new-key button[type=submit]");
    await page.waitForSelector("#new-secret .secret-value");
    const secret = await text(page, "#new-secret .secret-value");
    const rows = await page.evaluate(() => [...document.querySelectorAll("#keys-table tbody tr")].map((tr) => tr.textContent));
    await shot("10-key-created", page, {fullPage: true});
    // Shown once: gone after leaving the page.
    await page.goto(`${DASH}#/p/${prop.id}/settings/general`);
    await page.waitForSelector("#property-settings");
    await page.goto(`${DASH}#/p/${prop.id}/settings/keys`);
    await page.waitForSelector("#keys-table");
    const later = await page.evaluate((s) => ({secretShown: document.body.innerText.includes(s),
                                               boxes: document.querySelectorAll("#new-secret .secret").length}), secret);
    // Revoke it (two clicks: the button asks to confirm).
    const row = page.locator("#keys-table tbody tr", {hasText: secret.slice(0, 10)});
    await row.locator("button", {hasText: "Revoke"}).click();
    await row.locator("button", {hasText: "Confirm revoke"}).click();
    await page.waitForFunction((prefix) => [...document.querySelectorAll("#keys-table tbody tr")].some((tr) =>
        tr.textContent.includes(prefix) && tr.querySelector(".key-status").textContent.startsWith("revoked")), secret.slice(0, 10));
    const status = await page.evaluate((prefix) => [...document.querySelectorAll("#keys-table tbody tr")]
        .filter((tr) => tr.textContent.includes(prefix)).map((tr) => tr.querySelector(".key-status").textContent), secret.slice(0, 10));
    // Rotate the snippet's write key: a new secret, shown once, goes into the snippet.
    const website = page.locator("#keys-table tbody tr", {hasText: prop.key.slice(0, 10)});
    await website.locator("button", {hasText: "Rotate"}).click();
    await website.locator("button", {hasText: "Confirm rotate"}).click();
    await page.waitForSelector("#new-secret .secret-value");
    const rotated = await text(page, "#new-secret .secret-value");
    const statuses = await page.evaluate(() => [...document.querySelectorAll("#keys-table tbody tr")].map((tr) =>
        [tr.children[0].textContent, tr.children[2].textContent, tr.querySelector(".key-status").textContent]));
    await shot("11-keys", page, {fullPage: true});
    await page.goto(`${DASH}#/p/${prop.id}/settings/snippet`);
    await page.waitForSelector("#snippet");
    step("keys", {secret, rowsAfterCreate: rows, later, revokedStatus: status, rotated, statuses,
                  snippetAfterRotate: await text(page, "#snippet")});
}

async function share(browser, page, prop) {
    await page.goto(`${DASH}#/p/${prop.id}/settings/shares`);
    await page.waitForSelector("#new-share");
    await page.fill("#new-share input[name=name]", "public");
    await page.click("#new-share button[type=submit]");
    await page.waitForSelector("#new-secret .secret-value");
    const url = await text(page, "#new-secret .secret-value");
    const visitor = await newContext(browser, "share", config.owner_ip);
    const p = await visitor.newPage();
    await p.goto(url);
    await reportsReady(p);
    const seen = {url, cards: await cards(p), pages: await table(p, "pages", "pages"),
                  title: await text(p, ".property-name"), settingsLink: await p.locator("a", {hasText: "Settings"}).count(),
                  cookies: await visitor.cookies()};
    await p.waitForSelector("#realtime[data-updated]");
    await shot("12-share-link", p, {fullPage: true});
    await visitor.close();
    step("share", seen);
}

async function team(browser, page, prop) {
    await page.goto(`${DASH}#/p/${prop.id}/settings/team`);
    await page.waitForSelector("#invite");
    await page.fill("#invite input[name=email]", config.viewer_email);
    await page.selectOption("#invite select", "viewer");
    await page.click("#invite button[type=submit]");
    await page.waitForSelector("#new-secret .secret-value");
    const link = await text(page, "#new-secret .secret-value");
    const pending = await page.evaluate(() => [...document.querySelectorAll("#invitations-table tbody tr")].map((tr) => tr.textContent));
    await shot("13-team", page, {fullPage: true});
    const other = await newContext(browser, "viewer", config.owner_ip);
    const p = await other.newPage();
    await p.goto(link);
    await p.waitForSelector("#accept-invitation");
    await p.fill("#accept-invitation input[name=password]", config.viewer_password);
    await p.fill("#accept-invitation input[name=password2]", config.viewer_password);
    await p.click("#accept-invitation button[type=submit]");
    await reportsReady(p);
    const viewer = {url: p.url(), account: await text(p, "#account-link")};
    await p.goto(`${DASH}#/p/${prop.id}/settings/keys`);
    await p.waitForSelector("#keys-table");
    viewer.canCreateKeys = await p.locator("#new-key").count();
    viewer.revokeButtons = await p.locator("#keys-table button").count();
    await p.goto(`${DASH}#/p/${prop.id}/funnels?period=today`);
    await p.waitForSelector("#funnel-chart .funnel-step");
    await funnelReady(p);
    viewer.funnels = {steps: await funnelSteps(p), forms: await p.locator("#funnel-form").count(),
                      buttons: await p.locator("#funnel-list button").count(),
                      stripeForms: 0};
    await p.goto(`${DASH}#/p/${prop.id}/settings/general`);
    await p.waitForSelector("#stripe-status");
    viewer.funnels.stripeForms = await p.locator("#stripe-secret, #token-secret").count();
    viewer.stripe = await text(p, "#stripe-status");
    await other.close();
    await page.goto(`${DASH}#/p/${prop.id}/settings/general`);
    await page.waitForSelector("#property-settings");
    await page.goto(`${DASH}#/p/${prop.id}/settings/team`);
    await page.waitForSelector("#members-table");
    const members = await page.evaluate(() => [...document.querySelectorAll("#members-table tbody tr")].map((tr) => tr.textContent));
    step("team", {link, pending, viewer, members});
}

async function audit(page, prop) {
    await page.goto(`${DASH}#/p/${prop.id}/settings/audit`);
    await page.waitForSelector("#audit-table tbody tr");
    step("audit", await page.evaluate(() => [...document.querySelectorAll("#audit-table tbody tr")].map((tr) => tr.dataset.action)));
    await shot("14-audit-log", page, {fullPage: true});
}

async function account(page) {
    await page.goto(DASH + "#/account");
    await page.waitForSelector("#audit-table tbody tr");
    step("account", {actions: await page.evaluate(() => [...document.querySelectorAll("#audit-table tbody tr")].map((tr) => tr.dataset.action)),
                     text: await page.evaluate(() => document.querySelector("main section").textContent)});
}

/* A second property, deleted from its settings after typing its id. */
async function deleteProperty(page) {
    await page.goto(DASH + "#/new");
    await page.waitForSelector("#new-property");
    await page.fill("#new-property input[name=name]", "Temporary");
    await page.click("#new-property button[type=submit]");
    await page.waitForSelector("#snippet");
    const id = /data-property="([^"]+)"/.exec(await text(page, "#snippet"))[1];
    await page.goto(`${DASH}#/p/${id}/settings/general`);
    await page.waitForSelector("#delete-property");
    const button = page.locator("#delete-property button[type=submit]");
    const disabledBefore = await button.isDisabled();
    await page.fill("#delete-property input[name=confirm]", id.slice(0, -1));
    const disabledWrong = await button.isDisabled();
    await page.fill("#delete-property input[name=confirm]", id);
    await button.click();
    await page.waitForSelector("main .status.ok");
    step("delete", {id, disabledBefore, disabledWrong, url: page.url(), message: await text(page, "main .status.ok")});
}

async function signOutAndIn(page, prop) {
    await page.click("#nav-sign-out");
    await page.waitForSelector("#sign-in");
    await shot("15-sign-in", page);
    const wrong = {};
    await page.fill("#sign-in input[name=email]", config.email);
    await page.fill("#sign-in input[name=password]", "not the password");
    await page.click("#sign-in button[type=submit]");
    await page.waitForSelector("#sign-in .status.error");
    wrong.message = await text(page, "#sign-in .status");
    await page.fill("#sign-in input[name=password]", config.password);
    await page.click("#sign-in button[type=submit]");
    await page.waitForSelector("#account-link");
    await page.goto(`${DASH}#/p/${prop.id}`);
    await reportsReady(page);
    step("signIn", {wrong, url: page.url(), visitors7d: (await cards(page)).unique_visitors.value});
}

const WATCHDOG_MS = 300000;

async function main() {
    fs.mkdirSync(args.out, {recursive: true});
    const browser = await chromium.launch({
        executablePath: process.env.TALLY_CHROMIUM || "/usr/bin/chromium",
        // As in run.js: an ordinary user agent, no automation flag, the made-up hosts.
        ignoreDefaultArgs: ["--enable-automation"],
        args: ["--user-agent=" + args.ua, "--host-resolver-rules=MAP site.test 127.0.0.1, MAP stats.test 127.0.0.1",
               "--disable-blink-features=AutomationControlled", "--disable-features=HttpsUpgrades"],
    });
    record.chromium = browser.version();
    const started = Date.now();
    let current = "start";
    // The story takes half a minute; a step that waits for ever still ends in a record that
    // names it (playwright's own waits end after 30 s, a promise of the story's making may not).
    const printRecord = () => {
        record.ms = Date.now() - started;
        process.stdout.write(JSON.stringify(record) + "\n");
    };
    const watchdog = setTimeout(() => {
        record.error = `${current}: still running after ${WATCHDOG_MS / 1000} s, stopped by the watchdog`;
        printRecord();
        process.exit(0);
    }, WATCHDOG_MS);
    try {
        const owner = await newContext(browser, "owner", config.owner_ip);
        const page = await owner.newPage();
        const run = async (name, fn) => {
            current = name;
            const t = Date.now();
            process.stderr.write(`dashboard.js: ${name} at ${((t - started) / 1000).toFixed(1)} s\n`);
            const out = await fn();
            record.steps[name + "_ms"] = Date.now() - t;
            return out;
        };
        await run("signUp", () => signUpOrAcceptInvitation(page));
        const prop = await run("create", () => createProperty(page));
        record.property = prop.id;
        await run("configure", () => configure(page, prop));
        const evil = await run("visit", () => visit(browser, prop));
        await run("dashboard", () => dashboard(page, prop, evil));
        await run("funnelStep", () => funnels(page, prop));
        await run("keysStep", () => keys(page, prop));
        await run("revenueSettingsStep", () => revenueSettings(page, prop));
        await run("shareStep", () => share(browser, page, prop));
        await run("teamStep", () => team(browser, page, prop));
        await run("auditStep", () => audit(page, prop));
        await run("accountStep", () => account(page));
        await run("deleteStep", () => deleteProperty(page));
        await run("signOutIn", () => signOutAndIn(page, prop));
        record.ownerCookies = (await owner.cookies()).map((c) => ({name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite}));
        await owner.close();
    } catch (e) {
        record.error = current + ": " + String(e && e.stack || e).split("\n").slice(0, 4).join(" | ");
        // What each open page showed when it failed.
        for (const context of browser.contexts())
            for (const p of context.pages())
                await shot("failure-" + record.screenshots.length, p, {fullPage: true}).catch(() => {});
    } finally {
        await within(browser.close(), 30000, "the browser closed").catch((e) => { record.closeError = String(e); });
        clearTimeout(watchdog);
    }
    printRecord();
    // A browser that would not close keeps node's connection to it open: end here all the same.
    if (record.closeError) process.exit(0);
}

main().catch((e) => {
    process.stderr.write("dashboard.js: " + (e && e.stack || e) + "\n");
    process.exit(1);
});
