/* The report view of one property: date range, compare, filters, overview cards, the graph,
 * breakdown tables (a click on a row filters by it), realtime, CSV links. Its state lives in the
 * URL fragment (#/p/<id>?period=7d&compare=1&filters=…), so a view can be bookmarked, shared with
 * a colleague, and left with the back button. */

import {h, replace, number, percent, duration, decimal, countryName, delta, rangeLabel} from "./dom.js";
import {report, reportUrl, ApiError} from "./api.js";
import {lineChart, sparkline} from "./chart.js";
import {parseFilters, formatFilters, describe, sameFilter} from "./filters.js";

export const PERIODS = [
    ["today", "Today"], ["yesterday", "Yesterday"], ["7d", "Last 7 days"], ["30d", "Last 30 days"],
    ["month", "This month"], ["year", "This year"],
];
const DEFAULT_PERIOD = "7d";
const REALTIME_SECONDS = 15;
const TABLE_ROWS = 10, TABLE_MORE = 100;

const SERIES = [
    {key: "unique_visitors", label: "Visitors", cls: "s-visitors"},
    {key: "pageviews", label: "Pageviews", cls: "s-pageviews"},
];

const CARDS = [
    {key: "unique_visitors", label: "Unique visitors", fmt: number},
    {key: "sessions", label: "Visits", fmt: number},
    {key: "pageviews", label: "Pageviews", fmt: number},
    {key: "views_per_session", label: "Views per visit", fmt: decimal},
    {key: "bounce_rate", label: "Bounce rate", fmt: percent, lowerIsBetter: true},
    {key: "visit_duration", label: "Visit duration", fmt: duration},
    {key: "events", label: "Events", fmt: number},
];

export function money(revenue) {
    const parts = Object.entries(revenue || {}).map(([cur, amount]) => amount + " " + cur);
    return parts.length ? parts.join(", ") : "–";
}

const VISIT_COLUMNS = [
    {key: "unique_visitors", label: "Visitors", fmt: number}, {key: "sessions", label: "Visits", fmt: number},
    {key: "bounce_rate", label: "Bounce", fmt: percent}, {key: "visit_duration", label: "Duration", fmt: duration},
];

/* Panels of tabs; each tab is one breakdown report, keyed by its dimension. */
const PANELS = [
    {id: "sources", tabs: [
        {label: "Sources", report: "sources", key: "source", columns: VISIT_COLUMNS},
        {label: "Campaigns", report: "campaigns", key: "campaign", columns: VISIT_COLUMNS}]},
    {id: "pages", tabs: [
        {label: "Top pages", report: "pages", key: "path", dim: "path", columns: [
            {key: "unique_visitors", label: "Visitors", fmt: number}, {key: "pageviews", label: "Pageviews", fmt: number}]},
        {label: "Entry pages", report: "entry-pages", key: "entry_page", columns: VISIT_COLUMNS},
        {label: "Exit pages", report: "exit-pages", key: "exit_page", columns: [
            {key: "unique_visitors", label: "Visitors", fmt: number}, {key: "sessions", label: "Visits", fmt: number}]}]},
    {id: "locations", tabs: [
        {label: "Countries", report: "countries", key: "country", columns: VISIT_COLUMNS, name: countryName,
         /* Countries stay empty on a server without a GeoIP database, which the site owner can fix. */
         empty: "No visits with a known country in this range. Countries come from the server's GeoIP " +
                "database (geoip_database in tally.conf); local and private addresses have none."}]},
    {id: "devices", tabs: [
        {label: "Devices", report: "devices", key: "device", columns: VISIT_COLUMNS},
        {label: "Browsers", report: "browsers", key: "browser", columns: VISIT_COLUMNS},
        {label: "OS", report: "os", key: "os", columns: VISIT_COLUMNS}]},
    {id: "events", tabs: [
        {label: "Custom events", report: "events", key: "event_type", columns: [
            {key: "unique_visitors", label: "Visitors", fmt: number}, {key: "events", label: "Events", fmt: number}]},
        {label: "Goals", report: "goals", key: "goal", noCompare: true, columns: [
            {key: "conversions", label: "Conversions", fmt: number}, {key: "conversion_rate", label: "Rate", fmt: percent},
            {key: "revenue", label: "Revenue", fmt: money}]}]},
];

/* The revenue report (visits credited with the revenue events they carried), by one of these. */
const REVENUE_GROUPS = [
    {key: "source", label: "Source"}, {key: "campaign", label: "Campaign"},
    {key: "entry_page", label: "Landing page"}, {key: "country", label: "Country", name: countryName},
];
const REVENUE_CARDS = [
    {key: "revenue", label: "Revenue", fmt: money}, {key: "conversions", label: "Converting visitors", fmt: number},
    {key: "conversion_rate", label: "Conversion rate", fmt: percent},
    {key: "revenue_per_visitor", label: "Revenue per visitor", fmt: money},
];

/* The tab shown in each panel, and how many rows, kept while the page lives. */
const chosenTab = {};
let revenueGroup = "source";
const expanded = {};

/* --- the state in the fragment ----------------------------------------------------------------- */

export function readState(query) {
    const s = {
        period: query.get("period"), from: query.get("from"), to: query.get("to"),
        compare: query.get("compare") === "1", filters: parseFilters(query.get("filters") || ""),
        interval: query.get("interval"),
    };
    if (!(s.from && s.to) && !PERIODS.some(([p]) => p === s.period)) s.period = DEFAULT_PERIOD;
    if (s.from && s.to) s.period = null;
    return s;
}

export function writeState(s) {
    const q = new URLSearchParams();
    if (s.period) q.set("period", s.period);
    else {
        q.set("from", s.from);
        q.set("to", s.to);
    }
    if (s.compare) q.set("compare", "1");
    if (s.filters.length) q.set("filters", formatFilters(s.filters));
    if (s.interval) q.set("interval", s.interval);
    return q;
}

/* The report parameters for the state (without compare, which not every report takes). */
export function baseParams(s) {
    const p = {};
    if (s.period) p.period = s.period;
    else {
        p.from = s.from;
        p.to = s.to;
    }
    if (s.filters.length) p.filters = formatFilters(s.filters);
    return p;
}

function daysIn(s) {
    if (s.period === "today" || s.period === "yesterday") return 1;
    if (s.period === "7d") return 7;
    if (s.period === "30d" || s.period === "month") return 31;
    if (s.period === "year") return 366;
    return Math.round((Date.parse(s.to) - Date.parse(s.from)) / 86400000) + 1;
}

function autoInterval(s) {
    if (s.period === "year") return "month";
    const days = daysIn(s);
    return days <= 1 ? "hour" : days <= 92 ? "day" : days <= 366 ? "week" : "month";
}

function intervalsFor(s) {
    const days = daysIn(s);
    return ["hour", "day", "week", "month"].filter((i) => i !== "hour" || days <= 31);
}

/* Counts the view's requests in flight as data-pending on the view's root (0 when all is drawn),
 * for anything that waits for the page to settle: a progress cue, a screenshot, a test. */
export function tracker(root) {
    const gen = String(Number(root.dataset.gen || 0) + 1);
    root.dataset.gen = gen;
    root.dataset.pending = "0";
    const add = (n) => {
        if (root.dataset.gen === gen) root.dataset.pending = String(Number(root.dataset.pending) + n);
    };
    return (promise) => {
        add(1);
        return promise.finally(() => add(-1));
    };
}

/* --- the view ---------------------------------------------------------------------------------- */

/*
 * ctx: {root, propertyId, share, property (or null on a share link), properties (or null),
 *       query (URLSearchParams of the fragment), go(query), onCleanup(fn), settingsHref}
 */
export function renderReports(ctx) {
    ctx.track = tracker(ctx.root);
    const s = readState(ctx.query);
    const set = (change) => ctx.go(writeState(Object.assign({}, s, change)));
    const params = baseParams(s);

    const cards = h("section", {class: "cards", "aria-label": "Overview"});
    const graph = h("section", {class: "panel graph-panel", "aria-label": "Visitors and pageviews over time"});
    const realtime = h("section", {class: "panel realtime", id: "realtime", "aria-label": "Realtime"});
    const panels = PANELS.map((p) => h("section", {class: "panel breakdown", id: "panel-" + p.id}));
    const revenue = h("section", {class: "panel breakdown revenue", id: "panel-revenue", "aria-label": "Revenue"});
    const notice = h("div", {class: "notice", hidden: true});

    replace(ctx.root, 
        toolbar(ctx, s, set),
        filterChips(s, set),
        notice,
        cards,
        graph,
        h("div", {class: "grid"}, ...panels, revenue, realtime));

    const failed = (where) => (e) => {
        if (e instanceof ApiError && e.status === 401 && !ctx.share) return ctx.signedOut();
        where.replaceChildren(h("p", {class: "error"}, e.message));
    };

    const compare = s.compare ? {compare: "previous_period"} : {};
    ctx.track(report(ctx.propertyId, "overview", Object.assign({}, params, compare), ctx.share))
        .then((o) => {
            fillCards(cards, o, s.compare);
            ctx.root.dataset.range = o.from + ".." + o.to;
            const range = ctx.root.querySelector(".range-dates");
            if (range) range.textContent = rangeLabel(o.from, o.to);
            if (!o.pageviews && !o.events && !s.filters.length && !ctx.share) {
                notice.hidden = false;
                notice.replaceChildren("No data in this range yet. ",
                                       h("a", {href: ctx.settingsHref("snippet")}, "Add the tracking snippet"),
                                       " to your site, then visit it.");
            }
        }).catch(failed(cards));
    ctx.track(drawGraph(ctx, s, set, params, graph)).catch(failed(graph));
    PANELS.forEach((p, i) => drawPanel(ctx, s, set, params, p, panels[i]));
    drawRevenue(ctx, s, set, params, revenue);
    startRealtime(ctx, realtime);
}

function toolbar(ctx, s, set) {
    const title = ctx.property
        ? (ctx.properties && ctx.properties.length > 1
            ? h("select", {class: "property-switch", "aria-label": "Property",
                           onchange: (e) => { location.hash = "#/p/" + encodeURIComponent(e.target.value); }},
                ctx.properties.map((p) => h("option", {value: p.id, selected: p.id === ctx.propertyId}, p.name)))
            : h("h1", {class: "property-name"}, ctx.property.name))
        : h("h1", {class: "property-name"}, ctx.propertyId, h("span", {class: "badge"}, "shared view"));
    return h("div", {class: "toolbar"},
        title,
        h("span", {class: "live", id: "live-visitors", title: "visitors in the last 5 minutes"}, ""),
        h("div", {class: "toolbar-right"},
            datePicker(s, set, ctx.onCleanup),
            h("button", {class: ["toggle", s.compare && "on"], type: "button", id: "compare",
                         "aria-pressed": s.compare ? "true" : "false",
                         onclick: () => set({compare: !s.compare})}, "Compare"),
            ctx.property ? h("a", {class: "button", id: "funnels-link", href: ctx.funnelsHref(writeState(s))}, "Funnels") : null,
            ctx.property ? h("a", {class: "button", href: ctx.settingsHref("general")}, "Settings") : null));
}

/* A button with the range, opening a menu of periods and a custom from/to. */
function datePicker(s, set, onCleanup) {
    const label = s.period ? PERIODS.find(([p]) => p === s.period)[1] : "Custom";
    const menu = h("div", {class: "menu", hidden: true, role: "menu"});
    const today = new Date().toISOString().slice(0, 10);
    const from = h("input", {type: "date", name: "from", value: s.from || "", max: today, required: true});
    const to = h("input", {type: "date", name: "to", value: s.to || "", max: today, required: true});
    const error = h("p", {class: "error", hidden: true});
    menu.append(
        ...PERIODS.map(([p, text]) => h("button", {type: "button", role: "menuitem", class: ["menu-item", p === s.period && "on"],
                                                  "data-period": p,
                                                  onclick: () => set({period: p, from: null, to: null})}, text)),
        h("form", {class: "custom-range", onsubmit: (e) => {
            e.preventDefault();
            if (!from.value || !to.value || from.value > to.value) {
                error.hidden = false;
                error.textContent = "From must be a date on or before To.";
                return;
            }
            set({period: null, from: from.value, to: to.value, interval: null});
        }},
            h("label", null, "From ", from), h("label", null, "To ", to), error,
            h("button", {type: "submit", class: "primary"}, "Apply")));
    const button = h("button", {type: "button", class: "range-button", id: "range", "aria-haspopup": "true",
                                onclick: () => { menu.hidden = !menu.hidden; }},
                     h("span", {class: "range-name"}, label), " ", h("span", {class: "range-dates"}, ""));
    const wrap = h("div", {class: "picker"}, button, menu);
    const close = (e) => { if (!wrap.contains(e.target)) menu.hidden = true; };
    document.addEventListener("click", close, {capture: true});
    onCleanup(() => document.removeEventListener("click", close, {capture: true}));
    return wrap;
}

function filterChips(s, set) {
    if (!s.filters.length) return h("div", {class: "chips", hidden: true});
    return h("div", {class: "chips", "aria-label": "Filters"},
        s.filters.map((f, i) => {
            const d = describe(f);
            return h("span", {class: "chip"}, d.dim + " " + d.op + " ", h("b", null, d.value),
                h("button", {type: "button", class: "chip-remove", "aria-label": "Remove filter " + d.dim,
                             onclick: () => set({filters: s.filters.filter((_, j) => j !== i)})}, "×"));
        }),
        s.filters.length > 1 ? h("button", {type: "button", class: "link", onclick: () => set({filters: []})}, "Clear all") : null);
}

function fillCards(cards, o, compare) {
    cards.replaceChildren(...CARDS.map((c) => {
        const d = compare && o.previous ? delta(o[c.key], o.previous[c.key]) : null;
        let mood = "";
        if (d && d.sign) mood = (d.sign > 0) !== !!c.lowerIsBetter ? "good" : "bad";
        return h("div", {class: "card", "data-metric": c.key, "data-value": o[c.key]},
            h("div", {class: "card-label"}, c.label),
            h("div", {class: "card-value"}, c.fmt(o[c.key])),
            d ? h("div", {class: ["card-delta", mood], title: "previous period: " + c.fmt(o.previous[c.key])}, d.text,
                  h("span", {class: "card-prev"}, " vs " + c.fmt(o.previous[c.key]))) : null);
    }));
}

async function drawGraph(ctx, s, set, params, panel) {
    const interval = s.interval && intervalsFor(s).includes(s.interval) ? s.interval : autoInterval(s);
    const select = h("select", {"aria-label": "Interval", id: "interval",
                                onchange: (e) => set({interval: e.target.value})},
        intervalsFor(s).map((i) => h("option", {value: i, selected: i === interval}, "by " + i)));
    const body = h("div", {class: "graph-body"}, h("p", {class: "loading"}, "Loading…"));
    const query = Object.assign({}, params, {interval, metrics: "unique_visitors,pageviews"},
                                s.compare ? {compare: "previous_period"} : {});
    panel.replaceChildren(
        h("div", {class: "panel-head"},
            h("div", {class: "legend"}, SERIES.map((x) => h("span", {class: "legend-item"}, h("span", {class: "swatch " + x.cls}), x.label)),
              s.compare ? h("span", {class: "legend-item"}, h("span", {class: "swatch dashed"}), "previous period") : null),
            h("div", {class: "panel-tools"}, select,
              h("a", {class: "csv", href: reportUrl(ctx.propertyId, "metrics", Object.assign({}, query, {format: "csv"}), ctx.share).href,
                      download: "visitors.csv"}, "CSV"))),
        body);
    const data = await report(ctx.propertyId, "metrics", query, ctx.share);
    const draw = () => body.replaceChildren(lineChart({rows: data.results, previous: data.previous || null, series: SERIES,
                                                       interval, width: body.clientWidth || 800}));
    draw();
    let timer = null;
    const onResize = () => {
        clearTimeout(timer);
        timer = setTimeout(draw, 150);
    };
    window.addEventListener("resize", onResize);
    ctx.onCleanup(() => window.removeEventListener("resize", onResize));
}

function drawPanel(ctx, s, set, params, panel, node) {
    const tab = panel.tabs[Math.min(chosenTab[panel.id] || 0, panel.tabs.length - 1)];
    const limit = expanded[tab.report] ? TABLE_MORE : TABLE_ROWS;
    const query = Object.assign({}, params, {limit}, s.compare && !tab.noCompare ? {compare: "previous_period"} : {});
    const tabs = h("div", {class: "tabs", role: "tablist"}, panel.tabs.map((t, i) =>
        h("button", {type: "button", role: "tab", class: ["tab", t === tab && "on"], "aria-selected": t === tab ? "true" : "false",
                     "data-report": t.report,
                     onclick: () => {
                         chosenTab[panel.id] = i;
                         drawPanel(ctx, s, set, params, panel, node);
                     }}, t.label)));
    const csvQuery = Object.assign({}, query, {format: "csv", limit: 1000});
    delete csvQuery.compare;
    const body = h("div", {class: "table-wrap"}, h("p", {class: "loading"}, "Loading…"));
    node.dataset.report = tab.report;
    node.replaceChildren(
        h("div", {class: "panel-head"}, tabs,
          h("div", {class: "panel-tools"},
            h("a", {class: "csv", href: reportUrl(ctx.propertyId, tab.report, csvQuery, ctx.share).href,
                    download: tab.report + ".csv"}, "CSV"))),
        body);
    ctx.track(report(ctx.propertyId, tab.report, query, ctx.share)).then((data) => {
        body.replaceChildren(table(tab, data.results, s, set));
        if (data.results.length >= limit && limit < TABLE_MORE)
            body.append(h("button", {type: "button", class: "link more", onclick: () => {
                expanded[tab.report] = true;
                drawPanel(ctx, s, set, params, panel, node);
            }}, "Show more"));
    }).catch((e) => {
        if (e instanceof ApiError && e.status === 401 && !ctx.share) return ctx.signedOut();
        body.replaceChildren(h("p", {class: "error"}, e.message));
    });
}

/* Revenue: the totals of the range (the report without group_by) and a table by the chosen
 * dimension, whose rows filter like the other tables. */
function drawRevenue(ctx, s, set, params, node) {
    const group = REVENUE_GROUPS.find((g) => g.key === revenueGroup) || REVENUE_GROUPS[0];
    const select = h("select", {"aria-label": "Revenue by", id: "revenue-group", onchange: (e) => {
        revenueGroup = e.target.value;
        drawRevenue(ctx, s, set, params, node);
    }}, REVENUE_GROUPS.map((g) => h("option", {value: g.key, selected: g === group}, "by " + g.label.toLowerCase())));
    const query = Object.assign({}, params, {group_by: group.key, limit: TABLE_ROWS});
    const csvQuery = Object.assign({}, query, {format: "csv", limit: 1000});
    const totals = h("div", {class: "revenue-totals"}, h("p", {class: "loading"}, "Loading…"));
    const body = h("div", {class: "table-wrap"}, h("p", {class: "loading"}, "Loading…"));
    node.dataset.group = group.key;
    node.replaceChildren(
        h("div", {class: "panel-head"}, h("h2", null, "Revenue"),
          h("div", {class: "panel-tools"}, select,
            h("a", {class: "csv", href: reportUrl(ctx.propertyId, "revenue", csvQuery, ctx.share).href,
                    download: "revenue-by-" + group.key + ".csv"}, "CSV"))),
        totals, body);
    const failed = (where) => (e) => {
        if (e instanceof ApiError && e.status === 401 && !ctx.share) return ctx.signedOut();
        where.replaceChildren(h("p", {class: "error"}, e.message));
    };
    ctx.track(report(ctx.propertyId, "revenue", params, ctx.share)).then((data) => {
        const t = data.results[0] || {};
        totals.replaceChildren(...REVENUE_CARDS.map((c) => h("div", {class: "mini-card", "data-metric": c.key},
            h("div", {class: "card-label"}, c.label), h("div", {class: "card-value"}, c.fmt(t[c.key])))));
    }).catch(failed(totals));
    const tab = {label: group.label, key: group.key, name: group.name, columns: [
        {key: "unique_visitors", label: "Visitors", fmt: number}, {key: "conversions", label: "Conv.", fmt: number},
        {key: "conversion_rate", label: "Rate", fmt: percent}, {key: "revenue", label: "Revenue", fmt: money}]};
    ctx.track(report(ctx.propertyId, "revenue", query, ctx.share))
        .then((data) => body.replaceChildren(table(tab, data.results, s, set))).catch(failed(body));
}

function rowDelta(d) {
    return h("span", {class: ["row-delta", d.sign > 0 ? "good" : d.sign < 0 ? "bad" : ""]}, " " + d.text);
}

function table(tab, rows, s, set) {
    if (!rows.length) return h("p", {class: "empty"}, tab.empty || "Nothing in this range.");
    const main = tab.columns[0].key;
    const max = Math.max(1, ...rows.map((r) => (typeof r[main] === "number" ? r[main] : 0)));
    const dim = tab.dim || tab.key;
    return h("table", {class: "breakdown-table"},
        h("thead", null, h("tr", null, h("th", {scope: "col"}, tab.label),
            tab.columns.map((c) => h("th", {scope: "col", class: "num"}, c.label)))),
        h("tbody", null, rows.map((r) => {
            const value = String(r[tab.key]);
            const filter = {dim, op: "==", value};
            const active = s.filters.some((f) => sameFilter(f, filter));
            const pick = () => { if (!active) set({filters: s.filters.concat([filter])}); };
            const bar = h("span", {class: "bar"});
            bar.style.width = (100 * (r[main] || 0) / max).toFixed(1) + "%";
            const d = s.compare && r.previous ? delta(r[main], r.previous[main]) : null;
            return h("tr", {class: ["row", active && "active"], tabindex: "0", title: "Filter by " + value,
                            onclick: pick, onkeydown: (e) => { if (e.key === "Enter") pick(); }},
                h("td", {class: "label"}, bar, h("span", {class: "label-text"}, tab.name ? tab.name(value) : value)),
                tab.columns.map((c, i) => h("td", {class: "num", "data-key": c.key}, c.fmt(r[c.key]),
                    i === 0 && d ? rowDelta(d) : null)));
        })));
}

/* --- realtime ---------------------------------------------------------------------------------- */

function startRealtime(ctx, panel) {
    let stopped = false, timer = null;
    const live = () => ctx.root.querySelector("#live-visitors");
    const tick = async () => {
        if (stopped) return;
        if (!document.hidden) {
            try {
                const r = await report(ctx.propertyId, "realtime", {limit: 10}, ctx.share);
                if (stopped) return;
                drawRealtime(panel, r);
                const l = live();
                if (l) l.textContent = r.visitors === 1 ? "1 current visitor" : number(r.visitors) + " current visitors";
            } catch (e) {
                if (e instanceof ApiError && e.status === 401 && !ctx.share) return ctx.signedOut();
                panel.replaceChildren(h("h2", null, "Realtime"), h("p", {class: "error"}, e.message));
            }
        }
        timer = setTimeout(tick, REALTIME_SECONDS * 1000);
    };
    panel.replaceChildren(h("h2", null, "Realtime"), h("p", {class: "loading"}, "Loading…"));
    tick();
    ctx.onCleanup(() => {
        stopped = true;
        clearTimeout(timer);
    });
}

function drawRealtime(panel, r) {
    panel.dataset.updated = new Date().toISOString();
    panel.replaceChildren(
        h("div", {class: "panel-head"}, h("h2", null, "Realtime"),
          h("span", {class: "muted"}, "updated " + new Date().toLocaleTimeString())),
        h("div", {class: "realtime-now"}, h("span", {class: "big", id: "realtime-visitors", "data-value": r.visitors}, number(r.visitors)),
          " visitors in the last 5 minutes"),
        sparkline(r.pageviews_30m || []),
        h("div", {class: "muted spark-axis"}, h("span", null, "30 min ago"), h("span", null, "now")),
        r.top_pages && r.top_pages.length
            ? h("table", {class: "breakdown-table realtime-pages"},
                h("thead", null, h("tr", null, h("th", {scope: "col"}, "Page (last 30 min)"),
                                  h("th", {scope: "col", class: "num"}, "Visitors"), h("th", {scope: "col", class: "num"}, "Pageviews"))),
                h("tbody", null, r.top_pages.map((p) => h("tr", null, h("td", {class: "label"}, h("span", {class: "label-text"}, p.path)),
                                                         h("td", {class: "num"}, number(p.unique_visitors)),
                                                         h("td", {class: "num"}, number(p.pageviews))))))
            : h("p", {class: "empty"}, "No pageviews in the last 30 minutes."));
}
